import { and, asc, desc, eq, isNotNull, isNull, or, sql } from "drizzle-orm";
import type { AuthUser, Db, Env } from "../../env";
import { conversations, discoverLinks, files, members, moments, users } from "../../db/schema";
import { AppError } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { log } from "../../middleware/observability";
import { conversationChanged, userStub } from "../../realtime/push";
import { isListedAdmin, revokeSessions } from "../auth/auth.service";
import { privateUser, type UserRow } from "../users/users.service";

const adminView = (u: UserRow) => ({ ...privateUser(u), disabled: u.disabledAt !== null, disabled_at: u.disabledAt, created_at: u.createdAt });

/** Every account (disabled ones too), optionally matching q in username, nickname, email or phone. */
export async function listUsers(db: Db, q: { q?: string; limit: number; offset: number; disabled?: boolean }) {
  const needle = q.q?.toLowerCase();
  const where = and(
    needle
      ? or(
          sql`instr(lower(${users.username}), ${needle}) > 0`,
          sql`instr(lower(coalesce(${users.nickname}, '')), ${needle}) > 0`,
          sql`instr(lower(coalesce(${users.email}, '')), ${needle}) > 0`,
          sql`instr(coalesce(${users.phone}, ''), ${needle}) > 0`,
        )
      : undefined,
    q.disabled === undefined ? undefined : q.disabled ? isNotNull(users.disabledAt) : isNull(users.disabledAt),
  );
  const [rows, total] = await db.batch([
    db.select().from(users).where(where).orderBy(desc(users.createdAt), desc(users.id)).limit(q.limit).offset(q.offset),
    db.select({ n: sql<number>`count(*)` }).from(users).where(where),
  ]);
  return { users: rows.map(adminView), total: total[0]?.n ?? 0, limit: q.limit, offset: q.offset };
}

/** Counts for the operator's dashboard, in one D1 round trip. */
export async function stats(db: Db) {
  const day = new Date(Date.now() - 86_400_000).toISOString();
  const [u, c, f, m] = await db.batch([
    db
      .select({
        total: sql<number>`count(*)`,
        disabled: sql<number>`count(${users.disabledAt})`,
        online: sql<number>`sum(${users.status} <> 'OFFLINE' AND ${users.disabledAt} IS NULL)`,
        new_24h: sql<number>`sum(${users.createdAt} >= ${day})`,
      })
      .from(users),
    db
      .select({ kind: conversations.kind, n: sql<number>`count(*)`, messages: sql<number>`coalesce(sum(${conversations.lastSeq}), 0)`, active_24h: sql<number>`sum(${conversations.lastMessageAt} >= ${day})` })
      .from(conversations)
      .groupBy(conversations.kind),
    // bytes stored: identical files share one object, counted once
    db
      .select({ n: sql<number>`count(*)`, bytes: sql<number>`coalesce((SELECT sum(size) FROM (SELECT max(${files.size}) AS size FROM ${files} WHERE ${files.deletedAt} IS NULL GROUP BY ${files.r2Key})), 0)` })
      .from(files)
      .where(isNull(files.deletedAt)),
    db.select({ n: sql<number>`count(*)` }).from(moments).where(isNull(moments.deletedAt)),
  ]);
  const byKind = Object.fromEntries(c.map((r) => [r.kind, r]));
  const kind = (k: string) => ({ count: byKind[k]?.n ?? 0, messages: byKind[k]?.messages ?? 0, active_24h: byKind[k]?.active_24h ?? 0 });
  return {
    users: { total: u[0]?.total ?? 0, disabled: u[0]?.disabled ?? 0, online: u[0]?.online ?? 0, new_24h: u[0]?.new_24h ?? 0 },
    conversations: { dm: kind("dm"), group: kind("group"), room: kind("room") },
    messages: c.reduce((s, r) => s + (r.messages ?? 0), 0),
    files: { count: f[0]?.n ?? 0, bytes: f[0]?.bytes ?? 0 },
    moments: m[0]?.n ?? 0,
    generated_at: new Date().toISOString(),
  };
}

/**
 * Disables (or enables) an account. Disabling ends every session, closes the user's sockets, and
 * makes each of their conversations drop them from its cached members (closing bound sockets too);
 * an access token already issued still authenticates REST calls until it expires (at most an hour),
 * but no conversation lets it read or send, and no new socket opens with it.
 */
export async function setDisabled(env: Env, db: Db, admin: AuthUser, userId: string, disabled: boolean) {
  const user = await db.select().from(users).where(eq(users.id, userId)).get();
  if (!user) throw new AppError("NOT_FOUND", "User not found");
  if (disabled && user.id === admin.id) throw new AppError("FORBIDDEN", "You cannot disable your own account");
  if (disabled && isListedAdmin(env, user.username)) throw new AppError("FORBIDDEN", "Administrators cannot be disabled here; remove them from ADMIN_USERNAMES first");
  if ((user.disabledAt !== null) !== disabled) {
    await db
      .update(users)
      .set({ disabledAt: disabled ? new Date().toISOString() : null, ...(disabled ? { status: "OFFLINE" as const } : {}), updatedAt: new Date().toISOString() })
      .where(eq(users.id, userId));
  }
  // every call does the rest again (all idempotent), so retrying after a partial failure completes it
  if (disabled) {
    await revokeSessions(db, userId);
    await userStub(env, userId).disconnectAll("This account has been disabled");
  }
  const theirs = await db.select({ id: members.conversationId }).from(members).where(eq(members.userId, userId));
  const results = await Promise.allSettled(theirs.map((r) => conversationChanged(env, r.id)));
  const failed = results.filter((r) => r.status === "rejected").length;
  if (failed) {
    log("warn", "some conversations did not reload after an account change", { user_id: userId, failed });
    throw new AppError("INTERNAL", `${failed} of ${theirs.length} conversations did not take the change yet; send the request again`);
  }
  return adminView((await db.select().from(users).where(eq(users.id, userId)).get())!);
}

// ---- discover links -----------------------------------------------------------------------------

type LinkRow = typeof discoverLinks.$inferSelect;
const linkView = (l: LinkRow) => ({ id: l.id, name: l.name, url: l.url, logo: l.icon, icon: l.icon, description: l.description, sort: l.sort, created_at: l.createdAt, updated_at: l.updatedAt });

export async function listLinks(db: Db) {
  return (await db.select().from(discoverLinks).orderBy(asc(discoverLinks.sort), asc(discoverLinks.createdAt))).map(linkView);
}

export async function createLink(db: Db, input: { name: string; url: string; icon?: string | null; description?: string | null; sort?: number }) {
  const now = new Date().toISOString();
  const row: LinkRow = { id: newId("disc"), name: input.name, url: input.url, icon: input.icon ?? null, description: input.description ?? null, sort: input.sort ?? 0, createdAt: now, updatedAt: now };
  await db.insert(discoverLinks).values(row);
  return linkView(row);
}

export async function updateLink(db: Db, id: string, input: Partial<{ name: string; url: string; icon: string | null; description: string | null; sort: number }>) {
  const existing = await db.select().from(discoverLinks).where(eq(discoverLinks.id, id)).get();
  if (!existing) throw new AppError("NOT_FOUND", "Discover link not found");
  const next = { ...existing, ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)), updatedAt: new Date().toISOString() } as LinkRow;
  await db.update(discoverLinks).set({ name: next.name, url: next.url, icon: next.icon, description: next.description, sort: next.sort, updatedAt: next.updatedAt }).where(eq(discoverLinks.id, id));
  return linkView(next);
}

export async function deleteLink(db: Db, id: string) {
  const res = await db.delete(discoverLinks).where(eq(discoverLinks.id, id)).run();
  if (!res.meta.changes) throw new AppError("NOT_FOUND", "Discover link not found");
  return { id, deleted: true as const };
}

