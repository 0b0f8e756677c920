import { log } from "../middleware/observability";
import type { Result } from "./result";
import { serverFrame, type ClientFrameT, type EncodedFrame } from "../protocol";
import { admitFrame, safeSend, type RateLimits, type SocketAttachment } from "./protocol";

/**
 * An object's open sockets with their attachments. serializeAttachment is the source of truth
 * (it survives hibernation); this mirrors it in memory so a broadcast does not deserialize
 * every socket every time, and rebuilds itself lazily after a wake-up.
 */
export class SocketSet {
  private cache = new Map<WebSocket, SocketAttachment>();
  /** After a wake-up the object's sockets are only known to the runtime; read them once. */
  private loaded = false;

  constructor(private ctx: DurableObjectState) {}

  entries(): IterableIterator<[WebSocket, SocketAttachment]> {
    if (!this.loaded) {
      for (const ws of this.ctx.getWebSockets()) {
        if (ws.readyState === WebSocket.OPEN && !this.cache.has(ws)) this.cache.set(ws, ws.deserializeAttachment() as SocketAttachment);
      }
      this.loaded = true;
    }
    return this.cache.entries();
  }

  get size() {
    this.entries();
    return this.cache.size;
  }

  /** The socket's current state (the in-memory copy, read from the socket after a wake-up). */
  get(ws: WebSocket): SocketAttachment {
    let a = this.cache.get(ws);
    if (!a) {
      a = ws.deserializeAttachment() as SocketAttachment;
      this.cache.set(ws, a);
    }
    return a;
  }

  /** Records a socket's state (a new socket is added here right after acceptWebSocket). */
  save(ws: WebSocket, a: SocketAttachment) {
    this.entries();
    ws.serializeAttachment(a);
    this.cache.set(ws, a);
  }

  /** Forgets a closing socket and returns what it carried. */
  forget(ws: WebSocket): SocketAttachment | null {
    const a = this.cache.get(ws) ?? (ws.deserializeAttachment() as SocketAttachment | null);
    this.cache.delete(ws);
    return a;
  }
}

/**
 * One incoming frame on either kind of socket: admission (rate, size, parse; misbehaving frames are
 * answered and counted there), then the object's handler. A handler that throws answers the client
 * with an error frame rather than leaving it waiting.
 */
export async function onSocketFrame(
  ws: WebSocket,
  raw: string | ArrayBuffer,
  sockets: SocketSet,
  limits: RateLimits,
  handle: (ws: WebSocket, a: SocketAttachment, frame: ClientFrameT) => Promise<void>,
) {
  const a = sockets.get(ws);
  const frame = admitFrame(ws, a, raw, limits);
  if (!frame) return;
  try {
    await handle(ws, a, frame);
  } catch (err) {
    log("error", "socket frame failed", { error: String(err), type: frame.type, room: a.room });
    safeSend(ws, serverFrame("error", { code: "INTERNAL", error: "Internal error" }));
  }
}

/** Completes the closing handshake the peer started (1005/1006 are not codes one may send). */
export function finishClose(ws: WebSocket, code: number) {
  try {
    ws.close(code === 1005 || code === 1006 ? 1000 : code, "closed");
  } catch {
    // already closed
  }
}

interface ReplayPage {
  frames: EncodedFrame[];
  next: number;
  has_more: boolean;
  last_seq: number;
}

/** Sends every page of a conversation's replay after `after`; returns the conversation's last seq, or null on error. */
export async function replayInto(ws: WebSocket, conversationId: string, after: number, page: (cursor: number) => Promise<Result<ReplayPage>>) {
  let cursor = after;
  for (;;) {
    const r = await page(cursor);
    if (!r.ok) {
      safeSend(ws, serverFrame("error", { code: r.code, error: `${conversationId}: ${r.error}` }));
      return null;
    }
    for (const f of r.value.frames) safeSend(ws, f);
    cursor = r.value.next;
    if (!r.value.has_more) return r.value.last_seq;
  }
}
