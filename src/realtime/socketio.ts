import { and, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import * as schema from "../db/schema";
import type { Db, Env } from "../env";
import { AppError } from "../lib/errors";
import { randomToken } from "../lib/ids";
import { verifyAccessToken } from "../lib/jwt";
import { log } from "../middleware/observability";
import { membership, openDm } from "../routes/conversations/conversations.service";
import { CloseCodes, MAX_FRAME_BYTES, type ErrorCode, type MessageFields } from "../protocol";
import { openUpstream, type Identity } from "./gateway";
import { meter, newBudget, rateLimits, strike, type Budget, type RateLimits, type Refusal } from "./protocol";

/**
 * socket.io compatibility (PROTOCOL.md): Engine.IO 4 / socket.io 5 over WebSocket for seeds 000 and
 * 002's clients. The Worker holds the client's socket, authenticates the CONNECT packet's
 * `auth.token`, opens the user's ordinary user connection to their UserDO, and translates both ways:
 * socket.io events become core frames and core frames become the seeds' events. Every core frame
 * is also emitted under its own type, and an event named after a core frame type is passed through,
 * so a socket.io client can use the whole protocol.
 */

export const ENGINE = { pingInterval: 25_000, pingTimeout: 20_000, maxPayload: MAX_FRAME_BYTES };

/** A decoded socket.io packet (inside an Engine.IO message packet). */
export interface SioPacket {
  type: number;
  nsp: string;
  id?: number;
  data?: unknown;
}

/** `<type>[<nsp>,][<ack id>][<json>]`; binary packets (5, 6) are not supported. */
export function decodeSio(text: string): SioPacket | null {
  const type = Number(text[0]);
  if (!(type >= 0 && type <= 4)) return null;
  let i = 1;
  let nsp = "/";
  if (text[i] === "/") {
    const comma = text.indexOf(",", i);
    nsp = comma === -1 ? text.slice(i) : text.slice(i, comma);
    i = comma === -1 ? text.length : comma + 1;
  }
  let digits = "";
  while (i < text.length && text[i] >= "0" && text[i] <= "9" && digits.length < 15) digits += text[i++];
  let data: unknown;
  if (i < text.length) {
    try {
      data = JSON.parse(text.slice(i));
    } catch {
      return null;
    }
  }
  return { type, nsp, id: digits ? Number(digits) : undefined, data };
}

export function encodeSio(p: SioPacket): string {
  return `4${p.type}${p.nsp !== "/" ? `${p.nsp},` : ""}${p.id ?? ""}${p.data !== undefined ? JSON.stringify(p.data) : ""}`;
}

const SIO = { connect: 0, disconnect: 1, event: 2, ack: 3, connectError: 4 } as const;
const ACK_TIMEOUT_MS = 10_000;
const MAX_BOUND_GROUPS = 50;
/** How far back (in seqs) a conversation's emitted messages are remembered for de-duplication. */
const SEEN_WINDOW = 1000;
type Core = { type: string } & Record<string, unknown>;
type CoreMessage = MessageFields & { replay?: boolean };

/** Seed 000's message object (plus our ids). */
function message000(m: CoreMessage) {
  return {
    id: m.id,
    seq: m.seq,
    conversation_id: m.conversation_id,
    content: m.content,
    type: m.message_type.toUpperCase(),
    room: m.conversation_id,
    senderId: m.sender.id,
    fileUrl: m.attachments?.[0] ? `/api/v1/files/${m.attachments[0]}/download` : undefined,
    attachments: m.attachments,
    createdAt: m.created_at,
    sender: { id: m.sender.id, username: m.sender.username },
    status: "sent",
    reactions: [],
    replies: [],
  };
}

const msgTypes002: Record<number, string> = { 0: "text", 1: "image", 2: "video", 3: "file", 4: "emoji", 5: "markdown" };

/** Seed 002's dataMsg → the fields of a core send_message. */
function fromDataMsg(dataMsg: unknown): Core | string {
  const d = (dataMsg ?? {}) as { msgType?: unknown; message?: unknown };
  const type = msgTypes002[Number(d.msgType ?? 0)];
  if (!type) return `msgType ${String(d.msgType)} cannot be sent as a chat message (calls use the call event)`;
  const message = typeof d.message === "string" ? d.message : "";
  if (type === "text" || type === "emoji" || type === "markdown") return { type: "send_message", message_type: type, content: message };
  const fileId = message.match(/file_[0-9a-z]{6,40}/)?.[0];
  if (!fileId) return `msgType ${String(d.msgType)} needs the file's id (or its download URL) in message`;
  return { type: "send_message", message_type: type, attachments: [fileId] };
}

const isDm = (conversationId: string) => conversationId.startsWith("dm_");

/** One socket.io client: its Engine.IO session, its upstream user connection and the translation. */
class Session {
  readonly sid = randomToken(20);
  private identity: Identity | null = null;
  private upstream: WebSocket | null = null;
  /** Bound connections for groups joined with join_group: full messages even above the user-connection size. */
  private bound = new Map<string, WebSocket>();
  /** Seqs emitted per conversation: a message heard on two connections is emitted once. */
  private seen = new Map<string, { max: number; recent: Set<number> }>();
  /** The room joined last (seed 000's markRead names no room). */
  private room: string | null = null;
  private connecting = false;
  private closed = false;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  /** Every packet, before CONNECT too, is metered like a frame on any other socket (rate, size, strikes). */
  private readonly limits: RateLimits;
  private readonly budget: Budget;
  /** Each direction in arrival order, even across awaits. */
  private fromClient: Promise<void> = Promise.resolve();
  private fromCore: Promise<void> = Promise.resolve();
  private pingTimer: ReturnType<typeof setTimeout> | undefined;
  private pongTimer: ReturnType<typeof setTimeout> | undefined;
  private sendCounter = 0;
  /** client_id of a send → the ack id the client is waiting on (answered with an error after ACK_TIMEOUT_MS). */
  private acks = new Map<string, { id: number; timer: ReturnType<typeof setTimeout> }>();
  /** room → ack ids waiting for room_joined. */
  private joinAcks = new Map<string, { id: number; timer: ReturnType<typeof setTimeout> }[]>();
  private groups = new Map<string, { _id: string; groupName: string | null; imgUrl: string | null }>();
  private readonly db: Db;

  private readonly pingInterval: number;
  private readonly pingTimeout: number;

  constructor(
    private env: Env,
    private url: string,
    private client: WebSocket,
    private connectTimeoutMs: number,
  ) {
    this.db = drizzle(env.DB, { schema });
    this.limits = rateLimits(env);
    this.budget = newBudget(this.limits);
    // a test's short heartbeat shortens the timeout too, so a missing ping or pong shows within seconds
    const override = Number(env.SIO_PING_INTERVAL_MS);
    this.pingInterval = override || ENGINE.pingInterval;
    this.pingTimeout = override || ENGINE.pingTimeout;
  }

  start() {
    this.client.accept();
    this.client.send(`0${JSON.stringify({ sid: this.sid, upgrades: [], ...ENGINE, pingInterval: this.pingInterval, pingTimeout: this.pingTimeout })}`);
    this.client.addEventListener("message", (e) => {
      this.fromClient = this.fromClient.then(() => this.onClient(e.data)).catch((err) => this.crashed(err));
    });
    this.client.addEventListener("close", () => this.shutdown());
    this.client.addEventListener("error", () => this.shutdown());
    this.schedulePing();
    // a client that never sends CONNECT is let go
    this.connectTimer = setTimeout(() => {
      if (!this.identity && !this.connecting) this.disconnect();
    }, this.connectTimeoutMs);
  }

  // ---- Engine.IO ----------------------------------------------------------------------------------

  private schedulePing() {
    this.pingTimer = setTimeout(() => {
      this.raw("2");
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => this.close(), this.pingTimeout);
      this.schedulePing();
    }, this.pingInterval);
  }

  private raw(text: string) {
    if (this.closed) return;
    try {
      this.client.send(text);
    } catch {
      this.shutdown();
    }
  }

  private packet(p: SioPacket) {
    this.raw(encodeSio(p));
  }

  private emit(event: string, ...args: unknown[]) {
    this.packet({ type: SIO.event, nsp: "/", data: [event, ...args] });
  }

  private ack(id: number | undefined, ...args: unknown[]) {
    if (id !== undefined) this.packet({ type: SIO.ack, nsp: "/", id, data: args });
  }

  /** Ends the Engine.IO session (heartbeat lost): the client may reconnect. */
  private close() {
    this.raw("1");
    this.shutdown();
  }

  /**
   * The server ends the socket.io session (logout, replaced by another connection, account disabled,
   * no CONNECT): a DISCONNECT packet first, so the stock client does not reconnect on its own.
   */
  private disconnect(code = 1000) {
    this.packet({ type: SIO.disconnect, nsp: "/" });
    this.shutdown(code);
  }

  private shutdown(code = 1000) {
    if (this.closed) return;
    this.closed = true;
    for (const t of [this.pingTimer, this.pongTimer, this.connectTimer]) clearTimeout(t);
    for (const { timer } of this.acks.values()) clearTimeout(timer);
    for (const list of this.joinAcks.values()) for (const { timer } of list) clearTimeout(timer);
    this.acks.clear();
    this.joinAcks.clear();
    for (const ws of [this.client, this.upstream, ...this.bound.values()]) {
      try {
        ws?.close(ws === this.client ? code : 1000, code === CloseCodes.policy && ws === this.client ? "Too many invalid frames" : "closed");
      } catch {
        // already closed
      }
    }
    this.upstream = null;
    this.bound.clear();
  }

  /** An ack the core may never answer (an error that names no client_id): answered with an error in time. */
  private pendingAck(id: number, onTimeout: () => void) {
    return { id, timer: setTimeout(() => {
      onTimeout();
      this.ack(id, { success: false, error: "No answer from the server in time" });
    }, ACK_TIMEOUT_MS) };
  }

  /**
   * A refused packet: answered (as the ack when the client waits for one) with the code the REST
   * envelope would carry, and counted; a session that keeps misbehaving is ended with 1008.
   */
  private refuse(refusal: Refusal, ackId?: number) {
    this.fail(refusal.code, refusal.error, ackId);
    if (strike(this.budget)) this.disconnect(CloseCodes.policy);
  }

  /** Tells the client a request failed: as the ack when it waits for one, else an `error` event. */
  private fail(code: ErrorCode, error: string, ackId?: number) {
    if (ackId !== undefined) this.ack(ackId, { success: false, error, code });
    else this.emit("error", { message: error, code });
  }

  private crashed(err: unknown) {
    log("error", "socket.io session failed", { error: String(err) });
    this.emit("error", { message: "Internal error", code: "INTERNAL" });
  }

  private async onClient(data: string | ArrayBuffer) {
    if (this.closed) return;
    const over = meter(this.budget, data, this.limits);
    if (over) return this.refuse(over, over.code === "RATE_LIMITED" && typeof data === "string" && data[0] === "4" ? decodeSio(data.slice(1))?.id : undefined);
    if (typeof data !== "string") return this.refuse({ code: "BAD_REQUEST", error: "Binary packets are not supported" });
    switch (data[0]) {
      case "3":
        clearTimeout(this.pongTimer);
        return;
      case "2":
        return this.raw(`3${data.slice(1)}`);
      case "1":
        return this.shutdown();
      case "4":
        break;
      default:
        return;
    }
    const p = decodeSio(data.slice(1));
    if (!p) return this.refuse({ code: "MALFORMED_JSON", error: "Malformed or binary socket.io packet (binary events are not supported)" });
    if (p.nsp !== "/") return this.packet({ type: SIO.connectError, nsp: p.nsp, data: { message: "Invalid namespace" } });
    if (p.type === SIO.connect) {
      try {
        return await this.onConnect(p.data);
      } catch (err) {
        log("error", "socket.io connect failed", { error: String(err) });
        this.connecting = false;
        return this.packet({ type: SIO.connectError, nsp: "/", data: { message: "Internal error" } });
      }
    }
    if (p.type === SIO.disconnect) return this.shutdown();
    if (p.type !== SIO.event) return;
    if (!this.upstream) return this.ack(p.id, { success: false, error: "Not connected: send CONNECT with auth.token first", code: "UNAUTHORIZED" });
    const [event, ...args] = Array.isArray(p.data) ? p.data : [];
    if (typeof event !== "string") return this.refuse({ code: "VALIDATION_ERROR", error: "An event needs a name" }, p.id);
    await this.onEvent(event, args, p.id);
  }

  // ---- socket.io CONNECT --------------------------------------------------------------------------

  private async onConnect(auth: unknown) {
    if (this.identity || this.connecting) return;
    this.connecting = true;
    const a = (auth ?? {}) as { token?: unknown; device_id?: unknown };
    const refuse = (message: string) => {
      this.connecting = false;
      this.packet({ type: SIO.connectError, nsp: "/", data: { message } });
    };
    if (typeof a.token !== "string") return refuse("auth.token is required");
    let identity: Identity;
    try {
      const claims = await verifyAccessToken(this.env, a.token);
      identity = { userId: claims.sub, username: claims.username };
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      return refuse("Invalid or expired token");
    }
    const deviceId = typeof a.device_id === "string" && /^[\w.:-]{1,64}$/.test(a.device_id) ? a.device_id : `sio-${this.sid.slice(0, 8)}`;
    const ws = await openUpstream(this.env, this.url, identity, { deviceId });
    if ("error" in ws) return refuse(ws.error);
    if (this.closed) return ws.close(1000, "closed");
    clearTimeout(this.connectTimer);
    this.identity = identity;
    this.upstream = ws;
    this.listen(ws, () => this.disconnect());
    this.packet({ type: SIO.connect, nsp: "/", data: { sid: this.sid } });
    this.emit("connected", { userId: identity.userId, username: identity.username });
  }

  /** Core frames from an upstream connection, in order; `onClose` when the object closes it. */
  private listen(ws: WebSocket, onClose: () => void) {
    ws.addEventListener("message", (e) => {
      this.fromCore = this.fromCore.then(() => this.onCore(e.data as string)).catch((err) => this.crashed(err));
    });
    ws.addEventListener("close", onClose);
  }

  // ---- client events → core -----------------------------------------------------------------------

  private core(frame: Core) {
    this.upstream?.send(JSON.stringify(frame));
  }

  /** A send whose ack waits for message_sent (or the error that names its client_id). */
  private send(frame: Core, ackId: number | undefined, clientId?: unknown) {
    const id = typeof clientId === "string" && /^[\w.:-]{1,64}$/.test(clientId) ? clientId : `sio_${this.sid.slice(0, 8)}_${++this.sendCounter}`;
    if (ackId !== undefined && !this.acks.has(id)) this.acks.set(id, this.pendingAck(ackId, () => this.acks.delete(id)));
    this.core({ ...frame, client_id: id });
  }

  private async onEvent(event: string, args: unknown[], ackId?: number) {
    const arg = (args[0] ?? {}) as Record<string, unknown>;
    const me = this.identity!.userId;
    const done = () => this.ack(ackId, { success: true });
    const refuse = (error: string, code: ErrorCode = "BAD_REQUEST") => this.fail(code, error, ackId);
    switch (event) {
      // seed 000
      case "joinRoom": {
        const room = String(arg.room ?? arg.room_id ?? "");
        if (ackId !== undefined) {
          const pending = this.pendingAck(ackId, () => this.joinAcks.set(room, (this.joinAcks.get(room) ?? []).filter((x) => x !== pending)));
          this.joinAcks.set(room, [...(this.joinAcks.get(room) ?? []), pending]);
        }
        return this.core({ type: "join_room", room_id: room });
      }
      case "leaveRoom":
        this.core({ type: "leave_room", ...(arg.room ? { room_id: arg.room } : {}) });
        return done();
      case "message": {
        const type = String(arg.type ?? "TEXT").toLowerCase();
        const attachments = Array.isArray(arg.attachments) ? arg.attachments : typeof arg.fileId === "string" ? [arg.fileId] : undefined;
        return this.send(
          { type: "send_message", ...(arg.room ? { conversation_id: arg.room } : {}), message_type: type, content: arg.content, ...(attachments ? { attachments } : {}), ...(arg.replyTo ? { reply_to: arg.replyTo } : {}) },
          ackId,
          arg.clientId ?? arg.client_id,
        );
      }
      case "typing": {
        const room = arg.conversation_id ?? arg.room;
        this.core({ type: "typing", ...(room ? { conversation_id: room } : {}), is_typing: (arg.is_typing ?? arg.isTyping) !== false });
        return done();
      }
      case "markRead": {
        // seed 000 names only message ids: they are read in the room joined last
        const room = arg.conversation_id ?? arg.room ?? this.room;
        if (!room) return refuse("markRead: join a room first (or name it)");
        this.core({ type: "mark_read", conversation_id: room, ...(Array.isArray(arg.messageIds) ? { message_ids: arg.messageIds } : { seq: arg.seq }) });
        return done();
      }
      case "statusUpdate":
        this.core({ type: "status_update", status: arg.status });
        return done();
      // seed 002 (its user id arguments are ignored: identity comes from the token)
      case "login":
        this.emit("login", this.sid);
        return done();
      case "private_chat": {
        const frame = fromDataMsg(args[0]);
        if (typeof frame === "string") return refuse(frame, "VALIDATION_ERROR");
        const to = String(args[2] ?? "");
        let dm;
        try {
          dm = await openDm(this.db, me, to);
        } catch (err) {
          if (err instanceof AppError) return refuse(err.message, err.code);
          throw err;
        }
        return this.send({ ...frame, conversation_id: dm.id }, ackId);
      }
      case "join_group": {
        // 002 joins a socket.io room per group; here a bound connection per group, so even groups
        // above the size that user connections get full messages for deliver every message
        const gId = String(args[0] ?? "");
        if (this.bound.has(gId)) return done();
        if (!(await membership(this.db, gId, me))) return refuse("You are not a member of this group", "FORBIDDEN");
        if (this.bound.size >= MAX_BOUND_GROUPS) return refuse(`At most ${MAX_BOUND_GROUPS} groups per connection`);
        const ws = await openUpstream(this.env, this.url, this.identity!, { deviceId: `sio-${this.sid.slice(0, 8)}-${this.bound.size + 1}`, conversationId: gId });
        if ("error" in ws) return refuse(ws.error, ws.errorCode);
        if (this.closed) return ws.close(1000, "closed");
        this.bound.set(gId, ws);
        this.listen(ws, () => this.bound.delete(gId));
        return done();
      }
      case "group_chat": {
        const frame = fromDataMsg(args[0]);
        if (typeof frame === "string") return refuse(frame, "VALIDATION_ERROR");
        return this.send({ ...frame, conversation_id: String(args[2] ?? "") }, ackId);
      }
      case "init_apply_notice":
      case "apply_notice":
        this.emit(event === "init_apply_notice" ? "init_apply_notice" : "apply_notice", await this.noticeCounts());
        return done();
      case "agree_apply":
        // accepting went through REST, which already told the requester (agree_apply reaches them from their notification)
        return done();
      case "logout":
        done();
        return this.disconnect();
      default: {
        // a core frame type by name: the whole protocol is reachable
        if (/^[a-z_]{2,32}$/.test(event) && event !== "auth") {
          if (event === "send_message") return this.send({ ...arg, type: event }, ackId, arg.client_id);
          this.core({ ...arg, type: event });
          return done();
        }
        return refuse(`Unknown event: ${event}`);
      }
    }
  }

  /** 002's notice counts: friend requests to me, and group requests I may handle plus invitations to me. */
  private async noticeCounts() {
    const me = this.identity!.userId;
    const { friendRequests, joinRequests, members } = schema;
    const [friends, groups] = await this.db.batch([
      this.db.select({ n: sql<number>`count(*)` }).from(friendRequests).where(and(eq(friendRequests.toUserId, me), eq(friendRequests.status, "pending"))),
      this.db
        .select({ n: sql<number>`count(*)` })
        .from(joinRequests)
        .where(
          and(
            eq(joinRequests.status, "pending"),
            sql`((${joinRequests.kind} = 'invite' AND ${joinRequests.userId} = ${me}) OR (${joinRequests.kind} = 'request' AND EXISTS (SELECT 1 FROM ${members} WHERE ${members.conversationId} = ${joinRequests.conversationId} AND ${members.userId} = ${me} AND ${members.role} IN ('owner', 'admin'))))`,
          ),
        ),
    ]);
    return { friendNoticeNum: friends[0]?.n ?? 0, groupNoticeNum: groups[0]?.n ?? 0 };
  }

  // ---- core frames → events -----------------------------------------------------------------------

  private async groupInfo(id: string) {
    let info = this.groups.get(id);
    if (!info) {
      const row = await this.db.select({ name: schema.conversations.name, avatar: schema.conversations.avatar }).from(schema.conversations).where(eq(schema.conversations.id, id)).get();
      info = { _id: id, groupName: row?.name ?? null, imgUrl: row?.avatar ?? null };
      this.groups.set(id, info);
    }
    return info;
  }

  private chat002(m: CoreMessage) {
    return {
      _id: m.id,
      userId: { _id: m.sender.id, nick: m.sender.username, imgUrl: null },
      msgType: m.msg_type,
      message: m.content ?? (m.attachments?.[0] ? `/api/v1/files/${m.attachments[0]}/download` : ""),
      time: m.created_at,
      fromId: m.sender.id,
      toId: isDm(m.conversation_id) ? this.identity!.userId : m.conversation_id,
      conversation_id: m.conversation_id,
      seq: m.seq,
    };
  }

  private async onCore(raw: string) {
    let frame: { success?: boolean; error?: string; code?: ErrorCode; client_id?: string; data?: Core };
    try {
      frame = JSON.parse(raw);
    } catch {
      return;
    }
    if (frame.success === false) {
      const pending = frame.client_id ? this.acks.get(frame.client_id) : undefined;
      if (pending) {
        clearTimeout(pending.timer);
        this.acks.delete(frame.client_id!);
        return this.ack(pending.id, { success: false, error: frame.error, code: frame.code });
      }
      return this.emit("error", { message: frame.error, code: frame.code });
    }
    const d = frame.data;
    if (!d) return;
    switch (d.type) {
      case "authenticated":
      case "pong":
        return;
      case "message_sent": {
        const m = d as unknown as CoreMessage;
        const pending = m.client_id ? this.acks.get(m.client_id) : undefined;
        if (pending) {
          clearTimeout(pending.timer);
          this.acks.delete(m.client_id!);
          this.ack(pending.id, { success: true, message: message000(m) });
        }
        this.markSeen(m);
        this.emit("message", message000(m));
        return this.emit("message_sent", d);
      }
      case "message_received": {
        const m = d as unknown as CoreMessage;
        if (!m.replay && !this.markSeen(m)) return; // already emitted from the other connection
        this.emit("message", message000(m));
        this.emit("message_received", d);
        // 002 tells only the other side (socket.to): not the sender's own other devices
        if (m.replay || m.sender.id === this.identity!.userId) return;
        if (isDm(m.conversation_id)) {
          this.emit("private_chat", this.chat002(m));
          return this.emit("unread_message", m.sender.id);
        }
        this.emit("group_chat", { ...this.chat002(m), groupInfo: await this.groupInfo(m.conversation_id) });
        return this.emit("unread_message", m.conversation_id);
      }
      case "room_joined": {
        const room = String(d.room_id);
        this.room = room;
        for (const { id, timer } of this.joinAcks.get(room) ?? []) {
          clearTimeout(timer);
          this.ack(id, { success: true, room });
        }
        this.joinAcks.delete(room);
        this.emit("joined", { room, conversation_id: room });
        return this.emit("room_joined", d);
      }
      case "room_left":
        if (this.room === d.room_id) this.room = null;
        this.emit("left", { room: d.room_id });
        return this.emit("room_left", d);
      case "typing":
        this.emit("typing", { user: d.username, userId: d.user_id, room: d.conversation_id, isTyping: d.is_typing });
        return;
      case "message_read":
        this.emit("messageRead", { userId: d.user_id, room: d.conversation_id, seq: d.seq });
        return this.emit("message_read", d);
      case "user_status":
        this.emit("userStatus", { userId: d.user_id, status: d.status, lastSeen: d.last_seen });
        return this.emit("user_status", d);
      case "status_updated":
        this.emit("userStatus", { userId: this.identity!.userId, status: d.status });
        return this.emit("status_updated", d);
      case "notification": {
        const n = (d.notification ?? {}) as { kind?: string };
        if (n.kind === "friend_request" || n.kind === "group_join_request" || n.kind === "group_invite") this.emit("apply_notice", await this.noticeCounts());
        if (n.kind === "friend_accepted" || n.kind === "group_join_approved") this.emit("agree_apply", n);
        return this.emit("notification", d);
      }
      case "unread":
        // above the full-delivery size a group's members hear only this: 002's unread_message
        if (!isDm(String(d.conversation_id))) this.emit("unread_message", d.conversation_id);
        return this.emit("unread", d);
      default:
        return this.emit(d.type, d);
    }
  }

  /**
   * Records a live message's seq; false when it was already emitted. A group joined with join_group
   * is heard on two connections that are each in order but not with each other, so this keeps the
   * recent seqs themselves, not a high-water mark.
   */
  private markSeen(m: CoreMessage) {
    let seen = this.seen.get(m.conversation_id);
    if (!seen) this.seen.set(m.conversation_id, (seen = { max: 0, recent: new Set() }));
    if (seen.recent.has(m.seq) || m.seq <= seen.max - SEEN_WINDOW) return false;
    seen.recent.add(m.seq);
    seen.max = Math.max(seen.max, m.seq);
    if (seen.recent.size > 2 * SEEN_WINDOW) for (const q of seen.recent) if (q <= seen.max - SEEN_WINDOW) seen.recent.delete(q);
    return true;
  }
}

/** GET /socket.io/?EIO=4&transport=websocket: one socket.io client session held by the Worker. */
export function socketIo(env: Env, request: Request, connectTimeoutMs: number): Response {
  const [client, server] = Object.values(new WebSocketPair());
  new Session(env, request.url, server, connectTimeoutMs).start();
  return new Response(null, { status: 101, webSocket: client });
}
