// The app's OpenAPI document without a Worker runtime: src/app.ts bundled for Node by esbuild and
// asked for /api/v1/openapi.json (used by scripts/build-sdk.mjs and scripts/lint-openapi.mjs).
import { build } from "esbuild";
import path from "node:path";

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "..");

/** The OpenAPI document exactly as the Worker serves it, from the app bundled for Node. */
export async function openApiDocument() {
  const bundle = await build({
    entryPoints: [path.join(ROOT, "src/app.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    write: false,
    logLevel: "error",
    plugins: [
      {
        // the Durable Object base class is only subclassed, never run, when the app answers /openapi.json
        name: "cloudflare-workers-stub",
        setup(b) {
          b.onResolve({ filter: /^cloudflare:/ }, (a) => ({ path: a.path, namespace: "cf-stub" }));
          b.onLoad({ filter: /.*/, namespace: "cf-stub" }, () => ({ contents: "export class DurableObject { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }" }));
        },
      },
    ],
  });
  const { createApp } = await import(`data:text/javascript;base64,${Buffer.from(bundle.outputFiles[0].text).toString("base64")}`);
  const quiet = console.log;
  console.log = () => undefined; // the request log line
  try {
    const res = await createApp().request("/api/v1/openapi.json", {}, {});
    if (res.status !== 200) throw new Error(`/api/v1/openapi.json answered ${res.status}`);
    return await res.text();
  } finally {
    console.log = quiet;
  }
}
