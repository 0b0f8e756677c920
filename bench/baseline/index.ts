// Minimal no-persistence broadcast baseline for `npm run bench` (see wrangler.toml here).
// One Durable Object per room holds its sockets in memory and sends each message to every other
// socket, then acks the sender. No storage, no auth, no validation beyond JSON.parse. Two ways of
// holding the sockets, chosen per room by the first connection's `?mode=`:
// - `accept` (default, the ceiling): standard accept() with event listeners; the object and its seq
//   counter stay in memory for as long as any socket is open.
// - `hibernate`: the WebSocket Hibernation API (ctx.acceptWebSocket, webSocketMessage), as the
//   project's objects hold theirs; the only difference from `accept` is that API. The object may be
//   evicted between messages, so the last seq rides in the sender's socket attachment (memory held
//   by the runtime with the socket, not storage) and is recovered from the sockets on wake-up.
// Frames mirror the project's shape closely enough for the same client code:
//   client → {"type":"send_message","content":…,"client_id":…}
//   sender ← {"success":true,"message":"Message sent successfully","data":{"type":"message_sent","seq":N,"client_id":…}}
//   others ← {"success":true,"message":"Message sent successfully","data":{"type":"message_received","seq":N,"client_id":…,"content":…,"created_at":…}}
import { DurableObject } from "cloudflare:workers";

interface Env {
  ROOM: DurableObjectNamespace<BroadcastRoom>;
}

export class BroadcastRoom extends DurableObject<Env> {
  private seq = 0;
  private sockets = new Set<WebSocket>();
  /** Diagnostic: `?pad=N` adds N characters to every delivered frame (to compare equal frame sizes). */
  private pad = "";

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // hibernate mode, waking up: the sockets are the runtime's; the highest seq any sender carried is the last one
    for (const ws of ctx.getWebSockets()) {
      this.sockets.add(ws);
      this.seq = Math.max(this.seq, (ws.deserializeAttachment() as { seq?: number } | null)?.seq ?? 0);
    }
  }

  async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket", { status: 426 });
    const params = new URL(request.url).searchParams;
    const pad = Number(params.get("pad") ?? 0);
    if (pad > 0 && pad <= 4096) this.pad = "x".repeat(pad);
    const [client, server] = Object.values(new WebSocketPair());
    this.sockets.add(server);
    if (params.get("mode") === "hibernate") {
      this.ctx.acceptWebSocket(server);
      server.serializeAttachment({ seq: this.seq });
    } else {
      server.accept();
      server.addEventListener("message", (event) => this.onMessage(server, event.data));
      server.addEventListener("close", () => this.gone(server));
      server.addEventListener("error", () => this.gone(server));
    }
    server.send(JSON.stringify({ success: true, message: "hello", data: { type: "hello" } }));
    return new Response(null, { status: 101, webSocket: client });
  }

  async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer) {
    if (this.onMessage(ws, raw)) ws.serializeAttachment({ seq: this.seq });
  }

  async webSocketClose(ws: WebSocket) {
    this.gone(ws);
  }

  async webSocketError(ws: WebSocket) {
    this.gone(ws);
  }

  /** A socket closed or failed (either mode): forget it and finish the closing handshake. */
  private gone(ws: WebSocket) {
    this.sockets.delete(ws);
    try {
      ws.close(1000, "closed");
    } catch {
      // already closed
    }
  }

  /** Broadcasts one message and acks it; true when it was a message (the seq moved). */
  private onMessage(ws: WebSocket, raw: string | ArrayBuffer): boolean {
    let frame: { type?: string; content?: string; client_id?: string };
    try {
      frame = JSON.parse(typeof raw === "string" ? raw : new TextDecoder().decode(raw));
    } catch {
      ws.send(JSON.stringify({ success: false, message: "Request failed", error: "Invalid JSON format" }));
      return false;
    }
    if (frame.type !== "send_message") {
      ws.send(JSON.stringify({ success: true, message: "ignored", data: { type: "ignored" } }));
      return false;
    }
    const seq = ++this.seq;
    const data = JSON.stringify({
      success: true,
      message: "Message sent successfully",
      data: { type: "message_received", seq, client_id: frame.client_id ?? null, content: frame.content ?? "", created_at: new Date().toISOString(), ...(this.pad ? { pad: this.pad } : {}) },
    });
    for (const other of this.sockets) {
      if (other === ws) continue;
      try {
        other.send(data);
      } catch {
        // closing
      }
    }
    ws.send(JSON.stringify({ success: true, message: "Message sent successfully", data: { type: "message_sent", seq, client_id: frame.client_id ?? null } }));
    return true;
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/ws") return env.ROOM.get(env.ROOM.idFromName(url.searchParams.get("room") ?? "default")).fetch(request);
    return new Response("edge-im bench baseline: GET /ws?room=<name>[&mode=hibernate] (WebSocket)\n");
  },
} satisfies ExportedHandler<Env>;
