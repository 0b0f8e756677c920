import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { users } from "./accounts";

const now = sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`;

export const workspaces = sqliteTable(
  "workspaces",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id").notNull().references(() => users.id),
    name: text("name").notNull(),
    icon: text("icon"),
    supportUserId: text("support_user_id").references(() => users.id),
    activationCode: text("activation_code").notNull(),
    createdAt: text("created_at").notNull().default(now),
  },
  (t) => [index("workspaces_owner_idx").on(t.ownerId)],
);

export const workspaceMembers = sqliteTable(
  "workspace_members",
  {
    workspaceId: text("workspace_id").notNull().references(() => workspaces.id, { onDelete: "cascade" }),
    userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    joinedAt: text("joined_at").notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.userId] }), index("workspace_members_user_idx").on(t.userId)],
);

export const activationCodes = sqliteTable("activation_codes", {
  code: text("code").primaryKey(),
  createdBy: text("created_by").references(() => users.id, { onDelete: "set null" }),
  usedBy: text("used_by").references(() => users.id, { onDelete: "set null" }),
  usedAt: text("used_at"),
  workspaceId: text("workspace_id"),
  createdAt: text("created_at").notNull().default(now),
});

/** A DM, group or room. The message log itself lives in the conversation's Durable Object. */
export const conversations = sqliteTable(
  "conversations",
  {
    id: text("id").primaryKey(),
    kind: text("kind", { enum: ["dm", "group", "room"] }).notNull(),
    name: text("name"),
    description: text("description"),
    avatar: text("avatar"),
    /** An https image URL (seed 003's group `icon`), beside the uploaded `avatar`. */
    icon: text("icon"),
    creatorId: text("creator_id").references(() => users.id),
    ownerId: text("owner_id").references(() => users.id),
    dmKey: text("dm_key"),
    visibility: text("visibility", { enum: ["public", "private"] }).notNull().default("public"),
    joinPolicy: text("join_policy", { enum: ["open", "approval", "invite"] }).notNull().default("open"),
    membersCanInvite: integer("members_can_invite", { mode: "boolean" }).notNull().default(true),
    memberListVisible: integer("member_list_visible", { mode: "boolean" }).notNull().default(true),
    historyVisible: integer("history_visible", { mode: "boolean" }).notNull().default(true),
    /** Days a message is kept (the owner's setting); null follows the operator's message_retention_days. */
    retentionDays: integer("retention_days"),
    memberLimit: integer("member_limit").notNull().default(500),
    lat: real("lat"),
    lng: real("lng"),
    workspaceId: text("workspace_id").references(() => workspaces.id),
    memberCount: integer("member_count").notNull().default(0),
    lastSeq: integer("last_seq").notNull().default(0),
    lastMessage: text("last_message", { mode: "json" }).$type<Record<string, unknown>>(),
    lastMessageAt: text("last_message_at"),
    dissolvedAt: text("dissolved_at"),
    createdAt: text("created_at").notNull().default(now),
    updatedAt: text("updated_at").notNull().default(now),
  },
  (t) => [
    uniqueIndex("conversations_dm_key_unique").on(t.dmKey),
    index("conversations_kind_idx").on(t.kind, t.createdAt),
    index("conversations_workspace_idx").on(t.workspaceId),
    index("conversations_location_idx").on(t.lat, t.lng),
  ],
);

export const members = sqliteTable(
  "members",
  {
    conversationId: text("conversation_id").notNull().references(() => conversations.id, { onDelete: "cascade" }),
    userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    role: text("role", { enum: ["owner", "admin", "member"] }).notNull().default("member"),
    nickname: text("nickname"),
    joinedAt: text("joined_at").notNull().default(now),
    /** last_seq at join: with history hidden, the member reads only after this. */
    joinedSeq: integer("joined_seq").notNull().default(0),
    mutedUntil: text("muted_until"),
    readSeq: integer("read_seq").notNull().default(0),
    muted: integer("muted", { mode: "boolean" }).notNull().default(false),
    pinned: integer("pinned", { mode: "boolean" }).notNull().default(false),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.userId] }), index("members_user_idx").on(t.userId)],
);

/** Join requests (user asks) and invitations that need the invitee's acceptance. */
export const joinRequests = sqliteTable(
  "join_requests",
  {
    id: text("id").primaryKey(),
    conversationId: text("conversation_id").notNull().references(() => conversations.id, { onDelete: "cascade" }),
    userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: ["request", "invite"] }).notNull().default("request"),
    inviterId: text("inviter_id").references(() => users.id, { onDelete: "set null" }),
    reason: text("reason"),
    status: text("status", { enum: ["pending", "approved", "rejected", "cancelled"] }).notNull().default("pending"),
    handledBy: text("handled_by"),
    rejectReason: text("reject_reason"),
    createdAt: text("created_at").notNull().default(now),
    handledAt: text("handled_at"),
  },
  (t) => [
    uniqueIndex("join_requests_pending_unique").on(t.conversationId, t.userId, t.kind).where(sql`status = 'pending'`),
    index("join_requests_conversation_idx").on(t.conversationId, t.status),
    index("join_requests_user_idx").on(t.userId, t.status),
  ],
);
