import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";

/** One JSON log line per event; never pass secrets, tokens or passwords here. */
export function log(level: "info" | "warn" | "error", msg: string, fields: Record<string, unknown> = {}) {
  const line = JSON.stringify({ level, msg, time: new Date().toISOString(), ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

export const requestId = createMiddleware<AppEnv>(async (c, next) => {
  const incoming = c.req.header("x-request-id");
  const id = incoming && /^[\w.-]{8,64}$/.test(incoming) ? incoming : crypto.randomUUID();
  c.set("requestId", id);
  const started = Date.now();
  await next();
  // A 101 carries the client's socket; rebuilding that response would drop it.
  if (c.res.status !== 101) c.header("X-Request-Id", id);
  log(c.res.status >= 500 ? "error" : "info", "request", {
    request_id: id,
    method: c.req.method,
    path: new URL(c.req.url).pathname,
    status: c.res.status,
    duration_ms: Date.now() - started,
    user_id: c.get("user")?.id,
  });
});
