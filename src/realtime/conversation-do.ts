import { noteAuthor, runDataOp, type DataHost, type DataOp } from "./conversation-data";
import { armNoLaterThan, historyStartFrames, RETENTION_FIRST_CHECK_MS, retentionTick } from "./retention";
import { DurableObject } from "cloudflare:workers";
import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import * as schema from "../db/schema";
import type { Db, Env } from "../env";
import { loadConfig, type Config } from "../lib/config";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { log } from "../middleware/observability";
import type { MessageType, MessageViewT, SendMessageInput } from "../routes/messages/messages.schemas";
import { checkAttachments, recordAttachments } from "../routes/files/files.service";
import { MessageLog, previewText, type NewMessage, type StoredMessage } from "./message-log";
import { CloseCodes, messageFields, serverFrame, type EncodedFrame } from "../protocol";
import { dispatch, type SessionPort } from "./dispatch";
import { newAttachment, rateLimits, safeClose, safeSend, SYNC_PAGE, type RateLimits } from "./protocol";
import { userStub } from "./push";
import { capture, type Result } from "./result";
import { finishClose, SocketSet } from "./sockets";

/** A frame bound for a user's object: the serialized frame and the connection it came from (not echoed there). */
export interface PushFrame {
  frame: EncodedFrame;
  origin?: string;
}

const PUSH_COALESCE_MS = 2;
/**
 * While messages arrive together (the last batch, less than BUSY_MS ago, held more than one), the next
 * batch waits BATCH_WINDOW_MS for company: one commit and one output-gate release for several messages
 * instead of one each. A message into a quiet conversation, or from a lone sender waiting for each
 * ack, is written at once.
 */
const BATCH_WINDOW_MS = 4;
const BUSY_MS = 50;

const CONFIG_TTL_MS = 15_000;
const SUMMARY_RETRY_MS = 5_000;
/** Least time between two summary writes to D1 for one conversation. */
const SUMMARY_INTERVAL_MS = 250;
const MAX_REACTION_KINDS = 20;

const changeOf = (view: MessageViewT) => ({ conversation_id: view.conversation_id, message_id: view.id, seq: view.seq, message: view });

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
  /** The connection the message came from: it gets `message_sent`, not `message_received`. */
  origin?: string;
  /** REST: answer only once the conversation list in D1 shows the message (written at once, not trailing). */
  awaitSummary?: boolean;
}

export interface SendResult {
  message: MessageViewT;
  duplicate: boolean;
}

/** A message as the batch stored it (or found it, for a repeated client_id). */
interface Stored {
  view: MessageViewT;
  duplicate: boolean;
}

interface Pending {
  record: NewMessage;
  origin?: string;
  /** Someone waits for the summary (a REST send): write it at once instead of trailing. */
  summaryNow: boolean;
  resolve: (r: Stored) => void;
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
  private configLoading?: Promise<Config>;
  private queue: Pending[] = [];
  private flushScheduled = false;
  /** When the last batch was written (Date.now(), which advances between events) and its size. */
  private flushedAt = 0;
  private flushedSize = 0;
  private summaryDirty = false;
  private summaryWriting: Promise<void> | null = null;
  private summaryWrittenAt = 0;
  /** When the alarm for a trailing summary write is due (0: none scheduled). */
  private summaryAlarmAt = 0;
  /** Callers in flushSummary: they write at once, so no trailing alarm is needed for them. */
  private summaryWaiters = 0;
  private sendTimes = new Map<string, number[]>();
  /** Attachments of this object's sockets, mirrored from serializeAttachment (rebuilt lazily after hibernation). */
  private sockets: SocketSet;
  private limits: RateLimits;
  /** Members whose user object reported no open socket: skipped until it says they are back. */
  private offline = new Set<string>();
  private subscribers?: Set<string>;
  private pushQueue = new Map<string, { frames: PushFrame[]; member: boolean }>();
  private pushScheduled = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.log = new MessageLog(ctx.storage.sql);
    this.sockets = new SocketSet(ctx);
    this.limits = rateLimits(env);
    this.lastSeq = this.log.exists() ? this.log.lastSeq() : 0;
  }

  /** The conversation this object holds: from the loaded state, else from its own log (null before the first load). */
  private knownId(): string | null {
    return this.state?.id ?? (this.log.exists() ? this.log.getMeta("conversation_id") : null);
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
        .select({
          id: schema.conversations.id,
          kind: schema.conversations.kind,
          dissolvedAt: schema.conversations.dissolvedAt,
          historyVisible: schema.conversations.historyVisible,
          lastSeq: schema.conversations.lastSeq,
        })
        .from(schema.conversations)
        .where(eq(schema.conversations.id, conversationId)),
      db
        .select({ userId: schema.members.userId, role: schema.members.role, mutedUntil: schema.members.mutedUntil, joinedSeq: schema.members.joinedSeq, username: schema.users.username })
        .from(schema.members)
        .innerJoin(schema.users, eq(schema.users.id, schema.members.userId))
        // a disabled account is no member anywhere until an admin enables it again
        .where(and(eq(schema.members.conversationId, conversationId), isNull(schema.users.disabledAt))),
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
    await this.loadSubscribers();
    await this.operatorConfig();
    this.state = { id: conv.id, kind: conv.kind, dissolved: conv.dissolvedAt !== null, historyVisible: conv.historyVisible, members, blockedSenders };
    // a summary write lost with the previous instance (crash, eviction): bring D1 up to date
    if (conv.lastSeq < this.lastSeq) this.markSummaryDirty();
    // message retention runs from the alarm; the first check soon after the object wakes
    void armNoLaterThan(this.ctx.storage, Date.now() + RETENTION_FIRST_CHECK_MS).catch(() => undefined);
    return this.state;
  }

  private async exists(conversationId: string): Promise<boolean> {
    const row = await this.db().select({ id: schema.conversations.id }).from(schema.conversations).where(eq(schema.conversations.id, conversationId)).get();
    return !!row;
  }

  /**
   * The operator's rules (sensitive words, rate, recall window): cached for CONFIG_TTL_MS. Past that the
   * cached copy still answers while one reload runs, so a send never waits on D1 for it; only the first
   * call waits. (Awaiting the reload in every send stalled all sends for the D1 round trip every 15 s and
   * issued one read per send arriving meanwhile: 21 at 1,000 msgs/s in the bench.)
   */
  private async operatorConfig(): Promise<Config> {
    if (this.config && Date.now() - this.config.at <= CONFIG_TTL_MS) return this.config.value;
    if (!this.configLoading) {
      this.configLoading = loadConfig(this.db())
        .then((value) => {
          this.config = { value, at: Date.now() };
          return value;
        })
        .finally(() => (this.configLoading = undefined));
      if (this.config) this.configLoading.catch((err) => log("warn", "operator config reload failed; keeping the cached rules", { error: String(err) }));
    }
    return this.config?.value ?? this.configLoading;
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
      const config = req.system ? undefined : await this.operatorConfig();
      let senderName = "system";
      let content = req.content ?? null;
      if (config) {
        const m = this.member(state, req.senderId);
        senderName = m.username;
        if (state.dissolved) throw new AppError("FORBIDDEN", "This group has been dissolved; its history is read-only");
        if (m.mutedUntil && m.mutedUntil > new Date().toISOString()) throw new AppError("FORBIDDEN", `You are muted until ${m.mutedUntil}`);
        if (state.blockedSenders.has(req.senderId)) throw new AppError("FORBIDDEN", "You cannot message this user");
        this.rateLimit(req.senderId, config.chat_rate);
        content = this.applyContentRules(req.type, content, config);
      }
      // the one check every send path shares (REST, user and bound sockets): a D1 read only for media
      const attachments = !req.system && req.attachments?.length ? req.attachments : [];
      if (attachments.length) await checkAttachments(this.db(), req.senderId, req.type, attachments);
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
      const { view, duplicate } = await this.enqueue(record, req.origin, req.awaitSummary);
      if (!req.system && !duplicate) noteAuthor(this, this.env, req.conversationId, req.senderId);
      if (attachments.length) await recordAttachments(this.db(), req.conversationId, attachments);
      if (req.awaitSummary) await this.flushSummary();
      return { message: view, duplicate };
    });
  }

  private rateLimit(userId: string, perMinute: number) {
    if (perMinute <= 0) return;
    const now = Date.now();
    let times = this.sendTimes.get(userId);
    if (!times) this.sendTimes.set(userId, (times = []));
    // oldest first: drop what left the minute from the front (amortized O(1), not a scan per send)
    while (times.length && now - times[0] >= 60_000) times.shift();
    if (times.length >= perMinute) {
      throw new AppError("RATE_LIMITED", "You are sending messages too fast", { retryAfter: Math.ceil((60_000 - (now - times[0])) / 1000) });
    }
    times.push(now);
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

  /**
   * Queues a record; everything queued until the flush runs (a timer: its own turn, so the batch is
   * one SQLite commit instead of one per socket event; zero delay when the conversation was quiet,
   * BATCH_WINDOW_MS when busy) is written in one transaction. A client_id the sender already used
   * (stored earlier, or earlier in the same batch) resolves to the stored message with
   * `duplicate: true` and is not delivered again.
   */
  private enqueue(record: NewMessage, origin?: string, summaryNow = false): Promise<Stored> {
    return new Promise<Stored>((resolve, reject) => {
      this.queue.push({ record, origin, summaryNow, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        const busy = this.flushedSize > 1 && Date.now() - this.flushedAt < BUSY_MS;
        setTimeout(() => this.flush(), busy ? BATCH_WINDOW_MS : 0);
      }
    });
  }

  private flush() {
    const batch = this.queue;
    this.flushedAt = Date.now();
    this.flushedSize = batch.length;
    this.queue = [];
    this.flushScheduled = false;
    const rows: { row: StoredMessage; duplicate: boolean }[] = [];
    let seq = this.lastSeq;
    try {
      this.ctx.storage.transactionSync(() => {
        for (const { record } of batch) {
          if (this.log.insert(seq + 1, record)) {
            seq += 1;
            rows.push({ row: { ...record, seq, edited_at: null, recalled_at: null, deleted_at: null }, duplicate: false });
            continue;
          }
          const earlier = record.client_id ? this.log.byClientId(record.sender_id, record.client_id) : undefined;
          if (!earlier) throw new Error(`message ${record.id} collides with a stored message`);
          rows.push({ row: earlier, duplicate: true });
        }
      });
    } catch (err) {
      log("error", "message batch failed", { error: String(err), size: batch.length });
      for (const p of batch) p.reject(new AppError("INTERNAL", "Failed to save message"));
      return;
    }
    this.lastSeq = seq;
    const conversationId = this.state!.id;
    const stored = rows.map(({ row, duplicate }, i): Stored => ({
      duplicate,
      // a new message has no reactions yet: its view is the same for every viewer
      view: duplicate
        ? this.viewOne(row, batch[i].record.sender_id)
        : this.log.view(conversationId, row, [], undefined, row.reply_to ? this.log.byId(row.reply_to) : undefined),
    }));
    batch.forEach((p, i) => p.resolve(stored[i]));
    const fresh = stored.flatMap((s, i) => (s.duplicate ? [] : [{ view: s.view, origin: batch[i].origin }]));
    if (fresh.length) this.deliver(fresh, batch.some((p) => p.summaryNow));
  }

  /**
   * The one fan-out point for stored messages: this object's own sockets directly (the fast path),
   * members' user objects coalesced per recipient (full messages up to the configured group size),
   * subscribers of user connections that joined the room, then the D1 summary.
   */
  private deliver(messages: { view: MessageViewT; origin?: string }[], summaryNow = false) {
    this.markSummaryDirty(summaryNow);
    const frames = messages.map(({ view, origin }) => ({ frame: serverFrame("message_received", messageFields(view)), origin }));
    for (const f of frames) this.toSockets(f.frame, f.origin);
    this.toUsers(frames, true);
  }

  private viewOne(row: StoredMessage, viewer?: string): MessageViewT {
    return this.log.views(this.state?.id ?? "", [row], viewer)[0];
  }

  // ---- conversation summary in D1 -----------------------------------------------------------------

  /**
   * The conversation list reads each conversation's last message and seq from D1, so every stored
   * message marks the summary dirty. Writes are coalesced: the first after a quiet spell goes out at
   * once, later ones at most every SUMMARY_INTERVAL_MS (an alarm, so a trailing write survives
   * eviction), and never more than one at a time. A busy room costs D1 a few writes per second
   * instead of one per message; `load()` repairs a summary left behind by a crash.
   */
  private markSummaryDirty(now = false) {
    this.summaryDirty = true;
    if (this.summaryWriting || (this.summaryAlarmAt && !now)) return;
    const wait = now ? 0 : this.summaryWrittenAt + SUMMARY_INTERVAL_MS - Date.now();
    if (wait <= 0) this.startSummaryWrite();
    else this.scheduleSummary(wait);
  }

  private scheduleSummary(wait: number) {
    this.summaryAlarmAt = Date.now() + wait;
    void this.ctx.storage.setAlarm(this.summaryAlarmAt).catch((err) => {
      log("warn", "could not schedule the conversation summary", { error: String(err) });
      this.summaryAlarmAt = 0;
    });
  }

  private startSummaryWrite() {
    this.summaryWriting = this.writeSummary().finally(() => {
      this.summaryWriting = null;
      // callers waiting in flushSummary write the rest themselves; otherwise it trails by alarm
      if (this.summaryDirty && !this.summaryWaiters && !this.summaryAlarmAt) this.scheduleSummary(SUMMARY_INTERVAL_MS);
    });
  }

  /** Waits until the summary in D1 includes everything stored so far (REST sends wait for this). */
  private async flushSummary(): Promise<void> {
    this.summaryWaiters += 1;
    try {
      while (this.summaryWriting) await this.summaryWriting;
      if (!this.summaryDirty) return;
      this.startSummaryWrite();
      await this.summaryWriting;
    } finally {
      this.summaryWaiters -= 1;
    }
  }

  /** Writes the newest message as the conversation's summary (never moving it backwards). */
  private async writeSummary() {
    if (!this.state) return;
    this.summaryDirty = false;
    this.summaryWrittenAt = Date.now();
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
      this.scheduleSummary(SUMMARY_RETRY_MS);
    }
  }

  /** The trailing (or retried) summary write; after a restart, loading the conversation repairs it. */
  async alarm() {
    this.summaryAlarmAt = 0;
    const id = this.knownId();
    if (!id) return;
    await this.conversation(id);
    if (this.summaryDirty && !this.summaryWriting) this.startSummaryWrite();
    await retentionTick(this.dataHost());
  }

  // ---- moderation and data rights (src/realtime/conversation-data.ts) ---------------------------------

  async dataOp(op: DataOp) {
    return capture(() => runDataOp(this.dataHost(), op));
  }

  private dataHost(): DataHost {
    return {
      env: this.env,
      sql: this.ctx.storage.sql,
      log: this.log,
      knownId: () => this.knownId(),
      lastSeq: () => this.lastSeq,
      changed: (frame, view) => this.changed(frame, view),
      markSummaryDirty: () => this.markSummaryDirty(),
      view: (row) => this.viewOne(row),
      storage: this.ctx.storage,
    };
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
        history_start_seq: this.log.historyStart(),
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
      this.log.indexPending();
      return { messages: this.log.views(conversationId, this.log.search(q, since, limit, before), userId) };
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
      await this.changed(serverFrame("message_edited", changeOf(view)), view);
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
      await this.changed(serverFrame("message_recalled", changeOf(view)), view);
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
      await this.changed(serverFrame("message_deleted", changeOf(view)), view);
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
      await this.changed(serverFrame("reaction_updated", { ...changeOf(view), emoji, user_id: userId, added: add }), view);
      return view;
    });
  }

  /**
   * A message changed after it was delivered: live listeners hear it, and when it is the newest one
   * the conversation list shows the change by the time the caller is answered.
   */
  private async changed(frame: EncodedFrame, view: MessageViewT) {
    this.broadcast(frame);
    if (view.seq === this.lastSeq) {
      this.markSummaryDirty(true);
      await this.flushSummary();
    }
  }

  // ---- read state ---------------------------------------------------------------------------------------

  /** Moves the member's read mark forward (never back, never past the last message) and tells the others. */
  async markRead(conversationId: string, userId: string, seq: number, messageIds: string[] = [], origin?: string) {
    return capture(async () => {
      const state = await this.conversation(conversationId);
      const m = this.member(state, userId);
      const upTo = Math.max(seq, ...messageIds.map((mid) => this.log.byId(mid)?.seq ?? 0));
      const target = Math.max(0, Math.min(upTo, this.lastSeq));
      const rows = await this.db()
        .update(schema.members)
        .set({ readSeq: sql`max(${schema.members.readSeq}, ${target})` })
        .where(and(eq(schema.members.conversationId, conversationId), eq(schema.members.userId, userId)))
        .returning({ readSeq: schema.members.readSeq });
      const readSeq = rows[0]?.readSeq ?? target;
      const result = {
        conversation_id: conversationId,
        read_seq: readSeq,
        last_seq: this.lastSeq,
        unread_count: Math.max(0, this.lastSeq - Math.max(readSeq, this.since(state, m))),
      };
      this.broadcast(serverFrame("message_read", { conversation_id: conversationId, user_id: userId, seq: readSeq }), undefined, userId);
      void userStub(this.env, userId)
        .receive(conversationId, [{ frame: serverFrame("unread", result), origin }], true)
        .catch(() => undefined);
      return result;
    });
  }

  // ---- membership -------------------------------------------------------------------------------------

  /**
   * Membership or rules changed in D1: reload the cached copy, and close the sockets of anyone who is
   * no longer a member (kicked, left, or the conversation is gone).
   */
  async membersChanged(_change: Record<string, unknown>): Promise<void> {
    const id = this.knownId();
    this.state = undefined;
    if (!id) return;
    const state = await this.conversation(id).catch(() => undefined);
    for (const [ws, a] of this.sockets.entries()) {
      if (!state || !state.members.has(a.userId)) ws.close(CloseCodes.removed, "No longer a member of this conversation");
    }
    if (!state && !(await this.exists(id))) {
      // The conversation was deleted (a room's creator deleted it): its history goes with it.
      await this.ctx.storage.deleteAll();
      this.lastSeq = 0;
      this.subscribers = undefined;
      return;
    }
    if (state && this.subscribers) {
      for (const userId of [...this.subscribers]) {
        if (!state.members.has(userId)) await this.dropSubscriber(userId);
      }
    }
  }


  // ---- live connections -------------------------------------------------------------------------------

  /** Sends one serialized frame to every socket in the room except the one it came from. */
  private toSockets(frame: EncodedFrame, origin?: string, exceptUser?: string) {
    for (const [ws, a] of this.sockets.entries()) {
      if (a.room && a.connId !== origin && a.userId !== exceptUser) safeSend(ws, frame);
    }
  }

  private async loadSubscribers(): Promise<Set<string>> {
    if (!this.subscribers) {
      const stored = await this.ctx.storage.list<boolean>({ prefix: "sub:" });
      this.subscribers = new Set([...stored.keys()].map((k) => k.slice(4)));
    }
    return this.subscribers;
  }

  private async dropSubscriber(userId: string) {
    (await this.loadSubscribers()).delete(userId);
    await this.ctx.storage.delete(`sub:${userId}`);
  }

  /**
   * Queues frames for users' objects: members get every frame (DMs and groups up to
   * `full_delivery_max_members`, unless known offline), subscribers (user connections that joined
   * this room) get them for those connections. Coalesced per recipient over a few milliseconds.
   */
  private toUsers(frames: PushFrame[], members: boolean, exceptUser?: string) {
    const state = this.state;
    if (!state) return;
    const subscribers = this.subscribers ?? new Set<string>();
    const limit = this.config?.value.full_delivery_max_members ?? 50;
    // Rooms reach user connections only where they joined (subscribers); DMs and small groups reach every device.
    const memberPush = members && (state.kind === "dm" || (state.kind === "group" && state.members.size <= limit));
    const add = (userId: string, member: boolean) => {
      if (userId === exceptUser) return;
      const entry = this.pushQueue.get(userId) ?? { frames: [], member: false };
      entry.frames.push(...frames);
      entry.member ||= member;
      this.pushQueue.set(userId, entry);
    };
    if (memberPush) for (const userId of state.members.keys()) if (!this.offline.has(userId)) add(userId, true);
    for (const userId of subscribers) if (!(memberPush && state.members.has(userId) && !this.offline.has(userId))) add(userId, false);
    if (this.pushQueue.size && !this.pushScheduled) {
      this.pushScheduled = true;
      setTimeout(() => void this.flushPushes(), PUSH_COALESCE_MS);
    }
  }

  private async flushPushes() {
    this.pushScheduled = false;
    const queue = this.pushQueue;
    this.pushQueue = new Map();
    const conversationId = this.state?.id;
    if (!conversationId) return;
    await Promise.all(
      [...queue].map(async ([userId, { frames, member }]) => {
        try {
          const r = await userStub(this.env, userId).receive(conversationId, frames, member);
          if (member && r.sockets === 0) this.offline.add(userId);
          if (!r.inRoom && this.subscribers?.has(userId)) await this.dropSubscriber(userId);
        } catch (err) {
          log("warn", "push to user failed", { conversation_id: conversationId, user_id: userId, error: String(err) });
        }
      }),
    );
  }

  /** An ephemeral event (typing, joins, reads, edits): to the room's sockets and to users' objects. */
  private broadcast(frame: EncodedFrame, origin?: string, exceptUser?: string, members = true) {
    this.toSockets(frame, origin, exceptUser);
    this.toUsers([{ frame, origin }], members, exceptUser);
  }

  /** The user's object reports them online again: resume pushing to them. */
  async presence(userId: string, online: boolean) {
    if (online) this.offline.delete(userId);
    else this.offline.add(userId);
  }

  /** A user connection joined this room with join_room: it gets the room's live traffic through the user's object. */
  async subscribe(conversationId: string, userId: string, connId: string) {
    return capture(async () => {
      const state = await this.conversation(conversationId);
      const m = this.member(state, userId);
      (await this.loadSubscribers()).add(userId);
      this.offline.delete(userId);
      await this.ctx.storage.put(`sub:${userId}`, true);
      this.broadcast(serverFrame("user_joined", { user_id: userId, username: m.username, room_id: conversationId, conversation_id: conversationId }), connId, undefined, false);
      return { room_id: conversationId, user_id: userId, username: m.username };
    });
  }

  /** A user connection left the room (or closed); `stillSubscribed` when another of the user's connections remains in it. */
  async unsubscribe(conversationId: string, userId: string, connId: string, stillSubscribed: boolean) {
    return capture(async () => {
      const state = await this.conversation(conversationId);
      if (!stillSubscribed) await this.dropSubscriber(userId);
      const username = state.members.get(userId)?.username ?? "";
      this.broadcast(serverFrame("user_left", { user_id: userId, username, room_id: conversationId, conversation_id: conversationId }), connId, undefined, false);
      return { room_id: conversationId, user_id: userId };
    });
  }

  async typing(conversationId: string, userId: string, isTyping: boolean, origin?: string) {
    return capture(async () => {
      const state = await this.conversation(conversationId);
      const m = this.member(state, userId);
      this.broadcast(serverFrame("typing", { conversation_id: conversationId, user_id: userId, username: m.username, is_typing: isTyping }), origin, userId);
      return { ok: true };
    });
  }

  /** Everything after `afterSeq` that the member may read, as replay frames (bounded pages). */
  async replay(conversationId: string, userId: string, afterSeq: number) {
    return capture(async () => {
      const state = await this.conversation(conversationId);
      const since = Math.max(afterSeq, this.since(state, this.member(state, userId)));
      const rows = this.log.range(since, this.lastSeq, SYNC_PAGE + 1);
      const page = rows.slice(0, SYNC_PAGE);
      return {
        frames: [...historyStartFrames(this.log, conversationId, since), ...this.log.views(conversationId, page, userId).map((v) => serverFrame("message_received", { ...messageFields(v), replay: true }))],
        next: page.length ? page[page.length - 1].seq : since,
        has_more: rows.length > SYNC_PAGE,
        last_seq: this.lastSeq,
      };
    });
  }

  /** Accepts a conversation-bound socket; the Worker has verified the token and the right to read. */
  async fetch(request: Request): Promise<Response> {
    const userId = request.headers.get("x-edge-user-id");
    const username = request.headers.get("x-edge-username") ?? "";
    const deviceId = request.headers.get("x-edge-device-id") ?? "default";
    const conversationId = request.headers.get("x-edge-conversation-id");
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !userId || !conversationId) {
      return new Response("Expected a WebSocket upgrade from the edge-im Worker", { status: 426 });
    }
    const state = await this.conversation(conversationId);
    if (!state.members.has(userId)) return new Response("Not a member", { status: 403 });
    for (const old of this.ctx.getWebSockets(`dev:${userId}:${deviceId}`)) old.close(CloseCodes.replaced, "Replaced by a new connection from the same device");
    const [client, server] = Object.values(new WebSocketPair());
    const a = newAttachment(userId, username, deviceId, conversationId, this.limits);
    this.ctx.acceptWebSocket(server, [`user:${userId}`, `dev:${userId}:${deviceId}`]);
    this.sockets.save(server, a);
    safeSend(server, serverFrame("authenticated", { user_id: userId, username, status: "connected", conversation_id: conversationId, room_id: conversationId }));
    this.broadcast(serverFrame("user_joined", { user_id: userId, username, room_id: conversationId, conversation_id: conversationId }), a.connId, undefined, false);
    void userStub(this.env, userId).remoteOpened(userId, `${conversationId}:${a.connId}`).catch(() => undefined);
    return new Response(null, { status: 101, webSocket: client });
  }

  async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer) {
    if (ws.readyState === WebSocket.OPEN) await dispatch(this.port(ws), raw);
  }

  /** How the dispatcher reaches this object for one of its bound sockets: every frame acts on this conversation (calls aside). */
  private port(ws: WebSocket): SessionPort {
    const a = this.sockets.get(ws);
    const id = this.knownId()!;
    const only = (target: string | undefined) => {
      if (target && target !== id) throw new AppError("BAD_REQUEST", `This connection is bound to ${id}; use a user connection for other conversations`);
    };
    return {
      session: a,
      budget: a,
      limits: this.limits,
      env: this.env,
      reply: (f) => safeSend(ws, f),
      close: (code, reason) => safeClose(ws, code, reason),
      saveBudget: () => ws.serializeAttachment(a),
      authenticate: async () => serverFrame("authenticated", { user_id: a.userId, username: a.username, status: "connected", conversation_id: id, room_id: id }),
      join: async (target) => {
        only(target);
        const wasOut = a.room === null;
        a.room = id;
        this.sockets.save(ws, a);
        if (wasOut) this.broadcast(serverFrame("user_joined", { user_id: a.userId, username: a.username, room_id: id, conversation_id: id }), a.connId, undefined, false);
        return serverFrame("room_joined", { room_id: id, conversation_id: id, user_id: a.userId });
      },
      leave: async (target) => {
        only(target);
        if (!a.room) throw new AppError("BAD_REQUEST", "You are not in any room");
        a.room = null;
        this.sockets.save(ws, a);
        this.broadcast(serverFrame("user_left", { user_id: a.userId, username: a.username, room_id: id, conversation_id: id }), a.connId, undefined, false);
        return serverFrame("room_left", { room_id: id, conversation_id: id, user_id: a.userId });
      },
      conversation: (target) => {
        only(target);
        return this;
      },
      setStatus: (status) => userStub(this.env, a.userId).setStatus(a.userId, status),
    };
  }

  async webSocketClose(ws: WebSocket, code: number) {
    this.closed(ws);
    finishClose(ws, code);
  }

  async webSocketError(ws: WebSocket) {
    this.closed(ws);
  }

  private closed(ws: WebSocket) {
    const a = this.sockets.forget(ws);
    if (!a) return;
    const id = a.room ?? this.knownId();
    if (a.room && id) {
      this.broadcast(serverFrame("user_left", { user_id: a.userId, username: a.username, room_id: id, conversation_id: id }), a.connId, undefined, false);
    }
    if (id) void userStub(this.env, a.userId).remoteClosed(a.userId, `${id}:${a.connId}`).catch(() => undefined);
  }
}
