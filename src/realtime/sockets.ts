import type { SocketAttachment } from "./protocol";

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

/** Completes the closing handshake the peer started (1005/1006 are not codes one may send). */
export function finishClose(ws: WebSocket, code: number) {
  try {
    ws.close(code === 1005 || code === 1006 ? 1000 : code, "closed");
  } catch {
    // already closed
  }
}
