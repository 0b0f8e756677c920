import { and, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import { conversations, joinRequests, members, users, workspaceMembers } from "../../db/schema";
import { isUniqueViolation } from "../../db/errors";
import { conflict, forbidden, notFound } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { publicUser } from "../users/users.service";
import { joinOne } from "./group-members.service";
import {
  type Actor,
  type ConversationRow,
  effectiveLimit,
  groupSummary,
  loadGroup,
  managerIds,
  nowIso,
  notifyAll,
  requireRole,
} from "./groups.service";

type RequestRow = typeof joinRequests.$inferSelect;

function requestView(r: RequestRow, g: ConversationRow, u: typeof users.$inferSelect, actor: Actor) {
  return {
    id: r.id,
    group: groupSummary(g, actor.config),
    user: publicUser(u, actor.config),
    reason: r.reason,
    status: r.status,
    created_at: r.createdAt,
  };
}

function pendingOf(actor: Actor, groupId: string, userId: string, kind: RequestRow["kind"]) {
  return actor.db
    .select()
    .from(joinRequests)
    .where(and(eq(joinRequests.conversationId, groupId), eq(joinRequests.userId, userId), eq(joinRequests.kind, kind), eq(joinRequests.status, "pending")))
    .get();
}

/**
 * Join by the group's policy: open joins at once, approval files a request for the owner and admins, invite-only
 * refuses. A pending invitation is accepted instead, whatever the policy. Groups inside a workspace are joined by
 * its members only (an invitation still works).
 */
export async function joinGroup(actor: Actor, groupId: string, reason: string | undefined) {
  const { db } = actor;
  const { group, me } = await loadGroup(db, groupId, actor.userId);
  if (me) throw conflict("Already a member of this group");
  const [invite, request] = await Promise.all([pendingOf(actor, groupId, actor.userId, "invite"), pendingOf(actor, groupId, actor.userId, "request")]);
  if (invite) return acceptInvitation(actor, groupId);
  if (group.workspaceId) {
    const inWorkspace = await db
      .select({ userId: workspaceMembers.userId })
      .from(workspaceMembers)
      .where(and(eq(workspaceMembers.workspaceId, group.workspaceId), eq(workspaceMembers.userId, actor.userId)))
      .get();
    if (!inWorkspace) throw forbidden("Join the workspace before joining its groups");
  }
  if (request) throw conflict("Your join request to this group is already pending");
  if (group.joinPolicy === "invite") throw forbidden("This group is invite-only");
  if (group.joinPolicy === "open") {
    const joinedAt = await joinOne(actor, groupId, actor.userId, actor.userId);
    return { group_id: groupId, user_id: actor.userId, state: "joined" as const, joined_at: joinedAt, request_id: null };
  }
  if (group.memberCount >= effectiveLimit(group, actor.config)) throw conflict("This group is full");
  const id = newId("jr");
  try {
    await db.insert(joinRequests).values({ id, conversationId: groupId, userId: actor.userId, kind: "request", reason: reason || null, createdAt: nowIso() });
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict("Your join request to this group is already pending");
    throw err;
  }
  const managers = await managerIds(db, groupId);
  await notifyAll(
    actor,
    managers.map((userId) => ({
      userId,
      kind: "group_join_request" as const,
      actorId: actor.userId,
      subjectId: groupId,
      data: { group_id: groupId, name: group.name, request_id: id, reason: reason || null },
    })),
  );
  return { group_id: groupId, user_id: actor.userId, state: "pending" as const, joined_at: null, request_id: id };
}

export async function acceptInvitation(actor: Actor, groupId: string) {
  const { group, me } = await loadGroup(actor.db, groupId, actor.userId);
  const invite = await pendingOf(actor, groupId, actor.userId, "invite");
  if (!invite) throw notFound("Pending invitation to this group");
  if (me) throw conflict("Already a member of this group");
  const joinedAt = await joinOne(actor, groupId, actor.userId, actor.userId);
  if (invite.inviterId) {
    await notifyAll(actor, [
      {
        userId: invite.inviterId,
        kind: "group_joined",
        actorId: actor.userId,
        subjectId: groupId,
        data: { group_id: groupId, name: group.name, user_id: actor.userId, accepted_invitation: true },
      },
    ]);
  }
  return { group_id: groupId, user_id: actor.userId, state: "joined" as const, joined_at: joinedAt, request_id: invite.id };
}

export async function declineInvitation(actor: Actor, groupId: string) {
  await loadGroup(actor.db, groupId, actor.userId);
  const [row] = await actor.db
    .update(joinRequests)
    .set({ status: "rejected", handledBy: actor.userId, handledAt: nowIso() })
    .where(
      and(
        eq(joinRequests.conversationId, groupId),
        eq(joinRequests.userId, actor.userId),
        eq(joinRequests.kind, "invite"),
        eq(joinRequests.status, "pending"),
      ),
    )
    .returning();
  if (!row) throw notFound("Pending invitation to this group");
  return { group_id: groupId, user_id: actor.userId, status: "declined" as const };
}

/** Pending requests of one group, oldest first (owner and admins). */
export async function groupRequests(actor: Actor, groupId: string, limit: number, offset: number) {
  const { db } = actor;
  const access = await loadGroup(db, groupId, actor.userId);
  requireRole(access, ["owner", "admin"], "review join requests");
  const where = and(eq(joinRequests.conversationId, groupId), eq(joinRequests.kind, "request"), eq(joinRequests.status, "pending"));
  const [rows, count] = await Promise.all([
    db
      .select({ r: joinRequests, u: users })
      .from(joinRequests)
      .innerJoin(users, eq(users.id, joinRequests.userId))
      .where(where)
      .orderBy(joinRequests.createdAt, joinRequests.id)
      .limit(limit)
      .offset(offset),
    db.select({ total: sql<number>`count(*)` }).from(joinRequests).where(where),
  ]);
  return { requests: rows.map((r) => requestView(r.r, access.group, r.u, actor)), total: count[0]?.total ?? 0, limit, offset };
}

/** 004's approval list: pending requests across every live group I own or administer, newest first. */
export async function managedRequests(actor: Actor, limit: number, offset: number) {
  const { db } = actor;
  const where = and(
    eq(joinRequests.kind, "request"),
    eq(joinRequests.status, "pending"),
    isNull(conversations.dissolvedAt),
    eq(members.userId, actor.userId),
    inArray(members.role, ["owner", "admin"]),
  );
  const base = () =>
    db
      .select({ r: joinRequests, g: conversations, u: users })
      .from(joinRequests)
      .innerJoin(members, eq(members.conversationId, joinRequests.conversationId))
      .innerJoin(conversations, eq(conversations.id, joinRequests.conversationId))
      .innerJoin(users, eq(users.id, joinRequests.userId));
  const [rows, count] = await Promise.all([
    base().where(where).orderBy(desc(joinRequests.createdAt), desc(joinRequests.id)).limit(limit).offset(offset),
    db
      .select({ total: sql<number>`count(*)` })
      .from(joinRequests)
      .innerJoin(members, eq(members.conversationId, joinRequests.conversationId))
      .innerJoin(conversations, eq(conversations.id, joinRequests.conversationId))
      .where(where),
  ]);
  return { requests: rows.map((r) => requestView(r.r, r.g, r.u, actor)), total: count[0]?.total ?? 0, limit, offset };
}

export async function approveRequest(actor: Actor, groupId: string, userId: string) {
  const access = await loadGroup(actor.db, groupId, actor.userId);
  requireRole(access, ["owner", "admin"], "approve join requests");
  const request = await pendingOf(actor, groupId, userId, "request");
  if (!request) throw notFound("Pending join request");
  const joinedAt = await joinOne(actor, groupId, userId, actor.userId);
  await notifyAll(actor, [
    {
      userId,
      kind: "group_join_approved",
      actorId: actor.userId,
      subjectId: groupId,
      data: { group_id: groupId, name: access.group.name, request_id: request.id },
    },
  ]);
  return { group_id: groupId, user_id: userId, request_id: request.id, status: "approved" as const, joined_at: joinedAt, reason: null };
}

export async function rejectRequest(actor: Actor, groupId: string, userId: string, reason: string | undefined) {
  const access = await loadGroup(actor.db, groupId, actor.userId);
  requireRole(access, ["owner", "admin"], "reject join requests");
  const [row] = await actor.db
    .update(joinRequests)
    .set({ status: "rejected", rejectReason: reason || null, handledBy: actor.userId, handledAt: nowIso() })
    .where(
      and(eq(joinRequests.conversationId, groupId), eq(joinRequests.userId, userId), eq(joinRequests.kind, "request"), eq(joinRequests.status, "pending")),
    )
    .returning();
  if (!row) throw notFound("Pending join request");
  await notifyAll(actor, [
    {
      userId,
      kind: "group_join_rejected",
      actorId: actor.userId,
      subjectId: groupId,
      data: { group_id: groupId, name: access.group.name, request_id: row.id, reason: row.rejectReason },
    },
  ]);
  return { group_id: groupId, user_id: userId, request_id: row.id, status: "rejected" as const, joined_at: null, reason: row.rejectReason };
}
