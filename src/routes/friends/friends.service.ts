import { and, asc, desc, eq, inArray, isNull, lt, notExists, or, sql, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Db, Env } from "../../env";
import { blocks, conversations, friendCategories, friendCategoryMembers, friendRequests, friendships, users } from "../../db/schema";
import { isUniqueViolation } from "../../db/errors";
import type { Config } from "../../lib/config";
import { limit } from "../../lib/counters";
import { AppError, badRequest, conflict, forbidden, notFound } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { notify } from "../../lib/notify";
import { ensureDm } from "../conversations/conversations.service";
import { publicUser, requireUser, type UserRow } from "../users/users.service";

export type RequestRow = typeof friendRequests.$inferSelect;
type DisplayConfig = Pick<Config, "display_online_status">;

export interface SocialContext {
  env: Env;
  db: Db;
  config: Config;
}

const DAY_SECONDS = 86_400;

/** `column IN (ids)` with the ids bound as one JSON parameter, so long lists stay under D1's bound-parameter limit. */
export function inIds(column: SQLiteColumn | SQL, ids: string[]): SQL {
  return sql`${column} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`;
}

/**
 * Written as a literal so it matches the partial unique index; bound as a parameter inside an UPDATE with an
 * OR, SQLite's planner fails (SQLITE_INTERNAL).
 */
const isPending = sql`${friendRequests.status} = 'pending'`;

const pairOf = (a: string, b: string) =>
  or(
    and(eq(friendRequests.fromUserId, a), eq(friendRequests.toUserId, b)),
    and(eq(friendRequests.fromUserId, b), eq(friendRequests.toUserId, a)),
  );

/** Who blocked whom between me and another user. */
export async function blockState(db: Db, me: string, other: string) {
  const rows = await db
    .select({ userId: blocks.userId })
    .from(blocks)
    .where(or(and(eq(blocks.userId, me), eq(blocks.blockedUserId, other)), and(eq(blocks.userId, other), eq(blocks.blockedUserId, me))));
  return { iBlocked: rows.some((r) => r.userId === me), theyBlocked: rows.some((r) => r.userId === other) };
}

/** Whether b is on a's friend list (friendships are always stored both ways). */
export async function areFriends(db: Db, a: string, b: string): Promise<boolean> {
  const row = await db
    .select({ id: friendships.friendId })
    .from(friendships)
    .where(and(eq(friendships.userId, a), eq(friendships.friendId, b)))
    .get();
  return row !== undefined;
}

/** Statements that end a friendship both ways, including each side's category memberships of the other. */
export function unfriendStatements(db: Db, a: string, b: string) {
  const categoriesOf = (owner: string) => db.select({ id: friendCategories.id }).from(friendCategories).where(eq(friendCategories.userId, owner));
  return [
    db
      .delete(friendships)
      .where(or(and(eq(friendships.userId, a), eq(friendships.friendId, b)), and(eq(friendships.userId, b), eq(friendships.friendId, a)))),
    db
      .delete(friendCategoryMembers)
      .where(and(eq(friendCategoryMembers.friendId, b), inArray(friendCategoryMembers.categoryId, categoriesOf(a)))),
    db
      .delete(friendCategoryMembers)
      .where(and(eq(friendCategoryMembers.friendId, a), inArray(friendCategoryMembers.categoryId, categoriesOf(b)))),
  ] as const;
}

/** Statement that cancels every pending request between two users, both ways. */
export function cancelPendingStatement(db: Db, a: string, b: string, handledAt: string) {
  return db
    .update(friendRequests)
    .set({ status: "cancelled", handledAt })
    .where(and(isPending, pairOf(a, b)));
}

/** A request as `me` sees it: direction and the other user's public profile. */
export function requestView(r: RequestRow, me: string, other: UserRow, config: DisplayConfig) {
  return {
    id: r.id,
    direction: r.fromUserId === me ? ("outgoing" as const) : ("incoming" as const),
    status: r.status,
    reason: r.reason,
    reject_reason: r.rejectReason,
    from_user_id: r.fromUserId,
    to_user_id: r.toUserId,
    user: publicUser(other, config),
    created_at: r.createdAt,
    handled_at: r.handledAt,
  };
}

/** Both friendship rows, inserted only while `condition` holds (checked by the same statement). */
function insertFriendship(db: Db, a: string, b: string, at: string, condition: SQL = sql`1`) {
  return db
    .insert(friendships)
    .select(
      sql`SELECT ${a}, ${b}, NULL, '[]', ${at} WHERE ${condition}
        UNION ALL SELECT ${b}, ${a}, NULL, '[]', ${at} WHERE ${condition}`,
    )
    .onConflictDoNothing();
}

/**
 * Accepts a pending request and makes the two users friends in one atomic batch. The friendship rows and
 * the closing of any reverse request are gated on this call having claimed the request, so a concurrent
 * reject or cancel that got there first leaves no friendship behind (and makes this a 409).
 */
async function acceptPending(db: Db, request: RequestRow, at: string) {
  const claimed = sql`EXISTS (SELECT 1 FROM ${friendRequests} WHERE id = ${request.id} AND status = 'accepted' AND handled_at = ${at})`;
  const [rows] = await db.batch([
    db
      .update(friendRequests)
      .set({ status: "accepted", handledAt: at })
      .where(and(eq(friendRequests.id, request.id), isPending))
      .returning(),
    insertFriendship(db, request.fromUserId, request.toUserId, at, claimed),
    db
      .update(friendRequests)
      .set({ status: "accepted", handledAt: at })
      .where(and(isPending, pairOf(request.fromUserId, request.toUserId), claimed)),
  ]);
  if (!rows[0]) throw conflict("This request was already answered");
  return rows[0];
}

const cleanReason = (reason: string | null | undefined) => (reason ? reason : null);

/**
 * Sends a friend request, honouring the operator's add_friend_mode and daily limit. If they already asked
 * me, this accepts theirs. If they blocked me, the answer looks exactly like a normal pending request but
 * they are never told and never see it.
 */
export async function sendRequest(ctx: SocialContext, me: string, input: { user_id: string; reason?: string | null }) {
  const { db, config } = ctx;
  if (input.user_id === me) throw badRequest("You cannot send a friend request to yourself");
  if (config.add_friend_mode === "none") throw forbidden("Adding friends is turned off on this server");
  const target = await requireUser(db, input.user_id);
  const [friendRows, blockRows, pending] = await db.batch([
    db.select({ id: friendships.friendId }).from(friendships).where(and(eq(friendships.userId, me), eq(friendships.friendId, target.id))),
    db
      .select({ userId: blocks.userId })
      .from(blocks)
      .where(or(and(eq(blocks.userId, me), eq(blocks.blockedUserId, target.id)), and(eq(blocks.userId, target.id), eq(blocks.blockedUserId, me)))),
    db.select().from(friendRequests).where(and(isPending, pairOf(me, target.id))),
  ]);
  if (friendRows.length) throw conflict("You are already friends");
  if (blockRows.some((b) => b.userId === me)) throw forbidden("You blocked this user; unblock them first");
  if (pending.some((r) => r.fromUserId === me)) throw conflict("You already have a pending request to this user");

  const now = new Date().toISOString();
  const theirs = pending.find((r) => r.fromUserId === target.id);
  if (theirs) {
    const accepted = await acceptPending(db, theirs, now);
    const dm = await ensureDm(db, theirs.fromUserId, me);
    await notify(ctx.env, db, [
      { userId: target.id, kind: "friend_accepted", actorId: me, subjectId: theirs.id, data: { request_id: theirs.id, conversation_id: dm.id } },
    ]);
    return { request: requestView(accepted, me, target, config), is_friend: true, conversation_id: dm.id };
  }

  await limit(db, `friend_apply:${me}`, config.add_friend_apply_limit, DAY_SECONDS, "friend requests today");
  const blockedMe = blockRows.some((b) => b.userId === target.id);
  const immediate = config.add_friend_mode === "all" && !blockedMe;
  const row: RequestRow = {
    id: newId("freq"),
    fromUserId: me,
    toUserId: target.id,
    reason: cleanReason(input.reason),
    status: immediate ? "accepted" : "pending",
    rejectReason: null,
    createdAt: now,
    handledAt: immediate ? now : null,
  };
  try {
    const insert = db.insert(friendRequests).values(row);
    if (immediate) await db.batch([insert, insertFriendship(db, me, target.id, now)]);
    else await insert;
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict("You already have a pending request to this user");
    throw err;
  }
  if (blockedMe) return { request: requestView(row, me, target, config), is_friend: false, conversation_id: null };
  if (immediate) {
    const dm = await ensureDm(db, me, target.id);
    await notify(ctx.env, db, [
      {
        userId: target.id,
        kind: "friend_accepted",
        actorId: me,
        subjectId: row.id,
        data: { request_id: row.id, conversation_id: dm.id, automatic: true },
      },
    ]);
    return { request: requestView(row, me, target, config), is_friend: true, conversation_id: dm.id };
  }
  await notify(ctx.env, db, [
    { userId: target.id, kind: "friend_request", actorId: me, subjectId: row.id, data: { request_id: row.id, reason: row.reason } },
  ]);
  return { request: requestView(row, me, target, config), is_friend: false, conversation_id: null };
}

/**
 * A request I may act on. Requests that do not involve me, and requests from users I have blocked (sent
 * while blocked, so hidden from me), are "not found"; acting on the wrong side is forbidden.
 */
async function requestFor(db: Db, me: string, id: string, side: "recipient" | "sender") {
  const request = await db.select().from(friendRequests).where(eq(friendRequests.id, id)).get();
  if (!request || (request.fromUserId !== me && request.toUserId !== me)) throw notFound("Friend request");
  if (request.toUserId === me) {
    const { iBlocked } = await blockState(db, me, request.fromUserId);
    if (iBlocked) throw notFound("Friend request");
  }
  const mine = side === "recipient" ? request.toUserId === me : request.fromUserId === me;
  if (!mine) throw forbidden(side === "recipient" ? "Only the recipient can answer this request" : "Only the sender can cancel this request");
  if (request.status !== "pending") throw conflict(`This request was already ${request.status}`);
  return request;
}

/** Moves a pending request to its final status; a concurrent answer that got there first makes this a 409. */
async function settle(db: Db, request: RequestRow, set: Partial<RequestRow>) {
  const [row] = await db
    .update(friendRequests)
    .set(set)
    .where(and(eq(friendRequests.id, request.id), isPending))
    .returning();
  if (!row) throw conflict("This request was already answered");
  return row;
}

/** Accepts a request sent to me: mutual friendship, the DM opened, the sender notified. */
export async function acceptRequest(ctx: SocialContext, me: string, id: string) {
  const { db } = ctx;
  const request = await requestFor(db, me, id, "recipient");
  const sender = await requireUser(db, request.fromUserId);
  const row = await acceptPending(db, request, new Date().toISOString());
  const dm = await ensureDm(db, sender.id, me);
  await notify(ctx.env, db, [
    { userId: sender.id, kind: "friend_accepted", actorId: me, subjectId: row.id, data: { request_id: row.id, conversation_id: dm.id } },
  ]);
  return { request: requestView(row, me, sender, ctx.config), conversation_id: dm.id };
}

/** Rejects a request sent to me with an optional reason the sender is told. */
export async function rejectRequest(ctx: SocialContext, me: string, id: string, reason: string | null | undefined) {
  const { db } = ctx;
  const request = await requestFor(db, me, id, "recipient");
  const sender = await requireUser(db, request.fromUserId);
  const rejectReason = cleanReason(reason);
  const row = await settle(db, request, { status: "rejected", rejectReason, handledAt: new Date().toISOString() });
  await notify(ctx.env, db, [
    { userId: sender.id, kind: "friend_rejected", actorId: me, subjectId: row.id, data: { request_id: row.id, reason: rejectReason } },
  ]);
  return { request: requestView(row, me, sender, ctx.config) };
}

/** Withdraws a pending request I sent. */
export async function cancelRequest(ctx: SocialContext, me: string, id: string) {
  const { db } = ctx;
  const request = await requestFor(db, me, id, "sender");
  const row = await settle(db, request, { status: "cancelled", handledAt: new Date().toISOString() });
  const recipient = await db.select().from(users).where(eq(users.id, row.toUserId)).get();
  return { request: requestView(row, me, recipient!, ctx.config) };
}

/** My incoming or outgoing requests, newest first, paged by id. Incoming requests from users I block are hidden. */
export async function listRequests(
  db: Db,
  config: DisplayConfig,
  me: string,
  query: { direction: "incoming" | "outgoing"; status?: RequestRow["status"]; cursor?: string; limit: number },
) {
  const incoming = query.direction === "incoming";
  const conditions = [eq(incoming ? friendRequests.toUserId : friendRequests.fromUserId, me)];
  if (query.status) conditions.push(eq(friendRequests.status, query.status));
  if (query.cursor) conditions.push(lt(friendRequests.id, query.cursor));
  if (incoming) conditions.push(notExists(blockedByMe(db, me, friendRequests.fromUserId)));
  const rows = await db
    .select({ request: friendRequests, user: users })
    .from(friendRequests)
    .innerJoin(users, eq(users.id, incoming ? friendRequests.fromUserId : friendRequests.toUserId))
    .where(and(...conditions))
    .orderBy(desc(friendRequests.id))
    .limit(query.limit + 1);
  const page = rows.slice(0, query.limit);
  return {
    requests: page.map((r) => requestView(r.request, me, r.user, config)),
    next_cursor: rows.length > query.limit ? page[page.length - 1].request.id : null,
  };
}

/** Subquery: does `me` block the user in `column`? */
export function blockedByMe(db: Db, me: string, column: SQLiteColumn) {
  return db
    .select({ one: sql`1` })
    .from(blocks)
    .where(and(eq(blocks.userId, me), eq(blocks.blockedUserId, column)));
}

/** Pending requests waiting for my answer (those from users I block do not count). */
export function pendingIncomingCount(db: Db, me: string) {
  return db
    .select({ n: sql<number>`count(*)` })
    .from(friendRequests)
    .where(and(eq(friendRequests.toUserId, me), isPending, notExists(blockedByMe(db, me, friendRequests.fromUserId))));
}

const dmKeyOf = sql`CASE WHEN ${friendships.userId} < ${friendships.friendId}
  THEN ${friendships.userId} || ':' || ${friendships.friendId}
  ELSE ${friendships.friendId} || ':' || ${friendships.userId} END`;

function friendRowsQuery(db: Db, me: string, only?: string) {
  return db
    .select({ friendship: friendships, user: users, conversationId: conversations.id })
    .from(friendships)
    .innerJoin(users, eq(users.id, friendships.friendId))
    .leftJoin(conversations, eq(conversations.dmKey, dmKeyOf))
    .where(and(eq(friendships.userId, me), isNull(users.disabledAt), only ? eq(friendships.friendId, only) : undefined));
}

function categoryRefsQuery(db: Db, me: string, only?: string) {
  return db
    .select({ friendId: friendCategoryMembers.friendId, id: friendCategories.id, name: friendCategories.name })
    .from(friendCategoryMembers)
    .innerJoin(friendCategories, eq(friendCategories.id, friendCategoryMembers.categoryId))
    .where(and(eq(friendCategories.userId, me), only ? eq(friendCategoryMembers.friendId, only) : undefined))
    .orderBy(asc(friendCategories.createdAt), asc(friendCategories.id));
}

type FriendRow = { friendship: typeof friendships.$inferSelect; user: UserRow; conversationId: string | null };

function friendView(row: FriendRow, categories: { friendId: string; id: string; name: string }[], config: DisplayConfig) {
  return {
    user: publicUser(row.user, config),
    remark: row.friendship.remark,
    labels: row.friendship.labels,
    categories: categories.filter((c) => c.friendId === row.user.id).map(({ id, name }) => ({ id, name })),
    conversation_id: row.conversationId,
    since: row.friendship.createdAt,
  };
}

/** My friends, sorted as a contact list (remark, else nickname, else username), with my categories for each. */
export async function listFriends(db: Db, config: DisplayConfig, me: string, page: { limit: number; offset: number }) {
  // Joined reads that select whole tables stay out of db.batch: batch rows come back as objects, so
  // same-named columns of the joined tables (id, created_at) would overwrite each other.
  const [rows, total, categories] = await Promise.all([
    friendRowsQuery(db, me)
      .orderBy(sql`lower(coalesce(${friendships.remark}, ${users.nickname}, ${users.username}))`, asc(friendships.friendId))
      .limit(page.limit)
      .offset(page.offset),
    db
      .select({ n: sql<number>`count(*)` })
      .from(friendships)
      .innerJoin(users, eq(users.id, friendships.friendId))
      .where(and(eq(friendships.userId, me), isNull(users.disabledAt))),
    categoryRefsQuery(db, me),
  ]);
  return { friends: rows.map((r) => friendView(r, categories, config)), total: total[0]?.n ?? 0, limit: page.limit, offset: page.offset };
}

/** One friend as I see them; anyone who is not my friend (or does not exist) is 404. */
export async function getFriend(db: Db, config: DisplayConfig, me: string, other: string) {
  const [rows, categories] = await Promise.all([friendRowsQuery(db, me, other), categoryRefsQuery(db, me, other)]);
  if (!rows[0]) throw notFound("Friend");
  return friendView(rows[0], categories, config);
}

/** Sets my private remark and/or labels for a friend (null clears). */
export async function updateFriend(
  db: Db,
  config: DisplayConfig,
  me: string,
  other: string,
  input: { remark?: string | null; labels?: string[] | null },
) {
  const set: Partial<typeof friendships.$inferInsert> = {};
  if (input.remark !== undefined) set.remark = input.remark ? input.remark : null;
  if (input.labels !== undefined) set.labels = input.labels ?? [];
  const updated = await db
    .update(friendships)
    .set(set)
    .where(and(eq(friendships.userId, me), eq(friendships.friendId, other)))
    .returning({ id: friendships.friendId });
  if (!updated.length) throw notFound("Friend");
  return getFriend(db, config, me, other);
}

/** Ends a friendship on both sides and tells the other user. */
export async function removeFriend(ctx: SocialContext, me: string, other: string) {
  const { db } = ctx;
  await requireUser(db, other);
  if (!(await areFriends(db, me, other))) throw notFound("Friend");
  await db.batch([...unfriendStatements(db, me, other)]);
  await notify(ctx.env, db, [{ userId: other, kind: "friend_removed", actorId: me, subjectId: me, data: {} }]);
  return { removed: true as const, user_id: other };
}

/** Throws 400 naming every id in `ids` that is not my friend. */
export async function assertFriends(db: Db, me: string, ids: string[]) {
  if (!ids.length) return;
  const rows = await db
    .select({ id: friendships.friendId })
    .from(friendships)
    .where(and(eq(friendships.userId, me), inIds(friendships.friendId, ids)));
  const found = new Set(rows.map((r) => r.id));
  const missing = ids.filter((id) => !found.has(id));
  if (missing.length) {
    throw new AppError("BAD_REQUEST", `Not your friend: ${missing.join(", ")}`, { details: { not_friends: missing } });
  }
}
