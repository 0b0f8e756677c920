import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../../middleware/auth";
import { AppError } from "../../lib/errors";
import { verifyAccessToken } from "../../lib/jwt";
import { bearer, createRouter, envelope, errors, ok } from "../../lib/openapi";
import { authTimeoutMs, handOff, holdForAuth, refuse } from "../../realtime/gateway";
import { CloseCodes, serverFrame, type ErrorCode } from "../../protocol";
import { userStub } from "../../realtime/push";
import { ConversationId } from "../messages/messages.schemas";

const tags = ["Realtime"];
const router = createRouter();

router.openapi(
  createRoute({
    method: "get",
    path: "/ws",
    tags,
    summary:
      "WebSocket (PROTOCOL.md). Authenticate with ?token=, a single-use ?ticket=, or an auth frame within 30 s. ?room_id= (or conversation_id) binds the connection to one conversation; ?device_id= names the device.",
    request: {
      query: z.object({
        token: z.string().max(4096).optional(),
        ticket: z.string().max(200).optional(),
        room_id: ConversationId.optional(),
        conversation_id: ConversationId.optional(),
        device_id: z.string().regex(/^[\w.:-]{1,64}$/).default("default"),
      }),
    },
    responses: { 101: { description: "Switching protocols" }, ...errors(426) },
  }),
  async (c) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") throw new AppError("UPGRADE_REQUIRED", "Connect with a WebSocket client (Upgrade: websocket)");
    const q = c.req.valid("query");
    const binding = { deviceId: q.device_id, conversationId: q.room_id ?? q.conversation_id };
    const authFailed = (code: ErrorCode = "UNAUTHORIZED") => refuse(serverFrame("error", { code, error: "Invalid or expired token" }, "Authentication failed"), CloseCodes.authFailed, "Authentication failed");
    if (q.token) {
      try {
        const claims = await verifyAccessToken(c.env, q.token);
        return handOff(c.env, c.req.raw, { userId: claims.sub, username: claims.username }, binding) as never;
      } catch (err) {
        if (err instanceof AppError && err.status === 401) return authFailed(err.code) as never;
        throw err;
      }
    }
    if (q.ticket) {
      const [userId, secret] = q.ticket.split(".");
      const identity = /^user_[0-9a-z]+$/.test(userId ?? "") && secret ? await userStub(c.env, userId).consumeTicket(secret) : null;
      if (!identity || identity.userId !== userId) return authFailed() as never;
      return handOff(c.env, c.req.raw, identity, binding) as never;
    }
    return holdForAuth(c.env, c.req.raw, binding, authTimeoutMs(c.env)) as never;
  },
);

router.openapi(
  createRoute({
    method: "post",
    path: "/ws/ticket",
    tags,
    security: bearer,
    middleware: [requireAuth] as const,
    summary: "A single-use ticket for ?ticket= (valid 60 s), so access tokens stay out of URLs",
    responses: { 200: envelope(z.object({ ticket: z.string(), expires_in: z.number().int() })), ...errors(401) },
  }),
  async (c) => ok(c, "Ticket issued", await userStub(c.env, c.var.user.id).issueTicket(c.var.user.id, c.var.user.username)),
);

export default router;
