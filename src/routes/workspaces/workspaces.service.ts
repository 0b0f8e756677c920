import { and, asc, desc, eq, isNotNull, isNull, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import type { Db } from "../../env";
import { activationCodes, conversations, users, workspaceMembers, workspaces } from "../../db/schema";
import { badRequest, conflict, forbidden, notFound } from "../../lib/errors";
import { newId, randomToken } from "../../lib/ids";
import { type Actor, createGroup, listItem, nowIso, notifyAll, type Role } from "../groups/groups.service";
import { changes, d1Batch } from "../../db/batch";
import { publicUser, requireUser, type UserRow } from "../users/users.service";

type WorkspaceRow = typeof workspaces.$inferSelect;
type CodeRow = typeof activationCodes.$inferSelect;

export function codeView(r: CodeRow) {
  return {
    code: r.code,
    used: r.workspaceId !== null || r.usedBy !== null,
    used_by: r.usedBy,
    used_at: r.usedAt,
    workspace_id: r.workspaceId,
    created_by: r.createdBy,
    created_at: r.createdAt,
  };
}

/** Admin: issue single-use activation codes for workspaces. */
export async function issueActivationCodes(db: Db, adminId: string, count: number) {
  const now = nowIso();
  const rows = Array.from({ length: count }, () => ({ code: randomToken(16).toUpperCase(), createdBy: adminId, createdAt: now }));
  const inserted = await db.insert(activationCodes).values(rows).returning();
  return inserted.map(codeView);
}

export async function listActivationCodes(db: Db, status: "all" | "used" | "unused", limit: number, offset: number) {
  const where = status === "used" ? isNotNull(activationCodes.workspaceId) : status === "unused" ? isNull(activationCodes.workspaceId) : undefined;
  const [rows, count] = await db.batch([
    db.select().from(activationCodes).where(where).orderBy(desc(activationCodes.createdAt), desc(activationCodes.code)).limit(limit).offset(offset),
    db.select({ total: sql<number>`count(*)` }).from(activationCodes).where(where),
  ]);
  return { activation_codes: rows.map(codeView), total: count[0]?.total ?? 0, limit, offset };
}

const memberCount = sql<number>`(SELECT count(*) FROM workspace_members wm WHERE wm.workspace_id = ${workspaces.id})`;
const support = alias(users, "support");

function workspaceView(w: WorkspaceRow, supportUser: UserRow | null, count: number, myJoin: { joined: boolean }, actor: Actor) {
  return {
    id: w.id,
    name: w.name,
    icon: w.icon,
    owner_id: w.ownerId,
    support_user: supportUser ? publicUser(supportUser, actor.config) : null,
    member_count: count,
    joined: myJoin.joined,
    my_role: myJoin.joined ? (w.ownerId === actor.userId ? ("owner" as const) : ("member" as const)) : null,
    created_at: w.createdAt,
  };
}

const amMember = (me: string) =>
  sql<number>`EXISTS (SELECT 1 FROM workspace_members wm WHERE wm.workspace_id = ${workspaces.id} AND wm.user_id = ${me})`;

async function loadWorkspace(actor: Actor, workspaceId: string) {
  const row = await actor.db
    .select({ w: workspaces, support, count: memberCount, joined: amMember(actor.userId) })
    .from(workspaces)
    .leftJoin(support, eq(support.id, workspaces.supportUserId))
    .where(eq(workspaces.id, workspaceId))
    .get();
  if (!row) throw notFound("Workspace");
  return { ...row, joined: Boolean(row.joined) };
}

/**
 * 003's "create merchant page": consumes an unused activation code and creates the workspace with me as owner and
 * first member, all in one batch whose inserts only happen if this request's update claimed the code.
 */
export async function createWorkspace(actor: Actor, input: { activation_code: string; name: string; icon: string; support_user_id: string }) {
  const { db } = actor;
  const supportUser = await requireUser(db, input.support_user_id);
  const code = input.activation_code.trim().toUpperCase();
  const id = newId("ws");
  const now = nowIso();
  const [claimed] = await d1Batch(actor.env, [
    sql`
      UPDATE activation_codes SET used_by = ${actor.userId}, used_at = ${now}, workspace_id = ${id}
      WHERE code = ${code} AND used_by IS NULL AND workspace_id IS NULL`,
    sql`
      INSERT INTO workspaces (id, owner_id, name, icon, support_user_id, activation_code, created_at)
      SELECT ${id}, ${actor.userId}, ${input.name}, ${input.icon}, ${supportUser.id}, ${code}, ${now}
      WHERE EXISTS (SELECT 1 FROM activation_codes WHERE code = ${code} AND workspace_id = ${id})`,
    sql`
      INSERT INTO workspace_members (workspace_id, user_id, joined_at)
      SELECT ${id}, ${actor.userId}, ${now} WHERE EXISTS (SELECT 1 FROM workspaces WHERE id = ${id})`,
  ]);
  if (!changes(claimed)) {
    const known = await db.select({ code: activationCodes.code }).from(activationCodes).where(eq(activationCodes.code, code)).get();
    if (!known) throw badRequest("The activation code is not valid");
    throw conflict("The activation code has already been used");
  }
  const row = await loadWorkspace(actor, id);
  return workspaceView(row.w, row.support, row.count, row, actor);
}

export async function myWorkspaces(actor: Actor, limit: number, offset: number) {
  const { db } = actor;
  const [rows, count] = await Promise.all([
    db
      .select({ w: workspaces, support, count: memberCount })
      .from(workspaceMembers)
      .innerJoin(workspaces, eq(workspaces.id, workspaceMembers.workspaceId))
      .leftJoin(support, eq(support.id, workspaces.supportUserId))
      .where(eq(workspaceMembers.userId, actor.userId))
      .orderBy(desc(workspaceMembers.joinedAt), desc(workspaces.id))
      .limit(limit)
      .offset(offset),
    db.select({ total: sql<number>`count(*)` }).from(workspaceMembers).where(eq(workspaceMembers.userId, actor.userId)),
  ]);
  return {
    workspaces: rows.map((r) => workspaceView(r.w, r.support, r.count, { joined: true }, actor)),
    total: count[0]?.total ?? 0,
    limit,
    offset,
  };
}

/** Any signed-in user may look at a workspace (to decide to join it). */
export async function getWorkspace(actor: Actor, workspaceId: string) {
  const row = await loadWorkspace(actor, workspaceId);
  return workspaceView(row.w, row.support, row.count, row, actor);
}

export async function joinWorkspace(actor: Actor, workspaceId: string) {
  const row = await loadWorkspace(actor, workspaceId);
  const joinedAt = nowIso();
  const inserted = await actor.db
    .insert(workspaceMembers)
    .values({ workspaceId, userId: actor.userId, joinedAt })
    .onConflictDoNothing()
    .returning({ userId: workspaceMembers.userId });
  if (!inserted.length) throw conflict("Already a member of this workspace");
  await notifyAll(actor, [
    {
      userId: row.w.ownerId,
      kind: "workspace_joined",
      actorId: actor.userId,
      subjectId: workspaceId,
      data: { workspace_id: workspaceId, name: row.w.name, user_id: actor.userId },
    },
  ]);
  return { workspace_id: workspaceId, user_id: actor.userId, joined_at: joinedAt };
}

/** 003's group list: the workspace's live groups with my joined state; for workspace members only. */
export async function workspaceGroups(actor: Actor, workspaceId: string, limit: number, offset: number) {
  const row = await loadWorkspace(actor, workspaceId);
  if (!row.joined) throw forbidden("Join the workspace to see its groups");
  const where = and(eq(conversations.workspaceId, workspaceId), eq(conversations.kind, "group"), isNull(conversations.dissolvedAt));
  const myRole = sql<Role | null>`(SELECT role FROM members WHERE conversation_id = ${conversations.id} AND user_id = ${actor.userId})`;
  const [rows, count] = await actor.db.batch([
    actor.db
      .select({ g: conversations, role: myRole })
      .from(conversations)
      .where(where)
      .orderBy(asc(conversations.createdAt), asc(conversations.id))
      .limit(limit)
      .offset(offset),
    actor.db.select({ total: sql<number>`count(*)` }).from(conversations).where(where),
  ]);
  return {
    groups: rows.map((r) => ({ ...listItem(r.g, r.role, actor.config), joined: r.role !== null, state: r.role !== null ? (1 as const) : (0 as const) })),
    total: count[0]?.total ?? 0,
    limit,
    offset,
  };
}

/** Only the workspace owner creates its groups; the operator's create_chatgroup switch does not apply (the code was the grant). */
export async function createWorkspaceGroup(actor: Actor, workspaceId: string, input: Parameters<typeof createGroup>[1]) {
  const row = await loadWorkspace(actor, workspaceId);
  if (row.w.ownerId !== actor.userId) throw forbidden("Only the workspace owner can create groups in it");
  return createGroup(actor, input, workspaceId);
}
