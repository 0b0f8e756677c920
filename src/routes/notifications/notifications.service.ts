import { and, desc, eq, inArray, isNull, lt, sql } from "drizzle-orm";
import type { Db } from "../../env";
import { conversations, joinRequests, members, notifications, users } from "../../db/schema";
import type { Config } from "../../lib/config";
import { notificationView } from "../../lib/notify";
import { inIds, pendingIncomingCount } from "../friends/friends.service";
import { publicUser } from "../users/users.service";

type DisplayConfig = Pick<Config, "display_online_status">;

const unreadCountQuery = (db: Db, me: string) =>
  db
    .select({ n: sql<number>`count(*)` })
    .from(notifications)
    .where(and(eq(notifications.userId, me), isNull(notifications.readAt)));

/** Pending join requests for live groups where I am owner or admin. */
const pendingGroupRequestsQuery = (db: Db, me: string) =>
  db
    .select({ n: sql<number>`count(*)` })
    .from(joinRequests)
    .innerJoin(
      members,
      and(eq(members.conversationId, joinRequests.conversationId), eq(members.userId, me), inArray(members.role, ["owner", "admin"])),
    )
    .innerJoin(conversations, and(eq(conversations.id, joinRequests.conversationId), isNull(conversations.dissolvedAt)))
    .where(and(eq(joinRequests.status, "pending"), eq(joinRequests.kind, "request")));

/** My notifications newest first (cursor paging by id), with the unread and pending-request counts (002 init_apply_notice). */
export async function listNotifications(db: Db, config: DisplayConfig, me: string, query: { cursor?: string; limit: number; unread?: boolean }) {
  const conditions = [eq(notifications.userId, me)];
  if (query.cursor) conditions.push(lt(notifications.id, query.cursor));
  if (query.unread) conditions.push(isNull(notifications.readAt));
  // Not db.batch: its rows are objects, so notifications.id and users.id of the join would collide.
  const [rows, unread, friendRequests, groupRequests] = await Promise.all([
    db
      .select({ notification: notifications, actor: users })
      .from(notifications)
      .leftJoin(users, eq(users.id, notifications.actorId))
      .where(and(...conditions))
      .orderBy(desc(notifications.id))
      .limit(query.limit + 1),
    unreadCountQuery(db, me),
    pendingIncomingCount(db, me),
    pendingGroupRequestsQuery(db, me),
  ]);
  const page = rows.slice(0, query.limit);
  return {
    notifications: page.map((r) => ({ ...notificationView(r.notification), actor: r.actor ? publicUser(r.actor, config) : null })),
    next_cursor: rows.length > query.limit ? page[page.length - 1].notification.id : null,
    unread_count: unread[0]?.n ?? 0,
    pending_friend_requests: friendRequests[0]?.n ?? 0,
    pending_group_requests: groupRequests[0]?.n ?? 0,
  };
}

/** Marks the given notifications of mine (others' ids are ignored) or all of mine read. */
export async function markRead(db: Db, me: string, input: { ids: string[] } | { all: true }) {
  const conditions = [eq(notifications.userId, me), isNull(notifications.readAt)];
  if ("ids" in input) conditions.push(inIds(notifications.id, input.ids));
  const [result, unread] = await db.batch([
    db
      .update(notifications)
      .set({ readAt: new Date().toISOString() })
      .where(and(...conditions)),
    unreadCountQuery(db, me),
  ]);
  return { updated: result.meta.changes ?? 0, unread_count: unread[0]?.n ?? 0 };
}
