import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import * as schema from "../db/schema";
import type { Env } from "../env";
import { AppError } from "../lib/errors";
import { verifyAccessToken } from "../lib/jwt";
import { log } from "../middleware/observability";
import { membership } from "../routes/conversations/conversations.service";
import { ensureRoomMember } from "./membership";
import { CloseCodes, serverFrame, wire, type EncodedFrame, type ErrorCode } from "../protocol";
import { admit, dispatch, type AnonymousPort } from "./dispatch";
import { newBudget, rateLimits, safeClose } from "./protocol";
import { conversationStub, userStub } from "./push";

export interface Identity {
  userId: string;
  username: string;
}

export interface Binding {
  deviceId: string;
  /** The conversation a bound connection watches; none for a user connection. */
  conversationId?: string;
}

const authFailed = (code: ErrorCode) => serverFrame("error", { code, error: "Invalid or expired token" }, "Authentication failed");

/** How long a socket the Worker holds may wait for its credentials (seed 001's auth frame, socket.io's CONNECT). */
export const authTimeoutMs = (env: Env) => Number(env.WS_AUTH_TIMEOUT_MS) || 30_000;

/** Checks the account is active and the right to read a bound conversation (joining an open room first, as seed 001's join_room does). */
async function authorizeBinding(env: Env, identity: Identity, binding: Binding): Promise<{ code: ErrorCode; error: string } | null> {
  const db = drizzle(env.DB, { schema });
  // an access token outlives a disabled account by up to an hour: no new connection with it
  const user = await db.select({ disabledAt: schema.users.disabledAt }).from(schema.users).where(eq(schema.users.id, identity.userId)).get();
  if (!user || user.disabledAt) return { code: "ACCOUNT_DISABLED", error: "This account has been disabled" };
  if (!binding.conversationId) return null;
  const joined = await ensureRoomMember(env, binding.conversationId, identity.userId);
  if (!joined.ok) return { code: joined.code, error: joined.error };
  return (await membership(db, binding.conversationId, identity.userId)) ? null : { code: "FORBIDDEN", error: "You are not a member of this conversation" };
}

function upstreamRequest(url: string, identity: Identity, binding: Binding, from?: Request) {
  const headers = new Headers();
  for (const name of ["upgrade", "sec-websocket-key", "sec-websocket-version", "sec-websocket-protocol", "sec-websocket-extensions"]) {
    const v = from?.headers.get(name);
    if (v) headers.set(name, v);
  }
  headers.set("upgrade", "websocket");
  headers.set("x-edge-user-id", identity.userId);
  headers.set("x-edge-username", identity.username);
  headers.set("x-edge-device-id", binding.deviceId);
  if (binding.conversationId) headers.set("x-edge-conversation-id", binding.conversationId);
  return new Request(url, { headers });
}

function target(env: Env, identity: Identity, binding: Binding) {
  return binding.conversationId ? conversationStub(env, binding.conversationId) : userStub(env, identity.userId);
}

/** A socket the Worker accepts only to say why it is refused, then closes. */
export function refuse(frame: EncodedFrame, code: number, reason: string): Response {
  const [client, server] = Object.values(new WebSocketPair());
  server.accept();
  server.send(wire(frame));
  server.close(code, reason);
  return new Response(null, { status: 101, webSocket: client });
}

/** Authenticated at connect: hand the client's socket to the object that owns it (user or conversation). */
export async function handOff(env: Env, request: Request, identity: Identity, binding: Binding): Promise<Response> {
  const denied = await authorizeBinding(env, identity, binding);
  if (denied) return refuse(serverFrame("error", denied), CloseCodes.removed, "Not allowed");
  return target(env, identity, binding).fetch(upstreamRequest(request.url, identity, binding, request));
}

/**
 * For a relay the Worker holds (seed 001's auth frame, socket.io): opens the user's (or the bound
 * conversation's) connection as the object's own client; otherwise why not, with the close code
 * that says so (4003 refused, 1011 the object did not answer with a socket).
 */
export async function openUpstream(env: Env, url: string, identity: Identity, binding: Binding): Promise<WebSocket | { error: string; errorCode: ErrorCode; code: number }> {
  const denied = await authorizeBinding(env, identity, binding);
  if (denied) return { error: denied.error, errorCode: denied.code, code: CloseCodes.removed };
  const ws = (await target(env, identity, binding).fetch(upstreamRequest(url, identity, binding))).webSocket;
  if (!ws) return { error: "Could not open the connection", errorCode: "INTERNAL", code: 1011 };
  ws.accept();
  return ws;
}

/**
 * Seed 001 clients connect without a token and send `{"type":"auth","token":…}` first. The Worker
 * holds such a socket until that frame names the user (30 s), then opens the same kind of
 * connection to the owning object and relays frames both ways for the socket's life.
 */
export function holdForAuth(env: Env, request: Request, binding: Binding, timeoutMs: number): Response {
  const [client, server] = Object.values(new WebSocketPair());
  server.accept();
  let upstream: WebSocket | null = null;
  let authenticating = false;
  const backlog: (string | ArrayBuffer)[] = [];
  const timer = setTimeout(() => {
    if (upstream || authenticating) return;
    port.reply(serverFrame("error", { code: "UNAUTHORIZED", error: "Authentication timeout: send {\"type\":\"auth\",\"token\":…} within 30 seconds" }, "Authentication failed"));
    safeClose(server, CloseCodes.authTimeout, "Authentication timeout");
  }, timeoutMs);

  const connect = async (token: string) => {
    let identity: Identity;
    try {
      const claims = await verifyAccessToken(env, token);
      identity = { userId: claims.sub, username: claims.username };
    } catch (err) {
      if (!(err instanceof AppError)) log("error", "ws auth failed", { error: String(err) });
      server.send(wire(authFailed(err instanceof AppError ? err.code : "UNAUTHORIZED")));
      server.close(CloseCodes.authFailed, "Authentication failed");
      return;
    }
    const ws = await openUpstream(env, request.url, identity, binding);
    if ("error" in ws) {
      server.send(wire(serverFrame("error", { code: ws.errorCode, error: ws.error })));
      server.close(ws.code, ws.code === CloseCodes.removed ? "Not allowed" : "Upstream refused");
      return;
    }
    ws.addEventListener("message", (e) => {
      try {
        server.send(e.data);
      } catch {
        // client gone; its close event tears down upstream
      }
    });
    ws.addEventListener("close", (e) => {
      try {
        server.close(e.code === 1005 || e.code === 1006 ? 1000 : e.code, e.reason);
      } catch {
        // already closed
      }
    });
    upstream = ws;
    clearTimeout(timer);
    for (const m of backlog.splice(0)) ws.send(m);
  };

  // until the auth frame names the user, this socket is the dispatcher's anonymous kind: the same
  // budget (rate, size, strikes) as any socket, answering only auth and ping
  const limits = rateLimits(env);
  const port: AnonymousPort = {
    session: null,
    budget: newBudget(limits),
    limits,
    reply: (f) => {
      try {
        server.send(wire(f));
      } catch {
        // closing
      }
    },
    close: (code, reason) => {
      clearTimeout(timer);
      safeClose(server, code, reason);
    },
    authenticate: async (token) => {
      authenticating = true;
      void connect(token).catch((err) => {
        log("error", "ws hand-off failed", { error: String(err) });
        port.reply(serverFrame("error", { code: "INTERNAL", error: "Internal error" }));
        safeClose(server, 1011, "Internal error");
      });
    },
  };

  server.addEventListener("message", (e) => {
    if (upstream) {
      // the object that now holds the connection meters and dispatches it
      upstream.send(e.data);
      return;
    }
    if (authenticating) {
      // frames sent while the token is checked wait for the connection, metered like the rest
      if (admit(port, e.data)) backlog.push(e.data);
      return;
    }
    void dispatch(port, e.data);
  });
  server.addEventListener("close", (e) => {
    clearTimeout(timer);
    try {
      upstream?.close(e.code === 1005 || e.code === 1006 ? 1000 : e.code, e.reason);
    } catch {
      // already closed
    }
  });
  return new Response(null, { status: 101, webSocket: client });
}
