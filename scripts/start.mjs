#!/usr/bin/env node
// `npm start`: local dev on workerd with no Cloudflare account. Ensures .dev.vars, builds the static
// assets (scripts/build-assets.mjs → dist/public), applies local D1 migrations, then serves on
// http://localhost:8787 with state under .wrangler/.
import { spawnSync, spawn } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";
import { buildAssets } from "./build-assets.mjs";

process.env.WRANGLER_SEND_METRICS = "false";
if (!existsSync(".dev.vars")) {
  copyFileSync(".dev.vars.example", ".dev.vars");
  console.log("created .dev.vars from .dev.vars.example (development secrets only)");
}
await buildAssets();
const wrangler = ["node_modules/wrangler/bin/wrangler.js"];
const persist = process.env.PERSIST_TO ? ["--persist-to", process.env.PERSIST_TO] : [];
const migrate = spawnSync(process.execPath, [...wrangler, "d1", "migrations", "apply", "DB", "--local", ...persist], {
  stdio: "inherit",
  env: { ...process.env, CI: "true" },
});
if (migrate.status !== 0) process.exit(migrate.status ?? 1);
const port = process.env.PORT ?? "8787";
const dev = spawn(process.execPath, [...wrangler, "dev", "--local", "--ip", process.env.HOST ?? "127.0.0.1", "--port", port, ...persist, ...process.argv.slice(2)], {
  stdio: "inherit",
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => process.exit(code ?? 0));
