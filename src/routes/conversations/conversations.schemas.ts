import { z } from "@hono/zod-openapi";

export const LastMessage = z
  .object({
    id: z.string(),
    seq: z.number().int(),
    type: z.string(),
    sender_id: z.string(),
    sender_name: z.string(),
    preview: z.string(),
    created_at: z.string(),
  })
  .openapi("LastMessage");

export const ConversationSummary = z
  .object({
    id: z.string(),
    kind: z.enum(["dm", "group", "room"]),
    name: z.string().nullable(),
    avatar: z.string().nullable(),
    peer: z.object({ id: z.string(), username: z.string(), nickname: z.string().nullable(), avatar: z.string().nullable() }).nullable(),
    member_count: z.number().int(),
    last_seq: z.number().int(),
    last_message: LastMessage.nullable(),
    last_message_at: z.string().nullable(),
    read_seq: z.number().int(),
    unread_count: z.number().int(),
    muted: z.boolean(),
    pinned: z.boolean(),
    role: z.enum(["owner", "admin", "member"]),
    dissolved: z.boolean(),
  })
  .openapi("ConversationSummary");
