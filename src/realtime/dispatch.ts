import type { Env } from "../env";
import { AppError } from "../lib/errors";
import { log } from "../middleware/observability";
import {
  CloseCodes,
  messageFields,
  parseFrame,
  serverFrame,
  targetOf,
  type ClientFrameOf,
  type ClientFrameT,
  type ClientFrameType,
  type EncodedFrame,
  type ServerFrameFields,
  type UserStatus,
} from "../protocol";
import { relayCall } from "./calls";
import { meter, strike, type Budget, type RateLimits, type Refusal } from "./protocol";
import type { ConversationApi } from "./push";
import { unwrap, type Result } from "./result";

/** Who is on an authenticated socket, as its host keeps it (a socket attachment). */
export interface Session {
  connId: string;
  userId: string;
  username: string;
  /** The conversation joined with join_room (user connections), or the bound one until leave_room. */
  room: string | null;
}

/** The conversation actions a frame reaches: the object itself, or its stub. */
export type ConversationActions = Pick<ConversationApi, "send" | "typing" | "markRead" | "replay">;

/** What every host of a socket supplies: its budget, how to answer and close, and how to authenticate. */
interface PortBase {
  /** The socket's frame budget, kept wherever the host keeps the socket's state. */
  budget: Budget;
  limits: RateLimits;
  reply(frame: EncodedFrame): void;
  close(code: number, reason: string): void;
  /** After a refused frame changed the budget's strikes: hosts that persist socket state save it. */
  saveBudget?(): void;
  /** An `auth` frame: the answer to send, if the host does not answer itself. */
  authenticate(token: string): Promise<EncodedFrame | void>;
}

/** A socket the Worker holds until its `auth` frame (seed 001's relay): only auth and ping are answered. */
export interface AnonymousPort extends PortBase {
  session: null;
}

/** An authenticated socket held by the user's object or a conversation's object. */
export interface SessionPort extends PortBase {
  session: Session;
  env: Env;
  /** join_room: the host's own way to subscribe the socket; answers room_joined. */
  join(target: string | undefined): Promise<EncodedFrame>;
  /** leave_room: answers room_left. */
  leave(target: string | undefined): Promise<EncodedFrame>;
  /** The conversation a frame acts on; throws when this socket may not reach it (a bound socket and another conversation). */
  conversation(id: string): ConversationActions;
  setStatus(status: UserStatus): Promise<ServerFrameFields["status_updated"]>;
}

export type FramePort = AnonymousPort | SessionPort;

type Handlers = { [K in ClientFrameType]: (frame: ClientFrameOf<K>, port: SessionPort) => Promise<EncodedFrame | void> };

const notInRoom = () => new AppError("BAD_REQUEST", "You are not in any room");

/**
 * The one place a client frame type is turned into an action, for every kind of socket. Each
 * action goes through the conversation's own methods (the same ones REST calls), so one set of
 * rules decides it whichever way it arrives.
 */
const handlers: Handlers = {
  auth: async (frame, port) => port.authenticate(frame.token),
  ping: async () => serverFrame("pong", { timestamp: Math.floor(Date.now() / 1000) }),
  join_room: async (frame, port) => port.join(targetOf(frame)),
  leave_room: async (frame, port) => port.leave(targetOf(frame)),
  send_message: async (frame, port) => {
    const s = port.session;
    const id = targetOf(frame) ?? s.room;
    if (!id) throw notInRoom();
    const sent = unwrap(
      await port.conversation(id).send({
        conversationId: id,
        senderId: s.userId,
        type: frame.message_type ?? "text",
        content: frame.content,
        payload: frame.payload,
        attachments: frame.attachments,
        client_id: frame.client_id,
        reply_to: frame.reply_to,
        origin: s.connId,
      }),
    );
    return serverFrame("message_sent", { ...messageFields(sent.message), duplicate: sent.duplicate });
  },
  typing: async (frame, port) => {
    const s = port.session;
    const id = targetOf(frame) ?? s.room;
    if (!id) throw notInRoom();
    unwrap(await port.conversation(id).typing(id, s.userId, frame.is_typing, s.connId));
  },
  mark_read: async (frame, port) => {
    const s = port.session;
    const id = targetOf(frame) ?? s.room;
    if (!id) throw new AppError("VALIDATION_ERROR", "conversation_id is required");
    return serverFrame("unread", unwrap(await port.conversation(id).markRead(id, s.userId, frame.seq ?? 0, frame.message_ids, s.connId)));
  },
  status_update: async (frame, port) => serverFrame("status_updated", await port.setStatus(frame.status)),
  sync: async (frame, port) => {
    const done: Record<string, number> = {};
    for (const [id, after] of Object.entries(frame.cursors)) {
      try {
        const conversation = port.conversation(id);
        done[id] = await replay(port, id, after, (cursor) => conversation.replay(id, port.session.userId, cursor));
      } catch (err) {
        // one conversation that cannot be replayed does not stop the others
        port.reply(errorFrame(err, frame, `${id}: `));
      }
    }
    return serverFrame("sync_done", { conversations: done });
  },
  call: async (frame, port) => serverFrame("call_sent", unwrap(await relayCall(port.env, port.session.userId, port.session.username, frame, port.session.connId))),
};

/** Frames a socket may send before it has authenticated. */
const BEFORE_AUTH = new Set<ClientFrameType>(["auth", "ping"]);

interface ReplayPage {
  frames: EncodedFrame[];
  next: number;
  has_more: boolean;
  last_seq: number;
}

/** Sends every page of a conversation's replay after `after`; returns the conversation's last seq. */
async function replay(port: SessionPort, id: string, after: number, page: (cursor: number) => Promise<Result<ReplayPage>>): Promise<number> {
  let cursor = after;
  for (;;) {
    const r = unwrap(await page(cursor));
    for (const f of r.frames) port.reply(f);
    cursor = r.next;
    if (!r.has_more) return r.last_seq;
  }
}

/** The error frame for a failed frame: the REST envelope's code; a refused send names its client_id. */
function errorFrame(err: unknown, frame: ClientFrameT, prefix = ""): EncodedFrame {
  const clientId = frame.type === "send_message" ? frame.client_id : undefined;
  const message = frame.type === "send_message" ? "Failed to send message" : undefined;
  if (err instanceof AppError) return serverFrame("error", { code: err.code, error: prefix + err.message, client_id: clientId, retry_after: err.retryAfter }, message);
  log("error", "socket frame failed", { error: String(err), type: frame.type });
  return serverFrame("error", { code: "INTERNAL", error: "Internal error", client_id: clientId }, message);
}

function authenticationRequired(port: FramePort) {
  port.reply(serverFrame("error", { code: "UNAUTHORIZED", error: 'Authentication required: send {"type":"auth","token":…} first' }, "Authentication required"));
}

/** Answers a refused frame and counts it; a socket that keeps misbehaving is closed with 1008. */
function refuse(port: FramePort, refusal: Refusal) {
  const out = strike(port.budget);
  port.saveBudget?.();
  port.reply(serverFrame("error", { code: refusal.code, error: refusal.error, client_id: refusal.client_id }));
  if (out) port.close(CloseCodes.policy, "Too many invalid frames");
}

/**
 * Checks a raw frame against the socket's budget (rate, size) and parses it. Returns the frame,
 * or null after answering the refusal. Hosts that queue frames (the relay while it authenticates)
 * admit them here first, so nothing gets past the budget unmetered.
 */
export function admit(port: FramePort, raw: string | ArrayBuffer): ClientFrameT | null {
  const refusal = meter(port.budget, raw, port.limits);
  if (!refusal) {
    const parsed = parseFrame(raw);
    if (parsed.ok) return parsed.frame;
    // before authentication a known frame is refused for that, not for its fields
    if (!port.session && parsed.type && !BEFORE_AUTH.has(parsed.type)) {
      authenticationRequired(port);
      return null;
    }
    refuse(port, { code: parsed.code, error: parsed.error, client_id: parsed.client_id });
  } else refuse(port, refusal);
  return null;
}

/**
 * The one dispatcher of client frames, for every kind of socket: the user's object, a
 * conversation's object (bound sockets), and the socket the Worker holds for seed 001's auth frame
 * (socket.io sessions reach it through the user connection they open). Rate, size and parse
 * first (a refused frame is a strike), then the frame's handler; any failure answers with an error
 * frame that carries the REST envelope's code.
 */
export async function dispatch(port: FramePort, raw: string | ArrayBuffer): Promise<void> {
  const frame = admit(port, raw);
  if (frame) await run(port, frame);
}

/** Runs one admitted frame. */
export async function run(port: FramePort, frame: ClientFrameT): Promise<void> {
  if (!port.session && !BEFORE_AUTH.has(frame.type)) return authenticationRequired(port);
  try {
    // before authentication only auth and ping get here, and neither needs a session
    const handler = handlers[frame.type] as (f: ClientFrameT, p: FramePort) => Promise<EncodedFrame | void>;
    const answer = await handler(frame, port);
    if (answer) port.reply(answer);
  } catch (err) {
    port.reply(errorFrame(err, frame));
  }
}
