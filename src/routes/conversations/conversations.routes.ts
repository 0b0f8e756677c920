import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../../middleware/auth";
import { bearer, createRouter, envelope, errors, jsonBody, ok } from "../../lib/openapi";
import { conversationStub } from "../../realtime/push";
import { unwrap } from "../../realtime/result";
import { ConversationId } from "../messages/messages.schemas";
import { UserId } from "../users/users.schemas";
import { ConversationSummary } from "./conversations.schemas";
import * as conversations from "./conversations.service";

const tags = ["Conversations"];
const router = createRouter();
router.use("/conversations", requireAuth);
router.use("/conversations/*", requireAuth);
const Params = z.object({ id: ConversationId });

router.openapi(
  createRoute({
    method: "get",
    path: "/conversations",
    tags,
    security: bearer,
    summary: "My conversations: last message, unread_count, muted, pinned; pinned first, then by activity (one D1 query)",
    request: {
      query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(100), cursor: z.string().max(200).regex(/^[01]\|[^|]+\|[a-z]+_[0-9a-z]+$/).optional() }),
    },
    responses: { 200: envelope(z.object({ conversations: z.array(ConversationSummary), next_cursor: z.string().nullable() })), ...errors(401) },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid("query");
    return ok(c, "Conversations retrieved", await conversations.listConversations(c.var.db, c.var.user.id, limit, cursor));
  },
);

router.openapi(
  createRoute({
    method: "post",
    path: "/conversations/dm",
    tags,
    security: bearer,
    summary: "Open (or get) my direct conversation with a user",
    request: { body: jsonBody(z.object({ user_id: UserId }).strict()) },
    responses: { 200: envelope(z.object({ conversation: ConversationSummary })), ...errors(401, 403, 404, 415) },
  }),
  async (c) => {
    const dm = await conversations.openDm(c.var.db, c.var.user.id, c.req.valid("json").user_id);
    return ok(c, "Conversation ready", { conversation: await conversations.getConversation(c.var.db, c.var.user.id, dm.id) });
  },
);

router.openapi(
  createRoute({
    method: "get",
    path: "/conversations/{id}",
    tags,
    security: bearer,
    summary: "One of my conversations",
    request: { params: Params },
    responses: { 200: envelope(z.object({ conversation: ConversationSummary })), ...errors(401, 403, 404) },
  }),
  async (c) => ok(c, "Conversation retrieved", { conversation: await conversations.getConversation(c.var.db, c.var.user.id, c.req.valid("param").id) }),
);

router.openapi(
  createRoute({
    method: "patch",
    path: "/conversations/{id}",
    tags,
    security: bearer,
    summary: "Mute or pin a conversation for me",
    request: {
      params: Params,
      body: jsonBody(z.object({ muted: z.boolean().optional(), pinned: z.boolean().optional() }).strict().refine((v) => v.muted !== undefined || v.pinned !== undefined, "send muted or pinned")),
    },
    responses: { 200: envelope(z.object({ conversation: ConversationSummary })), ...errors(401, 403, 404, 415) },
  }),
  async (c) =>
    ok(c, "Conversation updated", {
      conversation: await conversations.updatePreferences(c.var.db, c.var.user.id, c.req.valid("param").id, c.req.valid("json")),
    }),
);

router.openapi(
  createRoute({
    method: "post",
    path: "/conversations/{id}/read",
    tags,
    security: bearer,
    summary: "Mark read up to a seq (moves forward only; clamped to the last message)",
    request: { params: Params, body: jsonBody(z.object({ seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }).strict()) },
    responses: {
      200: envelope(z.object({ conversation_id: z.string(), read_seq: z.number().int(), last_seq: z.number().int(), unread_count: z.number().int() })),
      ...errors(401, 403, 404, 415),
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    return ok(c, "Marked as read", unwrap(await conversationStub(c.env, id).markRead(id, c.var.user.id, c.req.valid("json").seq)));
  },
);

export default router;
