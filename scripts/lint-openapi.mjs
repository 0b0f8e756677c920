#!/usr/bin/env node
// `npm run lint:openapi`: `redocly lint` with the recommended rules on the OpenAPI document the app
// serves (produced offline from src/app.ts, see scripts/lib/openapi-document.mjs), written to
// dist/openapi.json. Exits non-zero on any error; warnings are printed. Config: redocly.yaml.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { openApiDocument } from "./lib/openapi-document.mjs";

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const out = path.join(ROOT, "dist", "openapi.json");
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(JSON.parse(await openApiDocument()), null, 2));
const cli = path.join(ROOT, "node_modules", "@redocly", "cli", "bin", "cli.js");
const run = spawnSync(process.execPath, [cli, "lint", out, "--config", path.join(ROOT, "redocly.yaml"), ...process.argv.slice(2)], {
  stdio: "inherit",
  // offline: no telemetry, no update check
  env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true", NO_UPDATE_NOTIFIER: "1" },
});
process.exit(run.status ?? 1);
