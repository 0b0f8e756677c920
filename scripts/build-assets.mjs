#!/usr/bin/env node
// Builds the Worker's static assets into dist/public (wrangler.toml `[assets]`, binding ASSETS).
// Run by `npm start`, before `npm test` (pretest), by vitest.config.ts and `npm run deploy`, so a fresh
// clone needs nothing more than `npm install`. dist/ is not committed: everything here comes from the
// repository and node_modules, nothing from the network.
//
// Layout of dist/public (served at the site root; the Worker answers first for the paths listed in
// wrangler.toml `run_worker_first`: /api/*, /socket.io/*, /docs):
//   vendor/scalar-api-reference.js   the API reference's standalone bundle, loaded by /docs
//   index.html, app.js, app.css      the web chat client (web/, Preact on the SDK), served at /
//   ...                              each step below adds its own files
//
// To add a build (e.g. the web client), append a step to `steps`: an async function that writes into
// `out` and returns a one-line description. Steps run in order; a step that throws fails the build.
import { copyFileSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { openApiTypes } from "./build-sdk.mjs";
import { buildWeb } from "./build-web.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const ASSETS_DIR = join(root, "dist", "public");

/** Path of the API reference script inside the assets (the Worker's /docs page points here). */
export const SCALAR_ASSET = "vendor/scalar-api-reference.js";

/** @type {Array<(out: string) => Promise<string>>} */
const steps = [
  async function apiReference(out) {
    // the single-file UMD build: no lazy chunks, no CDN
    const pkg = join(root, "node_modules", "@scalar", "api-reference");
    const from = join(pkg, "dist", "browser", "standalone.js");
    if (!existsSync(from)) throw new Error(`@scalar/api-reference has no ${from}: run npm install`);
    const to = join(out, SCALAR_ASSET);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(from, to);
    return `${SCALAR_ASSET} (from @scalar/api-reference)`;
  },
  async function webClient(out) {
    // the client is built on the SDK, whose REST types come from the app's OpenAPI document
    await openApiTypes();
    return buildWeb(out);
  },
];

/** Rebuilds dist/public from scratch; returns what each step wrote. */
export async function buildAssets({ quiet = false } = {}) {
  rmSync(ASSETS_DIR, { recursive: true, force: true });
  mkdirSync(ASSETS_DIR, { recursive: true });
  const done = [];
  for (const step of steps) done.push(await step(ASSETS_DIR));
  if (!quiet) console.log(`assets built in dist/public: ${done.join("; ")}`);
  return done;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  buildAssets().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
