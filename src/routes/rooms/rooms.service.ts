import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../../env";
import { conversations, members } from "../../db/schema";
import { conflict, forbidden, notFound } from "../../lib/errors";
import { newId } from "../../lib/ids";
import {
  announce,
  type Actor,
  type ConversationRow,
  explainRefusedJoin,
  insertMember,
  memberIds,
  nowIso,
  notifyAll,
  refreshMemberCount,
} from "../groups/groups.service";
import { changes, d1Batch } from "../../db/batch";

export function roomView(r: ConversationRow) {
  return { id: r.id, name: r.name ?? "", description: r.description ?? "", creator_id: r.creatorId ?? "", created_at: r.createdAt };
}

export const roomListItem = (r: ConversationRow) => ({ ...roomView(r), member_count: r.memberCount });

async function requireRoom(actor: Actor, roomId: string) {
  const room = await actor.db
    .select()
    .from(conversations)
    .where(and(eq(conversations.id, roomId), eq(conversations.kind, "room")))
    .get();
  if (!room) throw notFound("Room");
  return room;
}

function requireCreator(actor: Actor, room: ConversationRow, action: string) {
  if (room.creatorId !== actor.userId) throw forbidden(`Only the room creator can ${action} it`);
}

/** Seed 001 rooms: open to anyone signed in; the creator joins at once and alone may edit or delete the room. */
export async function createRoom(actor: Actor, input: { name: string; description?: string }) {
  const { db, config } = actor;
  const id = newId("room");
  const now = nowIso();
  const [inserted] = await db.batch([
    db
      .insert(conversations)
      .values({
        id,
        kind: "room",
        name: input.name,
        description: input.description ?? "",
        creatorId: actor.userId,
        ownerId: actor.userId,
        visibility: "public",
        joinPolicy: "open",
        memberLimit: config.chatgroup_members_limit,
        memberCount: 1,
        createdAt: now,
        updatedAt: now,
      })
      .returning(),
    db.insert(members).values({ conversationId: id, userId: actor.userId, role: "owner", joinedAt: now }),
  ]);
  await announce(actor.env, id, { type: "created" });
  return roomView(inserted[0]);
}

/**
 * GET /rooms is public (seed 001 marks it so): anyone sees every room; a signed-in viewer also learns
 * which ones they have joined.
 */
export async function listRooms(db: Db, viewerId: string | null, limit: number, offset: number) {
  const [rows, count] = await db.batch([
    db
      .select()
      .from(conversations)
      .where(eq(conversations.kind, "room"))
      .orderBy(asc(conversations.createdAt), asc(conversations.id))
      .limit(limit)
      .offset(offset),
    db.select({ total: sql<number>`count(*)` }).from(conversations).where(eq(conversations.kind, "room")),
  ]);
  let joined: Set<string> | null = null;
  if (viewerId && rows.length) {
    const mine = await db
      .select({ id: members.conversationId })
      .from(members)
      .where(and(eq(members.userId, viewerId), inArray(members.conversationId, rows.map((r) => r.id))));
    joined = new Set(mine.map((m) => m.id));
  }
  const items = rows.map((r) => (joined ? { ...roomListItem(r), joined: joined.has(r.id) } : roomListItem(r)));
  return { rooms: items, count: rows.length, total: count[0]?.total ?? 0, limit, offset };
}

/** Joining a room I am already in answers with my original join (001 clients join on every visit). */
export async function joinRoom(actor: Actor, roomId: string) {
  const { db } = actor;
  await requireRoom(actor, roomId);
  const existing = await db
    .select({ joinedAt: members.joinedAt })
    .from(members)
    .where(and(eq(members.conversationId, roomId), eq(members.userId, actor.userId)))
    .get();
  if (existing) return { room_id: roomId, user_id: actor.userId, joined_at: existing.joinedAt };
  const joinedAt = nowIso();
  const [inserted] = await d1Batch(actor.env, [insertMember(roomId, actor.userId, "member", actor.config, joinedAt), refreshMemberCount(roomId)]);
  if (!changes(inserted)) await explainRefusedJoin(db, roomId, actor.userId, "room");
  await announce(actor.env, roomId, { type: "joined", user_id: actor.userId });
  return { room_id: roomId, user_id: actor.userId, joined_at: joinedAt };
}

export async function leaveRoom(actor: Actor, roomId: string) {
  const { db } = actor;
  await requireRoom(actor, roomId);
  const [removed] = await d1Batch(actor.env, [
    db.delete(members).where(and(eq(members.conversationId, roomId), eq(members.userId, actor.userId))),
    refreshMemberCount(roomId),
  ]);
  if (!changes(removed)) throw conflict("You are not in this room");
  await announce(actor.env, roomId, { type: "left", user_id: actor.userId });
  return { room_id: roomId, user_id: actor.userId };
}

export async function updateRoomDescription(actor: Actor, roomId: string, description: string) {
  const room = await requireRoom(actor, roomId);
  requireCreator(actor, room, "update");
  await actor.db.update(conversations).set({ description, updatedAt: nowIso() }).where(eq(conversations.id, roomId));
  await announce(actor.env, roomId, { type: "settings", by: actor.userId });
  return { room_id: roomId, new_description: description, updated_by: actor.userId };
}

/** Deleting removes the room with its memberships; the members still in it are notified. */
export async function deleteRoom(actor: Actor, roomId: string) {
  const room = await requireRoom(actor, roomId);
  requireCreator(actor, room, "delete");
  const everyone = await memberIds(actor.db, roomId);
  const deleted = await actor.db.delete(conversations).where(eq(conversations.id, roomId)).returning({ id: conversations.id });
  if (!deleted.length) throw notFound("Room");
  await notifyAll(
    actor,
    everyone.map((userId) => ({
      userId,
      kind: "group_dissolved" as const,
      actorId: actor.userId,
      subjectId: roomId,
      data: { room_id: roomId, name: room.name, conversation_kind: "room" },
    })),
  );
  await announce(actor.env, roomId, { type: "deleted", by: actor.userId });
  return { room_id: roomId, deleted_by: actor.userId };
}
