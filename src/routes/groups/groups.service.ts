import { and, asc, desc, eq, gte, inArray, isNull, lte, or, sql } from "drizzle-orm";
import type { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { alias } from "drizzle-orm/sqlite-core";
import type { AppEnv, Db, Env } from "../../env";
import { conversations, joinRequests, members } from "../../db/schema";
import type { Config } from "../../lib/config";
import { AppError, badRequest, conflict, forbidden, notFound } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { notify, type NotificationInput } from "../../lib/notify";
import { getConfig } from "../../middleware/context";
import { log } from "../../middleware/observability";
import { conversationChanged } from "../../realtime/push";
import { boundingBox, distanceMeters, requireUser } from "../users/users.service";
import type { GroupCreate, GroupUpdate } from "./groups.schemas";

export type ConversationRow = typeof conversations.$inferSelect;
export type MemberRow = typeof members.$inferSelect;
export type Role = MemberRow["role"];

/** Who is acting, with what they need: env for notifications and the conversation objects, db, operator config. */
export interface Actor {
  env: Env;
  db: Db;
  config: Config;
  userId: string;
  isAdmin: boolean;
}

export async function actorOf(c: Context<AppEnv>): Promise<Actor> {
  return { env: c.env, db: c.var.db, config: await getConfig(c), userId: c.var.user.id, isAdmin: c.var.user.isAdmin };
}

export const nowIso = () => new Date().toISOString();

export const isMuted = (m: Pick<MemberRow, "mutedUntil">, now = Date.now()) => m.mutedUntil !== null && Date.parse(m.mutedUntil) > now;

/** The limit joins are held to: the group's own, never above the operator's current `chatgroup_members_limit`. */
export const effectiveLimit = (g: ConversationRow, config: Config) => Math.min(g.memberLimit, config.chatgroup_members_limit);

export const isManager = (m: MemberRow | undefined) => m?.role === "owner" || m?.role === "admin";

/** Tells the conversation's Durable Object to reload its members; D1 already holds the change, so a failed call is logged, not thrown. */
export async function announce(env: Env, conversationId: string, change: Record<string, unknown>) {
  try {
    await conversationChanged(env, conversationId, change);
  } catch (err) {
    log("error", "conversation change not delivered", { conversation_id: conversationId, change: change.type, error: String(err) });
  }
}

/**
 * Adds a member only while the conversation is live and below its limit; the limit is checked against the live row
 * count inside the statement, so concurrent or batched joins can never overshoot it. `INSERT OR IGNORE` keeps an
 * existing membership untouched.
 */
export function insertMember(conversationId: string, userId: string, role: Role, config: Config, joinedAt: string) {
  return sql`
    INSERT OR IGNORE INTO members (conversation_id, user_id, role, joined_at, joined_seq)
    SELECT c.id, ${userId}, ${role}, ${joinedAt}, c.last_seq FROM conversations c
    WHERE c.id = ${conversationId} AND c.dissolved_at IS NULL
      AND (SELECT count(*) FROM members m WHERE m.conversation_id = c.id) < MIN(c.member_limit, ${config.chatgroup_members_limit})`;
}

/** Recounts member_count from the member rows, in the same batch as the change that moved it. */
export function refreshMemberCount(conversationId: string) {
  return sql`UPDATE conversations SET member_count = (SELECT count(*) FROM members WHERE conversation_id = ${conversationId}) WHERE id = ${conversationId}`;
}

/** Explains why a guarded insert added nobody. */
export async function explainRefusedJoin(db: Db, conversationId: string, userId: string, what = "group"): Promise<never> {
  const [conv, me] = await db.batch([
    db.select().from(conversations).where(eq(conversations.id, conversationId)),
    db.select().from(members).where(and(eq(members.conversationId, conversationId), eq(members.userId, userId))),
  ]);
  if (!conv[0]) throw notFound(what === "room" ? "Room" : "Group");
  if (me[0]) throw conflict(`Already a member of this ${what}`);
  if (conv[0].dissolvedAt) throw conflict("This group has been dissolved");
  throw conflict(`This ${what} is full`);
}

export async function managerIds(db: Db, conversationId: string) {
  const rows = await db
    .select({ userId: members.userId })
    .from(members)
    .where(and(eq(members.conversationId, conversationId), inArray(members.role, ["owner", "admin"])));
  return rows.map((r) => r.userId);
}

export async function memberIds(db: Db, conversationId: string) {
  const rows = await db.select({ userId: members.userId }).from(members).where(eq(members.conversationId, conversationId));
  return rows.map((r) => r.userId);
}

/** Notifies everyone affected except the actor, who already knows. */
export async function notifyAll(actor: Actor, inputs: NotificationInput[]) {
  await notify(actor.env, actor.db, inputs.filter((n) => n.userId !== actor.userId));
}

export function groupView(g: ConversationRow, config: Config) {
  return {
    id: g.id,
    name: g.name ?? "",
    description: g.description,
    avatar: g.avatar,
    icon: g.icon,
    owner_id: g.ownerId,
    creator_id: g.creatorId,
    workspace_id: g.workspaceId,
    visibility: g.visibility,
    join_policy: g.joinPolicy,
    members_can_invite: g.membersCanInvite,
    member_list_visible: g.memberListVisible,
    history_visible: g.historyVisible,
    member_limit: effectiveLimit(g, config),
    location: g.lat != null && g.lng != null ? { lat: g.lat, lng: g.lng } : null,
    member_count: g.memberCount,
    dissolved: g.dissolvedAt !== null,
    dissolved_at: g.dissolvedAt,
    created_at: g.createdAt,
    updated_at: g.updatedAt,
  };
}

export const listItem = (g: ConversationRow, role: Role | null, config: Config) => ({ ...groupView(g, config), my_role: role });

export function groupSummary(g: ConversationRow, config: Config) {
  return { id: g.id, name: g.name ?? "", avatar: g.avatar, member_count: g.memberCount, member_limit: effectiveLimit(g, config) };
}

export interface GroupAccess {
  group: ConversationRow;
  me: MemberRow | undefined;
}

/** A group and my membership in one round trip. A dissolved group exists only for its remaining members. */
export async function loadGroup(db: Db, groupId: string, userId: string): Promise<GroupAccess> {
  const [conv, me] = await db.batch([
    db.select().from(conversations).where(and(eq(conversations.id, groupId), eq(conversations.kind, "group"))),
    db.select().from(members).where(and(eq(members.conversationId, groupId), eq(members.userId, userId))),
  ]);
  const group = conv[0];
  if (!group || (group.dissolvedAt && !me[0])) throw notFound("Group");
  return { group, me: me[0] };
}

/** Member of a live group with one of `roles`; the order of checks gives non-members 403, dissolved 409, wrong role 403. */
export function requireRole(access: GroupAccess, roles: Role[], action: string): MemberRow {
  if (!access.me) throw forbidden("You are not a member of this group");
  if (access.group.dissolvedAt) throw conflict("This group has been dissolved");
  if (!roles.includes(access.me.role)) {
    throw forbidden(`Only the group ${roles.length === 1 ? roles[0] : `${roles.slice(0, -1).join(", ")} or ${roles.at(-1)}`} can ${action}`);
  }
  return access.me;
}

export async function createGroup(actor: Actor, input: z.infer<typeof GroupCreate>, workspaceId: string | null = null) {
  const { db, config } = actor;
  // A workspace's activation code is the operator's grant, so its owner is not held to the create_chatgroup switch.
  if (!workspaceId && !config.create_chatgroup && !actor.isAdmin) throw forbidden("Creating groups is disabled by the operator");
  const limit = checkMemberLimit(input.member_limit, config) ?? config.chatgroup_members_limit;
  const id = newId("grp");
  const now = nowIso();
  const owner: MemberRow = {
    conversationId: id,
    userId: actor.userId,
    role: "owner",
    nickname: null,
    joinedAt: now,
    joinedSeq: 0,
    mutedUntil: null,
    readSeq: 0,
    muted: false,
    pinned: false,
  };
  const [inserted] = await db.batch([
    db
      .insert(conversations)
      .values({
        id,
        kind: "group",
        name: input.name,
        description: input.description ?? null,
        avatar: input.avatar ?? null,
        icon: input.icon ?? null,
        creatorId: actor.userId,
        ownerId: actor.userId,
        visibility: input.visibility ?? "public",
        joinPolicy: input.join_policy ?? "open",
        membersCanInvite: input.members_can_invite ?? true,
        memberListVisible: input.member_list_visible ?? true,
        historyVisible: input.history_visible ?? true,
        memberLimit: limit,
        lat: input.location?.lat ?? null,
        lng: input.location?.lng ?? null,
        workspaceId,
        memberCount: 1,
        createdAt: now,
        updatedAt: now,
      })
      .returning(),
    db.insert(members).values(owner),
  ]);
  await announce(actor.env, id, { type: "created" });
  return detailView(inserted[0], owner, "member", config);
}

function checkMemberLimit(limit: number | undefined, config: Config) {
  if (limit === undefined) return undefined;
  if (limit > config.chatgroup_members_limit) {
    throw new AppError("VALIDATION_ERROR", `member_limit: at most ${config.chatgroup_members_limit} (the operator's chatgroup_members_limit)`, {
      details: [{ path: "member_limit", message: `at most ${config.chatgroup_members_limit}`, code: "too_big" }],
    });
  }
  return limit;
}

export function detailView(g: ConversationRow, me: MemberRow | undefined, state: "member" | "pending" | "invited" | "none", config: Config) {
  const muted = me ? isMuted(me) : false;
  return {
    ...listItem(g, me?.role ?? null, config),
    my_state: state,
    my_nickname: me?.nickname ?? null,
    my_joined_at: me?.joinedAt ?? null,
    my_muted_until: muted ? me!.mutedUntil : null,
    my_is_muted: muted,
  };
}

/** Group info: public groups for anyone signed in; private ones for members and those with a pending request or invitation. */
export async function groupInfo(actor: Actor, groupId: string) {
  const { group, me } = await loadGroup(actor.db, groupId, actor.userId);
  if (me) return detailView(group, me, "member", actor.config);
  const pending = await actor.db
    .select({ kind: joinRequests.kind })
    .from(joinRequests)
    .where(and(eq(joinRequests.conversationId, groupId), eq(joinRequests.userId, actor.userId), eq(joinRequests.status, "pending")));
  const state = pending.some((p) => p.kind === "invite") ? "invited" : pending.length ? "pending" : "none";
  if (group.visibility === "private" && state === "none") throw forbidden("This group is private");
  return detailView(group, undefined, state, actor.config);
}

export async function updateGroup(actor: Actor, groupId: string, input: z.infer<typeof GroupUpdate>) {
  const { db, config } = actor;
  const access = await loadGroup(db, groupId, actor.userId);
  const me = requireRole(access, ["owner", "admin"], "change the group");
  if (me.role !== "owner" && (input.visibility !== undefined || input.member_limit !== undefined)) {
    throw forbidden("Only the group owner can change visibility or member_limit");
  }
  const limit = checkMemberLimit(input.member_limit, config);
  if (limit !== undefined && limit < access.group.memberCount) {
    throw conflict(`member_limit cannot be below the current member count (${access.group.memberCount})`);
  }
  const { location, member_limit: _limit, join_policy, members_can_invite, member_list_visible, history_visible, ...profile } = input;
  const set: Partial<typeof conversations.$inferInsert> = { ...profile, updatedAt: nowIso() };
  if (join_policy !== undefined) set.joinPolicy = join_policy;
  if (members_can_invite !== undefined) set.membersCanInvite = members_can_invite;
  if (member_list_visible !== undefined) set.memberListVisible = member_list_visible;
  if (history_visible !== undefined) set.historyVisible = history_visible;
  if (limit !== undefined) set.memberLimit = limit;
  if (location !== undefined) {
    set.lat = location?.lat ?? null;
    set.lng = location?.lng ?? null;
  }
  const conditions = [eq(conversations.id, groupId), isNull(conversations.dissolvedAt)];
  if (limit !== undefined) conditions.push(lte(conversations.memberCount, limit));
  const [row] = await db.update(conversations).set(set).where(and(...conditions)).returning();
  if (!row) await explainRefusedUpdate(db, groupId);
  await announce(actor.env, groupId, { type: "settings", by: actor.userId });
  return detailView(row, me, "member", config);
}

async function explainRefusedUpdate(db: Db, groupId: string): Promise<never> {
  const g = await db.select().from(conversations).where(eq(conversations.id, groupId)).get();
  if (!g) throw notFound("Group");
  if (g.dissolvedAt) throw conflict("This group has been dissolved");
  throw conflict(`member_limit cannot be below the current member count (${g.memberCount})`);
}

/**
 * Dissolving keeps the group and its members so everyone can still read the history, read-only: nobody can join,
 * post, invite or moderate any more, pending requests and invitations are cancelled, and members may still leave.
 */
export async function dissolveGroup(actor: Actor, groupId: string) {
  const { db } = actor;
  const access = await loadGroup(db, groupId, actor.userId);
  requireRole(access, ["owner"], "dissolve the group");
  const now = nowIso();
  const [updated] = await db.batch([
    db
      .update(conversations)
      .set({ dissolvedAt: now, updatedAt: now })
      .where(and(eq(conversations.id, groupId), isNull(conversations.dissolvedAt), eq(conversations.ownerId, actor.userId)))
      .returning({ id: conversations.id }),
    db
      .update(joinRequests)
      .set({ status: "cancelled", handledAt: now, handledBy: actor.userId })
      .where(
        and(
          eq(joinRequests.conversationId, groupId),
          eq(joinRequests.status, "pending"),
          sql`EXISTS (SELECT 1 FROM conversations WHERE id = ${groupId} AND dissolved_at = ${now})`,
        ),
      ),
  ]);
  if (!updated.length) throw conflict("This group has already been dissolved");
  const everyone = await memberIds(db, groupId);
  await notifyAll(
    actor,
    everyone.map((userId) => ({
      userId,
      kind: "group_dissolved" as const,
      actorId: actor.userId,
      subjectId: groupId,
      data: { group_id: groupId, name: access.group.name },
    })),
  );
  await announce(actor.env, groupId, { type: "dissolved", by: actor.userId });
  return { group_id: groupId, dissolved_at: now };
}

const myRole = (me: string) => sql<Role | null>`(SELECT role FROM members WHERE conversation_id = ${conversations.id} AND user_id = ${me})`;

export async function myGroups(actor: Actor, limit: number, offset: number) {
  const { db } = actor;
  const where = and(eq(members.userId, actor.userId), eq(conversations.kind, "group"));
  const [rows, count] = await Promise.all([
    db
      .select({ g: conversations, role: members.role })
      .from(members)
      .innerJoin(conversations, eq(conversations.id, members.conversationId))
      .where(where)
      .orderBy(desc(members.joinedAt), desc(conversations.id))
      .limit(limit)
      .offset(offset),
    db
      .select({ total: sql<number>`count(*)` })
      .from(members)
      .innerJoin(conversations, eq(conversations.id, members.conversationId))
      .where(where),
  ]);
  return { groups: rows.map((r) => listItem(r.g, r.role, actor.config)), total: count[0]?.total ?? 0, limit, offset };
}

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (m) => `\\${m}`);
const listed = and(eq(conversations.kind, "group"), eq(conversations.visibility, "public"), isNull(conversations.dissolvedAt));

/** Public, live groups whose name contains `q` or whose id is `q`. */
export async function searchGroups(actor: Actor, q: string, limit: number, offset: number) {
  const term = q.trim();
  const rows = await actor.db
    .select({ g: conversations, role: myRole(actor.userId) })
    .from(conversations)
    .where(and(listed, or(eq(conversations.id, term), sql`${conversations.name} LIKE ${`%${likeEscape(term)}%`} ESCAPE '\\'`)))
    .orderBy(sql`CASE WHEN ${conversations.id} = ${term} THEN 0 WHEN ${conversations.name} = ${term} THEN 1 ELSE 2 END`, desc(conversations.memberCount), asc(conversations.id))
    .limit(limit)
    .offset(offset);
  return rows.map((r) => listItem(r.g, r.role, actor.config));
}

/** Public, live groups with a location within `radius` metres, nearest first. */
export async function nearbyGroups(actor: Actor, lat: number, lng: number, radius: number, limit: number) {
  const box = boundingBox(lat, lng, radius);
  const lngCondition =
    box.minLng < -180 || box.maxLng > 180
      ? or(
          gte(conversations.lng, box.minLng < -180 ? box.minLng + 360 : box.minLng),
          lte(conversations.lng, box.maxLng > 180 ? box.maxLng - 360 : box.maxLng),
        )
      : and(gte(conversations.lng, box.minLng), lte(conversations.lng, box.maxLng));
  const rows = await actor.db
    .select({ g: conversations, role: myRole(actor.userId) })
    .from(conversations)
    .where(and(gte(conversations.lat, box.minLat), lte(conversations.lat, box.maxLat), lngCondition, listed))
    .limit(5000);
  return rows
    .map((r) => ({ ...r, distance: distanceMeters(lat, lng, r.g.lat!, r.g.lng!) }))
    .filter((r) => r.distance <= radius)
    .sort((a, b) => a.distance - b.distance)
    .slice(0, limit)
    .map((r) => ({ ...listItem(r.g, r.role, actor.config), distance_m: Math.round(r.distance) }));
}

/** Live groups both of us belong to (private ones included: I am in them). */
export async function commonGroups(actor: Actor, otherId: string, limit: number, offset: number) {
  if (otherId === actor.userId) throw badRequest("user_id must be another user");
  await requireUser(actor.db, otherId);
  const mine = members;
  const theirs = alias(members, "theirs");
  const where = and(eq(mine.userId, actor.userId), eq(conversations.kind, "group"), isNull(conversations.dissolvedAt));
  const [rows, count] = await Promise.all([
    actor.db
      .select({ g: conversations, role: mine.role })
      .from(mine)
      .innerJoin(theirs, and(eq(theirs.conversationId, mine.conversationId), eq(theirs.userId, otherId)))
      .innerJoin(conversations, eq(conversations.id, mine.conversationId))
      .where(where)
      .orderBy(asc(conversations.name), asc(conversations.id))
      .limit(limit)
      .offset(offset),
    actor.db
      .select({ total: sql<number>`count(*)` })
      .from(mine)
      .innerJoin(theirs, and(eq(theirs.conversationId, mine.conversationId), eq(theirs.userId, otherId)))
      .innerJoin(conversations, eq(conversations.id, mine.conversationId))
      .where(where),
  ]);
  return { groups: rows.map((r) => listItem(r.g, r.role, actor.config)), total: count[0]?.total ?? 0, limit, offset };
}
