import { and, desc, eq, lt, sql } from "drizzle-orm";
import type { AuthUser, Db, Env } from "../../env";
import { conversations, members, momentComments, moments, reports, users } from "../../db/schema";
import { changes, d1Batch } from "../../db/batch";
import { limit } from "../../lib/counters";
import { AppError } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { notify } from "../../lib/notify";
import { conversationStub } from "../../realtime/push";
import { unwrap } from "../../realtime/result";
import { setDisabled } from "../admin/admin.service";
import { announce, refreshMemberCount } from "../groups/groups.service";
import { visibleMoment } from "../moments/moments.service";

export type ReportRow = typeof reports.$inferSelect;
export type TargetType = ReportRow["targetType"];
export type Reason = ReportRow["reason"];
export type Action = NonNullable<ReportRow["action"]>;

const REPORTS_PER_HOUR = 30;
const DEFAULT_MUTE_MINUTES = 24 * 60;

/** What the reporter sees of their report: the outcome, not who handled it or the internal note. */
export const mineView = (r: ReportRow) => ({
  id: r.id,
  target_type: r.targetType,
  target_id: r.targetId,
  conversation_id: r.conversationId,
  reason: r.reason,
  text: r.text,
  status: r.status,
  outcome: r.action,
  created_at: r.createdAt,
  resolved_at: r.resolvedAt,
});

export const adminView = (r: ReportRow) => ({
  ...mineView(r),
  reporter_id: r.reporterId,
  target_user_id: r.targetUserId,
  snapshot: r.snapshot,
  action: r.action,
  note: r.note,
  resolved_by: r.resolvedBy,
});

/**
 * Captures what is reported as the reporter can see it now (a target they cannot see is "not found",
 * so a report cannot probe for hidden content), with its author.
 */
async function snapshotOf(env: Env, db: Db, reporter: AuthUser, type: TargetType, targetId: string, conversationId?: string) {
  switch (type) {
    case "message": {
      if (!conversationId) throw new AppError("VALIDATION_ERROR", "conversation_id: required for a message report");
      const m = unwrap(await conversationStub(env, conversationId).getMessage(conversationId, reporter.id, targetId));
      return {
        authorId: m.sender.id,
        conversationId,
        snapshot: { id: m.id, seq: m.seq, type: m.type, content: m.content, payload: m.payload, attachments: m.attachments, sender: m.sender, created_at: m.created_at, recalled: m.recalled, deleted: m.deleted },
      };
    }
    case "user": {
      const u = await db.select().from(users).where(eq(users.id, targetId)).get();
      if (!u) throw new AppError("NOT_FOUND", "User not found");
      return { authorId: u.id, conversationId: null, snapshot: { id: u.id, username: u.username, nickname: u.nickname, avatar: u.avatar, bio: u.bio } };
    }
    case "group": {
      const g = await db.select().from(conversations).where(and(eq(conversations.id, targetId), eq(conversations.kind, "group"))).get();
      const mine = g && (await db.select({ r: members.role }).from(members).where(and(eq(members.conversationId, targetId), eq(members.userId, reporter.id))).get());
      if (!g || (g.visibility === "private" && !mine)) throw new AppError("NOT_FOUND", "Group not found");
      return { authorId: g.ownerId, conversationId: g.id, snapshot: { id: g.id, name: g.name, description: g.description, avatar: g.avatar, owner_id: g.ownerId } };
    }
    case "moment": {
      const m = await visibleMoment(db, reporter, targetId);
      return { authorId: m.userId, conversationId: null, snapshot: { id: m.id, user_id: m.userId, text: m.text, photos: m.photos, created_at: m.createdAt } };
    }
    case "comment": {
      const c = await db.select().from(momentComments).where(eq(momentComments.id, targetId)).get();
      if (!c) throw new AppError("NOT_FOUND", "Comment not found");
      await visibleMoment(db, reporter, c.momentId);
      return { authorId: c.userId, conversationId: null, snapshot: { id: c.id, moment_id: c.momentId, user_id: c.userId, text: c.text, created_at: c.createdAt } };
    }
  }
}

export async function createReport(
  env: Env,
  db: Db,
  reporter: AuthUser,
  input: { target_type: TargetType; target_id: string; conversation_id?: string; reason: Reason; text?: string },
) {
  await limit(db, `report:${reporter.id}`, REPORTS_PER_HOUR, 3600, "reports");
  const { authorId, conversationId, snapshot } = await snapshotOf(env, db, reporter, input.target_type, input.target_id, input.conversation_id);
  if (authorId === reporter.id) throw new AppError("BAD_REQUEST", "You cannot report yourself or your own content");
  const row: ReportRow = {
    id: newId("rep"),
    reporterId: reporter.id,
    targetType: input.target_type,
    targetId: input.target_id,
    conversationId,
    targetUserId: authorId,
    reason: input.reason,
    text: input.text ?? null,
    snapshot,
    status: "open",
    action: null,
    note: null,
    resolvedBy: null,
    resolvedAt: null,
    createdAt: new Date().toISOString(),
  };
  await db.insert(reports).values(row);
  return mineView(row);
}

export async function myReports(db: Db, me: string, q: { cursor?: string; limit: number }) {
  const rows = await db
    .select()
    .from(reports)
    .where(and(eq(reports.reporterId, me), q.cursor ? lt(reports.id, q.cursor) : undefined))
    .orderBy(desc(reports.id))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  return { reports: page.map(mineView), next_cursor: rows.length > q.limit ? page[page.length - 1].id : null };
}

export async function listReports(db: Db, q: { status?: "open" | "resolved"; target_type?: TargetType; reason?: Reason; cursor?: string; limit: number }) {
  const rows = await db
    .select()
    .from(reports)
    .where(
      and(
        q.status ? eq(reports.status, q.status) : undefined,
        q.target_type ? eq(reports.targetType, q.target_type) : undefined,
        q.reason ? eq(reports.reason, q.reason) : undefined,
        q.cursor ? lt(reports.id, q.cursor) : undefined,
      ),
    )
    .orderBy(desc(reports.id))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  return { reports: page.map(adminView), next_cursor: rows.length > q.limit ? page[page.length - 1].id : null };
}

/** The group a mute or ban applies to: the reported group, or the group the reported message is in. */
async function groupOf(db: Db, r: ReportRow) {
  const g = r.conversationId ? await db.select().from(conversations).where(eq(conversations.id, r.conversationId)).get() : undefined;
  if (!g || g.kind !== "group") throw new AppError("BAD_REQUEST", "mute_user and ban_user apply to a reported message in a group, or a reported group's member");
  if (!r.targetUserId) throw new AppError("BAD_REQUEST", "This report names no user");
  return g;
}

async function removeContent(env: Env, db: Db, r: ReportRow) {
  switch (r.targetType) {
    case "message":
      unwrap(await conversationStub(env, r.conversationId!).dataOp({ kind: "moderate_remove", conversationId: r.conversationId!, messageId: r.targetId }));
      return;
    case "moment":
      await db.update(moments).set({ deletedAt: new Date().toISOString() }).where(eq(moments.id, r.targetId));
      return;
    case "comment": {
      const c = await db.select().from(momentComments).where(eq(momentComments.id, r.targetId)).get();
      if (!c) return; // already gone
      await db.batch([
        db.delete(momentComments).where(eq(momentComments.id, r.targetId)),
        db.update(moments).set({ commentCount: sql`(SELECT count(*) FROM ${momentComments} WHERE ${momentComments.momentId} = ${c.momentId})` }).where(eq(moments.id, c.momentId)),
      ]);
      return;
    }
    default:
      throw new AppError("BAD_REQUEST", `remove_content applies to messages, moments and comments; for a ${r.targetType} use disable_user or ban_user`);
  }
}

/**
 * Resolves an open report with one action, then tells the reporter the outcome. The action runs
 * before the report is closed, so a failed action leaves the report open to try again.
 */
export async function resolveReport(env: Env, db: Db, admin: AuthUser, id: string, input: { action: Action; note?: string; mute_minutes?: number }) {
  const r = await db.select().from(reports).where(eq(reports.id, id)).get();
  if (!r) throw new AppError("NOT_FOUND", "Report not found");
  if (r.status === "resolved") throw new AppError("CONFLICT", "This report is already resolved");
  switch (input.action) {
    case "dismiss":
      break;
    case "remove_content":
      await removeContent(env, db, r);
      break;
    case "mute_user": {
      const g = await groupOf(db, r);
      const until = new Date(Date.now() + (input.mute_minutes ?? DEFAULT_MUTE_MINUTES) * 60_000).toISOString();
      const res = await db
        .update(members)
        .set({ mutedUntil: until })
        .where(and(eq(members.conversationId, g.id), eq(members.userId, r.targetUserId!), sql`${members.role} <> 'owner'`))
        .run();
      if (!res.meta.changes) throw new AppError("CONFLICT", "That user is not a member of the group (or owns it)");
      await announce(env, g.id, { type: "member", user_id: r.targetUserId, muted_until: until });
      await notify(env, db, [{ userId: r.targetUserId!, kind: "group_muted", actorId: admin.id, subjectId: g.id, data: { group_id: g.id, muted_until: until, by: "moderator" } }]);
      break;
    }
    case "ban_user": {
      const g = await groupOf(db, r);
      const [removed] = await d1Batch(env, [
        db.delete(members).where(and(eq(members.conversationId, g.id), eq(members.userId, r.targetUserId!), sql`${members.role} <> 'owner'`)),
        refreshMemberCount(g.id),
      ]);
      if (!changes(removed)) throw new AppError("CONFLICT", "That user is not a member of the group (or owns it)");
      await announce(env, g.id, { type: "kicked", user_id: r.targetUserId, by: admin.id });
      await notify(env, db, [{ userId: r.targetUserId!, kind: "group_kicked", actorId: admin.id, subjectId: g.id, data: { group_id: g.id, name: g.name, by: "moderator" } }]);
      break;
    }
    case "disable_user":
      if (!r.targetUserId) throw new AppError("BAD_REQUEST", "This report names no user");
      await setDisabled(env, db, admin, r.targetUserId, true);
      break;
  }
  const now = new Date().toISOString();
  const [done] = await db
    .update(reports)
    .set({ status: "resolved", action: input.action, note: input.note ?? null, resolvedBy: admin.id, resolvedAt: now })
    .where(and(eq(reports.id, id), eq(reports.status, "open")))
    .returning();
  if (!done) throw new AppError("CONFLICT", "This report was resolved meanwhile");
  if (done.reporterId) {
    await notify(env, db, [
      { userId: done.reporterId, kind: "report_resolved", subjectId: done.id, data: { report_id: done.id, target_type: done.targetType, target_id: done.targetId, outcome: done.action } },
    ]);
  }
  return adminView(done);
}
