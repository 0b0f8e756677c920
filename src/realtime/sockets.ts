import type { Result } from "./result";
import { errorFrame, safeSend, type SocketAttachment } from "./protocol";

/**
 * An object's open sockets with their attachments. serializeAttachment is the source of truth
 * (it survives hibernation); this mirrors it in memory so a broadcast does not deserialize
 * every socket every time, and rebuilds itself lazily after a wake-up.
 */
export class SocketSet {
  private cache = new Map<WebSocket, SocketAttachment>();

  constructor(private ctx: DurableObjectState) {}

  entries(): [WebSocket, SocketAttachment][] {
    const live = this.ctx.getWebSockets().filter((ws) => ws.readyState === WebSocket.OPEN);
    if (this.cache.size !== live.length || live.some((ws) => !this.cache.has(ws))) {
      const next = new Map<WebSocket, SocketAttachment>();
      for (const ws of live) next.set(ws, this.cache.get(ws) ?? (ws.deserializeAttachment() as SocketAttachment));
      this.cache = next;
    }
    return [...this.cache];
  }

  /** The socket's attachment as last serialized (frame admission updates it). */
  refresh(ws: WebSocket): SocketAttachment {
    const a = ws.deserializeAttachment() as SocketAttachment;
    this.cache.set(ws, a);
    return a;
  }

  save(ws: WebSocket, a: SocketAttachment) {
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

interface ReplayPage {
  frames: string[];
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
      safeSend(ws, errorFrame(`${conversationId}: ${r.error}`));
      return null;
    }
    for (const f of r.value.frames) safeSend(ws, f);
    cursor = r.value.next;
    if (!r.value.has_more) return r.value.last_seq;
  }
}
