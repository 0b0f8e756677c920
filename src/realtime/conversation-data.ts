import { drizzle } from "drizzle-orm/d1";
import * as schema from "../db/schema";
import type { Env } from "../env";
import { AppError } from "../lib/errors";
import { log } from "../middleware/observability";
import type { MessageViewT } from "../routes/messages/messages.schemas";
import type { MessageLog, StoredMessage } from "./message-log";
import { retentionTick } from "./retention";
import { serverFrame, type EncodedFrame } from "../protocol";

/**
 * Operations on a conversation's message log that serve moderation and data rights (removal by an
 * operator, the pages of one author's messages an export reads, erasing or re-attributing a deleted
 * account's messages). ConversationDO exposes them through one RPC method, `dataOp`, and lends this
 * module what it needs (`DataHost`), so the object's own code stays about chat.
 */
export interface DataHost {
  env: Env;
  sql: SqlStorage;
  log: MessageLog;
  /** the conversation this object holds, from its own log (null: it never stored anything) */
  knownId(): string | null;
  lastSeq(): number;
  /** a message changed after delivery: tell live listeners, refresh the summary if it is the newest */
  changed(frame: EncodedFrame, view: MessageViewT): Promise<void>;
  markSummaryDirty(): void;
  view(row: StoredMessage): MessageViewT;
  storage: DurableObjectStorage;
}

export const DELETED_ACCOUNT_NAME = "Deleted account";

export type DataOp =
  | { kind: "moderate_remove"; conversationId: string; messageId: string }
  | { kind: "author_page"; conversationId: string; userId: string; after: number; limit: number }
  | { kind: "erase_author"; conversationId: string; userId: string; mode: "keep" | "erase"; after: number; limit: number }
  | { kind: "retention"; conversationId: string };

export type AuthoredMessage = Pick<StoredMessage, "seq" | "id" | "type" | "content" | "payload" | "attachments" | "reply_to" | "created_at" | "edited_at" | "recalled_at" | "deleted_at">;

function holds(host: DataHost, conversationId: string) {
  return host.log.exists() && host.knownId() === conversationId;
}

export async function runDataOp(host: DataHost, op: DataOp): Promise<unknown> {
  switch (op.kind) {
    case "moderate_remove":
      return moderateRemove(host, op.conversationId, op.messageId);
    case "author_page":
      return authorPage(host, op);
    case "erase_author":
      return eraseAuthor(host, op);
    case "retention":
      return holds(host, op.conversationId) ? retentionTick(host) : { purged: 0 };
  }
}

/** An operator removes a message for every member: its content goes, the row (and seq) stays. */
async function moderateRemove(host: DataHost, conversationId: string, messageId: string) {
  if (!holds(host, conversationId)) throw new AppError("NOT_FOUND", "Message not found");
  const row = host.log.byId(messageId);
  if (!row) throw new AppError("NOT_FOUND", "Message not found");
  if (!row.deleted_at) {
    host.log.tombstone(row.seq, "deleted_at", new Date().toISOString());
    const view = host.view(host.log.bySeq(row.seq)!);
    await host.changed(serverFrame("message_deleted", { conversation_id: conversationId, message_id: view.id, seq: view.seq, message: view }, "Message removed by a moderator"), view);
  }
  return { id: row.id, seq: row.seq, removed: true };
}

/** The author's messages after seq `after`, oldest first, one bounded page. */
function authorPage(host: DataHost, op: { conversationId: string; userId: string; after: number; limit: number }) {
  if (!holds(host, op.conversationId)) return { messages: [] as AuthoredMessage[], next: op.after, done: true };
  const rows = host.sql
    .exec<AuthoredMessage>(
      `SELECT seq, id, type, content, payload, attachments, reply_to, created_at, edited_at, recalled_at, deleted_at
       FROM messages WHERE sender_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?`,
      op.userId, op.after, op.limit + 1,
    )
    .toArray();
  const page = rows.slice(0, op.limit);
  return { messages: page, next: page.length ? page[page.length - 1].seq : op.after, done: rows.length <= op.limit };
}

/**
 * A deleted account's messages: `keep` re-attributes them to "Deleted account", `erase` tombstones them
 * (content, payload and attachments go; seq stays gap-free). Either way the account's reactions go.
 * Bounded pages by seq; running a page again changes nothing more (idempotent).
 */
function eraseAuthor(host: DataHost, op: { conversationId: string; userId: string; mode: "keep" | "erase"; after: number; limit: number }) {
  if (!holds(host, op.conversationId)) return { next: op.after, done: true, changed: 0 };
  const rows = host.sql
    .exec<{ seq: number }>("SELECT seq FROM messages WHERE sender_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?", op.userId, op.after, op.limit + 1)
    .toArray();
  const page = rows.slice(0, op.limit);
  const at = new Date().toISOString();
  for (const { seq } of page) {
    if (op.mode === "erase") {
      const row = host.log.bySeq(seq);
      if (row && !row.deleted_at) host.log.tombstone(seq, "deleted_at", at);
    }
    host.sql.exec("UPDATE messages SET sender_name = ? WHERE seq = ?", DELETED_ACCOUNT_NAME, seq);
  }
  const done = rows.length <= op.limit;
  if (done) host.sql.exec("DELETE FROM reactions WHERE user_id = ?", op.userId);
  if (page.length) host.markSummaryDirty();
  return { next: page.length ? page[page.length - 1].seq : op.after, done, changed: page.length };
}

const noted = new WeakMap<object, Set<string>>();

/**
 * Records once per object lifetime that `userId` sent into this conversation (D1 message_authors), so
 * deletion and export find conversations the user has since left. Off the send's critical path.
 */
export function noteAuthor(owner: object, env: Env, conversationId: string, userId: string) {
  let seen = noted.get(owner);
  if (!seen) noted.set(owner, (seen = new Set()));
  if (seen.has(userId)) return;
  seen.add(userId);
  const db = drizzle(env.DB, { schema });
  void db
    .insert(schema.messageAuthors)
    .values({ userId, conversationId })
    .onConflictDoNothing()
    .catch((err) => {
      seen.delete(userId);
      log("warn", "could not record a message author", { conversation_id: conversationId, error: String(err) });
    });
}
