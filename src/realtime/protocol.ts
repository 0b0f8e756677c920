import { z } from "@hono/zod-openapi";
import { checkMessageShape, ClientId, ClientMessageType, ConversationId, FileId, MessageId, payloadSchemas } from "../routes/messages/messages.schemas";
import type { MessageViewT } from "../routes/messages/messages.schemas";

export const MAX_FRAME_BYTES = 64 * 1024;
/** Token bucket per connection: sustained frames per second and burst (WS_RATE_PER_SECOND / WS_RATE_BURST override). */
export interface RateLimits {
  perSecond: number;
  burst: number;
}
export const DEFAULT_RATE: RateLimits = { perSecond: 100, burst: 200 };

export function rateLimits(env: { WS_RATE_PER_SECOND?: string; WS_RATE_BURST?: string }): RateLimits {
  return {
    perSecond: Number(env.WS_RATE_PER_SECOND) || DEFAULT_RATE.perSecond,
    burst: Number(env.WS_RATE_BURST) || DEFAULT_RATE.burst,
  };
}
/** Misbehaving frames (bad JSON, unknown type, oversize, flood) tolerated before closing with 1008. */
export const MAX_STRIKES = 20;
export const SYNC_PAGE = 200;
export const SYNC_MAX_CONVERSATIONS = 200;

export const CloseCodes = { replaced: 4000, authFailed: 4001, authTimeout: 4002, removed: 4003, policy: 1008 } as const;

const Target = { conversation_id: ConversationId.optional(), room_id: ConversationId.optional() };

const Auth = z.object({ type: z.literal("auth"), token: z.string().min(1).max(4096) });
const Ping = z.object({ type: z.literal("ping") });
const JoinRoom = z.object({ type: z.literal("join_room"), ...Target });
const LeaveRoom = z.object({ type: z.literal("leave_room"), ...Target });
const SendMessage = z
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
const Typing = z.object({ type: z.literal("typing"), ...Target, is_typing: z.boolean().default(true) });
const MarkRead = z.object({
  type: z.literal("mark_read"),
  ...Target,
  seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  message_ids: z.array(MessageId).min(1).max(100).optional(),
});
const StatusUpdate = z.object({ type: z.literal("status_update"), status: z.enum(["ONLINE", "AWAY", "BUSY", "OFFLINE"]) });
const Sync = z.object({
  type: z.literal("sync"),
  cursors: z.record(ConversationId, z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)).refine((c) => Object.keys(c).length <= SYNC_MAX_CONVERSATIONS, `at most ${SYNC_MAX_CONVERSATIONS} conversations per sync`),
});
const Call = z
  .object({
    type: z.literal("call"),
    to_user_id: z.string().regex(/^user_[0-9a-z]{6,40}$/).optional(),
    ...Target,
    call_id: z.string().min(1).max(64).regex(/^[\w.:-]+$/).optional(),
    call_type: payloadSchemas.call.shape.call_type.default("voice"),
    action: z.enum(["invite", "ringing", "accept", "reject", "cancel", "hangup", "sdp", "ice"]),
    payload: z.unknown().optional(),
  })
  .refine((v) => v.to_user_id || v.conversation_id || v.room_id, "to_user_id or conversation_id is required");

export const ClientFrame = z.discriminatedUnion("type", [Auth, Ping, JoinRoom, LeaveRoom, SendMessage, Typing, MarkRead, StatusUpdate, Sync, Call]);
export type ClientFrameT = z.infer<typeof ClientFrame>;
export const frameTypes = new Set(["auth", "ping", "join_room", "leave_room", "send_message", "typing", "mark_read", "status_update", "sync", "call"]);

export type Parsed = { ok: true; frame: ClientFrameT } | { ok: false; error: string; client_id?: string };

/**
 * Parses one client frame. Seed 001 puts fields at the top level; its general format nests them
 * in `data`, so both are accepted (top level wins). The message's own type travels as
 * `message_type` (or `data.type`), since `type` names the frame.
 */
export function parseFrame(raw: string | ArrayBuffer): Parsed {
  if (typeof raw !== "string") return { ok: false, error: "Invalid JSON format" };
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false, error: "Invalid JSON format" };
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) return { ok: false, error: "Invalid JSON format" };
  const obj = value as Record<string, unknown>;
  const type = obj.type;
  if (typeof type !== "string" || !frameTypes.has(type)) return { ok: false, error: `Unknown message type: ${String(type ?? "")}` };
  const data = obj.data && typeof obj.data === "object" && !Array.isArray(obj.data) ? (obj.data as Record<string, unknown>) : {};
  const merged: Record<string, unknown> = { ...data, ...obj, type };
  delete merged.data;
  if (type === "send_message" && merged.message_type === undefined && typeof data.type === "string") merged.message_type = data.type;
  const parsed = ClientFrame.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // a refused send names its client_id, so the client knows which send failed
    const clientId = typeof merged.client_id === "string" && merged.client_id.length <= 64 ? merged.client_id : undefined;
    return { ok: false, error: `Invalid ${type} frame: ${issue.path.join(".") || "frame"}: ${issue.message}`, ...(clientId ? { client_id: clientId } : {}) };
  }
  return { ok: true, frame: parsed.data };
}

export function serverFrame(type: string, message: string, data: Record<string, unknown> = {}) {
  return JSON.stringify({ success: true, message, data: { type, ...data } });
}

export function errorFrame(error: string, message = "Request failed", extra: Record<string, unknown> = {}) {
  return JSON.stringify({ success: false, message, error, ...extra });
}

export const authenticatedFrame = (userId: string, username: string, conversationId?: string) =>
  serverFrame("authenticated", "WebSocket authentication successful", {
    user_id: userId,
    username,
    status: "connected",
    ...(conversationId ? { conversation_id: conversationId, room_id: conversationId } : {}),
  });

export const pongFrame = () => serverFrame("pong", "Pong response", { timestamp: Math.floor(Date.now() / 1000) });

/** A message as a frame: seed 001's fields (user_id, username, room_id, content, timestamp) plus ours. */
export function messageFrame(type: "message_sent" | "message_received", m: MessageViewT, extra: Record<string, unknown> = {}) {
  return serverFrame(type, "Message sent successfully", {
    user_id: m.sender.id,
    username: m.sender.username,
    room_id: m.conversation_id,
    content: m.content,
    timestamp: m.timestamp,
    conversation_id: m.conversation_id,
    id: m.id,
    seq: m.seq,
    message_type: m.type,
    msg_type: m.msg_type,
    sender: m.sender,
    created_at: m.created_at,
    client_id: m.client_id,
    reply_to: m.reply_to,
    attachments: m.attachments,
    payload: m.payload,
    ...extra,
  });
}

export interface SocketAttachment {
  connId: string;
  userId: string;
  username: string;
  deviceId: string;
  /** User connections: the conversation joined with join_room. Bound connections: the bound one, or null after leave_room. */
  room: string | null;
  tokens: number;
  refilledAt: number;
  strikes: number;
}

/** Token-bucket check for one frame; updates the attachment in place. */
export function takeToken(a: SocketAttachment, limits: RateLimits, now = Date.now()): boolean {
  a.tokens = Math.min(limits.burst, a.tokens + ((now - a.refilledAt) / 1000) * limits.perSecond);
  a.refilledAt = now;
  if (a.tokens < 1) return false;
  a.tokens -= 1;
  return true;
}

export function newAttachment(userId: string, username: string, deviceId: string, room: string | null, limits: RateLimits): SocketAttachment {
  return { connId: crypto.randomUUID(), userId, username, deviceId, room, tokens: limits.burst, refilledAt: Date.now(), strikes: 0 };
}

/**
 * Size, rate and parse checks shared by both kinds of socket. Returns the frame, or null after
 * answering with an error (and closing with 1008 once the connection keeps misbehaving). The
 * token bucket lives in the in-memory copy of the socket's state only: it is full again by the
 * time an idle object could hibernate, so persisting it on every frame would buy nothing.
 */
export function admitFrame(ws: WebSocket, a: SocketAttachment, raw: string | ArrayBuffer, limits: RateLimits): ClientFrameT | null {
  if (ws.readyState !== WebSocket.OPEN) return null;
  const size = typeof raw === "string" ? raw.length * 2 : raw.byteLength;
  let error: string | null = null;
  let parsed: Parsed | null = null;
  let clientId: string | undefined;
  if (!takeToken(a, limits)) error = "Rate limit exceeded: slow down";
  else if (size > MAX_FRAME_BYTES && (typeof raw !== "string" || new TextEncoder().encode(raw).byteLength > MAX_FRAME_BYTES)) {
    error = `Frame too large: the limit is ${MAX_FRAME_BYTES} bytes`;
  } else {
    parsed = parseFrame(raw);
    if (!parsed.ok) ({ error, client_id: clientId } = parsed);
  }
  if (!error) return (parsed as { ok: true; frame: ClientFrameT }).frame;
  a.strikes += 1;
  ws.serializeAttachment(a);
  safeSend(ws, errorFrame(error, undefined, clientId ? { client_id: clientId } : {}));
  if (a.strikes >= MAX_STRIKES) {
    try {
      ws.close(CloseCodes.policy, "Too many invalid frames");
    } catch {
      // already closing
    }
  }
  return null;
}

export function safeSend(ws: WebSocket, data: string) {
  try {
    ws.send(data);
  } catch {
    // the socket is closing; its close handler cleans up
  }
}

export const targetOf = (f: { conversation_id?: string; room_id?: string }) => f.conversation_id ?? f.room_id;
