import { z } from "zod";
import type { ErrorCode } from "./errors";
import { CALL_TYPES, checkMessageShape, ClientId, ClientMessageType, ConversationId, FileId, MessageId, UserId } from "./messages";

/** Frames above this many bytes are refused (PROTOCOL.md, "Delivery guarantees"). */
export const MAX_FRAME_BYTES = 64 * 1024;
export const SYNC_MAX_CONVERSATIONS = 200;
export const CALL_ACTIONS = ["invite", "ringing", "accept", "reject", "cancel", "hangup", "sdp", "ice"] as const;
export const USER_STATUSES = ["ONLINE", "AWAY", "BUSY", "OFFLINE"] as const;
export type UserStatus = (typeof USER_STATUSES)[number];

const Seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const Target = { conversation_id: ConversationId.optional(), room_id: ConversationId.optional() };

export const AuthFrame = z.object({ type: z.literal("auth"), token: z.string().min(1).max(4096) });
export const PingFrame = z.object({ type: z.literal("ping") });
export const JoinRoomFrame = z.object({ type: z.literal("join_room"), ...Target });
export const LeaveRoomFrame = z.object({ type: z.literal("leave_room"), ...Target });
export const SendMessageFrame = z
  .object({
    type: z.literal("send_message"),
    ...Target,
    message_type: ClientMessageType.optional(),
    content: z.string().max(100_000).optional(),
    payload: z.record(z.string(), z.unknown()).optional(),
    attachments: z.array(FileId).max(9).optional(),
    client_id: ClientId.optional(),
    reply_to: MessageId.optional(),
  })
  // the same rules as a REST send (text needs content, media needs files, payloads by type)
  .superRefine((v, ctx) => checkMessageShape({ ...v, type: v.message_type ?? "text" }, ctx));
export const TypingFrame = z.object({ type: z.literal("typing"), ...Target, is_typing: z.boolean().default(true) });
export const MarkReadFrame = z.object({ type: z.literal("mark_read"), ...Target, seq: Seq.optional(), message_ids: z.array(MessageId).min(1).max(100).optional() });
export const StatusUpdateFrame = z.object({ type: z.literal("status_update"), status: z.enum(USER_STATUSES) });
export const SyncFrame = z.object({
  type: z.literal("sync"),
  cursors: z.record(ConversationId, Seq).refine((c) => Object.keys(c).length <= SYNC_MAX_CONVERSATIONS, `at most ${SYNC_MAX_CONVERSATIONS} conversations per sync`),
});
export const CallFrame = z
  .object({
    type: z.literal("call"),
    to_user_id: UserId.optional(),
    ...Target,
    call_id: z.string().min(1).max(64).regex(/^[\w.:-]+$/).optional(),
    call_type: z.enum(CALL_TYPES).default("voice"),
    action: z.enum(CALL_ACTIONS),
    payload: z.unknown().optional(),
  })
  .refine((v) => v.to_user_id || v.conversation_id || v.room_id, "to_user_id or conversation_id is required");

/** Every frame a client may send (PROTOCOL.md), discriminated by `type`. */
export const ClientFrame = z.discriminatedUnion("type", [AuthFrame, PingFrame, JoinRoomFrame, LeaveRoomFrame, SendMessageFrame, TypingFrame, MarkReadFrame, StatusUpdateFrame, SyncFrame, CallFrame]);
/** A parsed client frame (defaults applied). */
export type ClientFrameT = z.infer<typeof ClientFrame>;
/** A client frame as a client writes it (defaults optional): what the SDK and adapters send. */
export type ClientFrameInput = z.input<typeof ClientFrame>;
export type ClientFrameType = ClientFrameT["type"];
export type ClientFrameOf<K extends ClientFrameType> = Extract<ClientFrameT, { type: K }>;

export const CLIENT_FRAME_TYPES: readonly ClientFrameType[] = ClientFrame.options.map((o) => o.shape.type.value);
const frameTypes = new Set<string>(CLIENT_FRAME_TYPES);

/** A parsed frame, or why not (with the frame's type when it named a known one). */
export type ParsedFrame = { ok: true; frame: ClientFrameT } | { ok: false; code: ErrorCode; error: string; client_id?: string; type?: ClientFrameType };

/** The frame's size in bytes, counted only when the string could be over the limit. */
export function oversize(raw: string | ArrayBuffer, limit = MAX_FRAME_BYTES): boolean {
  if (typeof raw !== "string") return raw.byteLength > limit;
  // a UTF-16 code unit is at most 3 UTF-8 bytes: short strings need no encoding to know
  return raw.length * 3 > limit && new TextEncoder().encode(raw).byteLength > limit;
}

/**
 * Parses one client frame. Seed 001 puts fields at the top level; its general format nests them
 * in `data`, so both are accepted (top level wins). The message's own type travels as
 * `message_type` (or `data.type`), since `type` names the frame. Seed 001's error texts stay.
 */
export function parseFrame(raw: string | ArrayBuffer): ParsedFrame {
  if (typeof raw !== "string") return { ok: false, code: "MALFORMED_JSON", error: "Invalid JSON format" };
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false, code: "MALFORMED_JSON", error: "Invalid JSON format" };
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) return { ok: false, code: "MALFORMED_JSON", error: "Invalid JSON format" };
  const obj = value as Record<string, unknown>;
  const type = obj.type;
  if (typeof type !== "string" || !frameTypes.has(type)) return { ok: false, code: "BAD_REQUEST", error: `Unknown message type: ${String(type ?? "")}` };
  const data = obj.data && typeof obj.data === "object" && !Array.isArray(obj.data) ? (obj.data as Record<string, unknown>) : {};
  const merged: Record<string, unknown> = { ...data, ...obj, type };
  delete merged.data;
  if (type === "send_message" && merged.message_type === undefined && typeof data.type === "string") merged.message_type = data.type;
  const parsed = ClientFrame.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // a refused send names its client_id, so the client knows which send failed
    const clientId = typeof merged.client_id === "string" && merged.client_id.length <= 64 ? merged.client_id : undefined;
    return { ok: false, code: "VALIDATION_ERROR", error: `Invalid ${type} frame: ${issue.path.join(".") || "frame"}: ${issue.message}`, type: type as ClientFrameType, ...(clientId ? { client_id: clientId } : {}) };
  }
  return { ok: true, frame: parsed.data };
}

/** The conversation a frame names (`conversation_id`, or seed 001's `room_id`). */
export const targetOf = (f: object): string | undefined => {
  const t = f as { conversation_id?: string; room_id?: string };
  return t.conversation_id ?? t.room_id;
};
