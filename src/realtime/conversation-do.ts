import { DurableObject } from "cloudflare:workers";
import { and, eq, inArray, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import * as schema from "../db/schema";
import type { Db, Env } from "../env";
import { loadConfig, type Config } from "../lib/config";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { log } from "../middleware/observability";
import type { MessageType, MessageViewT, SendMessageInput } from "../routes/messages/messages.schemas";
import { MessageLog, previewText, type NewMessage, type StoredMessage } from "./message-log";
import { capture, type Result } from "./result";

const CONFIG_TTL_MS = 15_000;
const SUMMARY_RETRY_MS = 5_000;
const MAX_REACTION_KINDS = 20;

interface MemberInfo {
  role: "owner" | "admin" | "member";
  mutedUntil: string | null;
  joinedSeq: number;
  username: string;
}

interface ConversationState {
  id: string;
  kind: "dm" | "group" | "room";
  dissolved: boolean;
  historyVisible: boolean;
  members: Map<string, MemberInfo>;
  /** DM only: senders who may not post because the other side blocked them. */
  blockedSenders: Set<string>;
}

export interface SendRequest extends SendMessageInput {
  conversationId: string;
  senderId: string;
  /** Internal system notices bypass member checks and operator rules. */
  system?: boolean;
}

export interface SendResult {
  message: MessageViewT;
  duplicate: boolean;
}

interface Pending {
  record: NewMessage;
  resolve: (r: { stored: StoredMessage; duplicate: boolean }) => void;
  reject: (err: unknown) => void;
}

/**
 * One per DM, group or room: the authority for the conversation's messages. It assigns gap-free seqs,
 * enforces client_id idempotency, stores messages in its own SQLite (group commit), authorizes every
 * read and write from a cached copy of the member list, and hands every stored message to `deliver`.
 */
export class ConversationDO extends DurableObject<Env> {
  private log: MessageLog;
  private lastSeq: number;
  private state?: ConversationState;
  private loading?: Promise<ConversationState>;
  private config?: { value: Config; at: number };
  private queue: Pending[] = [];
  private flushScheduled = false;
  private summaryDirty = false;
  private summaryWriting: Promise<void> | null = null;
  private sendTimes = new Map<string, number[]>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.log = new MessageLog(ctx.storage.sql);
    this.lastSeq = this.log.exists() ? this.log.lastSeq() : 0;
  }

  private db(): Db {
    return drizzle(this.env.DB, { schema });
  }

  private async conversation(conversationId: string): Promise<ConversationState> {
    if (this.state && this.state.id === conversationId) return this.state;
    this.loading ??= this.load(conversationId).finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async load(conversationId: string): Promise<ConversationState> {
    const stored = this.log.exists() ? this.log.getMeta("conversation_id") : null;
    if (stored && stored !== conversationId) throw new AppError("NOT_FOUND", "Conversation not found");
    const db = this.db();
    const [convRows, memberRows] = await db.batch([
      db
        .select({ id: schema.conversations.id, kind: schema.conversations.kind, dissolvedAt: schema.conversations.dissolvedAt, historyVisible: schema.conversations.historyVisible })
        .from(schema.conversations)
        .where(eq(schema.conversations.id, conversationId)),
      db
        .select({ userId: schema.members.userId, role: schema.members.role, mutedUntil: schema.members.mutedUntil, joinedSeq: schema.members.joinedSeq, username: schema.users.username })
        .from(schema.members)
        .innerJoin(schema.users, eq(schema.users.id, schema.members.userId))
        .where(eq(schema.members.conversationId, conversationId)),
    ]);
    const conv = convRows[0];
    if (!conv) throw new AppError("NOT_FOUND", "Conversation not found");
    if (!stored) {
      this.log.init();
      this.log.setMeta("conversation_id", conversationId);
    }
    const members = new Map(memberRows.map((m) => [m.userId, { role: m.role, mutedUntil: m.mutedUntil, joinedSeq: m.joinedSeq, username: m.username }]));
    const blockedSenders = new Set<string>();
    if (conv.kind === "dm" && members.size === 2) {
      const ids = [...members.keys()];
      const rows = await db
        .select({ userId: schema.blocks.userId, blocked: schema.blocks.blockedUserId })
        .from(schema.blocks)
        .where(and(inArray(schema.blocks.userId, ids), inArray(schema.blocks.blockedUserId, ids)));
      for (const r of rows) blockedSenders.add(r.blocked);
    }
    this.state = { id: conv.id, kind: conv.kind, dissolved: conv.dissolvedAt !== null, historyVisible: conv.historyVisible, members, blockedSenders };
    return this.state;
  }

  private async operatorConfig(): Promise<Config> {
    if (!this.config || Date.now() - this.config.at > CONFIG_TTL_MS) {
      this.config = { value: await loadConfig(this.db()), at: Date.now() };
    }
    return this.config.value;
  }

  private member(state: ConversationState, userId: string): MemberInfo {
    const m = state.members.get(userId);
    if (!m) throw new AppError("FORBIDDEN", "You are not a member of this conversation");
    return m;
  }

  /** The first seq a member may read: everything, or only what came after they joined. */
  private since(state: ConversationState, m: MemberInfo) {
    return state.historyVisible || state.kind === "dm" ? 0 : m.joinedSeq;
  }

  private visible(state: ConversationState, userId: string, messageId: string): StoredMessage {
    const m = this.member(state, userId);
    const row = this.log.byId(messageId);
    if (!row || row.seq <= this.since(state, m)) throw new AppError("NOT_FOUND", "Message not found");
    return row;
  }

  private isModerator(state: ConversationState, userId: string) {
    const role = state.members.get(userId)?.role;
    return state.kind !== "dm" && (role === "owner" || role === "admin");
  }

  // ---- sending ----------------------------------------------------------------------------------

  /** Authorizes, applies operator rules, stores (group commit) and delivers one message. */
  async send(req: SendRequest): Promise<Result<SendResult>> {
    return capture(async () => {
      const state = await this.conversation(req.conversationId);
      let senderName = "system";
      let content = req.content ?? null;
      if (!req.system) {
        const m = this.member(state, req.senderId);
        senderName = m.username;
        if (state.dissolved) throw new AppError("FORBIDDEN", "This group has been dissolved; its history is read-only");
        if (m.mutedUntil && m.mutedUntil > new Date().toISOString()) throw new AppError("FORBIDDEN", `You are muted until ${m.mutedUntil}`);
        if (state.blockedSenders.has(req.senderId)) throw new AppError("FORBIDDEN", "You cannot message this user");
        if (req.client_id) {
          const existing = this.log.byClientId(req.senderId, req.client_id);
          if (existing) return { message: this.viewOne(existing, req.senderId), duplicate: true };
        }
        const config = await this.operatorConfig();
        this.rateLimit(req.senderId, config.chat_rate);
        content = this.applyContentRules(req.type, content, config);
      }
      let replyTo: string | null = null;
      if (req.reply_to) {
        const quoted = req.system ? this.log.byId(req.reply_to) : this.visible(state, req.senderId, req.reply_to);
        if (!quoted || quoted.deleted_at || quoted.recalled_at) throw new AppError("BAD_REQUEST", "reply_to: that message cannot be quoted");
        replyTo = quoted.id;
      }
      const record: NewMessage = {
        id: newId("msg"),
        sender_id: req.senderId,
        sender_name: senderName,
        client_id: req.client_id ?? null,
        type: (req.system ? "system" : req.type) as MessageType,
        content,
        payload: req.payload && Object.keys(req.payload).length ? JSON.stringify(req.payload) : null,
        attachments: req.attachments?.length ? JSON.stringify(req.attachments) : null,
        reply_to: replyTo,
        created_at: new Date().toISOString(),
      };
      const { stored, duplicate } = await this.enqueue(record);
      return { message: this.viewOne(stored, req.senderId), duplicate };
    });
  }

  private rateLimit(userId: string, perMinute: number) {
    if (perMinute <= 0) return;
    const now = Date.now();
    const times = (this.sendTimes.get(userId) ?? []).filter((t) => now - t < 60_000);
    if (times.length >= perMinute) {
      this.sendTimes.set(userId, times);
      throw new AppError("RATE_LIMITED", "You are sending messages too fast", { retryAfter: Math.ceil((60_000 - (now - times[0])) / 1000) });
    }
    times.push(now);
    this.sendTimes.set(userId, times);
  }

  private applyContentRules(type: string, content: string | null, config: Config): string | null {
    if (content === null || !(type === "text" || type === "markdown")) return content;
    if ([...content].length > config.chat_text_max_length) {
      throw new AppError("VALIDATION_ERROR", `content: at most ${config.chat_text_max_length} characters`);
    }
    const words = config.sensitive_words.split(/[\n,，]/).map((w) => w.trim()).filter(Boolean);
    if (!words.length) return content;
    const pattern = new RegExp(words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "gi");
    if (!pattern.test(content)) return content;
    if (!config.sensitive_send) throw new AppError("CONTENT_REJECTED", "The message contains words this server does not allow");
    return content.replace(pattern, config.sensitive_replace);
  }

  /** Queues a record; everything queued in the same turn is written in one SQLite transaction. */
  private enqueue(record: NewMessage): Promise<{ stored: StoredMessage; duplicate: boolean }> {
    return new Promise((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setTimeout(() => this.flush(), 0);
      }
    });
  }

  private flush() {
    const batch = this.queue;
    this.queue = [];
    this.flushScheduled = false;
    const results: { stored: StoredMessage; duplicate: boolean }[] = [];
    let seq = this.lastSeq;
    try {
      this.ctx.storage.transactionSync(() => {
        const seen = new Map<string, StoredMessage>();
        for (const { record } of batch) {
          const key = record.client_id ? `${record.sender_id}\n${record.client_id}` : null;
          const earlier = key ? (seen.get(key) ?? this.log.byClientId(record.sender_id, record.client_id!)) : undefined;
          if (earlier) {
            results.push({ stored: earlier, duplicate: true });
            continue;
          }
          seq += 1;
          this.log.insert(seq, record);
          const stored: StoredMessage = { ...record, seq, edited_at: null, recalled_at: null, deleted_at: null };
          if (key) seen.set(key, stored);
          results.push({ stored, duplicate: false });
        }
      });
    } catch (err) {
      log("error", "message batch failed", { error: String(err), size: batch.length });
      for (const p of batch) p.reject(new AppError("INTERNAL", "Failed to save message"));
      return;
    }
    this.lastSeq = seq;
    batch.forEach((p, i) => p.resolve(results[i]));
    const fresh = results.filter((r) => !r.duplicate).map((r) => r.stored);
    if (fresh.length) this.deliver(fresh);
  }

  /**
   * The one fan-out point for stored messages: after this, every live listener learns of them and
   * the conversation summary in D1 catches up.
   */
  private deliver(messages: StoredMessage[]) {
    this.markSummaryDirty();
    this.onDelivered(messages);
  }

  /** Hook for live delivery (sockets, user objects); the realtime layer fills it in. */
  protected onDelivered(_messages: StoredMessage[]) {}

  private viewOne(row: StoredMessage, viewer?: string): MessageViewT {
    return this.log.views(this.state?.id ?? "", [row], viewer)[0];
  }

  // ---- conversation summary in D1 -----------------------------------------------------------------

  private markSummaryDirty() {
    this.summaryDirty = true;
    this.summaryWriting ??= this.writeSummaries().finally(() => (this.summaryWriting = null));
  }

  /** Waits until the summary in D1 includes everything stored so far. */
  async summaryFlushed(): Promise<void> {
    while (this.summaryWriting) await this.summaryWriting;
  }

  /** Single-flight writer: at most one D1 write in flight, coalescing every message stored meanwhile. */
  private async writeSummaries() {
    while (this.summaryDirty && this.state) {
      this.summaryDirty = false;
      const last = this.log.bySeq(this.lastSeq);
      if (!last) return;
      const preview = {
        id: last.id,
        seq: last.seq,
        type: last.type,
        sender_id: last.sender_id,
        sender_name: last.sender_name,
        preview: previewText(last),
        created_at: last.created_at,
      };
      try {
        await this.db()
          .update(schema.conversations)
          .set({ lastSeq: last.seq, lastMessage: preview, lastMessageAt: last.created_at, updatedAt: new Date().toISOString() })
          .where(and(eq(schema.conversations.id, this.state.id), sql`${schema.conversations.lastSeq} <= ${last.seq}`));
      } catch (err) {
        log("warn", "conversation summary write failed; retrying by alarm", { conversation_id: this.state.id, error: String(err) });
        this.summaryDirty = true;
        await this.ctx.storage.setAlarm(Date.now() + SUMMARY_RETRY_MS);
        return;
      }
    }
  }

  async alarm() {
    const id = this.log.exists() ? this.log.getMeta("conversation_id") : null;
    if (!id) return;
    await this.conversation(id);
    this.markSummaryDirty();
    await this.summaryFlushed();
  }

  // ---- reading --------------------------------------------------------------------------------------

  /** A page of history the member may see, by seq cursor, oldest first. */
  async history(conversationId: string, userId: string, opts: { before?: number; after?: number; limit: number }) {
    return capture(async () => {
      const state = await this.conversation(conversationId);
      const since = this.since(state, this.member(state, userId));
      const { rows, hasMore } = this.log.page(since, opts);
      return {
        messages: this.log.views(conversationId, rows, userId),
        has_more: hasMore,
        total: Math.max(0, this.lastSeq - since),
        last_seq: this.lastSeq,
      };
    });
  }

  async getMessage(conversationId: string, userId: string, messageId: string) {
    return capture(async () => {
      const state = await this.conversation(conversationId);
      return this.viewOne(this.visible(state, userId, messageId), userId);
    });
  }

  async search(conversationId: string, userId: string, q: string, limit: number, before?: number) {
    return capture(async () => {
      const state = await this.conversation(conversationId);
      const since = this.since(state, this.member(state, userId));
      return { messages: this.log.views(conversationId, this.log.search(q, since, limit, before), userId) };
    });
  }

  /** Messages after `afterSeq` for a member resuming (sync), bounded per call. */
  async since_(conversationId: string, userId: string, afterSeq: number, limit: number) {
    return capture(async () => {
      const state = await this.conversation(conversationId);
      const since = Math.max(afterSeq, this.since(state, this.member(state, userId)));
      const rows = this.log.range(since, this.lastSeq, limit + 1);
      return { messages: this.log.views(conversationId, rows.slice(0, limit), userId), has_more: rows.length > limit, last_seq: this.lastSeq };
    });
  }

  // ---- changing messages ---------------------------------------------------------------------------

  async edit(conversationId: string, userId: string, messageId: string, content: string) {
    return capture(async () => {
      const state = await this.conversation(conversationId);
      const row = this.visible(state, userId, messageId);
      if (row.sender_id !== userId) throw new AppError("FORBIDDEN", "Only the sender can edit a message");
      if (row.recalled_at || row.deleted_at) throw new AppError("CONFLICT", "A recalled or deleted message cannot be edited");
      if (row.type !== "text" && row.type !== "markdown") throw new AppError("BAD_REQUEST", "Only text and markdown messages can be edited");
      if (state.dissolved) throw new AppError("FORBIDDEN", "This group has been dissolved; its history is read-only");
      const text = this.applyContentRules(row.type, content, await this.operatorConfig())!;
      const at = new Date().toISOString();
      this.log.edit(row.seq, text, at);
      const view = this.viewOne(this.log.bySeq(row.seq)!, userId);
      this.changed("message_edited", "Message edited", view);
      return view;
    });
  }

  async recall(conversationId: string, userId: string, messageId: string) {
    return capture(async () => {
      const state = await this.conversation(conversationId);
      const row = this.visible(state, userId, messageId);
      if (row.recalled_at || row.deleted_at) throw new AppError("CONFLICT", "This message was already recalled or deleted");
      const moderator = this.isModerator(state, userId) && row.sender_id !== userId;
      if (row.sender_id !== userId && !moderator) throw new AppError("FORBIDDEN", "Only the sender or a group admin can recall a message");
      if (!moderator) {
        const window = (await this.operatorConfig()).recall_window_seconds;
        if (Date.now() - Date.parse(row.created_at) > window * 1000) {
          throw new AppError("FORBIDDEN", `Messages can only be recalled within ${window} seconds`);
        }
      }
      this.log.tombstone(row.seq, "recalled_at", new Date().toISOString());
      const view = this.viewOne(this.log.bySeq(row.seq)!, userId);
      this.changed("message_recalled", "Message recalled", view);
      return view;
    });
  }

  async remove(conversationId: string, userId: string, messageId: string) {
    return capture(async () => {
      const state = await this.conversation(conversationId);
      const row = this.visible(state, userId, messageId);
      if (row.deleted_at) throw new AppError("NOT_FOUND", "Message not found");
      if (row.sender_id !== userId && !this.isModerator(state, userId)) {
        throw new AppError("FORBIDDEN", "Only the sender or a group admin can delete a message");
      }
      this.log.tombstone(row.seq, "deleted_at", new Date().toISOString());
      const view = this.viewOne(this.log.bySeq(row.seq)!, userId);
      this.changed("message_deleted", "Message deleted", view);
      return view;
    });
  }

  async react(conversationId: string, userId: string, messageId: string, emoji: string, add: boolean) {
    return capture(async () => {
      const state = await this.conversation(conversationId);
      const row = this.visible(state, userId, messageId);
      if (row.recalled_at || row.deleted_at) throw new AppError("CONFLICT", "A recalled or deleted message cannot take reactions");
      if (state.dissolved) throw new AppError("FORBIDDEN", "This group has been dissolved; its history is read-only");
      if (add && this.log.distinctEmoji(row.seq) >= MAX_REACTION_KINDS) {
        const existing = this.log.reactionsFor([row.seq]).get(row.seq) ?? [];
        if (!existing.some((r) => r.emoji === emoji)) throw new AppError("CONFLICT", `A message takes at most ${MAX_REACTION_KINDS} different reactions`);
      }
      this.log.setReaction(row.seq, emoji, userId, add, new Date().toISOString());
      const view = this.viewOne(row, userId);
      this.changed("reaction_updated", "Reaction updated", view, { emoji, user_id: userId, added: add });
      return view;
    });
  }

  /** A message changed after it was delivered: live listeners hear it, and the summary may need it. */
  private changed(type: string, text: string, view: MessageViewT, extra: Record<string, unknown> = {}) {
    if (view.seq === this.lastSeq) this.markSummaryDirty();
    this.onChanged(type, text, view, extra);
  }

  protected onChanged(_type: string, _text: string, _view: MessageViewT, _extra: Record<string, unknown>) {}

  // ---- read state ---------------------------------------------------------------------------------------

  /** Moves the member's read mark forward (never back, never past the last message) and tells the others. */
  async markRead(conversationId: string, userId: string, seq: number) {
    return capture(async () => {
      const state = await this.conversation(conversationId);
      const m = this.member(state, userId);
      const target = Math.max(0, Math.min(seq, this.lastSeq));
      const rows = await this.db()
        .update(schema.members)
        .set({ readSeq: sql`max(${schema.members.readSeq}, ${target})` })
        .where(and(eq(schema.members.conversationId, conversationId), eq(schema.members.userId, userId)))
        .returning({ readSeq: schema.members.readSeq });
      const readSeq = rows[0]?.readSeq ?? target;
      this.onRead(userId, readSeq);
      return {
        conversation_id: conversationId,
        read_seq: readSeq,
        last_seq: this.lastSeq,
        unread_count: Math.max(0, this.lastSeq - Math.max(readSeq, this.since(state, m))),
      };
    });
  }

  protected onRead(_userId: string, _seq: number) {}

  // ---- membership -------------------------------------------------------------------------------------

  /** Membership or rules changed in D1: drop the cached copy so the next operation reloads it. */
  async membersChanged(_change: Record<string, unknown>): Promise<void> {
    this.state = undefined;
  }

  /** Ensures the D1 summary reflects everything stored (REST sends wait for this). */
  async flushSummary(): Promise<void> {
    await this.summaryFlushed();
  }

  lastSequence(): number {
    return this.lastSeq;
  }
}

