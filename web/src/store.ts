// The web client's state: one object, changed only here, rendered by the views (app.tsx) after each change.
import { EdgeIm, EdgeImError, type Message, type Realtime, type Schemas, type ServerFrameFields, type Session } from "@edge-im/client";

export type Conversation = Schemas["ConversationSummary"];
const listNotifications = () => im.data(im.api.GET("/notifications", { params: { query: { limit: 50 } } }));
const listRequests = () => im.data(im.api.GET("/friends/requests", { params: { query: { direction: "incoming", status: "pending" } } }));
const listFriends = () => im.data(im.api.GET("/friends", { params: { query: { limit: 200 } } }));
export type Notification = Awaited<ReturnType<typeof listNotifications>>["notifications"][number];
export type FriendRequest = Awaited<ReturnType<typeof listRequests>>["requests"][number];
export type Friend = Awaited<ReturnType<typeof listFriends>>["friends"][number];
type Status = ServerFrameFields["user_status"]["status"];

export interface Pending {
  client_id: string;
  conversation_id: string;
  content: string;
  failed?: string;
}
export interface Upload {
  id: string;
  conversation_id: string;
  name: string;
  sent: number;
  total: number;
  error?: string;
}
export interface Thread {
  items: Message[];
  hasMore: boolean;
  loading: boolean;
  loaded: boolean;
}
export type Panel = null | "notifications" | "new-chat" | "new-group" | "discover" | "search";

const SESSION_KEY = "edge-im:session";
const PAGE = 30;

export const state = {
  session: null as Session | null,
  conversations: [] as Conversation[],
  activeId: null as string | null,
  threads: new Map<string, Thread>(),
  pending: [] as Pending[],
  uploads: [] as Upload[],
  presence: new Map<string, Status>(),
  /** conversation → user → {username, until} */
  typing: new Map<string, Map<string, { username: string; until: number }>>(),
  /** conversation → user → read seq */
  reads: new Map<string, Map<string, number>>(),
  notifications: [] as Notification[],
  unreadNotifications: 0,
  requests: [] as FriendRequest[],
  friends: [] as Friend[],
  connection: "connecting" as "connecting" | "online" | "offline",
  replyTo: null as Message | null,
  editing: null as Message | null,
  panel: null as Panel,
  toast: null as string | null,
  files: new Map<string, Schemas["File"] | "loading" | "error">(),
};

// ---- change notification ---------------------------------------------------------------------------
const listeners = new Set<() => void>();
let scheduled = false;
export function subscribe(fn: () => void) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
export function changed() {
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => {
    scheduled = false;
    for (const fn of listeners) fn();
  });
}

let toastTimer: ReturnType<typeof setTimeout> | undefined;
export function toast(text: string) {
  state.toast = text;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    state.toast = null;
    changed();
  }, 4000);
  changed();
}
export const errorText = (err: unknown) => (err instanceof EdgeImError ? err.message : err instanceof Error ? err.message : String(err));

// ---- the SDK ------------------------------------------------------------------------------------------
function loadSession(): Session | null {
  try {
    return JSON.parse(localStorage.getItem(SESSION_KEY) ?? "null");
  } catch {
    return null;
  }
}

export const im = new EdgeIm({
  session: loadSession(),
  onSession(session) {
    if (session) localStorage.setItem(SESSION_KEY, JSON.stringify(session));
    else localStorage.removeItem(SESSION_KEY);
    const signedOut = state.session && !session;
    state.session = session;
    if (signedOut) teardown();
    changed();
  },
});
state.session = im.session;

/** Conversation → last seq seen: shared by the SDK (sync on reconnect) and the views. */
const cursors = new Map<string, number>();
let rt: Realtime | null = null;
const deviceId = (() => {
  const key = "edge-im:device";
  let id = localStorage.getItem(key);
  if (!id) localStorage.setItem(key, (id = `web-${crypto.randomUUID().slice(0, 8)}`));
  return id;
})();

export const me = () => state.session!;
export const conversation = (id: string | null) => state.conversations.find((c) => c.id === id) ?? null;
export const thread = (id: string): Thread => {
  let t = state.threads.get(id);
  if (!t) state.threads.set(id, (t = { items: [], hasMore: true, loading: false, loaded: false }));
  return t;
};
export const title = (c: Conversation) => (c.kind === "dm" ? c.peer?.username || "Direct message" : c.name || "Untitled");

// ---- sign in ------------------------------------------------------------------------------------------
export async function signIn(mode: "login" | "register", body: { username: string; password: string; captcha_key?: string; captcha?: string }) {
  if (mode === "register") await im.register(body);
  else await im.login(body);
  await boot();
}

export async function captcha() {
  return im.data(im.api.GET("/auth/captcha"));
}

export async function signOut() {
  await im.logout().catch(() => undefined);
}

function teardown() {
  rt?.close();
  rt = null;
  cursors.clear();
  Object.assign(state, {
    conversations: [],
    activeId: null,
    threads: new Map(),
    pending: [],
    uploads: [],
    notifications: [],
    requests: [],
    friends: [],
    unreadNotifications: 0,
    replyTo: null,
    editing: null,
    panel: null,
  });
}

/** After sign-in (or on load with a saved session): lists, then the realtime connection. */
export async function boot() {
  if (!im.session) return;
  state.connection = "connecting";
  changed();
  await Promise.all([loadConversations(), loadNotifications(), loadFriends()]).catch((err) => toast(errorText(err)));
  if (!im.session) return;
  rt = im.realtime({ deviceId, cursors });
  wire(rt);
  await rt.start().catch(() => undefined);
}

window.addEventListener("offline", () => {
  state.connection = "offline";
  changed();
  rt?.reconnect(); // the socket is gone with the network: drop it now, resume from the cursors later
});
window.addEventListener("online", () => rt?.reconnect());
document.addEventListener("visibilitychange", () => markActiveRead());
window.addEventListener("focus", () => markActiveRead());

export async function loadConversations() {
  const { conversations } = await im.data(im.api.GET("/conversations", { params: { query: { limit: 100 } } }));
  for (const c of conversations) if (!cursors.has(c.id)) cursors.set(c.id, c.last_seq);
  state.conversations = sortConversations(conversations);
  changed();
}

function sortConversations(list: Conversation[]) {
  return [...list].sort((a, b) => Number(b.pinned) - Number(a.pinned) || (b.last_message_at ?? "").localeCompare(a.last_message_at ?? ""));
}

export async function loadNotifications() {
  const [n, r] = await Promise.all([listNotifications(), listRequests()]);
  state.notifications = n.notifications;
  state.unreadNotifications = n.unread_count;
  state.requests = r.requests;
  changed();
}

export async function loadFriends() {
  const { friends } = await listFriends();
  state.friends = friends;
  for (const f of friends) state.presence.set(f.user.id, (f.user.status || "OFFLINE") as Status);
  changed();
}

// ---- realtime -----------------------------------------------------------------------------------------
function wire(r: Realtime) {
  r.on("open", () => {
    state.connection = "online";
    const active = conversation(state.activeId);
    if (active?.kind === "room") r.sendFrame({ type: "join_room", room_id: active.id });
    // conversations that began while this client was away (sync only covers the known ones)
    void loadConversations().catch(() => undefined);
    changed();
  });
  r.on("close", () => {
    if (state.connection === "online") state.connection = "connecting";
    changed();
  });
  r.on("signedout", () => changed());
  r.on("message", onMessage);
  r.on("unread", (f) => {
    const c = conversation(f.conversation_id);
    if (!c) return void loadConversations().catch(() => undefined);
    c.unread_count = f.unread_count;
    c.read_seq = Math.max(c.read_seq, f.read_seq);
    if (c.id === state.activeId && isReading()) markActiveRead();
    changed();
  });
  const changedMessage = (type: "message_edited" | "message_recalled" | "message_deleted" | "reaction_updated", f: ServerFrameFields["message_edited"] & { user_id?: string; emoji?: string; added?: boolean }) => {
    const m = f.message;
    const t = state.threads.get(m.conversation_id);
    const i = t?.items.findIndex((x) => x.id === m.id) ?? -1;
    if (t && i >= 0) {
      // reactions' `me` is the viewer's own: keep mine, and change it only for my own reaction
      const mine = new Map(t.items[i].reactions.map((x) => [x.emoji, x.me]));
      if (type === "reaction_updated" && f.user_id === me().id && f.emoji) mine.set(f.emoji, Boolean(f.added));
      t.items[i] = { ...m, reactions: m.reactions.map((x) => ({ ...x, me: mine.get(x.emoji) ?? false })) };
    }
    const c = conversation(m.conversation_id);
    if (c?.last_message?.id === m.id && type !== "reaction_updated") c.last_message = { ...c.last_message, preview: preview(m) };
    changed();
  };
  r.on("message_edited", (f) => changedMessage("message_edited", f));
  r.on("message_recalled", (f) => changedMessage("message_recalled", f));
  r.on("message_deleted", (f) => changedMessage("message_deleted", f));
  r.on("reaction_updated", (f) => changedMessage("reaction_updated", f));
  r.on("message_read", (f) => {
    const c = f.conversation_id;
    const reads = state.reads.get(c) ?? new Map<string, number>();
    reads.set(f.user_id, Math.max(f.seq, reads.get(f.user_id) ?? 0));
    state.reads.set(c, reads);
    changed();
  });
  r.on("typing", (f) => {
    const c = f.conversation_id;
    const map = state.typing.get(c) ?? new Map();
    if (f.is_typing) map.set(f.user_id, { username: f.username, until: Date.now() + 6000 });
    else map.delete(f.user_id);
    state.typing.set(c, map);
    changed();
    setTimeout(changed, 6100);
  });
  r.on("user_status", (f) => {
    state.presence.set(f.user_id, f.status);
    changed();
  });
  r.on("notification", (f) => {
    const n = f.notification as unknown as Notification | undefined;
    if (!n) return;
    state.notifications = [n, ...state.notifications.filter((x) => x.id !== n.id)];
    state.unreadNotifications += 1;
    if (n.kind.startsWith("friend_")) void Promise.all([loadNotifications(), loadFriends()]).catch(() => undefined);
    if (n.kind === "friend_accepted" || n.kind.startsWith("group_")) void loadConversations().catch(() => undefined);
    toast(notificationText(n));
  });
}

function onMessage(m: Message) {
  // into the thread even while its first page is loading (the page is merged by seq)
  const t = state.threads.get(m.conversation_id);
  if (t) insert(t, [m]);
  state.pending = state.pending.filter((p) => p.client_id !== m.client_id);
  const typing = state.typing.get(m.conversation_id);
  typing?.delete(m.sender.id);
  const c = conversation(m.conversation_id);
  if (!c) {
    void loadConversations().catch(() => undefined);
    return changed();
  }
  c.last_seq = Math.max(c.last_seq, m.seq);
  c.last_message = { id: m.id, seq: m.seq, type: m.type, sender_id: m.sender.id, sender_name: m.sender.username, preview: preview(m), created_at: m.created_at };
  c.last_message_at = m.created_at;
  if (c.id === state.activeId && isReading()) markActiveRead();
  else if (m.sender.id !== me().id && m.seq > c.read_seq) c.unread_count += 1;
  state.conversations = sortConversations(state.conversations);
  changed();
}

function insert(t: Thread, messages: Message[]) {
  const bySeq = new Map(t.items.map((m) => [m.seq, m]));
  for (const m of messages) bySeq.set(m.seq, m);
  t.items = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

export function preview(m: Pick<Message, "type" | "content" | "recalled">) {
  if (m.recalled) return "Message recalled";
  if (m.type === "image") return "📷 Photo";
  if (m.type === "file") return `📎 ${m.content || "File"}`;
  return m.content ?? "";
}

export function notificationText(n: Notification) {
  const data = (n.data ?? {}) as Record<string, unknown>;
  const who = String(data.username ?? (n as { actor?: { username?: string } }).actor?.username ?? "Someone");
  const group = typeof data.name === "string" ? data.name : "a group";
  const texts: Record<string, string> = {
    friend_request: `${who} sent you a friend request`,
    friend_accepted: `${who} accepted your friend request`,
    friend_rejected: `${who} declined your friend request`,
    friend_removed: `${who} removed you as a friend`,
    group_invite: `${who} invited you to ${group}`,
    group_join_request: `${who} asked to join your group`,
    group_join_approved: "Your request to join a group was approved",
    group_join_rejected: "Your request to join a group was declined",
    group_kicked: `You were removed from ${group}`,
    group_dissolved: `${group.charAt(0).toUpperCase()}${group.slice(1)} was dissolved`,
    group_joined: `You were added to ${group}`,
    group_muted: "You were muted in a group",
    group_role_changed: "Your role in a group changed",
    moment_liked: `${who} liked your moment`,
    moment_commented: `${who} commented on your moment`,
  };
  const fallback = n.kind.replace(/_/g, " ");
  return texts[n.kind] ?? fallback.charAt(0).toUpperCase() + fallback.slice(1);
}

const isReading = () => document.visibilityState === "visible";

// ---- conversations ------------------------------------------------------------------------------------
export async function open(id: string | null) {
  const previous = conversation(state.activeId);
  if (previous?.kind === "room" && previous.id !== id) rt?.sendFrame({ type: "leave_room", room_id: previous.id });
  state.activeId = id;
  state.replyTo = null;
  state.editing = null;
  state.panel = state.panel === "search" ? null : state.panel;
  changed();
  if (!id) return;
  const c = conversation(id);
  if (c?.kind === "room") rt?.sendFrame({ type: "join_room", room_id: id });
  const t = thread(id);
  if (!t.loaded) await loadOlder(id);
  markActiveRead();
  void loadReads(id);
}

/** The next page of history above what is shown (or the latest page). */
export async function loadOlder(id: string) {
  const t = thread(id);
  if (t.loading || (t.loaded && !t.hasMore)) return;
  t.loading = true;
  changed();
  try {
    const before = t.loaded && t.items.length ? t.items[0].seq : undefined;
    const page = await im.data(im.api.GET("/conversations/{id}/messages", { params: { path: { id }, query: { limit: PAGE, ...(before ? { before } : {}) } } }));
    insert(t, page.messages);
    t.hasMore = page.has_more;
    t.loaded = true;
    const c = conversation(id);
    if (c && !cursors.has(id)) cursors.set(id, page.last_seq);
  } catch (err) {
    toast(errorText(err));
  } finally {
    t.loading = false;
    changed();
  }
}

/** Who has read my latest message (read receipts), as far as the server knows now. */
async function loadReads(id: string) {
  const mine = [...thread(id).items].reverse().find((m) => m.sender.id === me().id);
  if (!mine) return;
  const r = await im.data(im.api.GET("/conversations/{id}/messages/{message_id}/reads", { params: { path: { id, message_id: mine.id } } })).catch(() => null);
  if (!r) return;
  const reads = state.reads.get(id) ?? new Map<string, number>();
  for (const u of r.read_by) reads.set(u.user_id, Math.max(u.read_seq, reads.get(u.user_id) ?? 0));
  state.reads.set(id, reads);
  changed();
}

export function markActiveRead() {
  const c = conversation(state.activeId);
  if (!c || !isReading()) return;
  const t = state.threads.get(c.id);
  const seq = Math.max(c.last_seq, t?.items.at(-1)?.seq ?? 0);
  if (c.unread_count === 0 && c.read_seq >= seq) return;
  c.unread_count = 0;
  c.read_seq = seq;
  rt?.sendFrame({ type: "mark_read", conversation_id: c.id, seq });
  changed();
}

// ---- sending ------------------------------------------------------------------------------------------
export async function sendText(content: string) {
  const id = state.activeId;
  if (!id || !rt) return;
  const text = content.trim();
  if (!text) return;
  if (state.editing) {
    const m = state.editing;
    state.editing = null;
    changed();
    await im.data(im.api.PATCH("/conversations/{id}/messages/{message_id}", { params: { path: { id, message_id: m.id } }, body: { content: text } })).catch((err) => toast(errorText(err)));
    return;
  }
  const client_id = crypto.randomUUID();
  const reply = state.replyTo;
  state.replyTo = null;
  state.pending.push({ client_id, conversation_id: id, content: text });
  changed();
  typingStopped();
  try {
    await rt.send(id, { content: text, client_id, ...(reply ? { reply_to: reply.id } : {}) });
  } catch (err) {
    const p = state.pending.find((x) => x.client_id === client_id);
    if (p) p.failed = errorText(err);
    changed();
  }
}

export async function sendFile(file: File) {
  const id = state.activeId;
  if (!id || !rt) return;
  const up: Upload = { id: crypto.randomUUID(), conversation_id: id, name: file.name, sent: 0, total: file.size };
  state.uploads.push(up);
  changed();
  try {
    const isImage = /^image\/(png|jpe?g|gif|webp)$/.test(file.type);
    const dims = isImage ? await dimensions(file) : null;
    const stored = await im.upload(file, {
      purpose: "message",
      targetId: id,
      onProgress(sent, total) {
        up.sent = sent;
        up.total = total;
        changed();
      },
    });
    state.files.set(stored.id, stored);
    await rt.send(id, isImage ? { message_type: "image", attachments: [stored.id], ...(dims ? { payload: dims } : {}) } : { message_type: "file", attachments: [stored.id], content: file.name });
    state.uploads = state.uploads.filter((u) => u !== up);
  } catch (err) {
    up.error = errorText(err);
  }
  changed();
}

export function retryPending(p: Pending) {
  state.pending = state.pending.filter((x) => x !== p);
  void sendText(p.content);
}

async function dimensions(file: File) {
  try {
    const bitmap = await createImageBitmap(file);
    const d = { width: bitmap.width, height: bitmap.height };
    bitmap.close();
    return d;
  } catch {
    return null;
  }
}

let typingSentAt = 0;
export function typingStarted() {
  const id = state.activeId;
  if (!id || Date.now() - typingSentAt < 2500) return;
  typingSentAt = Date.now();
  rt?.sendFrame({ type: "typing", conversation_id: id, is_typing: true });
}
export function typingStopped() {
  const id = state.activeId;
  if (!id || !typingSentAt) return;
  typingSentAt = 0;
  rt?.sendFrame({ type: "typing", conversation_id: id, is_typing: false });
}

export function typists(id: string) {
  const now = Date.now();
  return [...(state.typing.get(id)?.values() ?? [])].filter((t) => t.until > now).map((t) => t.username);
}

// ---- message actions ----------------------------------------------------------------------------------
export async function react(m: Message, emoji: string) {
  const mine = m.reactions.find((r) => r.emoji === emoji)?.me;
  const params = { params: { path: { id: m.conversation_id, message_id: m.id, emoji } } };
  await im.data(mine ? im.api.DELETE("/conversations/{id}/messages/{message_id}/reactions/{emoji}", params) : im.api.PUT("/conversations/{id}/messages/{message_id}/reactions/{emoji}", params)).catch((err) => toast(errorText(err)));
}

export async function recall(m: Message) {
  await im.data(im.api.POST("/conversations/{id}/messages/{message_id}/recall", { params: { path: { id: m.conversation_id, message_id: m.id } } })).catch((err) => toast(errorText(err)));
}

export async function searchMessages(id: string, q: string) {
  return (await im.data(im.api.GET("/conversations/{id}/messages/search", { params: { path: { id }, query: { q, limit: 30 } } }))).messages;
}

/** A file's details with a download URL (signed for about an hour), fetched once. */
export function fileInfo(id: string) {
  const known = state.files.get(id);
  if (known) return known;
  state.files.set(id, "loading");
  im.data(im.api.GET("/files/{id}", { params: { path: { id } } })).then(
    (r) => state.files.set(id, r.file),
    () => state.files.set(id, "error"),
  ).finally(changed);
  return "loading" as const;
}

// ---- people and groups --------------------------------------------------------------------------------
export async function searchUsers(q: string) {
  return (await im.data(im.api.GET("/users/search", { params: { query: { q, limit: 20 } } }))).users;
}

export async function openDm(userId: string) {
  const { conversation: c } = await im.data(im.api.POST("/conversations/dm", { body: { user_id: userId } }));
  if (!conversation(c.id)) state.conversations = sortConversations([c, ...state.conversations]);
  state.panel = null;
  await open(c.id);
}

export async function addFriend(userId: string) {
  const r = await im.data(im.api.POST("/friends/requests", { body: { user_id: userId, reason: null } }));
  if (r.is_friend) await Promise.all([loadFriends(), loadConversations()]);
  return r;
}

export async function answerRequest(r: FriendRequest, accept: boolean) {
  const params = { params: { path: { id: r.id } } };
  try {
    if (accept) {
      await im.data(im.api.POST("/friends/requests/{id}/accept", params));
      state.requests = state.requests.filter((x) => x.id !== r.id);
      await loadFriends();
      await openDm(r.from_user_id);
    } else {
      await im.data(im.api.POST("/friends/requests/{id}/reject", { ...params, body: {} }));
      state.requests = state.requests.filter((x) => x.id !== r.id);
    }
  } catch (err) {
    toast(errorText(err));
  }
  changed();
}

export async function readNotifications() {
  if (!state.unreadNotifications) return;
  state.unreadNotifications = 0;
  for (const n of state.notifications) n.read = true;
  changed();
  await im.data(im.api.POST("/notifications/read", { body: { all: true } })).catch(() => undefined);
}

export async function createGroup(name: string, memberIds: string[], visibility: "public" | "private") {
  const { group } = await im.data(im.api.POST("/groups", { body: { name, visibility, join_policy: visibility === "public" ? "open" : "invite" } }));
  const gid = (group as { id: string }).id;
  if (memberIds.length) await im.data(im.api.POST("/groups/{id}/members", { params: { path: { id: gid } }, body: { user_ids: memberIds } })).catch((err) => toast(errorText(err)));
  await loadConversations();
  state.panel = null;
  const c = state.conversations.find((x) => x.id === gid || (x.kind === "group" && x.name === name));
  if (c) await open(c.id);
}

export async function discover(q: string) {
  const [groups, rooms] = await Promise.all([
    q ? im.data(im.api.GET("/groups/search", { params: { query: { q, limit: 20 } } })).then((r) => r.groups as Array<{ id: string; name: string; member_count?: number; join_policy?: string; description?: string | null }>) : Promise.resolve([]),
    im.data(im.api.GET("/rooms", { params: { query: { limit: 50 } } })).then((r) => r.rooms.filter((x) => !q || x.name.toLowerCase().includes(q.toLowerCase()))),
  ]);
  return { groups, rooms };
}

export async function joinGroup(id: string) {
  const r = await im.data(im.api.POST("/groups/{id}/join", { params: { path: { id } }, body: {} }));
  if (r.state === "pending") return toast("Request sent: an admin will review it");
  await loadConversations();
  state.panel = null;
  await open(conversation(id) ? id : (state.conversations.find((c) => c.id === id)?.id ?? null));
}

export async function joinRoom(id: string) {
  await im.data(im.api.POST("/rooms/join", { body: { room_id: id } }));
  await loadConversations();
  state.panel = null;
  await open(id);
}

export async function createRoom(name: string) {
  const room = await im.data(im.api.POST("/rooms", { body: { name, description: "" } }));
  await loadConversations();
  state.panel = null;
  await open(room.id);
}
