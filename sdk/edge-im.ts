/**
 * edge-im client SDK: the REST API with token refresh, and realtime connections that keep the
 * delivery guarantees on the client's side too — every message once, in seq order, nothing missed
 * across reconnects (sync from the last seq seen), and sends that survive a dropped connection
 * (resent with the same client_id until acknowledged; the server stores each client_id once).
 *
 * No dependencies: it needs `fetch` and a WebSocket, both injectable (browsers and Node 22+ have
 * them; on Node 20 pass `openSocket` built on the `ws` package).
 */

export interface Session {
  id: string;
  username: string;
  token: string;
  refresh_token: string;
}

/** The part of a WebSocket the SDK uses (a browser WebSocket, a `ws` socket, a Workers socket). */
export interface SocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "message", listener: (e: { data: unknown }) => void): void;
  addEventListener(type: "close", listener: (e: { code: number; reason: string }) => void): void;
}

/** Opens a socket and resolves once it is open. */
export type OpenSocket = (url: string) => Promise<SocketLike>;

export interface Message {
  id: string;
  seq: number;
  conversation_id: string;
  message_type: string;
  content: string | null;
  sender: { id: string; username: string };
  client_id: string | null;
  created_at: string;
  attachments: string[];
  replay?: boolean;
  [key: string]: unknown;
}

export interface OutgoingMessage {
  content?: string;
  message_type?: string;
  attachments?: string[];
  reply_to?: string;
  payload?: Record<string, unknown>;
  client_id?: string;
}

/** An API error: the envelope's code, message and details, with the HTTP status. */
export class EdgeImError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "EdgeImError";
  }
}

const browserSocket: OpenSocket = (url) =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.addEventListener("open", () => resolve(ws as unknown as SocketLike), { once: true });
    ws.addEventListener("error", () => reject(new Error(`could not connect to ${url}`)), { once: true });
  });

export interface ClientOptions {
  /** The server's origin, e.g. https://chat.example.com (the API is under /api/v1). */
  baseUrl: string;
  session?: Session | null;
  /** Called whenever the session changes (login, refresh, logout): persist it here. */
  onSession?: (session: Session | null) => void;
  fetch?: typeof fetch;
  openSocket?: OpenSocket;
}

export class EdgeIm {
  session: Session | null;
  private readonly base: string;
  private readonly doFetch: typeof fetch;
  readonly openSocket: OpenSocket;
  private refreshing: Promise<void> | null = null;

  constructor(private readonly options: ClientOptions) {
    this.base = options.baseUrl.replace(/\/+$/, "");
    this.session = options.session ?? null;
    this.doFetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.openSocket = options.openSocket ?? browserSocket;
  }

  private setSession(session: Session | null) {
    this.session = session;
    this.options.onSession?.(session);
  }

  /** One API call: the envelope's data, or an EdgeImError. An expired token is refreshed once. */
  async request<T = Record<string, unknown>>(method: string, path: string, body?: unknown, retried = false): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.session) headers.authorization = `Bearer ${this.session.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await this.doFetch(`${this.base}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let json: { success?: boolean; data?: T; code?: string; error?: string; details?: unknown } = {};
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      // not JSON: reported below
    }
    if (res.ok && json.success !== false) return json.data as T;
    if (res.status === 401 && json.code === "TOKEN_EXPIRED" && this.session && !retried) {
      await this.refresh();
      return this.request<T>(method, path, body, true);
    }
    throw new EdgeImError(res.status, json.code ?? "HTTP_ERROR", json.error ?? (text.slice(0, 200) || res.statusText), json.details);
  }

  async register(body: { username: string; password: string; [k: string]: unknown }) {
    this.setSession(await this.request<Session>("POST", "/auth/register", body));
    return this.session!;
  }

  async login(body: { username: string; password: string; [k: string]: unknown }) {
    this.setSession(await this.request<Session>("POST", "/auth/login", body));
    return this.session!;
  }

  /** Rotates the refresh token (concurrent callers share one rotation). */
  async refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const refresh_token = this.session?.refresh_token;
        if (!refresh_token) throw new EdgeImError(401, "UNAUTHORIZED", "Not signed in");
        const next = await this.request<Session>("POST", "/auth/refresh", { refresh_token }, true);
        this.setSession({ ...this.session!, ...next });
      } catch (err) {
        if (err instanceof EdgeImError && err.status === 401) this.setSession(null);
        throw err;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  async logout() {
    try {
      if (this.session) await this.request("POST", "/auth/logout");
    } finally {
      this.setSession(null);
    }
  }

  /** REST send (201 once stored); a retry with the same client_id returns the first message. */
  async sendMessage(conversationId: string, message: OutgoingMessage & { type?: string }) {
    return this.request<Message & { duplicate: boolean }>("POST", `/conversations/${encodeURIComponent(conversationId)}/messages`, {
      client_id: crypto.randomUUID(),
      ...message,
    });
  }

  /**
   * A realtime connection: the user connection (everything for the user), or with
   * `conversationId` the fast path for the conversation on screen. `cursors` (conversation → last
   * seq the app has) are synced on every (re)connect.
   */
  realtime(options: RealtimeOptions = {}) {
    return new Realtime(this, options);
  }

  socketUrl(params: Record<string, string>) {
    const url = new URL(`${this.base}/api/v1/ws`);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return url.toString();
  }
}

type Listener = (data: never) => void;
interface Pending {
  frame: Record<string, unknown>;
  promise: Promise<Message>;
  resolve: (m: Message) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

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

  /** `message` (each new message once, in seq order), `open`, `close`, `synced`, `error`, or any server frame type. */
  on<T = Record<string, unknown>>(type: string, listener: (data: T) => void): () => void {
    const set = this.listeners.get(type) ?? new Set();
    set.add(listener as Listener);
    this.listeners.set(type, set);
    return () => set.delete(listener as Listener);
  }

  private emit(type: string, data: unknown) {
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

  /** Terminal: no more reconnects, and every pending send fails with `reason`. */
  private stop(reason: Error) {
    this.stopped = true;
    for (const t of [this.reconnectTimer, this.healthyTimer, ...this.holdTimers.values()]) clearTimeout(t);
    this.holdTimers.clear();
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000, "bye");
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
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
    const frame = { ...message, type: "send_message", conversation_id: conversationId, client_id };
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
    clearTimeout(p.timer);
    if (result instanceof Error) p.reject(result);
    else p.resolve(result);
  }

  /** Any other client frame (typing, mark_read, status_update, call, …). */
  sendFrame(frame: { type: string } & Record<string, unknown>) {
    this.trySend(frame);
  }

  private trySend(frame: Record<string, unknown>) {
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
    clearTimeout(this.reconnectTimer);
    const session = this.client.session;
    if (!session) return this.stop(new EdgeImError(401, "UNAUTHORIZED", "Sign in before connecting"));
    const params: Record<string, string> = { token: session.token, device_id: this.deviceId };
    if (this.options.conversationId) params.room_id = this.options.conversationId;
    let socket: SocketLike;
    try {
      socket = await this.client.openSocket(this.client.socketUrl(params));
    } catch (err) {
      this.scheduleReconnect();
      throw err;
    }
    if (this.stopped) return socket.close(1000, "bye");
    const previous = this.socket;
    this.socket = socket;
    previous?.close(1000, "reconnected");
    socket.addEventListener("message", (e) => this.socket === socket && this.onFrame(e.data));
    socket.addEventListener("close", (e) => this.onClose(socket, e.code));
  }

  private onClose(socket: SocketLike, code: number) {
    if (this.socket !== socket) return;
    this.socket = null;
    clearTimeout(this.healthyTimer);
    this.emit("close", { code });
    if (this.stopped) return;
    // replaced by another connection of this device, or no longer allowed: stay down
    if (code === 4000 || code === 4003) return this.stop(new EdgeImError(0, "CLOSED", `closed by the server (${code})`));
    if (code === 4001) {
      void this.client.refresh().then(
        () => this.scheduleReconnect(),
        (err) => {
          this.emit("error", err);
          // signed out for good (the refresh token was refused), or only a passing failure
          if (!this.client.session) this.stop(err instanceof Error ? err : new Error(String(err)));
          else this.scheduleReconnect();
        },
      );
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect() {
    if (this.stopped) return;
    clearTimeout(this.reconnectTimer);
    const delay = Math.min(10_000, 250 * 2 ** this.attempt++) * (0.5 + Math.random() / 2);
    this.reconnectTimer = setTimeout(() => void this.connect().catch(() => undefined), delay);
  }

  private onFrame(raw: unknown) {
    let frame: { success?: boolean; error?: string; code?: string; client_id?: string; data?: { type: string } & Record<string, unknown> };
    try {
      frame = JSON.parse(String(raw));
    } catch {
      return;
    }
    if (frame.success === false) {
      const error = new EdgeImError(400, frame.code ?? "REFUSED", frame.error ?? "refused");
      if (frame.client_id && this.pending.has(frame.client_id)) this.settle(frame.client_id, error);
      else this.emit("error", error);
      return;
    }
    const data = frame.data;
    if (!data) return;
    switch (data.type) {
      case "authenticated":
        this.onOpen();
        return;
      case "message_sent":
      case "message_received":
        this.accept(data as unknown as Message);
        return;
      case "sync_done":
        this.afterSync(data as { conversations?: Record<string, number> });
        this.emit("synced", data);
        return;
      default:
        this.emit(data.type, data);
    }
  }

  /** Connected (again): catch up from the cursors, then resend what was not acknowledged, paced. */
  private onOpen() {
    clearTimeout(this.healthyTimer);
    this.healthyTimer = setTimeout(() => (this.attempt = 0), HEALTHY_MS);
    const entries = [...this.cursors];
    for (let i = 0; i < entries.length; i += SYNC_CHUNK) this.trySend({ type: "sync", cursors: Object.fromEntries(entries.slice(i, i + SYNC_CHUNK)) });
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
      clearTimeout(this.holdTimers.get(c));
      this.holdTimers.delete(c);
    }
  }
}
