import { z } from "zod";

export const MESSAGE_TYPES = ["text", "image", "video", "voice", "file", "emoji", "markdown", "location", "call", "system"] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];
export const ClientMessageType = z.enum(["text", "image", "video", "voice", "file", "emoji", "markdown", "location", "call"]);
export type ClientMessageTypeT = z.infer<typeof ClientMessageType>;

export const ConversationId = z.string().regex(/^(dm|grp|room)_[0-9a-z]{6,40}$/, "a conversation id (dm_…, grp_… or room_…)");
export const UserId = z.string().regex(/^user_[0-9a-z]{6,40}$/, "a user id (user_…)");
export const MessageId = z.string().regex(/^msg_[0-9a-z]{6,40}$/, "a message id (msg_…)");
export const FileId = z.string().regex(/^file_[0-9a-z]{6,40}$/, "a file id (file_…)");
export const ClientId = z.string().min(1).max(64).regex(/^[\w.:-]+$/, "letters, digits and _ . : - only");
export const Emoji = z
  .string()
  .min(1)
  .max(32)
  .refine((s) => !/\s/.test(s), "no whitespace");

const Dimensions = { width: z.number().int().min(1).max(100_000).optional(), height: z.number().int().min(1).max(100_000).optional() };
const Duration = { duration_ms: z.number().int().min(0).max(86_400_000).optional() };

export const CALL_TYPES = ["voice", "video", "screen"] as const;

/** Each type's own payload: media carry sizes/durations, location a point, call the call event. */
export const payloadSchemas = {
  image: z.object(Dimensions).strict(),
  video: z.object({ ...Dimensions, ...Duration }).strict(),
  voice: z.object(Duration).strict(),
  file: z.object({}).strict(),
  location: z
    .object({
      lat: z.number().min(-90).max(90),
      lng: z.number().min(-180).max(180),
      name: z.string().max(100).optional(),
      address: z.string().max(200).optional(),
    })
    .strict(),
  call: z
    .object({
      call_type: z.enum(CALL_TYPES),
      action: z.enum(["started", "ended", "missed", "rejected", "cancelled"]),
      duration_s: z.number().int().min(0).max(86_400).optional(),
    })
    .strict(),
} as const;

const needsContent = new Set(["text", "markdown", "emoji"]);
const needsAttachments: Record<string, number> = { image: 9, video: 1, voice: 1, file: 1 };

/** The rules every send obeys, whatever the transport (REST body or WebSocket frame). */
export function checkMessageShape(v: { type: string; content?: string; payload?: Record<string, unknown>; attachments?: string[] }, ctx: z.RefinementCtx) {
  if (needsContent.has(v.type) && !v.content?.trim()) ctx.addIssue({ code: "custom", path: ["content"], message: `required for ${v.type} messages` });
  if (v.type === "emoji" && (v.content?.length ?? 0) > 64) ctx.addIssue({ code: "custom", path: ["content"], message: "an emoji message is at most 64 characters" });
  const maxFiles = needsAttachments[v.type];
  if (maxFiles !== undefined) {
    const n = v.attachments?.length ?? 0;
    if (n < 1 || n > maxFiles) ctx.addIssue({ code: "custom", path: ["attachments"], message: `${v.type} messages carry 1${maxFiles > 1 ? `-${maxFiles}` : ""} file id${maxFiles > 1 ? "s" : ""}` });
  } else if (v.attachments?.length) {
    ctx.addIssue({ code: "custom", path: ["attachments"], message: `${v.type} messages carry no attachments` });
  }
  if (!needsContent.has(v.type) && (v.content?.length ?? 0) > 1000) ctx.addIssue({ code: "custom", path: ["content"], message: "a caption is at most 1000 characters" });
  const schema = payloadSchemas[v.type as keyof typeof payloadSchemas];
  if (schema) {
    const parsed = schema.safeParse(v.payload ?? {});
    if (!parsed.success) for (const i of parsed.error.issues) ctx.addIssue({ code: "custom", path: ["payload", ...i.path.map(String)], message: i.message });
  } else if (v.payload !== undefined) {
    ctx.addIssue({ code: "custom", path: ["payload"], message: `${v.type} messages carry no payload` });
  }
}

/** A message as every reader sees it: REST responses, socket frames, the SDK and the web client. */
export const MessageView = z.object({
  id: z.string(),
  conversation_id: z.string(),
  seq: z.number().int(),
  type: z.enum(MESSAGE_TYPES),
  msg_type: z.number().int().describe("seed 002 msgType: 0 text, 1 image, 2 video, 3 file, 4 emoji, 5 markdown, 6-8 calls, 9 voice, 10 location, 11 system"),
  content: z.string().nullable(),
  payload: z.record(z.string(), z.unknown()).nullable(),
  attachments: z.array(z.string()),
  reply_to: z.object({ id: z.string(), seq: z.number().int(), sender_id: z.string(), type: z.string(), preview: z.string() }).nullable(),
  sender: z.object({ id: z.string(), username: z.string() }),
  client_id: z.string().nullable(),
  created_at: z.string(),
  timestamp: z.number().int(),
  edited_at: z.string().nullable(),
  recalled: z.boolean(),
  deleted: z.boolean(),
  reactions: z.array(z.object({ emoji: z.string(), count: z.number().int(), me: z.boolean() })),
});
export type MessageViewT = z.infer<typeof MessageView>;
