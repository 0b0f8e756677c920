import type { MessageType, MessageViewT } from "../routes/messages/messages.schemas";

/** A message row as the conversation's SQLite stores it. */
export type StoredMessage = {
  seq: number;
  id: string;
  sender_id: string;
  sender_name: string;
  client_id: string | null;
  type: MessageType;
  content: string | null;
  payload: string | null;
  attachments: string | null;
  reply_to: string | null;
  created_at: string;
  edited_at: string | null;
  recalled_at: string | null;
  deleted_at: string | null;
};

export type NewMessage = Omit<StoredMessage, "seq" | "edited_at" | "recalled_at" | "deleted_at">;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  sender_id TEXT NOT NULL,
  sender_name TEXT NOT NULL,
  client_id TEXT,
  type TEXT NOT NULL,
  content TEXT,
  payload TEXT,
  attachments TEXT,
  reply_to TEXT,
  created_at TEXT NOT NULL,
  edited_at TEXT,
  recalled_at TEXT,
  deleted_at TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_client_idx ON messages(sender_id, client_id) WHERE client_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS reactions (
  seq INTEGER NOT NULL,
  emoji TEXT NOT NULL,
  user_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (seq, emoji, user_id)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(content, tokenize = 'trigram');
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

const msgTypeNumbers: Record<string, number> = { text: 0, image: 1, video: 2, file: 3, emoji: 4, markdown: 5, voice: 9, location: 10, system: 11 };
const callNumbers: Record<string, number> = { voice: 6, video: 7, screen: 8 };

export function previewText(m: Pick<StoredMessage, "type" | "content" | "recalled_at" | "deleted_at">): string {
  if (m.recalled_at) return "[recalled]";
  if (m.deleted_at) return "[deleted]";
  if (m.type === "text" || m.type === "markdown" || m.type === "emoji" || m.type === "system") return (m.content ?? "").slice(0, 100);
  return `[${m.type}]`;
}

/** The conversation's message log in the object's own SQLite: every call is synchronous and local. */
export class MessageLog {
  constructor(private sql: SqlStorage) {}

  /** Whether this object has ever stored anything (read-only check; a guessed id creates nothing). */
  exists(): boolean {
    return this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'messages'").toArray().length > 0;
  }

  /** Creates the tables; called once the conversation is known to exist in D1. */
  init() {
    this.sql.exec(SCHEMA);
  }

  /** The newest seq ever assigned: retention may have removed it, never the count. */
  lastSeq(): number {
    const max = this.sql.exec<{ s: number | null }>("SELECT max(seq) AS s FROM messages").one().s ?? 0;
    return Math.max(max, this.historyStart() - 1);
  }

  /** The first seq still kept (retention purges a prefix of the log; 1 when nothing was purged). */
  historyStart(): number {
    return Number(this.getMeta("history_start") ?? 1);
  }

  getMeta(key: string): string | null {
    return this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value ?? null;
  }

  setMeta(key: string, value: string) {
    this.sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", key, value);
  }

  /** The stored message with this sender's client_id (looked up only when an insert collides). */
  byClientId(senderId: string, clientId: string): StoredMessage | undefined {
    return this.sql.exec<StoredMessage>("SELECT * FROM messages WHERE sender_id = ? AND client_id = ?", senderId, clientId).toArray()[0];
  }

  byId(id: string): StoredMessage | undefined {
    return this.sql.exec<StoredMessage>("SELECT * FROM messages WHERE id = ?", id).toArray()[0];
  }

  bySeq(seq: number): StoredMessage | undefined {
    return this.sql.exec<StoredMessage>("SELECT * FROM messages WHERE seq = ?", seq).toArray()[0];
  }

  /**
   * Stores a message at `seq`; false (nothing written) when the sender already stored this client_id
   * (the unique index decides, so the idempotency check costs no extra query).
   */
  insert(seq: number, m: NewMessage): boolean {
    const cursor = this.sql.exec(
      `INSERT INTO messages (seq, id, sender_id, sender_name, client_id, type, content, payload, attachments, reply_to, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      seq, m.id, m.sender_id, m.sender_name, m.client_id, m.type, m.content, m.payload, m.attachments, m.reply_to, m.created_at,
    );
    return cursor.rowsWritten > 0;
  }

  private indexedUpTo(): number {
    return Number(this.getMeta("fts_upto") ?? 0);
  }

  /**
   * Brings the full-text index up to the newest message. Sends do not touch the index (it would cost
   * every message a trigram insert on the hot path); search catches up first, in one transaction.
   */
  indexPending() {
    const upto = this.indexedUpTo();
    const last = this.lastSeq();
    if (last <= upto) return;
    this.sql.exec(
      `INSERT INTO messages_fts (rowid, content) SELECT seq, content FROM messages
       WHERE seq > ? AND content IS NOT NULL AND type IN ('text', 'markdown')`,
      upto,
    );
    this.setMeta("fts_upto", String(last));
  }

  edit(seq: number, content: string, at: string) {
    this.sql.exec("UPDATE messages SET content = ?, edited_at = ? WHERE seq = ?", content, at, seq);
    if (seq <= this.indexedUpTo()) {
      this.sql.exec("DELETE FROM messages_fts WHERE rowid = ?", seq);
      this.sql.exec("INSERT INTO messages_fts (rowid, content) VALUES (?, ?)", seq, content);
    }
  }

  /** Recall and delete keep the row (seq stays gap-free) but drop its content everywhere. */
  tombstone(seq: number, column: "recalled_at" | "deleted_at", at: string) {
    this.sql.exec(`UPDATE messages SET ${column} = ?, content = NULL, payload = NULL, attachments = NULL WHERE seq = ?`, at, seq);
    this.sql.exec("DELETE FROM messages_fts WHERE rowid = ?", seq);
    this.sql.exec("DELETE FROM reactions WHERE seq = ?", seq);
  }

  /** A page of messages after `since` (history visibility), oldest first. */
  page(since: number, opts: { before?: number; after?: number; limit: number }): { rows: StoredMessage[]; hasMore: boolean } {
    const n = opts.limit + 1;
    let rows: StoredMessage[];
    if (opts.after !== undefined) {
      rows = this.sql.exec<StoredMessage>("SELECT * FROM messages WHERE seq > ? ORDER BY seq ASC LIMIT ?", Math.max(opts.after, since), n).toArray();
      const hasMore = rows.length > opts.limit;
      return { rows: rows.slice(0, opts.limit), hasMore };
    }
    const before = opts.before ?? Number.MAX_SAFE_INTEGER;
    rows = this.sql.exec<StoredMessage>("SELECT * FROM messages WHERE seq < ? AND seq > ? ORDER BY seq DESC LIMIT ?", before, since, n).toArray();
    const hasMore = rows.length > opts.limit;
    return { rows: rows.slice(0, opts.limit).reverse(), hasMore };
  }

  range(fromExclusive: number, toInclusive: number, limit: number): StoredMessage[] {
    return this.sql.exec<StoredMessage>("SELECT * FROM messages WHERE seq > ? AND seq <= ? ORDER BY seq ASC LIMIT ?", fromExclusive, toInclusive, limit).toArray();
  }

  /** Full-text search (trigram FTS5 for 3+ characters, a scan for shorter terms), newest first. */
  search(q: string, since: number, limit: number, before?: number): StoredMessage[] {
    const upper = before ?? Number.MAX_SAFE_INTEGER;
    if ([...q].length >= 3) {
      const phrase = `"${q.replace(/"/g, '""')}"`;
      return this.sql
        .exec<StoredMessage>(
          `SELECT m.* FROM messages_fts f JOIN messages m ON m.seq = f.rowid
           WHERE messages_fts MATCH ? AND m.seq > ? AND m.seq < ? AND m.deleted_at IS NULL AND m.recalled_at IS NULL
           ORDER BY m.seq DESC LIMIT ?`,
          phrase, since, upper, limit,
        )
        .toArray();
    }
    const pattern = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    return this.sql
      .exec<StoredMessage>(
        `SELECT * FROM messages WHERE content LIKE ? ESCAPE '\\' AND type IN ('text', 'markdown') AND seq > ? AND seq < ?
         AND deleted_at IS NULL AND recalled_at IS NULL ORDER BY seq DESC LIMIT ?`,
        pattern, since, upper, limit,
      )
      .toArray();
  }

  reactionsFor(seqs: number[]): Map<number, { emoji: string; user_id: string }[]> {
    const out = new Map<number, { emoji: string; user_id: string }[]>();
    if (!seqs.length) return out;
    const min = Math.min(...seqs);
    const max = Math.max(...seqs);
    for (const r of this.sql.exec<{ seq: number; emoji: string; user_id: string }>(
      "SELECT seq, emoji, user_id FROM reactions WHERE seq BETWEEN ? AND ? ORDER BY created_at",
      min,
      max,
    )) {
      const list = out.get(r.seq) ?? [];
      list.push({ emoji: r.emoji, user_id: r.user_id });
      out.set(r.seq, list);
    }
    return out;
  }

  distinctEmoji(seq: number): number {
    return this.sql.exec<{ n: number }>("SELECT count(DISTINCT emoji) AS n FROM reactions WHERE seq = ?", seq).one().n;
  }

  setReaction(seq: number, emoji: string, userId: string, add: boolean, at: string) {
    if (add) this.sql.exec("INSERT OR IGNORE INTO reactions (seq, emoji, user_id, created_at) VALUES (?, ?, ?, ?)", seq, emoji, userId, at);
    else this.sql.exec("DELETE FROM reactions WHERE seq = ? AND emoji = ? AND user_id = ?", seq, emoji, userId);
  }

  /** The stored row as clients see it; `viewer` marks their own reactions. */
  view(conversationId: string, m: StoredMessage, reactions: { emoji: string; user_id: string }[] = [], viewer?: string, replied?: StoredMessage): MessageViewT {
    const counts = new Map<string, { count: number; me: boolean }>();
    for (const r of reactions) {
      const entry = counts.get(r.emoji) ?? { count: 0, me: false };
      entry.count += 1;
      if (r.user_id === viewer) entry.me = true;
      counts.set(r.emoji, entry);
    }
    const payload = m.payload ? (JSON.parse(m.payload) as Record<string, unknown>) : null;
    return {
      id: m.id,
      conversation_id: conversationId,
      seq: m.seq,
      type: m.type,
      msg_type: m.type === "call" ? (callNumbers[String(payload?.call_type)] ?? 6) : (msgTypeNumbers[m.type] ?? 0),
      content: m.content,
      payload,
      attachments: m.attachments ? (JSON.parse(m.attachments) as string[]) : [],
      reply_to: replied
        ? { id: replied.id, seq: replied.seq, sender_id: replied.sender_id, type: replied.type, preview: previewText(replied) }
        : null,
      sender: { id: m.sender_id, username: m.sender_name },
      client_id: m.client_id,
      created_at: m.created_at,
      timestamp: Math.floor(Date.parse(m.created_at) / 1000),
      edited_at: m.edited_at,
      recalled: m.recalled_at !== null,
      deleted: m.deleted_at !== null,
      reactions: [...counts].map(([emoji, v]) => ({ emoji, count: v.count, me: v.me })),
    };
  }

  /** Views for a list of rows, with their reactions and quoted messages, in two queries. */
  views(conversationId: string, rows: StoredMessage[], viewer?: string): MessageViewT[] {
    const reactions = this.reactionsFor(rows.map((r) => r.seq));
    const quoted = new Map<string, StoredMessage>();
    for (const r of rows) {
      if (r.reply_to && !quoted.has(r.reply_to)) {
        const q = this.byId(r.reply_to);
        if (q) quoted.set(r.reply_to, q);
      }
    }
    return rows.map((r) => this.view(conversationId, r, reactions.get(r.seq), viewer, r.reply_to ? quoted.get(r.reply_to) : undefined));
  }
}
