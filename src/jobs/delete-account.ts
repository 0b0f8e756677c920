import { and, asc, eq, inArray, isNull, ne, or, sql } from "drizzle-orm";
import {
  accountJobs, blocks, conversations, fileRefs, files, friendCategories, friendCategoryMembers, friendRequests, friendships, joinRequests, members,
  messageAuthors, momentComments, momentLikes, moments, notes, notifications, refreshTokens, uploadParts, uploads, users, verificationCodes, workspaceMembers, workspaces,
} from "../db/schema";
import { changes, d1Batch } from "../db/batch";
import type { Db, Env } from "../env";
import { log } from "../middleware/observability";
import { notify } from "../lib/notify";
import { DELETED_ACCOUNT_NAME } from "../realtime/conversation-data";
import { conversationStub } from "../realtime/push";
import { unwrap } from "../realtime/result";
import { announce, refreshMemberCount } from "../routes/groups/groups.service";
import type { JobKind, JobRow, Step, UnitResult } from "./jobs";

const MESSAGE_PAGE = 500;
const MEMBERSHIPS_PER_UNIT = 20;
const FILES_PER_UNIT = 50;

type Ctx = { env: Env; db: Db; job: JobRow };
const mode = (job: JobRow) => (job.data.messages_mode === "erase" ? "erase" : "keep");

/**
 * 1. messages: in every conversation the account is in or ever sent into, its messages are
 * re-attributed to "Deleted account" or tombstoned (operator config `deleted_account_messages`,
 * read when the deletion was asked for), page by page; the conversation list's preview follows.
 */
const messagesStep: Step = {
  name: "messages",
  async unit({ env, db, job }, cursor): Promise<UnitResult> {
    let list = job.data.conversations as string[] | undefined;
    if (!list) {
      const [mine, authored] = await db.batch([
        db.select({ id: members.conversationId }).from(members).where(eq(members.userId, job.userId)),
        db.select({ id: messageAuthors.conversationId }).from(messageAuthors).where(eq(messageAuthors.userId, job.userId)),
      ]);
      list = [...new Set([...mine, ...authored].map((r) => r.id))].sort();
      return { done: list.length === 0, cursor: "0:0", data: { conversations: list, step_total: list.length, step_done: 0 } };
    }
    const [i, after] = (cursor ?? "0:0").split(":").map(Number);
    const conversationId = list[i];
    if (!conversationId) return { done: true };
    const page = unwrap(
      await conversationStub(env, conversationId).dataOp({ kind: "erase_author", conversationId, userId: job.userId, mode: mode(job), after, limit: MESSAGE_PAGE }),
    ) as { next: number; done: boolean };
    if (!page.done) return { done: false, cursor: `${i}:${page.next}` };
    // the conversation list shows the newest message's sender from D1
    await db
      .update(conversations)
      .set({
        lastMessage: sql`json_set(${conversations.lastMessage}, '$.sender_name', ${DELETED_ACCOUNT_NAME}${mode(job) === "erase" ? sql`, '$.preview', '[deleted]'` : sql``})`,
      })
      .where(and(eq(conversations.id, conversationId), sql`json_extract(${conversations.lastMessage}, '$.sender_id') = ${job.userId}`));
    if (i + 1 >= list.length) return { done: true, data: { step_done: list.length } };
    return { done: false, cursor: `${i + 1}:0`, data: { step_done: i + 1 } };
  },
};

/** The member to hand a group to: the longest-serving admin, else the longest-serving member. */
async function successor(db: Db, groupId: string, leaving: string) {
  const row = await db
    .select({ userId: members.userId })
    .from(members)
    .innerJoin(users, eq(users.id, members.userId))
    .where(and(eq(members.conversationId, groupId), ne(members.userId, leaving), isNull(users.disabledAt)))
    .orderBy(sql`CASE ${members.role} WHEN 'admin' THEN 0 ELSE 1 END`, asc(members.joinedAt), asc(members.userId))
    .get();
  return row?.userId ?? null;
}

/**
 * 2. memberships: groups the account owns pass to the longest-serving admin, else member, or are
 * dissolved when nobody else is left; then the account leaves every conversation. Workspaces it owns
 * pass to their longest-standing member or are removed. Every write is guarded, so a unit run again
 * after a crash finds nothing left to do.
 */
const membershipsStep: Step = {
  name: "memberships",
  async unit({ env, db, job }): Promise<UnitResult> {
    const me = job.userId;
    if (!job.data.workspaces_done) {
      const owned = await db.select({ id: workspaces.id }).from(workspaces).where(eq(workspaces.ownerId, me));
      for (const w of owned) {
        const heir = await db
          .select({ userId: workspaceMembers.userId })
          .from(workspaceMembers)
          .where(and(eq(workspaceMembers.workspaceId, w.id), ne(workspaceMembers.userId, me)))
          .orderBy(asc(workspaceMembers.joinedAt))
          .get();
        if (heir) await db.update(workspaces).set({ ownerId: heir.userId }).where(and(eq(workspaces.id, w.id), eq(workspaces.ownerId, me)));
        else {
          await db.batch([
            db.update(conversations).set({ workspaceId: null }).where(eq(conversations.workspaceId, w.id)),
            db.delete(workspaces).where(and(eq(workspaces.id, w.id), eq(workspaces.ownerId, me))),
          ]);
        }
      }
      await db.update(workspaces).set({ supportUserId: null }).where(eq(workspaces.supportUserId, me));
      return { done: false, cursor: "groups", data: { workspaces_done: true } };
    }
    const rows = await db
      .select({ id: members.conversationId, role: members.role, kind: conversations.kind, ownerId: conversations.ownerId, dissolvedAt: conversations.dissolvedAt, name: conversations.name })
      .from(members)
      .innerJoin(conversations, eq(conversations.id, members.conversationId))
      .where(eq(members.userId, me))
      .orderBy(asc(members.conversationId))
      .limit(MEMBERSHIPS_PER_UNIT);
    for (const m of rows) {
      if (m.kind === "group" && m.ownerId === me && !m.dissolvedAt) {
        const heir = await successor(db, m.id, me);
        const now = new Date().toISOString();
        if (heir) {
          const [moved] = await d1Batch(env, [
            sql`UPDATE conversations SET owner_id = ${heir}, updated_at = ${now} WHERE id = ${m.id} AND owner_id = ${me}`,
            sql`UPDATE members SET role = 'owner', muted_until = NULL WHERE conversation_id = ${m.id} AND user_id = ${heir}
                  AND EXISTS (SELECT 1 FROM conversations WHERE id = ${m.id} AND owner_id = ${heir})`,
          ]);
          if (changes(moved)) {
            await notify(env, db, [{ userId: heir, kind: "group_owner_transferred", subjectId: m.id, data: { group_id: m.id, name: m.name, previous_owner_id: me, reason: "account_deleted" } }]);
            await announce(env, m.id, { type: "owner", owner_id: heir, previous_owner_id: me });
          }
        } else {
          await db.update(conversations).set({ dissolvedAt: now, updatedAt: now }).where(and(eq(conversations.id, m.id), isNull(conversations.dissolvedAt)));
          await db.update(joinRequests).set({ status: "cancelled", handledAt: now }).where(and(eq(joinRequests.conversationId, m.id), eq(joinRequests.status, "pending")));
        }
      }
      await d1Batch(env, [db.delete(members).where(and(eq(members.conversationId, m.id), eq(members.userId, me))), refreshMemberCount(m.id)]);
      await announce(env, m.id, { type: "left", user_id: me, reason: "account_deleted" });
    }
    return rows.length < MEMBERSHIPS_PER_UNIT ? { done: true } : { done: false, cursor: "groups" };
  },
};

/**
 * 3. social graph and content: friends and requests both ways, blocks both ways, categories, notes,
 * notifications, join requests, moments (with their likes and comments), likes and comments on
 * other people's moments (whose counts are recounted), pending codes sent to the account's addresses.
 */
const socialStep: Step = {
  name: "social",
  async unit({ db, job }): Promise<UnitResult> {
    const me = job.userId;
    const user = await db.select({ email: users.email, phone: users.phone }).from(users).where(eq(users.id, me)).get();
    const touched = await db
      .select({ id: momentLikes.momentId })
      .from(momentLikes)
      .where(eq(momentLikes.userId, me))
      .union(db.select({ id: momentComments.momentId }).from(momentComments).where(eq(momentComments.userId, me)));
    const ids = touched.map((r) => r.id);
    const addresses = [user?.email, user?.phone].filter((a): a is string => !!a);
    await db.batch([
      db.delete(friendships).where(or(eq(friendships.userId, me), eq(friendships.friendId, me))),
      db.delete(friendRequests).where(or(eq(friendRequests.fromUserId, me), eq(friendRequests.toUserId, me))),
      db.delete(blocks).where(or(eq(blocks.userId, me), eq(blocks.blockedUserId, me))),
      db.delete(friendCategoryMembers).where(eq(friendCategoryMembers.friendId, me)),
      db.delete(friendCategories).where(eq(friendCategories.userId, me)),
      db.delete(notes).where(eq(notes.userId, me)),
      db.delete(notifications).where(eq(notifications.userId, me)),
      db.delete(joinRequests).where(eq(joinRequests.userId, me)),
      db.delete(momentLikes).where(eq(momentLikes.userId, me)),
      db.delete(momentComments).where(or(eq(momentComments.userId, me))),
      db.delete(moments).where(eq(moments.userId, me)),
      db
        .update(moments)
        .set({
          likeCount: sql`(SELECT count(*) FROM ${momentLikes} WHERE ${momentLikes.momentId} = ${moments.id})`,
          commentCount: sql`(SELECT count(*) FROM ${momentComments} WHERE ${momentComments.momentId} = ${moments.id})`,
        })
        .where(inArray(moments.id, ids.length ? ids : [""])),
      db.delete(verificationCodes).where(inArray(verificationCodes.target, addresses.length ? addresses : [""])),
      db.delete(refreshTokens).where(eq(refreshTokens.userId, me)),
      db.delete(messageAuthors).where(eq(messageAuthors.userId, me)),
    ]);
    return { done: true };
  },
};

/**
 * 4. files: unfinished uploads are aborted; every file row of the account goes, and its object in R2
 * goes too unless another file (an instant upload of the same bytes by someone else) still uses it.
 */
const filesStep: Step = {
  name: "files",
  async unit({ env, db, job }): Promise<UnitResult> {
    const me = job.userId;
    const open = await db.select().from(uploads).where(and(eq(uploads.ownerId, me), inArray(uploads.status, ["uploading", "completing"]))).limit(FILES_PER_UNIT);
    for (const u of open) {
      if (u.r2UploadId) await env.FILES.resumeMultipartUpload(u.r2Key, u.r2UploadId).abort().catch(() => undefined);
      if (u.status === "completing") await env.FILES.delete(u.r2Key);
      await db.batch([db.update(uploads).set({ status: "aborted" }).where(eq(uploads.id, u.id)), db.delete(uploadParts).where(eq(uploadParts.uploadId, u.id))]);
    }
    const rows = await db.select({ id: files.id, r2Key: files.r2Key }).from(files).where(eq(files.ownerId, me)).limit(FILES_PER_UNIT);
    if (!rows.length && !open.length) {
      await db.delete(uploads).where(eq(uploads.ownerId, me));
      return { done: true };
    }
    const ids = rows.map((r) => r.id);
    if (ids.length) await db.batch([db.delete(fileRefs).where(inArray(fileRefs.fileId, ids)), db.delete(files).where(inArray(files.id, ids))]);
    const keys = [...new Set(rows.map((r) => r.r2Key))];
    if (keys.length) {
      const still = new Set(
        (await db.select({ key: files.r2Key }).from(files).where(and(inArray(files.r2Key, keys), isNull(files.deletedAt)))).map((r) => r.key),
      );
      const free = keys.filter((k) => !still.has(k));
      if (free.length) await env.FILES.delete(free);
    }
    return { done: false, cursor: "more", data: { files_deleted: Number(job.data.files_deleted ?? 0) + rows.length } };
  },
};

/**
 * 5. account: references that outlive the account are cleared, then the row goes (its username,
 * email and phone are free again). With a grace period (`deleted_username_grace_days`) the row is
 * first emptied of everything but the username, which stays taken until the grace ends.
 */
const accountStep: Step = {
  name: "account",
  async unit({ db, job }): Promise<UnitResult> {
    const me = job.userId;
    await db.batch([
      db.update(conversations).set({ ownerId: null }).where(eq(conversations.ownerId, me)),
      db.update(conversations).set({ creatorId: null }).where(eq(conversations.creatorId, me)),
      db.update(workspaces).set({ supportUserId: null }).where(eq(workspaces.supportUserId, me)),
    ]);
    const grace = Number(job.data.grace_days ?? 0);
    if (grace > 0) {
      await scrub(db, me);
      return { done: true, data: { free_at: new Date(Date.now() + grace * 86_400_000).toISOString() } };
    }
    await db.delete(users).where(eq(users.id, me));
    return { done: true, data: { username_freed: true } };
  },
};

async function scrub(db: Db, userId: string) {
  await db
    .update(users)
    .set({
      email: null, phone: null, passwordHash: null, nickname: null, avatar: null, birthday: null, bio: null, lat: null, lng: null,
      country: null, province: null, city: null, district: null, gender: "unknown", status: "OFFLINE", lastSeen: null,
      disabledAt: sql`coalesce(${users.disabledAt}, ${new Date().toISOString()})`,
      updatedAt: new Date().toISOString(),
    })
    .where(eq(users.id, userId));
}

export const deletionSteps: JobKind = {
  steps: [messagesStep, membershipsStep, socialStep, filesStep, accountStep],
  /** after a grace period the emptied row goes, and the username with it */
  async after({ db, job }) {
    const freeAt = job.data.free_at as string | undefined;
    if (!freeAt || job.data.username_freed) return null;
    if (Date.parse(freeAt) > Date.now()) return Date.parse(freeAt);
    await db.delete(users).where(and(eq(users.id, job.userId), sql`${users.disabledAt} IS NOT NULL`));
    await db.update(accountJobs).set({ data: { ...job.data, username_freed: true } }).where(eq(accountJobs.id, job.id));
    log("info", "deleted account's username freed", { job_id: job.id });
    return null;
  },
};
