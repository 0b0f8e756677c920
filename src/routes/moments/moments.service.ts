import { and, asc, desc, eq, inArray, isNull, lt, or, sql, type SQL } from "drizzle-orm";
import type { AuthUser, Db, Env } from "../../env";
import { blocks, files, friendships, momentComments, momentLikes, moments, notes, users } from "../../db/schema";
import { AppError } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { notify, type NotificationInput } from "../../lib/notify";
import { fileView, liveFilesById } from "../files/files.service";
import { inIds } from "../friends/friends.service";

type MomentRow = typeof moments.$inferSelect;
type Author = { id: string; username: string; nickname: string | null; avatar: string | null };

const NOTES_PAGE = 12;

// ---- who sees what ------------------------------------------------------------------------------

const friendsOf = (userId: string) => sql`SELECT ${friendships.friendId} FROM ${friendships} WHERE ${friendships.userId} = ${userId}`;

/**
 * Moments `viewer` may see: their own; friends' unless private; public ones unless either side
 * blocked the other.
 */
function visibleTo(viewer: string): SQL {
  const blocked = sql`EXISTS (SELECT 1 FROM ${blocks} WHERE (${blocks.userId} = ${moments.userId} AND ${blocks.blockedUserId} = ${viewer}) OR (${blocks.userId} = ${viewer} AND ${blocks.blockedUserId} = ${moments.userId}))`;
  return or(
    eq(moments.userId, viewer),
    and(sql`${moments.visibility} <> 'private'`, sql`${moments.userId} IN (${friendsOf(viewer)})`),
    and(eq(moments.visibility, "public"), sql`NOT ${blocked}`),
  )!;
}

export async function visibleMoment(db: Db, viewer: AuthUser, id: string): Promise<MomentRow> {
  const row = await db
    .select()
    .from(moments)
    .where(and(eq(moments.id, id), isNull(moments.deletedAt), viewer.isAdmin ? undefined : visibleTo(viewer.id)))
    .get();
  if (!row) throw new AppError("NOT_FOUND", "Moment not found");
  return row;
}

/** Likes and comments a viewer sees: their own, the author's and their friends' (WeChat's rule). */
const shownTo = (viewer: string, column: typeof momentLikes.userId | typeof momentComments.userId, momentColumn: typeof momentLikes.momentId | typeof momentComments.momentId) =>
  or(eq(column, viewer), sql`${column} IN (${friendsOf(viewer)})`, sql`${column} = (SELECT ${moments.userId} FROM ${moments} WHERE ${moments.id} = ${momentColumn})`);

// ---- views --------------------------------------------------------------------------------------

async function views(env: Env, db: Db, viewer: string, rows: MomentRow[]) {
  if (!rows.length) return [];
  const ids = rows.map((m) => m.id);
  const [likes, comments, photos] = await db.batch([
    db.select().from(momentLikes).where(and(inArray(momentLikes.momentId, ids), shownTo(viewer, momentLikes.userId, momentLikes.momentId))).orderBy(asc(momentLikes.createdAt)),
    db.select().from(momentComments).where(and(inArray(momentComments.momentId, ids), shownTo(viewer, momentComments.userId, momentComments.momentId))).orderBy(asc(momentComments.id)),
    db.select().from(files).where(and(inIds(files.id, [...new Set(rows.flatMap((m) => m.photos))]), isNull(files.deletedAt))),
  ]);
  const people = new Set<string>([...rows.map((m) => m.userId), ...likes.map((l) => l.userId), ...comments.flatMap((c) => [c.userId, c.replyToUserId ?? c.userId])]);
  const authors = new Map<string, Author>(
    (await db.select({ id: users.id, username: users.username, nickname: users.nickname, avatar: users.avatar }).from(users).where(inIds(users.id, [...people]))).map((u) => [u.id, u]),
  );
  const who = (id: string): Author => authors.get(id) ?? { id, username: "deleted", nickname: null, avatar: null };
  const photoById = new Map(await Promise.all(photos.map(async (f) => [f.id, await fileView(env, f)] as const)));
  return rows.map((m) => {
    const liked = likes.filter((l) => l.momentId === m.id);
    return {
      id: m.id,
      user: who(m.userId),
      text: m.text,
      photos: m.photos.flatMap((id) => {
        const f = photoById.get(id);
        return f ? [{ id, url: f.download_url, content_type: f.content_type }] : [];
      }),
      visibility: m.visibility,
      like_count: m.likeCount,
      comment_count: m.commentCount,
      is_liked: liked.some((l) => l.userId === viewer),
      likes: liked.map((l) => who(l.userId)),
      comments: comments
        .filter((c) => c.momentId === m.id)
        .map((c) => ({ id: c.id, moment_id: m.id, user: who(c.userId), text: c.text, reply_to: c.replyTo, reply_to_user: c.replyToUserId ? who(c.replyToUserId) : null, created_at: c.createdAt })),
      created_at: m.createdAt,
    };
  });
}

// ---- moments ------------------------------------------------------------------------------------

export async function createMoment(env: Env, db: Db, user: AuthUser, input: { text?: string; photos: string[]; visibility: "public" | "friends" | "private" }) {
  if (input.photos.length) {
    const byId = await liveFilesById(db, input.photos);
    for (const id of input.photos) {
      const f = byId.get(id);
      if (!f || f.ownerId !== user.id) throw new AppError("BAD_REQUEST", `photos: file ${id} not found or not yours`);
      if (f.purpose !== "moment") throw new AppError("BAD_REQUEST", `photos: file ${id} was not uploaded as a moment photo (purpose moment)`);
    }
  }
  const row = { id: newId("mom"), userId: user.id, text: input.text || null, photos: input.photos, visibility: input.visibility, createdAt: new Date().toISOString() };
  await db.insert(moments).values(row);
  return (await views(env, db, user.id, [await visibleMoment(db, user, row.id)]))[0];
}

export async function feed(env: Env, db: Db, user: AuthUser, q: { cursor?: string; limit: number; user_id?: string }) {
  const scope = q.user_id ? eq(moments.userId, q.user_id) : or(eq(moments.userId, user.id), sql`${moments.userId} IN (${friendsOf(user.id)})`);
  const rows = await db
    .select()
    .from(moments)
    .where(and(isNull(moments.deletedAt), scope, visibleTo(user.id), q.cursor ? lt(moments.id, q.cursor) : undefined))
    .orderBy(desc(moments.id))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  return { moments: await views(env, db, user.id, page), next_cursor: rows.length > q.limit ? page[page.length - 1].id : null };
}

export async function getMoment(env: Env, db: Db, user: AuthUser, id: string) {
  return (await views(env, db, user.id, [await visibleMoment(db, user, id)]))[0];
}

export async function deleteMoment(db: Db, user: AuthUser, id: string) {
  const m = await visibleMoment(db, user, id);
  if (m.userId !== user.id && !user.isAdmin) throw new AppError("FORBIDDEN", "Only the author may delete a moment");
  await db.update(moments).set({ deletedAt: new Date().toISOString() }).where(eq(moments.id, id));
  return { id, deleted: true as const };
}

const recount = (db: Db, id: string) =>
  db
    .update(moments)
    .set({
      likeCount: sql`(SELECT count(*) FROM ${momentLikes} WHERE ${momentLikes.momentId} = ${id})`,
      commentCount: sql`(SELECT count(*) FROM ${momentComments} WHERE ${momentComments.momentId} = ${id})`,
    })
    .where(eq(moments.id, id));

export async function like(env: Env, db: Db, user: AuthUser, id: string) {
  const m = await visibleMoment(db, user, id);
  const [inserted] = await db.batch([db.insert(momentLikes).values({ momentId: id, userId: user.id }).onConflictDoNothing(), recount(db, id)]);
  if (inserted.meta.changes && m.userId !== user.id) await notify(env, db, [{ userId: m.userId, kind: "moment_liked", actorId: user.id, subjectId: id, data: { moment_id: id, username: user.username } }]);
  return getMoment(env, db, user, id);
}

export async function unlike(env: Env, db: Db, user: AuthUser, id: string) {
  await visibleMoment(db, user, id);
  await db.batch([db.delete(momentLikes).where(and(eq(momentLikes.momentId, id), eq(momentLikes.userId, user.id))), recount(db, id)]);
  return getMoment(env, db, user, id);
}

export async function comment(env: Env, db: Db, user: AuthUser, id: string, input: { text: string; reply_to?: string }) {
  const m = await visibleMoment(db, user, id);
  let replyToUserId: string | null = null;
  if (input.reply_to) {
    // only a comment I can see on this moment
    const parent = await db
      .select()
      .from(momentComments)
      .where(and(eq(momentComments.id, input.reply_to), eq(momentComments.momentId, id), shownTo(user.id, momentComments.userId, momentComments.momentId)))
      .get();
    if (!parent) throw new AppError("BAD_REQUEST", "reply_to: no such comment on this moment");
    replyToUserId = parent.userId;
  }
  const row = { id: newId("cmt"), momentId: id, userId: user.id, text: input.text, replyTo: input.reply_to ?? null, replyToUserId, createdAt: new Date().toISOString() };
  await db.batch([db.insert(momentComments).values(row), recount(db, id)]);
  const data = { moment_id: id, comment_id: row.id, text: row.text, reply_to: row.replyTo, username: user.username };
  const recipients = [...new Set([m.userId, replyToUserId])].filter((to): to is string => !!to && to !== user.id);
  // nobody hears from someone they blocked (or who blocked them)
  const blocked = recipients.length
    ? await db
        .select({ a: blocks.userId, b: blocks.blockedUserId })
        .from(blocks)
        .where(or(and(inArray(blocks.userId, recipients), eq(blocks.blockedUserId, user.id)), and(eq(blocks.userId, user.id), inArray(blocks.blockedUserId, recipients))))
    : [];
  const cut = new Set(blocked.map((r) => (r.a === user.id ? r.b : r.a)));
  const told: NotificationInput[] = recipients.filter((to) => !cut.has(to)).map((to) => ({ userId: to, kind: "moment_commented", actorId: user.id, subjectId: id, data }));
  await notify(env, db, told);
  const view = await getMoment(env, db, user, id);
  return { comment: view.comments.find((c) => c.id === row.id)!, moment: view };
}

export async function deleteComment(env: Env, db: Db, user: AuthUser, id: string, commentId: string) {
  const m = await visibleMoment(db, user, id);
  const c = await db.select().from(momentComments).where(and(eq(momentComments.id, commentId), eq(momentComments.momentId, id))).get();
  if (!c) throw new AppError("NOT_FOUND", "Comment not found");
  if (c.userId !== user.id && m.userId !== user.id && !user.isAdmin) throw new AppError("FORBIDDEN", "Only the comment's author or the moment's author may delete it");
  await db.batch([db.delete(momentComments).where(eq(momentComments.id, commentId)), recount(db, id)]);
  return getMoment(env, db, user, id);
}

/** Whether a moment photo is in a moment the viewer may see (file access follows the moment). */
export async function photoVisible(db: Db, viewer: string, fileId: string) {
  const row = await db
    .select({ id: moments.id })
    .from(moments)
    .where(and(isNull(moments.deletedAt), sql`EXISTS (SELECT 1 FROM json_each(${moments.photos}) WHERE value = ${fileId})`, visibleTo(viewer)))
    .get();
  return !!row;
}

// ---- notes --------------------------------------------------------------------------------------

const noteView = (n: typeof notes.$inferSelect) => ({ id: n.id, text: n.text, color: n.color, created_at: n.createdAt, updated_at: n.updatedAt });

export async function listNotes(db: Db, user: AuthUser, cursor?: string) {
  const rows = await db
    .select()
    .from(notes)
    .where(and(eq(notes.userId, user.id), cursor ? lt(notes.id, cursor) : undefined))
    .orderBy(desc(notes.id))
    .limit(NOTES_PAGE + 1);
  const page = rows.slice(0, NOTES_PAGE);
  return { notes: page.map(noteView), next_cursor: rows.length > NOTES_PAGE ? page[page.length - 1].id : null };
}

export async function createNote(db: Db, user: AuthUser, input: { text: string; color: string }) {
  const now = new Date().toISOString();
  const row = { id: newId("note"), userId: user.id, text: input.text, color: input.color, createdAt: now, updatedAt: now };
  await db.insert(notes).values(row);
  return noteView(row);
}

async function myNote(db: Db, user: AuthUser, id: string) {
  const n = await db.select().from(notes).where(eq(notes.id, id)).get();
  if (!n || n.userId !== user.id) throw new AppError("NOT_FOUND", "Note not found");
  return n;
}

export async function updateNote(db: Db, user: AuthUser, id: string, input: { text?: string; color?: string }) {
  const n = await myNote(db, user, id);
  const next = { ...n, ...(input.text !== undefined ? { text: input.text } : {}), ...(input.color !== undefined ? { color: input.color } : {}), updatedAt: new Date().toISOString() };
  await db.update(notes).set({ text: next.text, color: next.color, updatedAt: next.updatedAt }).where(eq(notes.id, id));
  return noteView(next);
}

export async function deleteNote(db: Db, user: AuthUser, id: string) {
  await myNote(db, user, id);
  await db.delete(notes).where(eq(notes.id, id));
  return { id, deleted: true as const };
}
