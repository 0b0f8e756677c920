import { sql } from "drizzle-orm";
import { index, integer, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

const now = sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`;

export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    username: text("username").notNull(),
    usernameKey: text("username_key").notNull(),
    email: text("email"),
    phone: text("phone"),
    passwordHash: text("password_hash"),
    nickname: text("nickname"),
    avatar: text("avatar"),
    gender: text("gender", { enum: ["male", "female", "unknown"] }).notNull().default("unknown"),
    birthday: text("birthday"),
    bio: text("bio"),
    lat: real("lat"),
    lng: real("lng"),
    country: text("country"),
    province: text("province"),
    city: text("city"),
    district: text("district"),
    status: text("status", { enum: ["ONLINE", "AWAY", "BUSY", "OFFLINE"] }).notNull().default("OFFLINE"),
    lastSeen: text("last_seen"),
    isAdmin: integer("is_admin", { mode: "boolean" }).notNull().default(false),
    disabledAt: text("disabled_at"),
    createdAt: text("created_at").notNull().default(now),
    updatedAt: text("updated_at").notNull().default(now),
  },
  (t) => [
    uniqueIndex("users_username_key_unique").on(t.usernameKey),
    uniqueIndex("users_email_unique").on(t.email),
    uniqueIndex("users_phone_unique").on(t.phone),
    index("users_location_idx").on(t.lat, t.lng),
    index("users_created_idx").on(t.createdAt),
  ],
);

/** Rotating refresh tokens; one family per login, stored as SHA-256 hashes. */
export const refreshTokens = sqliteTable(
  "refresh_tokens",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    familyId: text("family_id").notNull(),
    tokenHash: text("token_hash").notNull(),
    expiresAt: text("expires_at").notNull(),
    rotatedAt: text("rotated_at"),
    revokedAt: text("revoked_at"),
    createdAt: text("created_at").notNull().default(now),
  },
  (t) => [
    uniqueIndex("refresh_tokens_hash_unique").on(t.tokenHash),
    index("refresh_tokens_family_idx").on(t.familyId),
    index("refresh_tokens_user_idx").on(t.userId),
  ],
);

export const verificationCodes = sqliteTable(
  "verification_codes",
  {
    id: text("id").primaryKey(),
    channel: text("channel", { enum: ["email", "sms"] }).notNull(),
    target: text("target").notNull(),
    purpose: text("purpose", { enum: ["login", "register", "reset"] }).notNull(),
    codeHash: text("code_hash").notNull(),
    attempts: integer("attempts").notNull().default(0),
    expiresAt: text("expires_at").notNull(),
    consumedAt: text("consumed_at"),
    createdAt: text("created_at").notNull().default(now),
  },
  (t) => [index("verification_codes_target_idx").on(t.channel, t.target, t.purpose)],
);

/** Dev/test delivery provider: what would have been emailed or texted. */
export const outbox = sqliteTable(
  "outbox",
  {
    id: text("id").primaryKey(),
    channel: text("channel", { enum: ["email", "sms", "captcha"] }).notNull(),
    target: text("target").notNull(),
    subject: text("subject").notNull(),
    body: text("body").notNull(),
    createdAt: text("created_at").notNull().default(now),
  },
  (t) => [index("outbox_target_idx").on(t.target, t.createdAt)],
);

export const captchas = sqliteTable("captchas", {
  key: text("key").primaryKey(),
  answerHash: text("answer_hash").notNull(),
  expiresAt: text("expires_at").notNull(),
});

/** Fixed-window counters for rate limits and failure throttles, updated with one atomic upsert. */
export const rateCounters = sqliteTable("rate_counters", {
  key: text("key").primaryKey(),
  count: integer("count").notNull(),
  resetAt: integer("reset_at").notNull(),
});

export const inviteCodes = sqliteTable("invite_codes", {
  code: text("code").primaryKey(),
  createdBy: text("created_by").references(() => users.id, { onDelete: "set null" }),
  maxUses: integer("max_uses").notNull().default(1),
  uses: integer("uses").notNull().default(0),
  expiresAt: text("expires_at"),
  createdAt: text("created_at").notNull().default(now),
});

export const configs = sqliteTable("configs", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  updatedAt: text("updated_at").notNull().default(now),
});
