// Frame and message types come from the server's protocol module (src/protocol/, no Workers or
// database imports): type-only imports, plus the close codes (a plain object), so no schema code is bundled.
import type { ClientFrameInput, ClientFrameOf, ErrorFrame, EventFrameType, MessageFields, MessageViewT, ServerFrame, ServerFrameFields } from "../../src/protocol";
import { CloseCodes } from "../../src/protocol/close-codes";
import type { EdgeIm } from "./client";
import { tokenExp } from "./client";
import { EdgeImError } from "./errors";

export { CloseCodes };
export type { ClientFrameInput, EventFrameType, MessageViewT, ServerFrame, ServerFrameFields };

/** A stored message as the REST API shows it; live ones may carry `replay: true` (re-sent by a sync). */
export type Message = MessageViewT & { replay?: boolean };

/** A message to send: a `send_message` frame's fields (PROTOCOL.md), without the frame type and target. */
export type OutgoingMessage = Omit<ClientFrameOf<"send_message">, "type" | "conversation_id" | "room_id">;

/** The events a Realtime connection emits: every server frame type, plus the SDK's own. */
export type RealtimeEvents = { [K in EventFrameType]: ServerFrameFields[K] } & {
  /** Each new message once, in seq order (message_sent and message_received, deduplicated and ordered). */
  message: Message;
  open: Record<string, never>;
  close: { code: number };
  synced: ServerFrameFields["sync_done"];
  error: Error;
  /** A fresh token was accepted on the open socket. */
  reauthenticated: ServerFrameFields["authenticated"];
  /** The session ended (4004, or a refused refresh token): sign in again. */
  signedout: Error;
};

/** The part of a WebSocket the SDK uses (a browser WebSocket, a `ws` socket, a Workers socket). */
export interface SocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "message", listener: (e: { data: unknown }) => void): void;
  addEventListener(type: "close", listener: (e: { code: number; reason: string }) => void): void;
}

/** Opens a socket and resolves once it is open. */
export type OpenSocket = (url: string) => Promise<SocketLike>;

export const browserSocket: OpenSocket = (url) =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.addEventListener("open", () => resolve(ws as unknown as SocketLike), { once: true });
    ws.addEventListener("error", () => reject(new Error("could not connect")), { once: true });
  });

type Listener = (data: never) => void;
interface Pending {
  frame: ClientFrameInput & { client_id: string };
  promise: Promise<Message>;
  resolve: (m: Message) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

type Timer = ReturnType<typeof setTimeout>;
/** clearTimeout for a timer that may not be set (typed for browsers, Node and Workers alike). */
const clear = (t: Timer | undefined) => {
  if (t !== undefined) clearTimeout(t as Parameters<typeof clearTimeout>[0]);
};

/** How long a frame ahead of a gap waits for the missing ones before the connection asks for a sync. */
const GAP_WAIT_MS = 1000;
/** A conversation the app has no cursor for starts at the lowest seq heard in this first moment. */
const START_WAIT_MS = 200;
/** A send not acknowledged in this time (connected or not) fails. */
const SEND_TIMEOUT_MS = 60_000;
/** Resent after a reconnect at most this many at a time (the server's per-connection burst is 200). */
const RESEND_BATCH = 100;
/** The server takes at most this many cursors in one sync frame. */
const SYNC_CHUNK = 200;
/** A connection counts as healthy (backoff reset) after this long. */
const HEALTHY_MS = 10_000;
/** The socket is re-authenticated this long before its token expires. */
const REAUTH_BEFORE_S = 120;

export interface RealtimeOptions {
  /** Bind to one conversation (the fast path for the conversation on screen). */
  conversationId?: string;
  deviceId?: string;
  /**
   * Conversation → last seq the app has. Pass one Map to several connections (a user connection and
   * a bound one) and they share it: a message heard on both is delivered once.
   */
  cursors?: Record<string, number> | Map<string, number>;
}

/**
 * A realtime connection that keeps the delivery guarantees on the client's side: every message once
 * and in seq order, nothing missed across reconnects (sync from the last seq seen), and sends that
 * survive a dropped connection (resent with the same client_id until acknowledged). It opens each
 * socket with a single-use ticket (never the token in the URL) and re-authenticates an open socket
 * with a fresh token before the old one expires.
 *
 * Events: `message` (each new message once, in order), `open`, `close` ({code}), `synced`, `error`,
 * `reauthenticated` (a fresh token was accepted on the open socket), `signedout` (the session ended: log in again), and every other server frame by its type
 * (`typing`, `message_read`, `message_edited`, `reaction_updated`, `unread`, `notification`, …).
 */
export class Realtime {
  /** Last seq delivered to the app, per conversation. */
  readonly cursors: Map<string, number>;
  private socket: SocketLike | null = null;
  private connecting: Promise<void> | null = null;
  private listeners = new Map<string, Set<Listener>>();
  private pending = new Map<string, Pending>();
  /** Frames that arrived ahead of a gap (or before a new conversation's start), per conversation, by seq. */
  private held = new Map<string, Map<number, Message>>();
  private holdTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private stopped = true;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private healthyTimer: ReturnType<typeof setTimeout> | undefined;
  private reauthTimer: ReturnType<typeof setTimeout> | undefined;
  /** The token the open socket is authenticated with. */
  private socketToken: string | null = null;
  private readonly deviceId: string;

  constructor(
    private client: EdgeIm,
    private options: RealtimeOptions,
  ) {
    this.cursors = options.cursors instanceof Map ? options.cursors : new Map(Object.entries(options.cursors ?? {}));
    this.deviceId = options.deviceId ?? `sdk-${crypto.randomUUID().slice(0, 8)}`;
  }

  get connected() {
    return this.socket !== null;
  }

  on<K extends keyof RealtimeEvents>(type: K, listener: (data: RealtimeEvents[K]) => void): () => void {
    const set = this.listeners.get(type) ?? new Set();
    set.add(listener as Listener);
    this.listeners.set(type, set);
    return () => set.delete(listener as Listener);
  }

  private emit<K extends keyof RealtimeEvents>(type: K, data: RealtimeEvents[K]) {
    for (const l of this.listeners.get(type) ?? []) (l as (d: unknown) => void)(data);
  }

  /** Connects, and keeps reconnecting until `close()`. Calling it again while running does nothing. */
  async start(): Promise<void> {
    if (!this.stopped) return this.connecting ?? undefined;
    this.stopped = false;
    await this.connect();
  }

  close() {
    this.stop(new Error("connection closed"));
  }

  /**
   * Drops the current socket as a network failure would (it reconnects and resumes by itself), or,
   * while waiting to reconnect, tries now (e.g. when the browser says it is online again).
   */
  reconnect() {
    if (this.stopped) return;
    const socket = this.socket;
    if (socket) {
      // let go of it at once: its close event may wait for a network that is gone
      this.onClose(socket, 1006);
      return socket.close(1000, "reconnect");
    }
    this.attempt = 0;
    clear(this.reconnectTimer);
    void this.connect().catch(() => undefined);
  }

  /** Terminal: no more reconnects, and every pending send fails with `reason`. */
  private stop(reason: Error) {
    this.stopped = true;
    for (const t of [this.reconnectTimer, this.healthyTimer, this.reauthTimer, ...this.holdTimers.values()]) clear(t);
    this.holdTimers.clear();
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000, "bye");
    for (const p of this.pending.values()) {
      clear(p.timer);
      p.reject(reason);
    }
    this.pending.clear();
  }

  /**
   * Sends a message; resolves with the stored message once the server has it. While disconnected it
   * waits, and after a reconnect it is sent again with the same client_id (stored once). Sending the
   * same client_id again while it is pending returns the same promise.
   */
  send(conversationId: string, message: OutgoingMessage): Promise<Message> {
    if (this.stopped) return Promise.reject(new Error("not started (or closed)"));
    const client_id = message.client_id ?? crypto.randomUUID();
    const existing = this.pending.get(client_id);
    if (existing) return existing.promise;
    const frame = { ...message, type: "send_message" as const, conversation_id: conversationId, client_id };
    let resolve!: (m: Message) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<Message>((res, rej) => ((resolve = res), (reject = rej)));
    const timer = setTimeout(() => this.settle(client_id, new EdgeImError(0, "TIMEOUT", "The server did not acknowledge the message in time")), SEND_TIMEOUT_MS);
    this.pending.set(client_id, { frame, promise, resolve, reject, timer });
    this.trySend(frame);
    return promise;
  }

  private settle(clientId: string, result: Message | Error) {
    const p = this.pending.get(clientId);
    if (!p) return;
    this.pending.delete(clientId);
    clear(p.timer);
    if (result instanceof Error) p.reject(result);
    else p.resolve(result);
  }

  /** Any other client frame (typing, mark_read, status_update, call, …); dropped while disconnected. */
  sendFrame(frame: ClientFrameInput) {
    this.trySend(frame);
  }

  private trySend(frame: ClientFrameInput) {
    try {
      this.socket?.send(JSON.stringify(frame));
    } catch {
      // closing: the reconnect resends pending sends
    }
  }

  /** One connection attempt at a time; the previous socket (if any) is let go first. */
  private connect(): Promise<void> {
    this.connecting ??= this.open().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private async open(): Promise<void> {
    clear(this.reconnectTimer);
    if (!this.client.session) return this.signedOut(new EdgeImError(401, "UNAUTHORIZED", "Sign in before connecting"));
    let socket: SocketLike;
    let token: string;
    try {
      token = this.client.session.token;
      const params: Record<string, string> = { ticket: await this.client.ticket(), device_id: this.deviceId };
      token = this.client.session?.token ?? token; // the ticket call may have refreshed it
      if (this.options.conversationId) params.room_id = this.options.conversationId;
      socket = await this.client.openSocket(this.client.socketUrl(params));
    } catch (err) {
      if (err instanceof EdgeImError && err.status === 401 && !this.client.session) return this.signedOut(err);
      this.scheduleReconnect();
      throw err;
    }
    if (this.stopped) return socket.close(1000, "bye");
    const previous = this.socket;
    this.socket = socket;
    this.socketToken = token;
    previous?.close(1000, "reconnected");
    socket.addEventListener("message", (e) => this.socket === socket && this.onFrame(e.data));
    socket.addEventListener("close", (e) => this.onClose(socket, e.code));
  }

  private signedOut(err: Error) {
    this.stop(err);
    this.emit("signedout", err);
  }

  private onClose(socket: SocketLike, code: number) {
    if (this.socket !== socket) return;
    this.socket = null;
    clear(this.healthyTimer);
    clear(this.reauthTimer);
    this.emit("close", { code });
    if (this.stopped) return;
    // replaced by another connection of this device, or no longer allowed: stay down
    if (code === CloseCodes.replaced || code === CloseCodes.removed) return this.stop(new EdgeImError(0, "CLOSED", `closed by the server (${code})`));
    if (code === CloseCodes.sessionEnded) return this.signedOut(new EdgeImError(401, "SESSION_ENDED", "This session was ended"));
    if (code === CloseCodes.authFailed || code === CloseCodes.tokenExpired) {
      void this.client.refresh().then(
        () => this.scheduleReconnect(),
        (err) => {
          this.emit("error", err);
          // signed out for good (the refresh token was refused), or only a passing failure
          if (!this.client.session) this.signedOut(err instanceof Error ? err : new Error(String(err)));
          else this.scheduleReconnect();
        },
      );
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect() {
    if (this.stopped) return;
    clear(this.reconnectTimer);
    const delay = Math.min(10_000, 250 * 2 ** this.attempt++) * (0.5 + Math.random() / 2);
    this.reconnectTimer = setTimeout(() => void this.connect().catch(() => undefined), delay);
  }

  /**
   * Before the socket's token expires: a fresh token (refreshed unless the app already holds a newer
   * one) is sent on the open socket as an `auth` frame, which answers `authenticated` again.
   */
  private scheduleReauth() {
    clear(this.reauthTimer);
    const exp = tokenExp(this.socketToken ?? undefined);
    if (exp === null) return;
    const inMs = Math.max(1000, (exp - REAUTH_BEFORE_S) * 1000 - Date.now());
    this.reauthTimer = setTimeout(() => void this.reauth(), inMs);
  }

  /** Sends a fresh token on the open socket (refreshing first unless the app already has a newer token). */
  async reauth(): Promise<void> {
    const socket = this.socket;
    if (!socket || this.stopped) return;
    try {
      const current = this.client.session?.token;
      if (!current || current === this.socketToken || (tokenExp(current) ?? 0) - Date.now() / 1000 < REAUTH_BEFORE_S) await this.client.refresh();
      const token = this.client.session?.token;
      if (!token || this.socket !== socket) return;
      this.socketToken = token;
      this.trySend({ type: "auth", token });
    } catch (err) {
      this.emit("error", err instanceof Error ? err : new Error(String(err)));
      if (!this.client.session) this.signedOut(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private onFrame(raw: unknown) {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(String(raw));
    } catch {
      return;
    }
    if (!frame || typeof frame !== "object") return;
    if (frame.success === false) {
      const f = frame as ErrorFrame;
      const error = new EdgeImError(400, f.code ?? "REFUSED", f.error ?? "refused");
      if (f.client_id && this.pending.has(f.client_id)) this.settle(f.client_id, error);
      else this.emit("error", error);
      return;
    }
    const data = frame.data;
    if (!data) return;
    switch (data.type) {
      case "authenticated":
        this.scheduleReauth();
        if (this.connectedOnce !== this.socket) {
          this.connectedOnce = this.socket;
          this.onOpen();
        } else this.emit("reauthenticated", data);
        return;
      case "message_sent":
      case "message_received":
        this.accept(toMessage(data));
        return;
      case "sync_done":
        this.afterSync(data);
        this.emit("synced", data);
        return;
      default:
        this.emit(data.type, data);
    }
  }
  /** The socket whose first `authenticated` has been handled (a re-auth answers `authenticated` again). */
  private connectedOnce: SocketLike | null = null;

  /** Connected (again): catch up from the cursors, then resend what was not acknowledged, paced. */
  private onOpen() {
    clear(this.healthyTimer);
    this.healthyTimer = setTimeout(() => (this.attempt = 0), HEALTHY_MS);
    const entries = [...this.cursors];
    for (let i = 0; i < entries.length; i += SYNC_CHUNK) this.trySend({ type: "sync", cursors: Object.fromEntries(entries.slice(i, i + SYNC_CHUNK)) });
    if (!entries.length) this.emit("synced", { conversations: {} });
    const frames = [...this.pending.values()].map((p) => p.frame);
    const batch = (from: number) => {
      if (this.stopped || !this.socket) return;
      for (const f of frames.slice(from, from + RESEND_BATCH)) if (this.pending.has(String(f.client_id))) this.trySend(f);
      if (from + RESEND_BATCH < frames.length) setTimeout(() => batch(from + RESEND_BATCH), 1000);
    };
    batch(0);
    this.emit("open", {});
  }

  /**
   * Delivers each seq once and in order. A frame ahead of a gap waits for it (then a sync fills it);
   * a conversation without a cursor starts at the lowest seq heard in its first START_WAIT_MS.
   */
  private accept(m: Message) {
    // my own message settles my send however it arrives (ack, live copy, or replay after a lost ack)
    if (m.client_id && m.sender?.id === this.client.session?.id) this.settle(m.client_id, m);
    const c = m.conversation_id;
    const last = this.cursors.get(c);
    if (last !== undefined && m.seq <= last) return; // a duplicate (live and replayed, or on two connections)
    if (last !== undefined && m.seq === last + 1) return this.deliver(m);
    const held = this.held.get(c) ?? new Map<number, Message>();
    held.set(m.seq, m);
    this.held.set(c, held);
    if (this.holdTimers.has(c)) return;
    const starting = last === undefined;
    this.holdTimers.set(
      c,
      setTimeout(
        () => {
          this.holdTimers.delete(c);
          if (!this.held.get(c)?.size) return;
          if (starting && !this.cursors.has(c)) this.startAtLowest(c);
          else this.trySend({ type: "sync", cursors: { [c]: this.cursors.get(c) ?? 0 } });
        },
        starting ? START_WAIT_MS : GAP_WAIT_MS,
      ),
    );
  }

  /** What a sync could not fill (history hidden before I joined, say) can never come: start after it. */
  private afterSync(done: { conversations?: Record<string, number> }) {
    for (const c of Object.keys(done.conversations ?? {})) if (this.held.get(c)?.size) this.startAtLowest(c);
  }

  private startAtLowest(c: string) {
    const held = this.held.get(c);
    if (!held?.size) return;
    const lowest = Math.min(...held.keys());
    this.cursors.set(c, lowest - 1);
    this.deliver(held.get(lowest)!);
  }

  private deliver(m: Message) {
    const c = m.conversation_id;
    const held = this.held.get(c);
    held?.delete(m.seq);
    this.cursors.set(c, m.seq);
    this.emit("message", m);
    let next = held?.get(m.seq + 1);
    while (held && next) {
      held.delete(next.seq);
      this.cursors.set(c, next.seq);
      this.emit("message", next);
      next = held.get(next.seq + 1);
    }
    if (held && !held.size) {
      this.held.delete(c);
      clear(this.holdTimers.get(c));
      this.holdTimers.delete(c);
    }
  }
}

/** A message frame (seed 001's fields plus ours) as the REST message view. */
function toMessage(f: MessageFields & { replay?: boolean }): Message {
  return {
    id: f.id,
    conversation_id: f.conversation_id,
    seq: f.seq,
    type: f.message_type,
    msg_type: f.msg_type,
    content: f.content,
    payload: f.payload,
    attachments: f.attachments ?? [],
    reply_to: f.reply_to ?? null,
    sender: f.sender ?? { id: f.user_id, username: f.username },
    client_id: f.client_id,
    created_at: f.created_at,
    timestamp: f.timestamp,
    edited_at: null,
    recalled: false,
    deleted: false,
    reactions: [],
    ...(f.replay ? { replay: true } : {}),
  };
}
