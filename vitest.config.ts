import { spawnSync } from "node:child_process";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig(async () => {
  // wrangler.toml's [assets] directory must exist before the pool reads the config (any vitest run,
  // not only `npm test`, so a single test file runs on a fresh clone too)
  const assets = spawnSync(process.execPath, ["scripts/build-assets.mjs"], { stdio: "inherit" });
  if (assets.status !== 0) throw new Error("scripts/build-assets.mjs failed");
  const migrations = await readD1Migrations("./migrations");
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            ENVIRONMENT: "test",
            JWT_SECRET: "test-secret-0123456789abcdef0123456789abcdef",
            DELIVERY_PROVIDER: "outbox",
            ADMIN_USERNAMES: "root_admin",
            WS_AUTH_TIMEOUT_MS: "1500",
            WS_RATE_PER_SECOND: "20",
            WS_RATE_BURST: "60",
            TEST_MIGRATIONS: migrations,
          },
        },
      }),
    ],
    test: {
      include: ["test/**/*.test.ts"],
      setupFiles: ["./test/setup.ts"],
      silent: "passed-only" as const,
      testTimeout: 30_000,
      hookTimeout: 30_000,
    },
  };
});
