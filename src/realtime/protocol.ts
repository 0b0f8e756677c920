/**
 * Per-socket state and the one frame budget (rate limit, size cap, strikes) that every kind of
 * socket applies: user and conversation-bound sockets in the objects, and the sockets the Worker
 * holds (seed 001's relay before its auth frame, socket.io sessions).
 */
import { MAX_FRAME_BYTES, oversize, wire, type EncodedFrame, type ErrorCode } from "../protocol";

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
/** Misbehaving frames (bad JSON, unknown type, oversize, flood) tolerated before closing with 1008, on every kind of socket. */
export const MAX_STRIKES = 20;
export const SYNC_PAGE = 200;

/** A socket's frame budget: its token bucket and the misbehaving frames counted against it. */
export interface Budget {
  tokens: number;
  refilledAt: number;
  strikes: number;
}

export const newBudget = (limits: RateLimits): Budget => ({ tokens: limits.burst, refilledAt: Date.now(), strikes: 0 });

export interface SocketAttachment extends Budget {
  connId: string;
  userId: string;
  username: string;
  deviceId: string;
  /** User connections: the conversation joined with join_room. Bound connections: the bound one, or null after leave_room. */
  room: string | null;
}

/** Token-bucket check for one frame; updates the budget in place. */
export function takeToken(b: Budget, limits: RateLimits, now = Date.now()): boolean {
  b.tokens = Math.min(limits.burst, b.tokens + ((now - b.refilledAt) / 1000) * limits.perSecond);
  b.refilledAt = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

export function newAttachment(userId: string, username: string, deviceId: string, room: string | null, limits: RateLimits): SocketAttachment {
  return { connId: crypto.randomUUID(), userId, username, deviceId, room, ...newBudget(limits) };
}

/** Why a frame was not read: the error frame's code and text. */
export interface Refusal {
  code: ErrorCode;
  error: string;
  client_id?: string;
}

/**
 * The checks every frame on every kind of socket passes first, authenticated or not: the rate
 * (token bucket) and the size cap. Null when the frame may be read. The bucket lives in the
 * socket's in-memory state only: it is full again by the time an idle object could hibernate,
 * so persisting it on every frame would buy nothing.
 */
export function meter(b: Budget, raw: string | ArrayBuffer, limits: RateLimits, now = Date.now()): Refusal | null {
  if (!takeToken(b, limits, now)) return { code: "RATE_LIMITED", error: "Rate limit exceeded: slow down" };
  if (oversize(raw)) return { code: "PAYLOAD_TOO_LARGE", error: `Frame too large: the limit is ${MAX_FRAME_BYTES} bytes` };
  return null;
}

/** Counts one refused frame (flood, oversize, malformed); true once the socket must be closed with 1008. */
export function strike(b: Budget): boolean {
  b.strikes += 1;
  return b.strikes >= MAX_STRIKES;
}

export function safeSend(ws: WebSocket, frame: EncodedFrame) {
  try {
    ws.send(wire(frame));
  } catch {
    // the socket is closing; its close handler cleans up
  }
}

/** Closes a socket, ignoring one that is already closing. */
export function safeClose(ws: WebSocket, code: number, reason: string) {
  try {
    ws.close(code, reason);
  } catch {
    // already closing
  }
}
