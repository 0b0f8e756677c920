import { createRoute, z } from "@hono/zod-openapi";
import { desc, eq } from "drizzle-orm";
import { outbox } from "../../db/schema";
import { requireAuth } from "../../middleware/auth";
import { getConfig } from "../../middleware/context";
import { publicConfig } from "../../lib/config";
import { isDevEnvironment } from "../../lib/delivery";
import { AppError } from "../../lib/errors";
import { bearer, createRouter, envelope, errors, ok } from "../../lib/openapi";

const tags = ["System"];
const router = createRouter();
const isolateStarted = Date.now();
const unix = () => Math.floor(Date.now() / 1000);
export const ECHO_MAX_BYTES = 64 * 1024;

router.openapi(
  createRoute({
    method: "get",
    path: "/health",
    tags,
    summary: "Liveness (seed 001)",
    responses: { 200: envelope(z.object({ status: z.literal("ok"), timestamp: z.number().int(), uptime: z.string() })) },
  }),
  (c) => ok(c, "Server is running", { status: "ok" as const, timestamp: unix(), uptime: `${Math.floor((Date.now() - isolateStarted) / 1000)}s` }),
);

router.openapi(
  createRoute({
    method: "get",
    path: "/info",
    tags,
    summary: "Server name and version (seed 001)",
    responses: {
      200: envelope(z.object({ name: z.string(), version: z.string(), description: z.string(), timestamp: z.number().int() })),
    },
  }),
  (c) =>
    ok(c, "Server information retrieved successfully", {
      name: "edge-im",
      version: "0.1.0",
      description: "Instant-messaging backend on Cloudflare Workers (REST + WebSocket)",
      timestamp: unix(),
    }),
);

router.openapi(
  createRoute({
    method: "get",
    path: "/echo",
    tags,
    summary: "Echo the request line (seed 001)",
    responses: {
      200: envelope(z.object({ method: z.string(), path: z.string(), user_agent: z.string(), timestamp: z.number().int() })),
    },
  }),
  (c) =>
    ok(c, "Echo GET request received", {
      method: "GET",
      path: new URL(c.req.url).pathname,
      user_agent: c.req.header("user-agent") ?? "",
      timestamp: unix(),
    }),
);

router.openapi(
  createRoute({
    method: "post",
    path: "/echo",
    tags,
    summary: "Echo the request body as a string (seed 001); at most 64 KiB",
    request: { body: { content: { "*/*": { schema: z.string() } } } },
    responses: {
      200: envelope(z.object({ method: z.string(), path: z.string(), received_data: z.string(), timestamp: z.number().int() })),
      ...errors(413),
    },
  }),
  async (c) => {
    const bytes = await c.req.arrayBuffer();
    if (bytes.byteLength > ECHO_MAX_BYTES) throw new AppError("PAYLOAD_TOO_LARGE", "Echo bodies are limited to 64 KiB");
    return ok(c, "Echo POST request received", {
      method: "POST",
      path: new URL(c.req.url).pathname,
      received_data: new TextDecoder().decode(bytes),
      timestamp: unix(),
    });
  },
);

router.openapi(
  createRoute({
    method: "get",
    path: "/protected",
    tags,
    security: bearer,
    middleware: [requireAuth] as const,
    summary: "Needs a token (seed 001)",
    responses: {
      200: envelope(z.object({ secret_info: z.string(), timestamp: z.number().int(), access_level: z.string(), user_id: z.string() })),
      ...errors(401),
    },
  }),
  (c) =>
    ok(c, "This is a protected endpoint", {
      secret_info: "Secret information",
      timestamp: unix(),
      access_level: "authenticated",
      user_id: c.var.user.id,
    }),
);

router.openapi(
  createRoute({
    method: "get",
    path: "/configs",
    tags,
    summary: "The operator settings clients may read",
    responses: { 200: envelope(z.object({ configs: z.record(z.string(), z.unknown()) })) },
  }),
  async (c) => ok(c, "Configs retrieved", { configs: publicConfig(await getConfig(c)) }),
);

router.openapi(
  createRoute({
    method: "get",
    path: "/dev/outbox",
    tags,
    summary: "Development only: codes and captcha answers the outbox provider recorded for an address or captcha key",
    request: { query: z.object({ to: z.string().min(1).max(254) }) },
    responses: {
      200: envelope(
        z.object({ messages: z.array(z.object({ channel: z.string(), to: z.string(), subject: z.string(), body: z.string(), created_at: z.string() })) }),
      ),
      ...errors(404),
    },
  }),
  async (c) => {
    if (!isDevEnvironment(c.env) || c.env.DELIVERY_PROVIDER !== "outbox") throw new AppError("NOT_FOUND", "Route not found");
    const rows = await c.var.db.select().from(outbox).where(eq(outbox.target, c.req.valid("query").to)).orderBy(desc(outbox.createdAt)).limit(20);
    return ok(c, "Outbox", {
      messages: rows.map((r) => ({ channel: r.channel, to: r.target, subject: r.subject, body: r.body, created_at: r.createdAt })),
    });
  },
);

export default router;
