import { CloseCodes, MAX_FRAME_BYTES, oversize, parseFrame, serverFrame, wire, type ClientFrameT, type EncodedFrame, type ErrorCode } from "../protocol";

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
  let refused: { code: ErrorCode; error: string; client_id?: string };
  if (!takeToken(a, limits)) refused = { code: "RATE_LIMITED", error: "Rate limit exceeded: slow down" };
  else if (oversize(raw)) refused = { code: "PAYLOAD_TOO_LARGE", error: `Frame too large: the limit is ${MAX_FRAME_BYTES} bytes` };
  else {
    const parsed = parseFrame(raw);
    if (parsed.ok) return parsed.frame;
    refused = parsed;
  }
  a.strikes += 1;
  ws.serializeAttachment(a);
  safeSend(ws, serverFrame("error", { code: refused.code, error: refused.error, client_id: refused.client_id }));
  if (a.strikes >= MAX_STRIKES) {
    try {
      ws.close(CloseCodes.policy, "Too many invalid frames");
    } catch {
      // already closing
    }
  }
  return null;
}

export function safeSend(ws: WebSocket, frame: EncodedFrame) {
  try {
    ws.send(wire(frame));
  } catch {
    // the socket is closing; its close handler cleans up
  }
}

