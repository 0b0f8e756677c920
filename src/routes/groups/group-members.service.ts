import { and, asc, eq, inArray, sql } from "drizzle-orm";
import { blocks, friendships, joinRequests, members, users } from "../../db/schema";
import type { Config } from "../../lib/config";
import { badRequest, conflict, forbidden, notFound } from "../../lib/errors";
import { newId } from "../../lib/ids";
import type { NotificationInput } from "../../lib/notify";
import { publicUser, type UserRow } from "../users/users.service";
import {
  announce,
  type Actor,
  effectiveLimit,
  explainRefusedJoin,
  insertMember,
  isManager,
  isMuted,
  loadGroup,
  type MemberRow,
  nowIso,
  notifyAll,
  refreshMemberCount,
  requireRole,
  type Role,
} from "./groups.service";
import { changes, d1Batch, type Statement } from "../../db/batch";

export function memberView(m: MemberRow, u: UserRow, config: Config) {
  const muted = isMuted(m);
  return {
    user: publicUser(u, config),
    role: m.role,
    nickname: m.nickname,
    joined_at: m.joinedAt,
    muted_until: muted ? m.mutedUntil : null,
    is_muted: muted,
  };
}

/** Marks every pending request or invitation of a user who is now a member as approved (same batch as the join). */
export function resolvePending(groupId: string, userId: string, handledBy: string) {
  const now = nowIso();
  return sql`
    UPDATE join_requests SET status = 'approved', handled_by = ${handledBy}, handled_at = ${now}
    WHERE conversation_id = ${groupId} AND user_id = ${userId} AND status = 'pending'
      AND EXISTS (SELECT 1 FROM members WHERE conversation_id = ${groupId} AND user_id = ${userId})`;
}

/** Adds one user through the limit guard, resolving their pending rows; throws 409 with the reason when refused. */
export async function joinOne(actor: Actor, groupId: string, userId: string, handledBy: string) {
  const joinedAt = nowIso();
  const [inserted] = await d1Batch(actor.env, [
    insertMember(groupId, userId, "member", actor.config, joinedAt),
    resolvePending(groupId, userId, handledBy),
    refreshMemberCount(groupId),
  ]);
  if (!changes(inserted)) await explainRefusedJoin(actor.db, groupId, userId);
  await announce(actor.env, groupId, { type: "joined", user_id: userId });
  return joinedAt;
}

const roleOrder = sql`CASE ${members.role} WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END`;

/** The member list with 002's statistics; hidden lists are for the owner and admins only, private groups for members only. */
export async function listMembers(actor: Actor, groupId: string, limit: number, offset: number) {
  const { db, config } = actor;
  const { group, me } = await loadGroup(db, groupId, actor.userId);
  if (!me && group.visibility === "private") throw forbidden("This group is private");
  if (!group.memberListVisible && !isManager(me)) throw forbidden("The member list of this group is visible to its owner and admins only");
  const [rows, stats] = await Promise.all([
    db
      .select({ m: members, u: users })
      .from(members)
      .innerJoin(users, eq(users.id, members.userId))
      .where(eq(members.conversationId, groupId))
      .orderBy(roleOrder, asc(members.joinedAt), asc(members.userId))
      .limit(limit)
      .offset(offset),
    db
      .select({
        total: sql<number>`count(*)`,
        male: sql<number>`coalesce(sum(${users.gender} = 'male'), 0)`,
        female: sql<number>`coalesce(sum(${users.gender} = 'female'), 0)`,
        unknown: sql<number>`coalesce(sum(${users.gender} = 'unknown'), 0)`,
        born_2000s: sql<number>`coalesce(sum(${users.birthday} >= '2000-01-01' AND ${users.birthday} < '2010-01-01'), 0)`,
      })
      .from(members)
      .innerJoin(users, eq(users.id, members.userId))
      .where(eq(members.conversationId, groupId)),
  ]);
  return {
    members: rows.map((r) => memberView(r.m, r.u, config)),
    statistics: stats[0],
    total: stats[0].total,
    limit,
    offset,
  };
}

async function requireMemberRow(actor: Actor, groupId: string, userId: string) {
  const row = await actor.db
    .select({ m: members, u: users })
    .from(members)
    .innerJoin(users, eq(users.id, members.userId))
    .where(and(eq(members.conversationId, groupId), eq(members.userId, userId)))
    .get();
  if (!row) throw notFound("Member");
  return row;
}

/** Which roles an actor may moderate (kick, mute): the owner everyone else, an admin plain members. */
const moderatable = (role: Role): Role[] => (role === "owner" ? ["admin", "member"] : role === "admin" ? ["member"] : []);

export async function updateMember(
  actor: Actor,
  groupId: string,
  targetId: string,
  input: { role?: "admin" | "member"; muted_minutes?: number; nickname?: string | null },
) {
  const { db, config } = actor;
  const access = await loadGroup(db, groupId, actor.userId);
  const me = requireRole(access, ["owner", "admin", "member"], "change members");
  const target = await requireMemberRow(actor, groupId, targetId);
  const self = targetId === actor.userId;
  if (input.nickname !== undefined && !self) throw forbidden("You can only set your own nickname in a group");
  if (input.role !== undefined) {
    if (me.role !== "owner") throw forbidden("Only the group owner can set or unset admins");
    if (target.m.role === "owner") throw forbidden("The owner's role changes only by transferring ownership");
  }
  if (input.muted_minutes !== undefined) {
    if (!isManager(me)) throw forbidden("Only the group owner or an admin can mute members");
    if (self) throw forbidden("You cannot mute or unmute yourself");
    if (!moderatable(me.role).includes(target.m.role)) {
      throw forbidden(me.role === "admin" ? "Admins can mute plain members only" : "The group owner cannot be muted");
    }
  }

  const set: Partial<MemberRow> = {};
  if (input.role !== undefined) set.role = input.role;
  if (input.nickname !== undefined) set.nickname = input.nickname;
  let mutedUntil: string | null | undefined;
  if (input.muted_minutes !== undefined) {
    mutedUntil = input.muted_minutes > 0 ? new Date(Date.now() + input.muted_minutes * 60_000).toISOString() : null;
    set.mutedUntil = mutedUntil;
  }
  // Guarded by the role the checks saw, so a concurrent role change cannot be overridden.
  const [row] = await db
    .update(members)
    .set(set)
    .where(and(eq(members.conversationId, groupId), eq(members.userId, targetId), eq(members.role, target.m.role)))
    .returning();
  if (!row) throw conflict("The member changed meanwhile; reload and try again");

  const notices: NotificationInput[] = [];
  const subject = { actorId: actor.userId, subjectId: groupId };
  if (input.role !== undefined && input.role !== target.m.role) {
    notices.push({ userId: targetId, kind: "group_role_changed", ...subject, data: { group_id: groupId, role: input.role } });
  }
  if (mutedUntil) {
    notices.push({ userId: targetId, kind: "group_muted", ...subject, data: { group_id: groupId, muted_until: mutedUntil, minutes: input.muted_minutes } });
  } else if (mutedUntil === null && isMuted(target.m)) {
    notices.push({ userId: targetId, kind: "group_unmuted", ...subject, data: { group_id: groupId } });
  }
  await notifyAll(actor, notices);
  await announce(actor.env, groupId, { type: "member", user_id: targetId, role: row.role, muted_until: row.mutedUntil });
  return memberView(row, target.u, config);
}

/** Kick: the owner removes anyone but themself, an admin removes plain members. */
export async function kickMember(actor: Actor, groupId: string, targetId: string) {
  const { db } = actor;
  const access = await loadGroup(db, groupId, actor.userId);
  const me = requireRole(access, ["owner", "admin"], "remove members");
  if (targetId === actor.userId) throw forbidden("You cannot remove yourself; leave the group instead");
  const target = await requireMemberRow(actor, groupId, targetId);
  const allowed = moderatable(me.role);
  if (!allowed.includes(target.m.role)) {
    throw forbidden(target.m.role === "owner" ? "The group owner cannot be removed" : "Admins can remove plain members only");
  }
  const [removed] = await d1Batch(actor.env, [
    db.delete(members).where(and(eq(members.conversationId, groupId), eq(members.userId, targetId), inArray(members.role, allowed))),
    refreshMemberCount(groupId),
  ]);
  if (!changes(removed)) throw conflict("The member changed meanwhile; reload and try again");
  await notifyAll(actor, [
    { userId: targetId, kind: "group_kicked", actorId: actor.userId, subjectId: groupId, data: { group_id: groupId, name: access.group.name } },
  ]);
  await announce(actor.env, groupId, { type: "kicked", user_id: targetId, by: actor.userId });
  return { group_id: groupId, user_id: targetId, removed_by: actor.userId };
}

/** Exit. The owner of a live group must transfer ownership or dissolve it first; anyone may leave a dissolved group. */
export async function leaveGroup(actor: Actor, groupId: string) {
  const { db } = actor;
  const { group, me } = await loadGroup(db, groupId, actor.userId);
  if (!me) throw conflict("You are not a member of this group");
  if (me.role === "owner" && !group.dissolvedAt) {
    throw conflict("The owner must transfer ownership or dissolve the group before leaving");
  }
  const [removed] = await d1Batch(actor.env, [
    sql`
      DELETE FROM members WHERE conversation_id = ${groupId} AND user_id = ${actor.userId}
        AND (role <> 'owner' OR EXISTS (SELECT 1 FROM conversations WHERE id = ${groupId} AND dissolved_at IS NOT NULL))`,
    refreshMemberCount(groupId),
  ]);
  if (!changes(removed)) throw conflict("Your membership changed meanwhile; reload and try again");
  if (!group.dissolvedAt && group.ownerId) {
    await notifyAll(actor, [
      { userId: group.ownerId, kind: "group_left", actorId: actor.userId, subjectId: groupId, data: { group_id: groupId, user_id: actor.userId } },
    ]);
  }
  await announce(actor.env, groupId, { type: "left", user_id: actor.userId });
  return { group_id: groupId, user_id: actor.userId };
}

/** Transfer: the new owner must already be a member; the previous owner stays on as an admin. */
export async function transferOwnership(actor: Actor, groupId: string, targetId: string) {
  const { db } = actor;
  const access = await loadGroup(db, groupId, actor.userId);
  requireRole(access, ["owner"], "transfer ownership");
  if (targetId === actor.userId) throw badRequest("You already own this group");
  await requireMemberRow(actor, groupId, targetId);
  const now = nowIso();
  const [moved] = await d1Batch(actor.env, [
    sql`
      UPDATE conversations SET owner_id = ${targetId}, updated_at = ${now}
      WHERE id = ${groupId} AND owner_id = ${actor.userId} AND dissolved_at IS NULL
        AND EXISTS (SELECT 1 FROM members WHERE conversation_id = ${groupId} AND user_id = ${targetId})`,
    sql`
      UPDATE members SET role = 'admin' WHERE conversation_id = ${groupId} AND user_id = ${actor.userId} AND role = 'owner'
        AND EXISTS (SELECT 1 FROM conversations WHERE id = ${groupId} AND owner_id = ${targetId})`,
    sql`
      UPDATE members SET role = 'owner', muted_until = NULL WHERE conversation_id = ${groupId} AND user_id = ${targetId}
        AND EXISTS (SELECT 1 FROM conversations WHERE id = ${groupId} AND owner_id = ${targetId})`,
  ]);
  if (!changes(moved)) throw conflict("The group changed meanwhile; reload and try again");
  await notifyAll(actor, [
    {
      userId: targetId,
      kind: "group_owner_transferred",
      actorId: actor.userId,
      subjectId: groupId,
      data: { group_id: groupId, name: access.group.name, previous_owner_id: actor.userId },
    },
  ]);
  await announce(actor.env, groupId, { type: "owner", owner_id: targetId, previous_owner_id: actor.userId });
  return { group_id: groupId, owner_id: targetId, previous_owner_id: actor.userId };
}

type InviteStatus = "joined" | "invited" | "already_member" | "already_invited" | "blocked" | "full";

/**
 * Invite (pull in) users. Members may invite only when the group allows it; the owner and admins always may.
 * Friends of the inviter join at once, and so does a pending requester when a manager invites them (that approves
 * the request); everyone else gets an invitation to accept. Users who blocked the inviter are skipped.
 */
export async function inviteMembers(actor: Actor, groupId: string, userIds: string[]) {
  const { db, config } = actor;
  const access = await loadGroup(db, groupId, actor.userId);
  const me = requireRole(access, ["owner", "admin", "member"], "invite");
  if (me.role === "member" && !access.group.membersCanInvite) throw forbidden("Only the owner and admins can invite to this group");
  const ids = [...new Set(userIds)];
  const [found, existing, pending, friends, blockedMe] = await db.batch([
    db.select({ id: users.id }).from(users).where(and(inArray(users.id, ids), sql`${users.disabledAt} IS NULL`)),
    db.select({ userId: members.userId }).from(members).where(and(eq(members.conversationId, groupId), inArray(members.userId, ids))),
    db
      .select({ userId: joinRequests.userId, kind: joinRequests.kind })
      .from(joinRequests)
      .where(and(eq(joinRequests.conversationId, groupId), inArray(joinRequests.userId, ids), eq(joinRequests.status, "pending"))),
    db.select({ id: friendships.friendId }).from(friendships).where(and(eq(friendships.userId, actor.userId), inArray(friendships.friendId, ids))),
    db.select({ id: blocks.userId }).from(blocks).where(and(inArray(blocks.userId, ids), eq(blocks.blockedUserId, actor.userId))),
  ]);
  const foundIds = new Set(found.map((r) => r.id));
  const missing = ids.find((id) => !foundIds.has(id));
  if (missing) throw notFound(`User ${missing}`);
  const memberSet = new Set(existing.map((r) => r.userId));
  const requested = new Set(pending.filter((p) => p.kind === "request").map((p) => p.userId));
  const invited = new Set(pending.filter((p) => p.kind === "invite").map((p) => p.userId));
  const friendSet = new Set(friends.map((r) => r.id));
  const blockers = new Set(blockedMe.map((r) => r.id));

  const results = new Map<string, InviteStatus>();
  const joiners: string[] = [];
  const invitees: string[] = [];
  for (const id of ids) {
    if (memberSet.has(id)) results.set(id, "already_member");
    else if (blockers.has(id)) results.set(id, "blocked");
    else if (friendSet.has(id) || (requested.has(id) && isManager(me))) joiners.push(id);
    else if (invited.has(id)) results.set(id, "already_invited");
    else invitees.push(id);
  }
  if (joiners.length && access.group.memberCount + joiners.length > effectiveLimit(access.group, config)) {
    throw conflict(`This group is full (limit ${effectiveLimit(access.group, config)})`);
  }

  const now = nowIso();
  const statements: Statement[] = [];
  for (const id of joiners) statements.push(insertMember(groupId, id, "member", config, now), resolvePending(groupId, id, actor.userId));
  for (const id of invitees) {
    statements.push(
      db
        .insert(joinRequests)
        .values({ id: newId("jr"), conversationId: groupId, userId: id, kind: "invite", inviterId: actor.userId, createdAt: now })
        .onConflictDoNothing(),
    );
  }
  if (joiners.length) statements.push(refreshMemberCount(groupId));
  const outcome = statements.length ? await d1Batch(actor.env, statements) : [];
  joiners.forEach((id, i) => results.set(id, changes(outcome[i * 2]) ? "joined" : "full"));
  invitees.forEach((id) => results.set(id, "invited"));

  const data = { group_id: groupId, name: access.group.name, inviter_id: actor.userId };
  const notices: NotificationInput[] = [];
  for (const id of joiners) {
    if (results.get(id) !== "joined") continue;
    const kind = requested.has(id) ? "group_join_approved" : "group_joined";
    notices.push({ userId: id, kind, actorId: actor.userId, subjectId: groupId, data });
  }
  for (const id of invitees) notices.push({ userId: id, kind: "group_invite", actorId: actor.userId, subjectId: groupId, data });
  await notifyAll(actor, notices);
  const added = joiners.filter((id) => results.get(id) === "joined");
  if (added.length) await announce(actor.env, groupId, { type: "joined", user_ids: added, by: actor.userId });
  return { results: ids.map((id) => ({ user_id: id, status: results.get(id)! })) };
}
