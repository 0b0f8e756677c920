import { and, eq, sql } from "drizzle-orm";
import type { Db, Env } from "../../env";
import { conversationChanged } from "../../realtime/push";
import { blocks, conversations, members } from "../../db/schema";
import { isUniqueViolation } from "../../db/errors";
import { AppError } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { requireUser } from "../users/users.service";

export type ConversationRow = typeof conversations.$inferSelect;

export const dmKey = (a: string, b: string) => (a < b ? `${a}:${b}` : `${b}:${a}`);

/** The DM between two users, created with both memberships on first use (idempotent under races). */
export async function ensureDm(db: Db, a: string, b: string): Promise<ConversationRow> {
  const key = dmKey(a, b);
  const existing = await db.select().from(conversations).where(eq(conversations.dmKey, key)).get();
  if (existing) return existing;
  const id = newId("dm");
  try {
    await db.batch([
      db.insert(conversations).values({ id, kind: "dm", dmKey: key, visibility: "private", joinPolicy: "invite", memberCount: 2, memberLimit: 2 }),
      db.insert(members).values([
        { conversationId: id, userId: a },
        { conversationId: id, userId: b },
      ]),
    ]);
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
  }
  return (await db.select().from(conversations).where(eq(conversations.dmKey, key)).get())!;
}

export async function membership(db: Db, conversationId: string, userId: string) {
  return db
    .select()
    .from(members)
    .where(and(eq(members.conversationId, conversationId), eq(members.userId, userId)))
    .get();
}

/** Opens (or returns) my DM with another user; refused when either side has blocked the other. */
export async function openDm(db: Db, me: string, other: string) {
  if (me === other) throw new AppError("BAD_REQUEST", "user_id: you cannot open a conversation with yourself");
  await requireUser(db, other);
  const blocked = await db
    .select({ u: blocks.userId })
    .from(blocks)
    .where(sql`(${blocks.userId} = ${me} AND ${blocks.blockedUserId} = ${other}) OR (${blocks.userId} = ${other} AND ${blocks.blockedUserId} = ${me})`);
  if (blocked.length) throw new AppError("FORBIDDEN", "You cannot message this user");
  return ensureDm(db, me, other);
}

interface SummaryRow {
  id: string;
  kind: "dm" | "group" | "room";
  name: string | null;
  avatar: string | null;
  member_count: number;
  last_seq: number;
  last_message: string | null;
  last_message_at: string | null;
  created_at: string;
  dissolved_at: string | null;
  history_visible: number;
  read_seq: number;
  joined_seq: number;
  muted: number;
  pinned: number;
  role: "owner" | "admin" | "member";
  peer_id: string | null;
  peer_username: string | null;
  peer_nickname: string | null;
  peer_avatar: string | null;
  activity: string;
}

function summaryView(r: SummaryRow) {
  const floor = r.history_visible || r.kind === "dm" ? r.read_seq : Math.max(r.read_seq, r.joined_seq);
  return {
    id: r.id,
    kind: r.kind,
    name: r.kind === "dm" ? (r.peer_nickname ?? r.peer_username) : r.name,
    avatar: r.kind === "dm" ? r.peer_avatar : r.avatar,
    peer: r.peer_id ? { id: r.peer_id, username: r.peer_username!, nickname: r.peer_nickname, avatar: r.peer_avatar } : null,
    member_count: r.member_count,
    last_seq: r.last_seq,
    last_message: r.last_message ? JSON.parse(r.last_message) : null,
    last_message_at: r.last_message_at,
    read_seq: r.read_seq,
    unread_count: Math.max(0, r.last_seq - floor),
    muted: !!r.muted,
    pinned: !!r.pinned,
    role: r.role,
    dissolved: r.dissolved_at !== null,
  };
}

const SUMMARY_SELECT = sql`
  SELECT c.id, c.kind, c.name, c.avatar, c.member_count, c.last_seq, c.last_message, c.last_message_at, c.created_at,
         c.dissolved_at, c.history_visible, m.read_seq, m.joined_seq, m.muted, m.pinned, m.role,
         p.user_id AS peer_id, u.username AS peer_username, u.nickname AS peer_nickname, u.avatar AS peer_avatar,
         COALESCE(c.last_message_at, c.created_at) AS activity
  FROM members m
  JOIN conversations c ON c.id = m.conversation_id
  LEFT JOIN members p ON c.kind = 'dm' AND p.conversation_id = c.id AND p.user_id != m.user_id
  LEFT JOIN users u ON u.id = p.user_id`;

/**
 * My conversations with last message and unread count (`last_seq - read_seq`) in ONE D1 query:
 * pinned first, then by last activity. DMs appear once they have a message. Cursor = the last
 * row's `activity|id`.
 */
export async function listConversations(db: Db, userId: string, limit: number, cursor?: string) {
  let after = sql``;
  if (cursor) {
    const [pinned, activity, id] = cursor.split("|");
    after = sql` AND (m.pinned < ${Number(pinned)} OR (m.pinned = ${Number(pinned)} AND (COALESCE(c.last_message_at, c.created_at) < ${activity} OR (COALESCE(c.last_message_at, c.created_at) = ${activity} AND c.id < ${id}))))`;
  }
  const rows = await db.all<SummaryRow>(sql`${SUMMARY_SELECT}
    WHERE m.user_id = ${userId} AND (c.kind != 'dm' OR c.last_seq > 0)${after}
    ORDER BY m.pinned DESC, activity DESC, c.id DESC
    LIMIT ${limit + 1}`);
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    conversations: page.map(summaryView),
    next_cursor: rows.length > limit && last ? `${last.pinned}|${last.activity}|${last.id}` : null,
  };
}

export async function getConversation(db: Db, userId: string, conversationId: string) {
  const rows = await db.all<SummaryRow>(sql`${SUMMARY_SELECT} WHERE m.user_id = ${userId} AND c.id = ${conversationId}`);
  if (rows[0]) return summaryView(rows[0]);
  const exists = await db.select({ id: conversations.id }).from(conversations).where(eq(conversations.id, conversationId)).get();
  if (!exists) throw new AppError("NOT_FOUND", "Conversation not found");
  throw new AppError("FORBIDDEN", "You are not a member of this conversation");
}

export async function updatePreferences(db: Db, userId: string, conversationId: string, prefs: { muted?: boolean; pinned?: boolean }) {
  const updated = await db
    .update(members)
    .set(prefs)
    .where(and(eq(members.conversationId, conversationId), eq(members.userId, userId)))
    .returning({ userId: members.userId });
  if (!updated.length) await getConversation(db, userId, conversationId);
  return getConversation(db, userId, conversationId);
}

/** Tells the DM's object (if the DM exists) to reload its rules, e.g. after a block or unblock. */
export async function dmRulesChanged(env: Env, db: Db, a: string, b: string) {
  const dm = await db.select({ id: conversations.id }).from(conversations).where(eq(conversations.dmKey, dmKey(a, b))).get();
  if (dm) await conversationChanged(env, dm.id, { type: "rules" });
}
