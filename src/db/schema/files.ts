import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
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
  (t) => [index("files_owner_idx").on(t.ownerId, t.createdAt), index("files_sha_idx").on(t.sha256), index("files_r2_key_idx").on(t.r2Key)],
);

/** Which conversations a file was sent into: their members may download it. */
export const fileRefs = sqliteTable(
  "file_refs",
  {
    fileId: text("file_id").notNull().references(() => files.id, { onDelete: "cascade" }),
    conversationId: text("conversation_id").notNull(),
    createdAt: text("created_at").notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.fileId, t.conversationId] })],
);

/**
 * A chunked upload in progress (R2 multipart). The binding cannot list an upload's parts, so each
 * stored part's number, size and etag is kept in `upload_parts`.
 */
export const uploads = sqliteTable(
  "uploads",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    purpose: text("purpose", { enum: ["avatar", "group_avatar", "message", "moment", "other"] }).notNull(),
    targetId: text("target_id"),
    name: text("name").notNull(),
    size: integer("size").notNull(),
    contentType: text("content_type").notNull(),
    sha256: text("sha256").notNull(),
    partSize: integer("part_size").notNull(),
    partCount: integer("part_count").notNull(),
    r2Key: text("r2_key").notNull(),
    r2UploadId: text("r2_upload_id"),
    status: text("status", { enum: ["uploading", "completing", "completed", "aborted", "expired", "failed"] }).notNull(),
    fileId: text("file_id"),
    error: text("error"),
    createdAt: text("created_at").notNull().default(now),
    expiresAt: text("expires_at").notNull(),
    /**
     * The possession challenge (seed 002's instant upload of bytes stored under another owner): the
     * byte ranges, as JSON `[{offset, length}]`, whose sha256s the caller must send to adopt the stored
     * object. One answer per challenge: `proof_state` goes pending → passed or failed.
     */
    proofRanges: text("proof_ranges"),
    proofState: text("proof_state", { enum: ["pending", "passed", "failed"] }),
  },
  (t) => [index("uploads_owner_idx").on(t.ownerId, t.createdAt), index("uploads_expiry_idx").on(t.status, t.expiresAt)],
);

export const uploadParts = sqliteTable(
  "upload_parts",
  {
    uploadId: text("upload_id").notNull().references(() => uploads.id, { onDelete: "cascade" }),
    partNumber: integer("part_number").notNull(),
    size: integer("size").notNull(),
    etag: text("etag").notNull(),
    createdAt: text("created_at").notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.uploadId, t.partNumber] })],
);
