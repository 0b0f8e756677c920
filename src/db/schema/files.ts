import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { users } from "./accounts";

const now = sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`;

/** Uploaded file metadata; the body is in R2 under `r2_key` (shared by files with the same sha256). */
export const files = sqliteTable(
  "files",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    purpose: text("purpose", { enum: ["avatar", "group_avatar", "message", "moment", "other"] }).notNull(),
    targetId: text("target_id"),
    r2Key: text("r2_key").notNull(),
    name: text("name").notNull(),
    size: integer("size").notNull(),
    contentType: text("content_type").notNull(),
    sha256: text("sha256"),
    createdAt: text("created_at").notNull().default(now),
    deletedAt: text("deleted_at"),
  },
  (t) => [index("files_owner_idx").on(t.ownerId, t.createdAt), index("files_sha_idx").on(t.sha256)],
);
