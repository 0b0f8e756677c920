import { Zip, ZipDeflate, ZipPassThrough } from "fflate";
import { and, asc, eq, gt, inArray, isNull, notLike } from "drizzle-orm";
import {
  accountJobs, blocks, conversations, files, friendCategories, friendCategoryMembers, friendships, members, messageAuthors, moments, momentComments, notes, users,
} from "../db/schema";
import type { Db, Env } from "../env";
import { newId } from "../lib/ids";
import { log } from "../middleware/observability";
import { conversationStub } from "../realtime/push";
import { unwrap } from "../realtime/result";
import type { AuthoredMessage } from "../realtime/conversation-data";
import { privateUser } from "../routes/users/users.service";
import type { JobKind, JobRow, Step, UnitResult } from "./jobs";

/**
 * The export archive: a zip in R2 with
 *   profile.json, contacts.json (friends with remarks and labels, categories, blocks), groups.json
 *   (every conversation I am in), moments.json (with the comments on them), notes.json,
 *   messages/<conversation>/<n>.json (every message I sent, with its conversation and time, 500 a file),
 *   files/index.json and files/<id>-<name> (the exact bytes of every file I uploaded).
 * Built in three resumable steps: the JSON parts are written to R2 one bounded unit at a time
 * (`exports/<job>/parts/`), then one unit streams them and the files through a zip writer into an R2
 * multipart upload in fixed 5 MiB parts, so memory stays around a part's size whatever the total.
 */

const MESSAGE_PAGE = 500;
const PART_BYTES = 5 * 1024 * 1024;
/** The zip writer has no ZIP64: files and archives stay below 4 GiB; larger files are listed, not packed. */
const ZIP_LIMIT = 0xffff_ff00;

type Ctx = { env: Env; db: Db; job: JobRow };
const partsPrefix = (job: JobRow) => `exports/${job.id}/parts/`;
const archiveKey = (job: JobRow) => `exports/${job.id}/edge-im-export.zip`;

async function putJson(env: Env, key: string, value: unknown) {
  await env.FILES.put(key, JSON.stringify(value, null, 2), { httpMetadata: { contentType: "application/json" } });
}

/** 1. profile, contacts, groups, moments, notes: one small JSON part each. */
const collectStep: Step = {
  name: "collect",
  async unit({ env, db, job }: Ctx): Promise<UnitResult> {
    const me = job.userId;
    const user = await db.select().from(users).where(eq(users.id, me)).get();
    if (!user) throw new Error("the account is gone");
    const [friends, categories, catMembers, blocked, groups, myMoments, myNotes] = await db.batch([
      db
        .select({ id: friendships.friendId, remark: friendships.remark, labels: friendships.labels, since: friendships.createdAt, username: users.username, nickname: users.nickname })
        .from(friendships)
        .leftJoin(users, eq(users.id, friendships.friendId))
        .where(eq(friendships.userId, me)),
      db.select().from(friendCategories).where(eq(friendCategories.userId, me)),
      db
        .select({ categoryId: friendCategoryMembers.categoryId, friendId: friendCategoryMembers.friendId })
        .from(friendCategoryMembers)
        .innerJoin(friendCategories, eq(friendCategories.id, friendCategoryMembers.categoryId))
        .where(eq(friendCategories.userId, me)),
      db.select({ id: blocks.blockedUserId, since: blocks.createdAt }).from(blocks).where(eq(blocks.userId, me)),
      db
        .select({ id: conversations.id, kind: conversations.kind, name: conversations.name, role: members.role, joined_at: members.joinedAt, nickname: members.nickname })
        .from(members)
        .innerJoin(conversations, eq(conversations.id, members.conversationId))
        .where(eq(members.userId, me)),
      db.select().from(moments).where(and(eq(moments.userId, me), isNull(moments.deletedAt))).orderBy(asc(moments.id)),
      db.select().from(notes).where(eq(notes.userId, me)).orderBy(asc(notes.id)),
    ]);
    const comments = myMoments.length
      ? await db.select().from(momentComments).where(inArray(momentComments.momentId, myMoments.map((m) => m.id))).orderBy(asc(momentComments.id))
      : [];
    const prefix = partsPrefix(job);
    await putJson(env, `${prefix}a/profile.json`, privateUser(user));
    await putJson(env, `${prefix}a/contacts.json`, {
      friends: friends.map((f) => ({ id: f.id, username: f.username, nickname: f.nickname, remark: f.remark, labels: f.labels, since: f.since })),
      categories: categories.map((c) => ({ id: c.id, name: c.name, members: catMembers.filter((m) => m.categoryId === c.id).map((m) => m.friendId) })),
      blocked,
    });
    await putJson(env, `${prefix}a/groups.json`, groups);
    await putJson(
      env,
      `${prefix}a/moments.json`,
      myMoments.map((m) => ({
        id: m.id, text: m.text, photos: m.photos, visibility: m.visibility, created_at: m.createdAt,
        comments: comments.filter((c) => c.momentId === m.id).map((c) => ({ id: c.id, user_id: c.userId, text: c.text, reply_to: c.replyTo, created_at: c.createdAt })),
      })),
    );
    await putJson(env, `${prefix}a/notes.json`, myNotes.map((n) => ({ id: n.id, text: n.text, color: n.color, created_at: n.createdAt, updated_at: n.updatedAt })));
    return { done: true };
  },
};

/** 2. every message I sent: each conversation object is asked for my messages, a page at a time. */
const messagesStep: Step = {
  name: "messages",
  async unit({ env, db, job }: Ctx, cursor): Promise<UnitResult> {
    let list = job.data.conversations as string[] | undefined;
    if (!list) {
      const [mine, authored] = await db.batch([
        db.select({ id: members.conversationId }).from(members).where(eq(members.userId, job.userId)),
        db.select({ id: messageAuthors.conversationId }).from(messageAuthors).where(eq(messageAuthors.userId, job.userId)),
      ]);
      list = [...new Set([...mine, ...authored].map((r) => r.id))].sort();
      return list.length ? { done: false, cursor: "0:0", data: { conversations: list, step_total: list.length, step_done: 0 } } : { done: true, data: { conversations: [] } };
    }
    const [i, after] = (cursor ?? "0:0").split(":").map(Number);
    const conversationId = list[i];
    if (!conversationId) return { done: true };
    const page = unwrap(
      await conversationStub(env, conversationId).dataOp({ kind: "author_page", conversationId, userId: job.userId, after, limit: MESSAGE_PAGE }),
    ) as { messages: AuthoredMessage[]; next: number; done: boolean };
    if (page.messages.length) {
      await putJson(
        env,
        `${partsPrefix(job)}messages/${conversationId}/${String(after).padStart(12, "0")}.json`,
        page.messages.map((m) => ({
          conversation_id: conversationId, seq: m.seq, id: m.id, type: m.type, content: m.content,
          payload: m.payload ? JSON.parse(m.payload) : null, attachments: m.attachments ? JSON.parse(m.attachments) : [],
          reply_to: m.reply_to, created_at: m.created_at, edited_at: m.edited_at, recalled: m.recalled_at !== null, deleted: m.deleted_at !== null,
        })),
      );
    }
    if (!page.done) return { done: false, cursor: `${i}:${page.next}` };
    if (i + 1 >= list.length) return { done: true, data: { step_done: list.length } };
    return { done: false, cursor: `${i + 1}:0`, data: { step_done: i + 1 } };
  },
};

/** Collects the zip writer's output and sends it to R2 in equal 5 MiB parts (R2 wants equal parts but the last). */
class PartWriter {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private parts: R2UploadedPart[] = [];
  size = 0;
  constructor(private upload: R2MultipartUpload) {}

  push(chunk: Uint8Array) {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.size += chunk.length;
  }

  /** Uploads every full part buffered so far (all of it when `final`). */
  async drain(final = false) {
    while (this.buffered >= PART_BYTES || (final && this.buffered > 0)) {
      const n = Math.min(PART_BYTES, this.buffered);
      const out = new Uint8Array(n);
      let filled = 0;
      while (filled < n) {
        const head = this.chunks[0];
        const take = Math.min(head.length, n - filled);
        out.set(head.subarray(0, take), filled);
        filled += take;
        if (take === head.length) this.chunks.shift();
        else this.chunks[0] = head.subarray(take);
      }
      this.buffered -= n;
      this.parts.push(await this.upload.uploadPart(this.parts.length + 1, out));
    }
  }

  complete() {
    return this.upload.complete(this.parts);
  }
}

const safeName = (s: string) => s.replace(/[\\/:*?"<>|\u0000-\u001f]/g, "_").slice(0, 120) || "file";

/** 3. the archive: the JSON parts and my files' bytes, streamed into one zip. */
const zipStep: Step = {
  name: "zip",
  async unit({ env, db, job }: Ctx): Promise<UnitResult> {
    // a run that died midway left an unfinished upload: drop it and build again from the start
    if (job.data.zip_upload_id) await env.FILES.resumeMultipartUpload(archiveKey(job), job.data.zip_upload_id as string).abort().catch(() => undefined);
    const upload = await env.FILES.createMultipartUpload(archiveKey(job), { httpMetadata: { contentType: "application/zip" } });
    await db.update(accountJobs).set({ data: { ...job.data, zip_upload_id: upload.uploadId } }).where(eq(accountJobs.id, job.id));
    const out = new PartWriter(upload);
    let failure: Error | null = null;
    const zip = new Zip((err, chunk) => {
      if (err) failure = err;
      else out.push(chunk);
    });
    const addBytes = async (name: string, body: ReadableStream<Uint8Array> | Uint8Array, store: boolean) => {
      const entry = store ? new ZipPassThrough(name) : new ZipDeflate(name, { level: 6 });
      zip.add(entry);
      if (body instanceof Uint8Array) entry.push(body, true);
      else {
        const reader = body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          entry.push(value);
          await out.drain();
        }
        entry.push(new Uint8Array(0), true);
      }
      if (failure) throw failure;
      await out.drain();
    };
    // the JSON parts, in key order
    const prefix = partsPrefix(job);
    let cursor: string | undefined;
    do {
      const listed = await env.FILES.list({ prefix, cursor });
      for (const o of listed.objects) {
        const obj = await env.FILES.get(o.key);
        if (!obj) continue;
        await addBytes(o.key.slice(prefix.length).replace(/^a\//, ""), new Uint8Array(await obj.arrayBuffer()), false);
      }
      cursor = listed.truncated ? listed.cursor : undefined;
    } while (cursor);
    // my files, with their exact bytes, a page of rows at a time
    const index: { id: string; name: string; size: number; content_type: string; purpose: string; created_at: string; path: string | null; note?: string }[] = [];
    let after = "";
    for (;;) {
      const rows = await db
        .select()
        .from(files)
        .where(and(eq(files.ownerId, job.userId), isNull(files.deletedAt), gt(files.id, after), notLike(files.r2Key, "exports/%")))
        .orderBy(asc(files.id))
        .limit(100);
      if (!rows.length) break;
      for (const f of rows) {
        const path = `files/${f.id}-${safeName(f.name)}`;
        const entry = { id: f.id, name: f.name, size: f.size, content_type: f.contentType, purpose: f.purpose, created_at: f.createdAt, path: path as string | null };
        if (f.size >= ZIP_LIMIT || out.size + f.size >= ZIP_LIMIT) {
          index.push({ ...entry, path: null, note: "too large for the archive; download it from /files/{id}" });
          continue;
        }
        const obj = await env.FILES.get(f.r2Key);
        if (!obj) {
          index.push({ ...entry, path: null, note: "the stored bytes are missing" });
          continue;
        }
        await addBytes(path, obj.body, true);
        index.push(entry);
      }
      after = rows[rows.length - 1].id;
    }
    await addBytes("files/index.json", new TextEncoder().encode(JSON.stringify(index, null, 2)), false);
    zip.end();
    if (failure) throw failure;
    await out.drain(true);
    await out.complete();
    // the parts are in the archive now
    let more: string | undefined;
    do {
      const listed = await env.FILES.list({ prefix, cursor: more });
      if (listed.objects.length) await env.FILES.delete(listed.objects.map((o) => o.key));
      more = listed.truncated ? listed.cursor : undefined;
    } while (more);
    const expiresAt = new Date(Date.now() + Number(job.data.expiry_hours ?? 72) * 3_600_000).toISOString();
    const fileId = (job.data.file_id as string | undefined) ?? newId("file");
    await db
      .insert(files)
      .values({ id: fileId, ownerId: job.userId, purpose: "other", r2Key: archiveKey(job), name: `edge-im-export-${job.createdAt.slice(0, 10)}.zip`, size: out.size, contentType: "application/zip" })
      .onConflictDoUpdate({ target: files.id, set: { size: out.size } });
    await db.update(accountJobs).set({ expiresAt }).where(eq(accountJobs.id, job.id));
    return { done: true, data: { file_id: fileId, size: out.size, zip_upload_id: null } };
  },
};

export const exportSteps: JobKind = {
  steps: [collectStep, messagesStep, zipStep],
  /** the archive expires: its object and file row go */
  async after({ env, db, job }) {
    if (job.state !== "done" || !job.expiresAt || job.data.expired) return null;
    if (Date.parse(job.expiresAt) > Date.now()) return Date.parse(job.expiresAt);
    await env.FILES.delete(archiveKey(job));
    if (job.data.file_id) await db.delete(files).where(eq(files.id, job.data.file_id as string));
    await db.update(accountJobs).set({ data: { ...job.data, expired: true } }).where(eq(accountJobs.id, job.id));
    log("info", "export archive expired", { job_id: job.id });
    return null;
  },
};
