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
  realtime(options: { conversationId?: string; deviceId?: string; cursors?: Record<string, number> } = {}) {
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
  resolve: (m: Message) => void;
  reject: (e: Error) => void;
}

/** How long a frame ahead of a gap waits for the missing ones before the connection asks for a sync. */
const GAP_WAIT_MS = 1000;

export class Realtime {
  /** Last seq delivered to the app, per conversation. */
  readonly cursors = new Map<string, number>();
  private socket: SocketLike | null = null;
  private listeners = new Map<string, Set<Listener>>();
  private pending = new Map<string, Pending>();
  /** Frames that arrived ahead of a gap, per conversation, by seq. */
  private held = new Map<string, Map<number, Message>>();
  private gapTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private stopped = false;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly deviceId: string;

  constructor(
    private client: EdgeIm,
    private options: { conversationId?: string; deviceId?: string; cursors?: Record<string, number> },
  ) {
    for (const [c, seq] of Object.entries(options.cursors ?? {})) this.cursors.set(c, seq);
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

  /** Connects (and keeps reconnecting until `close()`). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  close() {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    for (const t of this.gapTimers.values()) clearTimeout(t);
    this.socket?.close(1000, "bye");
    this.socket = null;
    for (const p of this.pending.values()) p.reject(new Error("connection closed"));
    this.pending.clear();
  }

  /**
   * Sends a message; resolves with the stored message once the server has it. While disconnected it
   * waits, and after a reconnect it is sent again with the same client_id (stored once).
   */
  send(conversationId: string, message: OutgoingMessage): Promise<Message> {
    const client_id = message.client_id ?? crypto.randomUUID();
    const frame = { ...message, type: "send_message", conversation_id: conversationId, client_id };
    return new Promise((resolve, reject) => {
      this.pending.set(client_id, { frame, resolve, reject });
      this.trySend(frame);
    });
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

  private async connect(): Promise<void> {
    const session = this.client.session;
    if (!session) throw new EdgeImError(401, "UNAUTHORIZED", "Sign in before connecting");
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
    this.socket = socket;
    socket.addEventListener("message", (e) => this.onFrame(e.data));
    socket.addEventListener("close", (e) => this.onClose(socket, e.code));
  }

  private onClose(socket: SocketLike, code: number) {
    if (this.socket !== socket) return;
    this.socket = null;
    this.emit("close", { code });
    // replaced by another connection of this device, or no longer allowed: stay down
    if (this.stopped || code === 4000 || code === 4003) return;
    if (code === 4001) {
      void this.client.refresh().then(
        () => this.scheduleReconnect(),
        (err) => this.emit("error", err),
      );
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect() {
    if (this.stopped) return;
    const delay = Math.min(10_000, 250 * 2 ** this.attempt++) * (0.5 + Math.random() / 2);
    this.reconnectTimer = setTimeout(() => void this.connect().catch(() => undefined), delay);
  }

  private onFrame(raw: unknown) {
    let frame: { success?: boolean; error?: string; client_id?: string; data?: { type: string } & Record<string, unknown> };
    try {
      frame = JSON.parse(String(raw));
    } catch {
      return;
    }
    if (frame.success === false) {
      const p = frame.client_id ? this.pending.get(frame.client_id) : undefined;
      if (p) {
        this.pending.delete(frame.client_id!);
        p.reject(new EdgeImError(400, String((frame as { code?: string }).code ?? "REFUSED"), frame.error ?? "refused"));
      } else this.emit("error", new EdgeImError(400, "FRAME_ERROR", frame.error ?? "error"));
      return;
    }
    const data = frame.data;
    if (!data) return;
    switch (data.type) {
      case "authenticated":
        this.attempt = 0;
        this.onOpen();
        return;
      case "message_sent": {
        const m = data as unknown as Message;
        const p = m.client_id ? this.pending.get(m.client_id) : undefined;
        if (p) {
          this.pending.delete(m.client_id!);
          p.resolve(m);
        }
        this.accept(m);
        return;
      }
      case "message_received":
        this.accept(data as unknown as Message);
        return;
      case "sync_done":
        this.emit("synced", data);
        return;
      default:
        this.emit(data.type, data);
    }
  }

  /** Connected (again): catch up from the cursors, then resend whatever was not acknowledged. */
  private onOpen() {
    const cursors = Object.fromEntries(this.cursors);
    if (Object.keys(cursors).length) this.trySend({ type: "sync", cursors });
    for (const p of this.pending.values()) this.trySend(p.frame);
    this.emit("open", {});
  }

  /** Delivers each seq once and in order; frames ahead of a gap wait for it (then a sync fills it). */
  private accept(m: Message) {
    const c = m.conversation_id;
    const last = this.cursors.get(c);
    if (last === undefined) {
      // the first message seen in a conversation the app had no cursor for starts it
      this.deliver(m);
      return;
    }
    if (m.seq <= last) return; // a duplicate (seen live and replayed, or on two connections)
    if (m.seq > last + 1) {
      const held = this.held.get(c) ?? new Map<number, Message>();
      held.set(m.seq, m);
      this.held.set(c, held);
      if (!this.gapTimers.has(c)) {
        this.gapTimers.set(
          c,
          setTimeout(() => {
            this.gapTimers.delete(c);
            if (this.held.get(c)?.size) this.trySend({ type: "sync", cursors: { [c]: this.cursors.get(c) ?? 0 } });
          }, GAP_WAIT_MS),
        );
      }
      return;
    }
    this.deliver(m);
  }

  private deliver(m: Message) {
    const c = m.conversation_id;
    this.cursors.set(c, m.seq);
    this.emit("message", m);
    const held = this.held.get(c);
    let next = held?.get(m.seq + 1);
    while (held && next) {
      held.delete(next.seq);
      this.cursors.set(c, next.seq);
      this.emit("message", next);
      next = held.get(next.seq + 1);
    }
    if (held && !held.size) {
      this.held.delete(c);
      clearTimeout(this.gapTimers.get(c));
      this.gapTimers.delete(c);
    }
  }
}
