import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { users } from "./accounts";

const now = sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`;

/**
 * A user's report of a message, user, group, moment or comment. `snapshot` holds the reported
 * content as it was when reported, so a later recall or edit does not erase the evidence.
 */
export const reports = sqliteTable(
  "reports",
  {
    id: text("id").primaryKey(),
    /** null once the reporter's account is deleted (the report itself stays for the record) */
    reporterId: text("reporter_id").references(() => users.id, { onDelete: "set null" }),
    targetType: text("target_type", { enum: ["message", "user", "group", "moment", "comment"] }).notNull(),
    targetId: text("target_id").notNull(),
    conversationId: text("conversation_id"),
    /** the author of the reported content (the user for a user report); no foreign key: evidence outlives accounts */
    targetUserId: text("target_user_id"),
    reason: text("reason", { enum: ["spam", "harassment", "sexual", "violence", "illegal", "other"] }).notNull(),
    text: text("text"),
    snapshot: text("snapshot", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    status: text("status", { enum: ["open", "resolved"] }).notNull().default("open"),
    action: text("action", { enum: ["dismiss", "remove_content", "mute_user", "ban_user", "disable_user"] }),
    note: text("note"),
    resolvedBy: text("resolved_by"),
    resolvedAt: text("resolved_at"),
    createdAt: text("created_at").notNull().default(now),
  },
  (t) => [index("reports_status_idx").on(t.status, t.id), index("reports_reporter_idx").on(t.reporterId, t.id), index("reports_target_idx").on(t.targetType, t.targetId)],
);

/** Every successful admin action: who, what, on which target, when. Append-only. */
export const auditLog = sqliteTable(
  "audit_log",
  {
    id: text("id").primaryKey(),
    actorId: text("actor_id").notNull(),
    actorName: text("actor_name").notNull(),
    action: text("action").notNull(),
    targetType: text("target_type"),
    targetId: text("target_id"),
    data: text("data", { mode: "json" }).$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
    createdAt: text("created_at").notNull().default(now),
  },
  (t) => [index("audit_log_actor_idx").on(t.actorId, t.id)],
);

/**
 * Background jobs on one account (deletion, export): the job's state and a step cursor, so a run cut
 * short anywhere resumes where it stopped. No foreign key: a deletion job outlives its account.
 */
export const accountJobs = sqliteTable(
  "account_jobs",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull(),
    kind: text("kind", { enum: ["delete", "export"] }).notNull(),
    state: text("state", { enum: ["pending", "running", "done", "failed"] }).notNull().default("pending"),
    step: text("step").notNull(),
    cursor: text("cursor"),
    progress: real("progress").notNull().default(0),
    /** kind-specific state (counts, the export's R2 key, the deletion's settings) */
    data: text("data", { mode: "json" }).$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
    error: text("error"),
    attempts: integer("attempts").notNull().default(0),
    createdAt: text("created_at").notNull().default(now),
    updatedAt: text("updated_at").notNull().default(now),
    finishedAt: text("finished_at"),
    expiresAt: text("expires_at"),
  },
  (t) => [index("account_jobs_user_idx").on(t.userId, t.kind, t.createdAt), index("account_jobs_state_idx").on(t.state, t.updatedAt)],
);

/**
 * Conversations a user has sent into, recorded by the conversation on the first send it sees from
 * them: with the memberships, it is where deletion and export find the user's messages (a group they
 * left still holds what they wrote).
 */
export const messageAuthors = sqliteTable(
  "message_authors",
  {
    userId: text("user_id").notNull(),
    conversationId: text("conversation_id").notNull(),
    createdAt: text("created_at").notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.userId, t.conversationId] })],
);
