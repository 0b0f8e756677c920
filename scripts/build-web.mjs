#!/usr/bin/env node
// The web chat client (web/) → static files served by the Worker at `/`: index.html, app.js (Preact +
// the SDK, bundled and minified by esbuild) and app.css. A step of the assets build; also runnable alone:
// `node scripts/build-web.mjs [outdir]` (default dist/public). Prints the gzip size of the JS.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");

/** Builds the client into `out`; returns a one-line description with the JS size, gzipped. */
export async function buildWeb(out = path.join(ROOT, "dist", "public")) {
  mkdirSync(out, { recursive: true });
  await build({
    // app.tsx imports app.css, so esbuild writes app.css beside app.js
    entryPoints: { app: path.join(ROOT, "web/src/app.tsx") },
    outdir: out,
    entryNames: "[name]",
    bundle: true,
    minify: true,
    format: "esm",
    target: ["es2022", "chrome109", "firefox115", "safari16"],
    jsx: "automatic",
    jsxImportSource: "preact",
    // the SDK from its source, so the client never runs on a stale sdk/dist
    alias: { "@edge-im/client": path.join(ROOT, "sdk/src/index.ts") },
    sourcemap: "linked",
    legalComments: "none",
    logLevel: "error",
  });
  copyFileSync(path.join(ROOT, "web/index.html"), path.join(out, "index.html"));
  const js = readFileSync(path.join(out, "app.js"));
  const gz = gzipSync(js, { level: 9 }).length;
  return `web client: app.js ${(js.length / 1024).toFixed(1)} KB, ${(gz / 1024).toFixed(1)} KB gzipped`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  console.log(await buildWeb(process.argv[2] ? path.resolve(process.argv[2]) : undefined));
}
