import type { Context } from "hono";
import type { AppEnv } from "../env";
import { loadConfig, type Config } from "../lib/config";

/** Operator config, read from D1 at most once per request. */
export async function getConfig(c: Context<AppEnv>): Promise<Config> {
  let config = c.get("config");
  if (!config) {
    config = await loadConfig(c.var.db);
    c.set("config", config);
  }
  return config;
}

/** The client's address as Cloudflare reports it (loopback locally). */
export function clientIp(c: Context<AppEnv>): string {
  return c.req.header("cf-connecting-ip") ?? c.req.header("x-real-ip") ?? "local";
}

export async function requestContext(c: Context<AppEnv>) {
  return { env: c.env, db: c.var.db, config: await getConfig(c), ip: clientIp(c) };
}
