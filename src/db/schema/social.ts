import { sql } from "drizzle-orm";
import { index, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { users } from "./accounts";

const now = sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`;

export const friendRequests = sqliteTable(
  "friend_requests",
  {
    id: text("id").primaryKey(),
    fromUserId: text("from_user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    toUserId: text("to_user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    reason: text("reason"),
    status: text("status", { enum: ["pending", "accepted", "rejected", "cancelled"] }).notNull().default("pending"),
    rejectReason: text("reject_reason"),
    createdAt: text("created_at").notNull().default(now),
    handledAt: text("handled_at"),
  },
  (t) => [
    uniqueIndex("friend_requests_pending_unique").on(t.fromUserId, t.toUserId).where(sql`status = 'pending'`),
    index("friend_requests_to_idx").on(t.toUserId, t.status),
    index("friend_requests_from_idx").on(t.fromUserId, t.status),
  ],
);

/** One row per direction: (user, friend) holds the user's private remark and labels. */
export const friendships = sqliteTable(
  "friendships",
  {
    userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    friendId: text("friend_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    remark: text("remark"),
    labels: text("labels", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    createdAt: text("created_at").notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.userId, t.friendId] }), index("friendships_friend_idx").on(t.friendId)],
);

export const blocks = sqliteTable(
  "blocks",
  {
    userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    blockedUserId: text("blocked_user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    createdAt: text("created_at").notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.userId, t.blockedUserId] }), index("blocks_blocked_idx").on(t.blockedUserId)],
);

export const friendCategories = sqliteTable(
  "friend_categories",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    createdAt: text("created_at").notNull().default(now),
    updatedAt: text("updated_at").notNull().default(now),
  },
  (t) => [uniqueIndex("friend_categories_user_name_unique").on(t.userId, t.name)],
);

export const friendCategoryMembers = sqliteTable(
  "friend_category_members",
  {
    categoryId: text("category_id").notNull().references(() => friendCategories.id, { onDelete: "cascade" }),
    friendId: text("friend_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    createdAt: text("created_at").notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.categoryId, t.friendId] })],
);

export const notifications = sqliteTable(
  "notifications",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    kind: text("kind").notNull(),
    actorId: text("actor_id"),
    subjectId: text("subject_id"),
    data: text("data", { mode: "json" }).$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
    readAt: text("read_at"),
    createdAt: text("created_at").notNull().default(now),
  },
  (t) => [index("notifications_user_idx").on(t.userId, t.id), index("notifications_unread_idx").on(t.userId, t.readAt)],
);
