import { DurableObject } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import * as schema from "../db/schema";
import type { Env } from "../env";
import { loadConfig } from "../lib/config";
import { randomSecret } from "../lib/crypto";
import { AppError } from "../lib/errors";
import { log } from "../middleware/observability";
import { CloseCodes, serverFrame, type EncodedFrame, type UserStatus } from "../protocol";
import type { PushFrame } from "./conversation-do";
import { dispatch, type SessionPort } from "./dispatch";
import { ensureRoomMember } from "./membership";
import { newAttachment, rateLimits, safeClose, safeSend, type SocketAttachment } from "./protocol";
import { conversationStub, pushToUsers } from "./push";
import { unwrap } from "./result";
import { finishClose, SocketSet } from "./sockets";

type Status = UserStatus;
const TICKET_TTL_MS = 60_000;

/**
 * One per user: the WebSockets of all the user's devices (hibernatable), presence, and every push
 * meant for the user: messages of their DMs and small groups, rooms their connections joined,
 * notifications, unread updates and call signalling.
 */
export class UserDO extends DurableObject<Env> {
  private sockets = new SocketSet(this.ctx);
  private limits = rateLimits(this.env);

  private db() {
    return drizzle(this.env.DB, { schema });
  }

  // ---- pushes from the rest of the system ------------------------------------------------------------

  /** Sends notification-style frames to every open socket of this user. */
  async deliver(frames: EncodedFrame[]): Promise<number> {
    const entries = [...this.sockets.entries()];
    for (const [ws] of entries) for (const f of frames) safeSend(ws, f);
    return entries.length;
  }

  /** Closes every socket of this user (an admin disabled the account); returns how many. */
  async disconnectAll(reason: string): Promise<number> {
    const entries = [...this.sockets.entries()];
    for (const [ws] of entries) {
      safeSend(ws, serverFrame("error", { code: "ACCOUNT_DISABLED", error: reason }, "Connection closed"));
      try {
        ws.close(CloseCodes.removed, reason);
      } catch {
        // already closing
      }
    }
    return entries.length;
  }

  /**
   * Frames from a conversation: every socket gets them when `member` (DMs, small groups), otherwise
   * only sockets that joined that room; never the connection a frame came from. A conversation that
   * finds nobody here is remembered and told when the user is back.
   */
  async receive(conversationId: string, frames: PushFrame[], member: boolean): Promise<{ sockets: number; inRoom: boolean }> {
    const entries = [...this.sockets.entries()];
    let inRoom = false;
    for (const [ws, a] of entries) {
      const here = a.room === conversationId;
      inRoom ||= here;
      if (!member && !here) continue;
      for (const f of frames) if (f.origin !== a.connId) safeSend(ws, f.frame);
    }
    if (!entries.length && member) await this.ctx.storage.put(`watch:${conversationId}`, true);
    return { sockets: entries.length, inRoom };
  }

  // ---- presence ------------------------------------------------------------------------------------

  /** A conversation-bound socket of this user opened or closed elsewhere: it counts toward presence. */
  async remoteOpened(userId: string, key: string) {
    await this.ctx.storage.put(`remote:${key}`, Date.now());
    await this.refreshPresence(userId);
  }

  async remoteClosed(userId: string, key: string) {
    await this.ctx.storage.delete(`remote:${key}`);
    await this.refreshPresence(userId);
  }

  private async refreshPresence(userId: string) {
    const remote = await this.ctx.storage.list({ prefix: "remote:" });
    const local = this.ctx.getWebSockets().filter((ws) => ws.readyState === WebSocket.OPEN).length;
    const online = local + remote.size > 0;
    const was = (await this.ctx.storage.get<boolean>("online")) ?? false;
    if (online === was) return;
    await this.ctx.storage.put("online", online);
    if (online) {
      const watchers = await this.ctx.storage.list({ prefix: "watch:" });
      await this.ctx.storage.delete([...watchers.keys()]);
      await Promise.all([...watchers.keys()].map((k) => conversationStub(this.env, k.slice(6)).presence(userId, true).catch(() => undefined)));
    }
    const explicit = await this.ctx.storage.get<Status>("explicit_status");
    await this.publishStatus(userId, online ? (explicit ?? "ONLINE") : "OFFLINE");
  }

  /** Explicit status (REST or status_update): AWAY/BUSY stick while connected; ONLINE clears them. */
  async setStatus(userId: string, status: Status) {
    if (status === "ONLINE") await this.ctx.storage.delete("explicit_status");
    else await this.ctx.storage.put("explicit_status", status);
    return this.publishStatus(userId, status);
  }

  private async publishStatus(userId: string, status: Status) {
    const db = this.db();
    const lastSeen = new Date().toISOString();
    await db.update(schema.users).set({ status, lastSeen }).where(eq(schema.users.id, userId));
    const [config, friends] = await Promise.all([
      loadConfig(db),
      db.select({ id: schema.friendships.friendId }).from(schema.friendships).where(eq(schema.friendships.userId, userId)),
    ]);
    if (config.display_online_status && friends.length) {
      await pushToUsers(
        this.env,
        friends.map((f) => f.id),
        [serverFrame("user_status", { user_id: userId, status, last_seen: lastSeen })],
      ).catch((err) => log("warn", "status push failed", { user_id: userId, error: String(err) }));
    }
    return { id: userId, status, last_seen: lastSeen };
  }

  // ---- connect tickets -----------------------------------------------------------------------------

  /** A single-use ticket (60 s) for `?ticket=`, so access tokens stay out of URLs and logs. */
  async issueTicket(userId: string, username: string) {
    const secret = randomSecret(24);
    await this.ctx.storage.put(`ticket:${secret}`, { userId, username, expires: Date.now() + TICKET_TTL_MS });
    await this.ctx.storage.setAlarm(Date.now() + TICKET_TTL_MS + 1000);
    return { ticket: `${userId}.${secret}`, expires_in: TICKET_TTL_MS / 1000 };
  }

  async consumeTicket(secret: string): Promise<{ userId: string; username: string } | null> {
    const key = `ticket:${secret}`;
    const t = await this.ctx.storage.get<{ userId: string; username: string; expires: number }>(key);
    if (!t) return null;
    await this.ctx.storage.delete(key);
    return t.expires > Date.now() ? { userId: t.userId, username: t.username } : null;
  }

  /** Sweeps expired tickets. */
  async alarm() {
    const now = Date.now();
    const tickets = await this.ctx.storage.list<{ expires: number }>({ prefix: "ticket:" });
    const expired = [...tickets].filter(([, t]) => t.expires <= now).map(([k]) => k);
    if (expired.length) await this.ctx.storage.delete(expired);
    if (tickets.size > expired.length) await this.ctx.storage.setAlarm(now + TICKET_TTL_MS);
  }

  // ---- user connections ------------------------------------------------------------------------------

  /** Accepts a user connection; the Worker has verified the token. */
  async fetch(request: Request): Promise<Response> {
    const userId = request.headers.get("x-edge-user-id");
    const username = request.headers.get("x-edge-username") ?? "";
    const deviceId = request.headers.get("x-edge-device-id") ?? "default";
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !userId) {
      return new Response("Expected a WebSocket upgrade from the edge-im Worker", { status: 426 });
    }
    for (const old of this.ctx.getWebSockets(`dev:${deviceId}`)) old.close(CloseCodes.replaced, "Replaced by a new connection from the same device");
    const [client, server] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(server, [`dev:${deviceId}`]);
    this.sockets.save(server, newAttachment(userId, username, deviceId, null, this.limits));
    safeSend(server, serverFrame("authenticated", { user_id: userId, username, status: "connected" }));
    await this.refreshPresence(userId);
    return new Response(null, { status: 101, webSocket: client });
  }

  async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer) {
    if (ws.readyState === WebSocket.OPEN) await dispatch(this.port(ws), raw);
  }

  /** How the dispatcher reaches this object for one of its sockets. */
  private port(ws: WebSocket): SessionPort {
    const a = this.sockets.get(ws);
    return {
      session: a,
      budget: a,
      limits: this.limits,
      env: this.env,
      reply: (f) => safeSend(ws, f),
      close: (code, reason) => safeClose(ws, code, reason),
      saveBudget: () => ws.serializeAttachment(a),
      authenticate: async () => serverFrame("authenticated", { user_id: a.userId, username: a.username, status: "connected" }),
      join: (target) => this.joinRoom(ws, a, target),
      leave: async () => {
        if (!a.room) throw new AppError("BAD_REQUEST", "You are not in any room");
        const room = a.room;
        await this.leaveRoom(ws, a);
        return serverFrame("room_left", { room_id: room, conversation_id: room, user_id: a.userId });
      },
      conversation: (id) => conversationStub(this.env, id),
      setStatus: (status) => this.setStatus(a.userId, status),
    };
  }

  /** join_room: leaves the room joined before, joins an open room as POST /rooms/join does, and subscribes this socket to the room's traffic. */
  private async joinRoom(ws: WebSocket, a: SocketAttachment, target: string | undefined) {
    if (!target) throw new AppError("VALIDATION_ERROR", "room_id is required");
    if (a.room && a.room !== target) {
      const previous = a.room;
      await this.leaveRoom(ws, a);
      safeSend(ws, serverFrame("room_left", { room_id: previous, conversation_id: previous, user_id: a.userId }));
    }
    unwrap(await ensureRoomMember(this.env, target, a.userId));
    unwrap(await conversationStub(this.env, target).subscribe(target, a.userId, a.connId));
    a.room = target;
    this.sockets.save(ws, a);
    return serverFrame("room_joined", { room_id: target, conversation_id: target, user_id: a.userId });
  }

  private async leaveRoom(ws: WebSocket, a: SocketAttachment) {
    const room = a.room;
    if (!room) return;
    a.room = null;
    this.sockets.save(ws, a);
    const still = [...this.sockets.entries()].some(([other, o]) => other !== ws && o.room === room);
    await conversationStub(this.env, room).unsubscribe(room, a.userId, a.connId, still);
  }

  async webSocketClose(ws: WebSocket, code: number) {
    await this.closed(ws);
    finishClose(ws, code);
  }

  async webSocketError(ws: WebSocket) {
    await this.closed(ws);
  }

  private async closed(ws: WebSocket) {
    const a = this.sockets.forget(ws);
    if (!a) return;
    if (a.room) {
      const room = a.room;
      const still = [...this.sockets.entries()].some(([other, o]) => other !== ws && o.room === room);
      await conversationStub(this.env, room).unsubscribe(room, a.userId, a.connId, still).catch(() => undefined);
    }
    await this.refreshPresence(a.userId);
  }
}
