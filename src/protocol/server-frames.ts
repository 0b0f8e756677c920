import type { CALL_ACTIONS, UserStatus } from "./client-frames";
import type { ErrorCode } from "./errors";
import type { CALL_TYPES, MessageType, MessageViewT } from "./messages";

/** Seed 001's message fields (user_id, username, room_id, content, timestamp) plus ours. */
export interface MessageFields {
  user_id: string;
  username: string;
  room_id: string;
  content: string | null;
  timestamp: number;
  conversation_id: string;
  id: string;
  seq: number;
  message_type: MessageType;
  msg_type: number;
  sender: { id: string; username: string };
  created_at: string;
  client_id: string | null;
  reply_to: MessageViewT["reply_to"];
  attachments: string[];
  payload: Record<string, unknown> | null;
}

/** A stored message that changed (edit, recall, delete, reaction). */
interface MessageChange {
  conversation_id: string;
  message_id: string;
  seq: number;
  message: MessageViewT;
}

interface RoomPresence {
  user_id: string;
  username: string;
  room_id: string;
  conversation_id: string;
}

interface RoomMembership {
  room_id: string;
  conversation_id: string;
  user_id: string;
}

/** The fields of every server frame, by `data.type` (PROTOCOL.md). `error` is the failure frame. */
export interface ServerFrameFields {
  authenticated: { user_id: string; username: string; status: "connected"; conversation_id?: string; room_id?: string };
  pong: { timestamp: number };
  room_joined: RoomMembership;
  room_left: RoomMembership;
  user_joined: RoomPresence;
  user_left: RoomPresence;
  message_sent: MessageFields & { duplicate?: boolean };
  message_received: MessageFields & { replay?: boolean };
  message_edited: MessageChange;
  message_recalled: MessageChange;
  message_deleted: MessageChange;
  reaction_updated: MessageChange & { emoji: string; user_id: string; added: boolean };
  message_read: { conversation_id: string; user_id: string; seq: number };
  unread: { conversation_id: string; read_seq: number; last_seq: number; unread_count: number };
  typing: { conversation_id: string; user_id: string; username: string; is_typing: boolean };
  status_updated: { id: string; status: UserStatus; last_seen: string };
  user_status: { user_id: string; status: UserStatus; last_seen: string };
  sync_done: { conversations: Record<string, number> };
  /** retention removed the log before this seq: a sync from earlier starts here */
  history_start: { conversation_id: string; history_start_seq: number };
  call: {
    call_id: string;
    conversation_id: string;
    from_user_id: string;
    from_username: string;
    action: (typeof CALL_ACTIONS)[number];
    call_type: (typeof CALL_TYPES)[number];
    payload: unknown;
  };
  call_sent: { call_id: string; conversation_id: string; action: (typeof CALL_ACTIONS)[number] };
  notification: { notification: { id: string; kind: string } & Record<string, unknown> };
  error: { code: ErrorCode; error: string; client_id?: string; retry_after?: number };
}

export type ServerFrameType = keyof ServerFrameFields;
export type EventFrameType = Exclude<ServerFrameType, "error">;

/** A failure: `{success: false, message, error, code}`, the REST envelope's shape and code. */
export interface ErrorFrame {
  success: false;
  message: string;
  error: string;
  code: ErrorCode;
  client_id?: string;
  retry_after?: number;
}

/** Every other frame: `{success: true, message, data: {type, …}}`. */
export type EventFrame<K extends EventFrameType = EventFrameType> = {
  [T in K]: { success: true; message: string; data: { type: T } & ServerFrameFields[T] };
}[K];

/** Every frame the server sends, discriminated by `success` and then `data.type`. */
export type ServerFrame = EventFrame | ErrorFrame;

/** Each frame type's `message` text (seed 001's texts where it has them). */
const MESSAGES: Record<ServerFrameType, string> = {
  authenticated: "WebSocket authentication successful",
  pong: "Pong response",
  room_joined: "Room joined successfully",
  room_left: "Room left successfully",
  user_joined: "User joined room",
  user_left: "User left room",
  message_sent: "Message sent successfully",
  message_received: "Message sent successfully",
  message_edited: "Message edited",
  message_recalled: "Message recalled",
  message_deleted: "Message deleted",
  reaction_updated: "Reaction updated",
  message_read: "Messages read",
  unread: "Unread count",
  typing: "Typing",
  status_updated: "Status updated",
  user_status: "User status changed",
  sync_done: "Sync complete",
  history_start: "History starts here",
  call: "Call signal",
  call_sent: "Call signal sent",
  notification: "Notification",
  error: "Request failed",
};

/**
 * The wire forms a frame can take. `v1` is PROTOCOL.md's JSON envelope, which seed 001's client
 * reads. A second form (the compact `edge-im.v2` subprotocol) would be added here as another
 * field, filled by `serverFrame` alongside v1, so a socket picks its form without re-serializing.
 */
export interface EncodedFrame {
  readonly type: ServerFrameType;
  readonly v1: string;
}

export type WireFormat = "v1";

/** The frame a socket speaking `format` receives. */
export const wire = (frame: EncodedFrame, _format: WireFormat = "v1"): string => frame.v1;

/** The frame as an object (the union member for its type). */
export function frameObject<K extends ServerFrameType>(type: K, fields: ServerFrameFields[K], message = MESSAGES[type]): K extends "error" ? ErrorFrame : EventFrame<Exclude<K, "error">> {
  const built = type === "error" ? { success: false, message, ...(fields as ServerFrameFields["error"]) } : { success: true, message, data: { type, ...fields } };
  return built as K extends "error" ? ErrorFrame : EventFrame<Exclude<K, "error">>;
}

/**
 * The one builder of server frames: builds the frame and serializes it once. The result is plain
 * data (it crosses Durable Object RPC as is) and is shared by every socket that receives it.
 */
export function serverFrame<K extends ServerFrameType>(type: K, fields: ServerFrameFields[K], message?: string): EncodedFrame {
  return { type, v1: JSON.stringify(frameObject(type, fields, message)) };
}

/** A stored message's fields in a message frame. */
export function messageFields(m: MessageViewT): MessageFields {
  return {
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
  };
}
