import { and, desc, eq, inArray } from "drizzle-orm";
import type { AuthUser, Db, Env } from "../../env";
import { accountJobs, files, members, users } from "../../db/schema";
import type { Config } from "../../lib/config";
import { limit } from "../../lib/counters";
import type { Channel } from "../../lib/delivery";
import { AppError } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { verifyPassword } from "../../lib/passwords";
import { log } from "../../middleware/observability";
import { conversationChanged, userStub } from "../../realtime/push";
import { jobStub, type JobRow } from "../../jobs/jobs";
import { consumeCode, isListedAdmin, revokeSessions, type RequestContext } from "../auth/auth.service";
import { fileView } from "../files/files.service";

export type Reauth = { password: string } | { channel: Channel; to: string; code: string };

export const jobView = (j: JobRow) => ({
  id: j.id,
  kind: j.kind,
  state: j.state,
  progress: Math.round(j.progress * 1000) / 1000,
  created_at: j.createdAt,
  updated_at: j.updatedAt,
  finished_at: j.finishedAt,
});

/**
 * The caller proves it is still them: the password, or for an account without one a fresh code sent
 * to its own email or phone (POST /auth/codes, purpose login). Attempts are limited per account.
 */
async function reauthenticate(ctx: RequestContext, user: typeof users.$inferSelect, input: Reauth) {
  await limit(ctx.db, `reauth:${user.id}`, 10, 900, "re-authentication attempts");
  if ("password" in input) {
    if (!user.passwordHash || !(await verifyPassword(input.password, user.passwordHash))) throw new AppError("FORBIDDEN", "Re-authentication failed: wrong password");
    return;
  }
  if (user.passwordHash) throw new AppError("BAD_REQUEST", "This account has a password: confirm with it");
  const address = input.channel === "email" ? user.email : user.phone;
  if (!address || address !== input.to) throw new AppError("FORBIDDEN", "Re-authentication failed: that address is not this account's");
  await consumeCode(ctx, input.channel, input.to, ["login"], input.code);
}

/**
 * DELETE /users/me: after re-authentication the account is disabled at once (sessions revoked,
 * sockets closed, login refused, every conversation drops it), then a job erases it in the background.
 * Asking again while the job runs returns the same job.
 */
export async function requestDeletion(ctx: RequestContext & { config: Config }, me: AuthUser, input: Reauth) {
  const { env, db, config } = ctx;
  const user = await db.select().from(users).where(eq(users.id, me.id)).get();
  if (!user) throw new AppError("UNAUTHORIZED", "Account no longer exists");
  const existing = await db
    .select()
    .from(accountJobs)
    .where(and(eq(accountJobs.userId, me.id), eq(accountJobs.kind, "delete"), inArray(accountJobs.state, ["pending", "running", "done"])))
    .get();
  if (existing) return jobView(existing);
  if (isListedAdmin(env, user.username)) throw new AppError("FORBIDDEN", "An operator-listed administrator cannot delete the account; remove it from ADMIN_USERNAMES first");
  await reauthenticate(ctx, user, input);
  const now = new Date().toISOString();
  const job: JobRow = {
    id: newId("job"),
    userId: me.id,
    kind: "delete",
    state: "pending",
    step: "messages",
    cursor: null,
    progress: 0,
    data: { messages_mode: config.deleted_account_messages, grace_days: config.deleted_username_grace_days, username: user.username },
    error: null,
    attempts: 0,
    createdAt: now,
    updatedAt: now,
    finishedAt: null,
    expiresAt: null,
  };
  await db.batch([
    db.update(users).set({ disabledAt: now, status: "OFFLINE", updatedAt: now }).where(eq(users.id, me.id)),
    db.insert(accountJobs).values(job),
  ]);
  await disableEverywhere(env, db, me.id);
  await jobStub(env, job.id).start(job.id);
  return jobView(job);
}

/** Sessions end, sockets close, and every conversation reloads its members without the account. */
async function disableEverywhere(env: Env, db: Db, userId: string) {
  await revokeSessions(db, userId);
  await userStub(env, userId).disconnectAll("This account is being deleted");
  const theirs = await db.select({ id: members.conversationId }).from(members).where(eq(members.userId, userId));
  const results = await Promise.allSettled(theirs.map((r) => conversationChanged(env, r.id)));
  const failed = results.filter((r) => r.status === "rejected").length;
  // the job leaves every conversation anyway (and tells each object again); this is the fast path
  if (failed) log("warn", "some conversations did not reload at deletion; the job will", { user_id: userId, failed });
}

/** POST /users/me/export: one export at a time, a few a day (config export_per_day). */
export async function requestExport(ctx: RequestContext & { config: Config }, me: AuthUser) {
  const { env, db, config } = ctx;
  const running = await db
    .select()
    .from(accountJobs)
    .where(and(eq(accountJobs.userId, me.id), eq(accountJobs.kind, "export"), inArray(accountJobs.state, ["pending", "running"])))
    .get();
  if (running) return jobView(running);
  await limit(db, `export:${me.id}`, config.export_per_day, 86_400, "exports");
  const now = new Date().toISOString();
  const job: JobRow = {
    id: newId("job"),
    userId: me.id,
    kind: "export",
    state: "pending",
    step: "collect",
    cursor: null,
    progress: 0,
    data: { expiry_hours: config.export_expiry_hours },
    error: null,
    attempts: 0,
    createdAt: now,
    updatedAt: now,
    finishedAt: null,
    expiresAt: null,
  };
  await db.insert(accountJobs).values(job);
  await jobStub(env, job.id).start(job.id);
  return jobView(job);
}

/** GET /users/me/export: my newest export; when done and not expired, a signed download URL. */
export async function exportStatus(env: Env, db: Db, me: AuthUser) {
  const job = await db.select().from(accountJobs).where(and(eq(accountJobs.userId, me.id), eq(accountJobs.kind, "export"))).orderBy(desc(accountJobs.createdAt)).get();
  if (!job) throw new AppError("NOT_FOUND", "No export yet: POST /users/me/export starts one");
  const base = { ...jobView(job), expires_at: job.expiresAt, size: (job.data.size as number | undefined) ?? null, download_url: null as string | null, download_url_expires_at: null as string | null };
  if (job.state !== "done" || !job.data.file_id || job.data.expired || (job.expiresAt && Date.parse(job.expiresAt) <= Date.now())) {
    return { ...base, expired: job.state === "done" };
  }
  const file = await db.select().from(files).where(eq(files.id, job.data.file_id as string)).get();
  if (!file) return { ...base, expired: true };
  const view = await fileView(env, file);
  return { ...base, expired: false, download_url: view.download_url, download_url_expires_at: view.download_url_expires_at };
}
