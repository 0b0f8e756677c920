import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import * as schema from "../db/schema";
import type { Env } from "../env";
import { loadConfig } from "../lib/config";
import { log } from "../middleware/observability";
import type { DataHost } from "./conversation-data";
import type { MessageLog } from "./message-log";
import { serverFrame } from "../protocol";

/** Messages purged per alarm; the next batch follows a second later, so sends are never held up long. */
const BATCH = 200;
const NEXT_BATCH_MS = 1_000;
const DAY_MS = 86_400_000;
/** After an object wakes, when it first checks for expired messages. */
export const RETENTION_FIRST_CHECK_MS = 5_000;

/**
 * Message retention (a group owner's `retention_days`, else the operator's `message_retention_days`;
 * 0 or unset keeps everything). Called from the conversation object's alarm: deletes the oldest
 * expired messages in batches (rows, reactions, search index), moves the log's `history_start`
 * past them, and frees the files only they referenced. Seqs are never reused and the ones that
 * remain stay gap-free (only a prefix of the log is ever removed). Arms the next alarm for the
 * next batch, or for when the oldest remaining message expires.
 */
export async function retentionTick(host: DataHost, now = Date.now()): Promise<{ purged: number }> {
  const storage = host.storage;
  const id = host.knownId();
  if (!id || !host.log.exists()) return { purged: 0 };
  const days = await retentionDays(host.env, id);
  if (!days) return { purged: 0 };
  const cutoff = new Date(now - days * DAY_MS).toISOString();
  const rows = host.sql
    .exec<{ seq: number; attachments: string | null }>("SELECT seq, attachments FROM messages WHERE created_at < ? ORDER BY seq ASC LIMIT ?", cutoff, BATCH + 1)
    .toArray();
  const batch = rows.slice(0, BATCH);
  // never purge the newest message's row away from under lastSeq: the log remembers where it starts instead
  if (batch.length) {
    const upTo = batch[batch.length - 1].seq;
    storage.transactionSync(() => {
      host.sql.exec("DELETE FROM messages WHERE seq <= ?", upTo);
      host.sql.exec("DELETE FROM reactions WHERE seq <= ?", upTo);
      host.sql.exec("DELETE FROM messages_fts WHERE rowid <= ?", upTo);
      host.log.setMeta("history_start", String(Math.max(upTo + 1, host.log.historyStart())));
    });
    await freeFiles(host, id, batch.flatMap((r) => (r.attachments ? (JSON.parse(r.attachments) as string[]) : [])));
    log("info", "retention purged messages", { conversation_id: id, count: batch.length, history_start: upTo + 1 });
  }
  const oldest = host.sql.exec<{ created_at: string }>("SELECT created_at FROM messages ORDER BY seq ASC LIMIT 1").toArray()[0];
  const next = rows.length > BATCH ? now + NEXT_BATCH_MS : oldest ? Date.parse(oldest.created_at) + days * DAY_MS + 1_000 : null;
  if (next !== null) await armNoLaterThan(storage, next);
  return { purged: batch.length };
}

async function retentionDays(env: Env, conversationId: string) {
  const db = drizzle(env.DB, { schema });
  const row = await db.select({ days: schema.conversations.retentionDays }).from(schema.conversations).where(eq(schema.conversations.id, conversationId)).get();
  if (row?.days != null) return row.days;
  return (await loadConfig(db)).message_retention_days;
}

/** Sets the alarm for `at` unless one is already due sooner (the summary writes share the alarm). */
export async function armNoLaterThan(storage: DurableObjectStorage, at: number) {
  const current = await storage.getAlarm();
  if (current === null || current > at) await storage.setAlarm(at);
}

/**
 * The purged messages' attachments: a file no longer referenced by any remaining message of this
 * conversation loses its reference here; when no conversation refers to it any more, the file goes,
 * and its R2 object too unless another file shares it.
 */
async function freeFiles(host: DataHost, conversationId: string, ids: string[]) {
  const unique = [...new Set(ids)].filter((fid) => !host.sql.exec("SELECT 1 FROM messages WHERE attachments LIKE ? LIMIT 1", `%"${fid}"%`).toArray().length);
  if (!unique.length) return;
  const db = drizzle(host.env.DB, { schema });
  const { fileRefs, files } = schema;
  await db.delete(fileRefs).where(and(eq(fileRefs.conversationId, conversationId), inArray(fileRefs.fileId, unique)));
  const orphans = await db
    .select({ id: files.id, r2Key: files.r2Key })
    .from(files)
    .where(and(inArray(files.id, unique), eq(files.purpose, "message"), isNull(files.deletedAt), sql`NOT EXISTS (SELECT 1 FROM ${fileRefs} WHERE ${fileRefs.fileId} = ${files.id})`));
  if (!orphans.length) return;
  const at = new Date().toISOString();
  await db.update(files).set({ deletedAt: at }).where(inArray(files.id, orphans.map((o) => o.id)));
  const keys = [...new Set(orphans.map((o) => o.r2Key))];
  const live = new Set((await db.select({ key: files.r2Key }).from(files).where(and(inArray(files.r2Key, keys), isNull(files.deletedAt)))).map((r) => r.key));
  const free = keys.filter((k) => !live.has(k));
  if (free.length) await host.env.FILES.delete(free);
}

/**
 * A sync from before where the log now starts begins with a `history_start` frame, so the client knows
 * the gap up to `history_start_seq` is retention, not loss.
 */
export function historyStartFrames(log: MessageLog, conversationId: string, after: number) {
  const start = log.historyStart();
  if (after >= start - 1) return [];
  return [serverFrame("history_start", { conversation_id: conversationId, history_start_seq: start })];
}

/**
 * The hourly cron's part: conversations that have not woken since retention began to apply to them
 * would never arm their alarm, so a sample of idle ones (retention on, no activity for a day) is asked
 * to check. An object that checks once keeps itself on schedule from then on.
 */
export async function pokeRetention(env: Env, limit = 200) {
  const db = drizzle(env.DB, { schema });
  const fallback = (await loadConfig(db)).message_retention_days;
  const c = schema.conversations;
  const idle = new Date(Date.now() - DAY_MS).toISOString();
  const rows = await db
    .select({ id: c.id })
    .from(c)
    .where(and(sql`coalesce(${c.retentionDays}, ${fallback}) > 0`, sql`${c.lastSeq} > 0`, sql`${c.updatedAt} < ${idle}`))
    .orderBy(sql`random()`)
    .limit(limit);
  const results = await Promise.allSettled(
    rows.map((r) => env.CONVERSATION.get(env.CONVERSATION.idFromName(r.id)).dataOp({ kind: "retention", conversationId: r.id })),
  );
  return results.filter((r) => r.status === "fulfilled").length;
}
