import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { users } from "./accounts";

const now = sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`;

/** A post on a user's moments (seed 002's space): text and/or up to 9 photos (file ids). */
export const moments = sqliteTable(
  "moments",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    text: text("text"),
    photos: text("photos", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    visibility: text("visibility", { enum: ["public", "friends", "private"] }).notNull().default("friends"),
    likeCount: integer("like_count").notNull().default(0),
    commentCount: integer("comment_count").notNull().default(0),
    createdAt: text("created_at").notNull().default(now),
    deletedAt: text("deleted_at"),
  },
  (t) => [index("moments_user_idx").on(t.userId, t.id)],
);

export const momentLikes = sqliteTable(
  "moment_likes",
  {
    momentId: text("moment_id").notNull().references(() => moments.id, { onDelete: "cascade" }),
    userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    createdAt: text("created_at").notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.momentId, t.userId] })],
);

/** A comment on a moment, or a reply to one of its comments (seed 002's type 0 and 1). */
export const momentComments = sqliteTable(
  "moment_comments",
  {
    id: text("id").primaryKey(),
    momentId: text("moment_id").notNull().references(() => moments.id, { onDelete: "cascade" }),
    userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    text: text("text").notNull(),
    replyTo: text("reply_to"),
    replyToUserId: text("reply_to_user_id"),
    createdAt: text("created_at").notNull().default(now),
  },
  (t) => [index("moment_comments_moment_idx").on(t.momentId, t.id)],
);

/** A user's sticky notes (seed 002), 12 a page. */
export const notes = sqliteTable(
  "notes",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    text: text("text").notNull(),
    color: text("color").notNull(),
    createdAt: text("created_at").notNull().default(now),
    updatedAt: text("updated_at").notNull().default(now),
  },
  (t) => [index("notes_user_idx").on(t.userId, t.id)],
);

/** Operator-managed discover links (seed 004), shown to every signed-in user. */
export const discoverLinks = sqliteTable(
  "discover_links",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    url: text("url").notNull(),
    icon: text("icon"),
    description: text("description"),
    sort: integer("sort").notNull().default(0),
    createdAt: text("created_at").notNull().default(now),
    updatedAt: text("updated_at").notNull().default(now),
  },
  (t) => [index("discover_links_sort_idx").on(t.sort, t.createdAt)],
);
