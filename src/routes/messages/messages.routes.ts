import { createRoute, z } from "@hono/zod-openapi";
import { and, eq, inArray, ne } from "drizzle-orm";
import { conversations, members, users } from "../../db/schema";
import { requireAuth } from "../../middleware/auth";
import { getConfig } from "../../middleware/context";
import { AppError } from "../../lib/errors";
import { bearer, createRouter, envelope, errors, jsonBody, ok } from "../../lib/openapi";
import { conversationStub } from "../../realtime/push";
import { unwrap } from "../../realtime/result";
import { ConversationId, Emoji, MessageId, MessageView, SendMessageBody } from "./messages.schemas";
import { sendMessage } from "./messages.service";

const tags = ["Messages"];
const router = createRouter();
router.use("/conversations/*", requireAuth);
router.use("/messages", requireAuth);

const Conv = z.object({ id: ConversationId });
const One = z.object({ id: ConversationId, message_id: MessageId });
const Seq = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const Page = z.object({
  messages: z.array(MessageView),
  has_more: z.boolean(),
  total: z.number().int(),
  last_seq: z.number().int(),
});

router.openapi(
  createRoute({
    method: "get",
    path: "/conversations/{id}/messages",
    tags,
    security: bearer,
    summary: "History by seq cursor, oldest first: newest page by default, `before` pages back, `after` pages forward",
    request: {
      params: Conv,
      query: z
        .object({ before: Seq.optional(), after: Seq.optional(), limit: z.coerce.number().int().min(1).max(100).default(50) })
        .refine((q) => q.before === undefined || q.after === undefined, "use before or after, not both"),
    },
    responses: { 200: envelope(Page), ...errors(401, 403, 404) },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    return ok(c, "Messages retrieved successfully", unwrap(await conversationStub(c.env, id).history(id, c.var.user.id, c.req.valid("query"))));
  },
);

router.openapi(
  createRoute({
    method: "post",
    path: "/conversations/{id}/messages",
    tags,
    security: bearer,
    summary: "Send a message; acknowledged (201) once durably stored. A repeated client_id returns the first message (200, duplicate: true)",
    request: { params: Conv, body: jsonBody(SendMessageBody) },
    responses: {
      201: envelope(MessageView.extend({ duplicate: z.boolean() }), "Stored"),
      200: envelope(MessageView.extend({ duplicate: z.boolean() }), "Already stored under this client_id"),
      ...errors(401, 403, 404, 415, 429),
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { message, duplicate } = await sendMessage(c.env, id, c.var.user.id, c.req.valid("json"));
    const data = { ...message, duplicate };
    return duplicate ? ok(c, "Message already sent", data, 200) : ok(c, "Message sent successfully", data, 201);
  },
);

router.openapi(
  createRoute({
    method: "get",
    path: "/conversations/{id}/messages/search",
    tags,
    security: bearer,
    summary: "Full-text search within a conversation (what I may read), newest first",
    request: {
      params: Conv,
      query: z.object({ q: z.string().trim().min(1).max(100), limit: z.coerce.number().int().min(1).max(50).default(20), before: Seq.optional() }),
    },
    responses: { 200: envelope(z.object({ messages: z.array(MessageView) })), ...errors(401, 403, 404) },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { q, limit, before } = c.req.valid("query");
    return ok(c, "Search results", unwrap(await conversationStub(c.env, id).search(id, c.var.user.id, q, limit, before)));
  },
);

router.openapi(
  createRoute({
    method: "get",
    path: "/conversations/{id}/messages/{message_id}",
    tags,
    security: bearer,
    summary: "One message",
    request: { params: One },
    responses: { 200: envelope(MessageView), ...errors(401, 403, 404) },
  }),
  async (c) => {
    const { id, message_id } = c.req.valid("param");
    return ok(c, "Message retrieved", unwrap(await conversationStub(c.env, id).getMessage(id, c.var.user.id, message_id)));
  },
);

router.openapi(
  createRoute({
    method: "patch",
    path: "/conversations/{id}/messages/{message_id}",
    tags,
    security: bearer,
    summary: "Edit my text or markdown message (keeps edited_at)",
    request: { params: One, body: jsonBody(z.object({ content: z.string().trim().min(1).max(100_000) }).strict()) },
    responses: { 200: envelope(MessageView), ...errors(401, 403, 404, 409, 415) },
  }),
  async (c) => {
    const { id, message_id } = c.req.valid("param");
    return ok(c, "Message edited", unwrap(await conversationStub(c.env, id).edit(id, c.var.user.id, message_id, c.req.valid("json").content)));
  },
);

router.openapi(
  createRoute({
    method: "delete",
    path: "/conversations/{id}/messages/{message_id}",
    tags,
    security: bearer,
    summary: "Delete a message for everyone (sender, or a group owner/admin); it stays as a tombstone so seq has no gap",
    request: { params: One },
    responses: { 200: envelope(MessageView), ...errors(401, 403, 404) },
  }),
  async (c) => {
    const { id, message_id } = c.req.valid("param");
    return ok(c, "Message deleted successfully", unwrap(await conversationStub(c.env, id).remove(id, c.var.user.id, message_id)));
  },
);

router.openapi(
  createRoute({
    method: "post",
    path: "/conversations/{id}/messages/{message_id}/recall",
    tags,
    security: bearer,
    summary: "Recall my message within the operator's window (recall_window_seconds); group owners/admins may recall any",
    request: { params: One },
    responses: { 200: envelope(MessageView), ...errors(401, 403, 404, 409) },
  }),
  async (c) => {
    const { id, message_id } = c.req.valid("param");
    return ok(c, "Message recalled", unwrap(await conversationStub(c.env, id).recall(id, c.var.user.id, message_id)));
  },
);

const ReactionParams = One.extend({ emoji: Emoji });
for (const [method, add] of [["put", true], ["delete", false]] as const) {
  router.openapi(
    createRoute({
      method,
      path: "/conversations/{id}/messages/{message_id}/reactions/{emoji}",
      tags,
      security: bearer,
      summary: add ? "Add my reaction (idempotent)" : "Remove my reaction (idempotent)",
      request: { params: ReactionParams },
      responses: { 200: envelope(MessageView), ...errors(401, 403, 404, 409) },
    }),
    async (c) => {
      const { id, message_id, emoji } = c.req.valid("param");
      return ok(c, add ? "Reaction added" : "Reaction removed", unwrap(await conversationStub(c.env, id).react(id, c.var.user.id, message_id, emoji, add)));
    },
  );
}

const Reader = z.object({ user_id: z.string(), username: z.string(), read_seq: z.number().int() });

router.openapi(
  createRoute({
    method: "get",
    path: "/conversations/{id}/messages/{message_id}/reads",
    tags,
    security: bearer,
    summary: "Who has read a message (conversations up to read_receipts_max_members members)",
    request: { params: One },
    responses: {
      200: envelope(z.object({ message_id: z.string(), seq: z.number().int(), read_by: z.array(Reader), unread_by: z.array(Reader) })),
      ...errors(401, 403, 404),
    },
  }),
  async (c) => {
    const { id, message_id } = c.req.valid("param");
    const message = unwrap(await conversationStub(c.env, id).getMessage(id, c.var.user.id, message_id));
    const config = await getConfig(c);
    const conv = await c.var.db.select({ memberCount: conversations.memberCount }).from(conversations).where(eq(conversations.id, id)).get();
    if (!conv || conv.memberCount > config.read_receipts_max_members) {
      throw new AppError("FORBIDDEN", `Read receipts are kept for conversations of up to ${config.read_receipts_max_members} members`);
    }
    const rows = await c.var.db
      .select({ user_id: members.userId, username: users.username, read_seq: members.readSeq })
      .from(members)
      .innerJoin(users, eq(users.id, members.userId))
      .where(and(eq(members.conversationId, id), ne(members.userId, message.sender.id)));
    return ok(c, "Read receipts", {
      message_id,
      seq: message.seq,
      read_by: rows.filter((r) => r.read_seq >= message.seq),
      unread_by: rows.filter((r) => r.read_seq < message.seq),
    });
  },
);

router.openapi(
  createRoute({
    method: "get",
    path: "/messages",
    tags,
    security: bearer,
    summary: "Seed 001: the latest messages of a room (or any conversation I belong to), oldest first",
    request: { query: z.object({ room_id: ConversationId, limit: z.coerce.number().int().min(1).max(100).default(50) }) },
    responses: {
      200: envelope(
        z.object({
          messages: z.array(
            z.object({
              id: z.string(),
              seq: z.number().int(),
              room_id: z.string(),
              user_id: z.string(),
              content: z.string().nullable(),
              type: z.string(),
              timestamp: z.number().int(),
              created_at: z.string(),
              sender: z.object({ id: z.string(), username: z.string(), is_online: z.boolean() }),
            }),
          ),
          room_id: z.string(),
          count: z.number().int(),
        }),
      ),
      ...errors(401, 403, 404),
    },
  }),
  async (c) => {
    const { room_id, limit } = c.req.valid("query");
    const page = unwrap(await conversationStub(c.env, room_id).history(room_id, c.var.user.id, { limit }));
    const senderIds = [...new Set(page.messages.map((m) => m.sender.id))];
    const senders = senderIds.length
      ? await c.var.db.select({ id: users.id, status: users.status }).from(users).where(inArray(users.id, senderIds))
      : [];
    const onlineSet = new Set(senders.filter((u) => u.status !== "OFFLINE").map((u) => u.id));
    const messages = page.messages.map((m) => ({
      id: m.id,
      seq: m.seq,
      room_id,
      user_id: m.sender.id,
      content: m.content,
      type: m.type,
      timestamp: m.timestamp,
      created_at: m.created_at,
      sender: { id: m.sender.id, username: m.sender.username, is_online: onlineSet.has(m.sender.id) },
    }));
    return ok(c, "Messages retrieved successfully", { messages, room_id, count: messages.length });
  },
);

export default router;
