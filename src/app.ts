import { Scalar } from "@scalar/hono-api-reference";
import { drizzle } from "drizzle-orm/d1";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import type { Context } from "hono";
import * as schema from "./db/schema";
import type { AppEnv } from "./env";
import { AppError, type ErrorCode } from "./lib/errors";
import { auditAdmin } from "./lib/audit";
import { createRouter } from "./lib/openapi";
import { log, requestId } from "./middleware/observability";
import { routers } from "./routes";
import { authTimeoutMs } from "./realtime/gateway";
import { socketIo } from "./realtime/socketio";

export const JSON_BODY_LIMIT = 256 * 1024;

const httpStatusCodes: Record<number, ErrorCode> = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  409: "CONFLICT",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  429: "RATE_LIMITED",
};

/** Turns any thrown value into the one error envelope; unknown errors become a logged, generic 500. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof HTTPException) {
    if (err.status === 400 && /json/i.test(err.message)) return new AppError("MALFORMED_JSON", "Request body is not valid JSON");
    if (err.status === 415) return new AppError("UNSUPPORTED_MEDIA_TYPE", "Send the body as application/json");
    const code = httpStatusCodes[err.status];
    if (code) return new AppError(code, err.message || undefined);
  }
  return new AppError("INTERNAL", "Something went wrong; the request id identifies it in the logs");
}

export function errorResponse(c: Context<AppEnv>, err: unknown) {
  const appError = toAppError(err);
  const requestIdValue = c.get("requestId");
  if (appError.status >= 500) {
    log("error", "unhandled error", {
      request_id: requestIdValue,
      path: new URL(c.req.url).pathname,
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      stack: err instanceof Error ? err.stack?.split("\n").slice(0, 6).join(" | ") : undefined,
    });
  }
  if (appError.retryAfter) c.header("Retry-After", String(appError.retryAfter));
  for (const [name, value] of Object.entries(appError.headers ?? {})) c.header(name, value);
  return c.json(
    {
      success: false as const,
      message: appError.summary,
      error: appError.message,
      code: appError.code,
      ...(appError.details !== undefined ? { details: appError.details } : {}),
      request_id: requestIdValue,
    },
    appError.status,
  );
}

export function createApp() {
  const api = createRouter();
  api.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", { type: "http", scheme: "bearer", bearerFormat: "JWT" });
  for (const routes of routers) api.route("/", routes);
  api.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "edge-im API",
      version: "0.1.0",
      description: "Instant messaging on Cloudflare Workers. Envelope: `{success, message, data}`; errors `{success:false, message, error, code, details?}`.",
    },
    servers: [{ url: "/api/v1" }],
  });

  const app = new Hono<AppEnv>();
  app.use("*", requestId);
  app.use(
    "*",
    cors({
      origin: "*",
      allowMethods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
      allowHeaders: ["Content-Type", "Authorization", "X-Requested-With", "X-Request-Id"],
      exposeHeaders: ["X-Request-Id", "Retry-After"],
      maxAge: 86400,
    }),
  );
  app.use("/api/v1/*", async (c, next) => {
    c.set("db", drizzle(c.env.DB, { schema }));
    await next();
  });
  const jsonLimit = bodyLimit({
    maxSize: JSON_BODY_LIMIT,
    onError: () => {
      throw new AppError("PAYLOAD_TOO_LARGE", `Request bodies are limited to ${JSON_BODY_LIMIT / 1024} KiB`);
    },
  });
  // file bodies (a form upload, an upload's part) are bounded by their own routes
  const fileBody = (c: Context<AppEnv>) =>
    (c.req.method === "POST" && c.req.path === "/api/v1/files") || (c.req.method === "PUT" && /^\/api\/v1\/uploads\/[^/]+\/parts\/[^/]+$/.test(c.req.path));
  app.use("/api/v1/*", (c, next) => (fileBody(c) ? next() : jsonLimit(c, next)));
  app.use("/api/v1/auth/*", async (c, next) => {
    const ip = c.req.header("cf-connecting-ip") ?? "local";
    if (c.env.AUTH_LIMITER && c.req.method !== "OPTIONS") {
      const { success } = await c.env.AUTH_LIMITER.limit({ key: `auth:${ip}` });
      if (!success) throw new AppError("RATE_LIMITED", "Too many authentication requests from this address", { retryAfter: 60 });
    }
    await next();
  });
  // every successful admin change is recorded (src/lib/audit.ts)
  app.use("/api/v1/admin/*", auditAdmin);
  app.route("/api/v1", api);
  // socket.io compatibility (seeds 000 and 002): Engine.IO 4 over WebSocket only
  app.get("/socket.io/*", (c) => {
    const q = c.req.query();
    if (q.EIO !== "4") throw new AppError("BAD_REQUEST", "Only Engine.IO 4 (socket.io 3 and later) is supported: EIO=4");
    if (q.transport !== "websocket" || c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      throw new AppError("BAD_REQUEST", "Only the websocket transport is supported: connect with io(url, { transports: [\"websocket\"] })");
    }
    return socketIo(c.env, c.req.raw, authTimeoutMs(c.env));
  });
  // the reference's script is a static asset copied from node_modules (scripts/build-assets.mjs), not a CDN;
  // no web fonts, telemetry or hosted AI agent, so the page works with no internet
  app.get(
    "/docs",
    Scalar({
      url: "/api/v1/openapi.json",
      pageTitle: "edge-im API",
      cdn: "/vendor/scalar-api-reference.js",
      withDefaultFonts: false,
      telemetry: false,
      agent: { disabled: true },
    }),
  );
  app.notFound((c) => errorResponse(c, new AppError("NOT_FOUND", `Route not found: ${c.req.method} ${new URL(c.req.url).pathname}`)));
  app.onError((err, c) => errorResponse(c, err));
  return app;
}
