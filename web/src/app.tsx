// The views. State lives in store.ts; every change there re-renders from <App>.
import type { Message } from "@edge-im/client";
import { Fragment, render, type ComponentChildren } from "preact";
import { useEffect, useLayoutEffect, useReducer, useRef, useState } from "preact/hooks";
import "../app.css";
import * as s from "./store";
import { state, type Conversation } from "./store";

const EMOJIS = ["👍", "❤️", "😂", "😮", "😢", "🎉"];

// ---- small pieces -------------------------------------------------------------------------------------
function hue(id: string) {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) % 360;
  return h;
}

function Avatar({ id, name, size = 40, status }: { id: string; name: string; size?: number; status?: string | null }) {
  const words = name.trim().split(/\s+/).filter(Boolean);
  const letters = (w: string) => w.replace(/[^\p{L}\p{N}]/gu, "");
  const initials = (words.length > 1 ? words.slice(0, 2).map((w) => letters(w)[0] ?? "").join("") : letters(name).slice(0, 2)).toUpperCase() || "?";
  return (
    <span class="avatar" style={{ width: size, height: size, fontSize: size * 0.38, background: `hsl(${hue(id)} 55% 52%)` }} aria-hidden="true">
      {initials}
      {status !== undefined && <span class={`dot ${status === "ONLINE" ? "on" : status === "AWAY" || status === "BUSY" ? "away" : "off"}`} />}
    </span>
  );
}

const Icon = ({ d, label }: { d: string; label?: string }) => (
  <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden={label ? undefined : "true"} role={label ? "img" : undefined} aria-label={label}>
    <path d={d} fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" />
  </svg>
);
const I = {
  bell: "M6 8a6 6 0 1 1 12 0c0 7 3 9 3 9H3s3-2 3-9M10.3 21a1.94 1.94 0 0 0 3.4 0",
  plus: "M12 5v14M5 12h14",
  users: "M16 21v-2a4 4 0 0 0-4-4H6a4 4 0 0 0-4 4v2M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8M22 21v-2a4 4 0 0 0-3-3.87M16 3.13a4 4 0 0 1 0 7.75",
  compass: "M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20M16.24 7.76l-2.12 6.36-6.36 2.12 2.12-6.36z",
  search: "M11 19a8 8 0 1 0 0-16 8 8 0 0 0 0 16M21 21l-4.35-4.35",
  back: "M15 18l-6-6 6-6",
  clip: "M21.44 11.05l-9.19 9.19a6 6 0 0 1-8.49-8.49l9.19-9.19a4 4 0 0 1 5.66 5.66l-9.2 9.19a2 2 0 0 1-2.83-2.83l8.49-8.48",
  send: "M22 2L11 13M22 2l-7 20-4-9-9-4z",
  x: "M18 6L6 18M6 6l12 12",
  reply: "M9 17l-5-5 5-5M20 18v-2a4 4 0 0 0-4-4H4",
  smile: "M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20M8 14s1.5 2 4 2 4-2 4-2M9 9h.01M15 9h.01",
  edit: "M12 20h9M16.5 3.5a2.12 2.12 0 0 1 3 3L7 19l-4 1 1-4z",
  undo: "M3 7v6h6M21 17a9 9 0 0 0-15-6.7L3 13",
  logout: "M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4M16 17l5-5-5-5M21 12H9",
  file: "M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8zM14 2v6h6",
  chat: "M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z",
};

function IconButton({ icon, label, onClick, badge, class: cls }: { icon: string; label: string; onClick: () => void; badge?: number; class?: string }) {
  return (
    <button type="button" class={`icon-btn ${cls ?? ""}`} aria-label={badge ? `${label} (${badge} new)` : label} title={label} onClick={onClick}>
      <Icon d={icon} />
      {badge ? <span class="badge small" aria-hidden="true">{badge > 99 ? "99+" : badge}</span> : null}
    </button>
  );
}

function when(iso: string | null | undefined) {
  if (!iso) return "";
  const d = new Date(iso);
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const days = (now.getTime() - d.getTime()) / 86_400_000;
  if (days < 6) return d.toLocaleDateString([], { weekday: "short" });
  return d.toLocaleDateString([], { month: "short", day: "numeric" });
}
const clock = (iso: string) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
const day = (iso: string) => {
  const d = new Date(iso);
  const today = new Date();
  const yesterday = new Date(Date.now() - 86_400_000);
  if (d.toDateString() === today.toDateString()) return "Today";
  if (d.toDateString() === yesterday.toDateString()) return "Yesterday";
  return d.toLocaleDateString([], { weekday: "long", month: "long", day: "numeric" });
};
const size = (n: number) => (n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(0)} KB` : `${(n / 1024 ** 2).toFixed(1)} MB`);

// ---- sign in ------------------------------------------------------------------------------------------
function Auth() {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [cap, setCap] = useState<{ captcha_key: string; image: string } | null>(null);
  const [answer, setAnswer] = useState("");

  async function submit(mode: "login" | "register") {
    if (!username || !password) return setError("Enter a username and a password");
    setBusy(true);
    setError(null);
    try {
      await s.signIn(mode, { username: username.trim(), password, ...(cap ? { captcha_key: cap.captcha_key, captcha: answer } : {}) });
    } catch (err) {
      const code = (err as { code?: string }).code;
      setError(code === "CAPTCHA_REQUIRED" ? "Please type the characters shown below" : s.errorText(err));
      if (code === "CAPTCHA_REQUIRED" || code === "CAPTCHA_INVALID" || cap) {
        setAnswer("");
        setCap(await s.captcha().catch(() => null));
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="auth">
      <form
        class="auth-card"
        onSubmit={(e) => {
          e.preventDefault();
          void submit("login");
        }}
      >
        <div class="brand">
          <span class="logo" aria-hidden="true">
            <Icon d={I.chat} />
          </span>
          <h1>edge-im</h1>
        </div>
        <p class="muted">Chat with friends, groups and rooms, live.</p>
        <label class="field">
          <span>Username</span>
          <input name="username" autocomplete="username" value={username} onInput={(e) => setUsername(e.currentTarget.value)} autofocus required minLength={3} />
        </label>
        <label class="field">
          <span>Password</span>
          <input name="password" type="password" autocomplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} required />
        </label>
        {cap && (
          <div class="captcha">
            <img src={cap.image} alt="Captcha: type the characters in this picture" />
            <button type="button" class="link" onClick={() => void s.captcha().then(setCap)}>
              New picture
            </button>
            <label class="field">
              <span>Captcha</span>
              <input value={answer} onInput={(e) => setAnswer(e.currentTarget.value)} autocomplete="off" required />
            </label>
          </div>
        )}
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="row">
          <button type="submit" class="primary" disabled={busy}>
            Log in
          </button>
          <button type="button" class="secondary" disabled={busy} onClick={() => void submit("register")}>
            Sign up
          </button>
        </div>
      </form>
    </main>
  );
}

// ---- the list of conversations ------------------------------------------------------------------------
function Sidebar() {
  const [filter, setFilter] = useState("");
  const me = s.me();
  const list = state.conversations.filter((c) => !filter || s.title(c).toLowerCase().includes(filter.toLowerCase()));
  const pendingRequests = state.requests.length;
  return (
    <aside class="sidebar" aria-label="Conversations">
      <header class="side-head">
        <Avatar id={me.id} name={me.username} size={36} status={state.connection === "online" ? "ONLINE" : "OFFLINE"} />
        <div class="me-info">
          <strong>{me.username}</strong>
          <span class={`conn ${state.connection}`} role="status">
            {state.connection === "online" ? "Connected" : state.connection === "offline" ? "Offline: waiting for the network" : "Connecting…"}
          </span>
        </div>
        <IconButton icon={I.bell} label="Notifications" badge={state.unreadNotifications + pendingRequests} onClick={() => ((state.panel = "notifications"), void s.readNotifications(), s.changed())} />
        <IconButton icon={I.logout} label="Log out" onClick={() => void s.signOut()} />
      </header>
      <div class="side-search">
        <Icon d={I.search} />
        <input type="search" aria-label="Filter conversations" placeholder="Search chats" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
      </div>
      <div class="side-actions">
        <button type="button" onClick={() => ((state.panel = "new-chat"), s.changed())}>
          <Icon d={I.plus} /> New chat
        </button>
        <button type="button" onClick={() => ((state.panel = "new-group"), s.changed())}>
          <Icon d={I.users} /> New group
        </button>
        <button type="button" onClick={() => ((state.panel = "discover"), s.changed())}>
          <Icon d={I.compass} /> Discover
        </button>
      </div>
      <nav class="conv-list" aria-label="Chats">
        {list.length === 0 && <p class="empty-list">{filter ? "No chats match." : "No chats yet. Start one with New chat, or find a group in Discover."}</p>}
        <ul>
          {list.map((c) => (
            <ConversationItem key={c.id} c={c} />
          ))}
        </ul>
      </nav>
    </aside>
  );
}

function ConversationItem({ c }: { c: Conversation }) {
  const name = s.title(c);
  const typing = s.typists(c.id);
  const last = c.last_message;
  const mine = last?.sender_id === state.session?.id;
  const active = state.activeId === c.id;
  return (
    <li>
      <button type="button" class={`conv ${active ? "active" : ""} ${c.unread_count ? "unread" : ""}`} aria-current={active ? "true" : undefined} onClick={() => void s.open(c.id)}>
        <Avatar id={c.peer?.id ?? c.id} name={name} status={c.kind === "dm" && c.peer ? (state.presence.get(c.peer.id) ?? null) : undefined} />
        <span class="conv-main">
          <span class="conv-top">
            <span class="conv-name">{name}</span>
            {c.kind !== "dm" && <span class="kind">{c.kind === "room" ? "room" : "group"}</span>}
            <time class="conv-time">{when(c.last_message_at)}</time>
          </span>
          <span class="conv-bottom">
            <span class="conv-preview">
              {typing.length ? <em class="typing-text">typing…</em> : last ? `${mine ? "You: " : c.kind !== "dm" ? `${last.sender_name}: ` : ""}${last.preview}` : <em>No messages yet</em>}
            </span>
            {c.unread_count > 0 && (
              <span class="badge" aria-label={`${c.unread_count} unread`}>
                {c.unread_count > 99 ? "99+" : c.unread_count}
              </span>
            )}
          </span>
        </span>
      </button>
    </li>
  );
}

// ---- the open conversation ----------------------------------------------------------------------------
function Chat() {
  const c = s.conversation(state.activeId);
  if (!c) {
    return (
      <section class="chat empty-chat" aria-label="No conversation open">
        <div class="hero">
          <span class="logo big" aria-hidden="true">
            <Icon d={I.chat} />
          </span>
          <h2>Welcome, {s.me().username}</h2>
          <p class="muted">Pick a chat on the left, or start a new one.</p>
        </div>
      </section>
    );
  }
  const name = s.title(c);
  const typing = s.typists(c.id);
  const status = c.kind === "dm" && c.peer ? state.presence.get(c.peer.id) : undefined;
  const subtitle = typing.length
    ? `${typing.join(", ")} ${typing.length > 1 ? "are" : "is"} typing…`
    : c.kind === "dm"
      ? status === "ONLINE"
        ? "Online"
        : status === "AWAY" || status === "BUSY"
          ? status === "AWAY" ? "Away" : "Busy"
          : "Offline"
      : `${c.member_count} member${c.member_count === 1 ? "" : "s"}`;
  return (
    <section class="chat" aria-label={`Chat with ${name}`}>
      <header class="chat-head">
        <IconButton icon={I.back} label="Back" class="back" onClick={() => void s.open(null)} />
        <Avatar id={c.peer?.id ?? c.id} name={name} size={38} status={c.kind === "dm" ? (status ?? null) : undefined} />
        <div class="chat-title">
          <h2>{name}</h2>
          <span class={typing.length ? "typing-text" : "muted"} aria-live="polite">
            {subtitle}
          </span>
        </div>
        <IconButton icon={I.search} label="Search messages" onClick={() => ((state.panel = state.panel === "search" ? null : "search"), s.changed())} />
      </header>
      {state.connection !== "online" && (
        <div class={`banner ${state.connection}`} role="status">
          {state.connection === "offline" ? "You are offline. New messages will arrive when you are back." : "Reconnecting…"}
        </div>
      )}
      {state.panel === "search" && <SearchBar id={c.id} />}
      <MessageList c={c} />
      <Composer c={c} />
    </section>
  );
}

function SearchBar({ id }: { id: string }) {
  const [q, setQ] = useState("");
  const [results, setResults] = useState<Message[] | null>(null);
  async function run(e: Event) {
    e.preventDefault();
    if (q.trim()) setResults(await s.searchMessages(id, q.trim()).catch((err) => (s.toast(s.errorText(err)), [])));
  }
  return (
    <div class="search-panel">
      <form onSubmit={run} class="search-form">
        <input type="search" aria-label="Search in this conversation" placeholder="Search in this conversation" value={q} onInput={(e) => setQ(e.currentTarget.value)} autofocus />
        <button type="submit" class="secondary">
          Search
        </button>
      </form>
      {results && (
        <ul class="search-results" aria-label="Search results">
          {results.length === 0 && <li class="muted">Nothing found.</li>}
          {results.map((m) => (
            <li key={m.id}>
              <strong>{m.sender.username}</strong> <time>{when(m.created_at)}</time>
              <div>{highlight(m.content ?? "", q)}</div>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function highlight(text: string, q: string) {
  const i = text.toLowerCase().indexOf(q.toLowerCase());
  if (!q || i < 0) return text;
  return (
    <>
      {text.slice(0, i)}
      <mark>{text.slice(i, i + q.length)}</mark>
      {text.slice(i + q.length)}
    </>
  );
}

function MessageList({ c }: { c: Conversation }) {
  const t = s.thread(c.id);
  const ref = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const anchor = useRef<{ height: number; top: number; first: number } | null>(null);
  const meId = s.me().id;
  const pending = state.pending.filter((p) => p.conversation_id === c.id);
  const uploads = state.uploads.filter((u) => u.conversation_id === c.id);
  const reads = state.reads.get(c.id);
  const lastMine = [...t.items].reverse().find((m) => m.sender.id === meId);
  const readers = lastMine ? [...(reads?.entries() ?? [])].filter(([uid, seq]) => uid !== meId && seq >= lastMine.seq).length : 0;

  // keep the view pinned to the bottom for new messages, and steady when older ones load above
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const first = t.items[0]?.seq ?? 0;
    if (anchor.current && anchor.current.first !== first) {
      // older messages arrived above: keep what was on screen where it was
      el.scrollTop = el.scrollHeight - anchor.current.height + anchor.current.top;
      anchor.current = null;
    } else if (anchor.current && !t.loading) {
      anchor.current = null; // the load brought nothing
    } else if (!anchor.current && atBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
  });
  useEffect(() => {
    atBottom.current = true;
  }, [c.id]);

  function onScroll() {
    const el = ref.current!;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 60;
    if (atBottom.current) s.markActiveRead();
    if (el.scrollTop < 120 && t.hasMore && !t.loading) {
      anchor.current = { height: el.scrollHeight, top: el.scrollTop, first: t.items[0]?.seq ?? 0 };
      void s.loadOlder(c.id);
    }
  }

  let lastDay = "";
  let prev: Message | null = null;
  return (
    <div class="messages" ref={ref} onScroll={onScroll} role="log" aria-label="Messages" aria-live="polite" tabIndex={0}>
      <div class="history-edge">{t.loading ? "Loading earlier messages…" : t.loaded && !t.hasMore ? "This is the beginning of the conversation." : ""}</div>
      {t.items.map((m) => {
        const d = day(m.created_at);
        const sep = d !== lastDay;
        lastDay = d;
        const grouped = !sep && prev?.sender.id === m.sender.id && new Date(m.created_at).getTime() - new Date(prev.created_at).getTime() < 5 * 60_000;
        prev = m;
        return (
          <Fragment key={m.id}>
            {sep && (
              <div class="day" role="separator">
                <span>{d}</span>
              </div>
            )}
            {m.type === "system" ? (
              <div class="system-msg">{m.content}</div>
            ) : (
              <Bubble m={m} mine={m.sender.id === meId} showName={c.kind !== "dm" && !grouped && m.sender.id !== meId} grouped={grouped} receipt={m === lastMine && readers > 0 ? (c.kind === "dm" ? "Seen" : `Seen by ${readers}`) : null} />
            )}
          </Fragment>
        );
      })}
      {pending.map((p) => (
        <div class="msg mine" key={p.client_id}>
          <div class={`bubble pending ${p.failed ? "failed" : ""}`}>
            <div class="text">{p.content}</div>
            <div class="meta">
              {p.failed ? (
                <>
                  Not sent ·{" "}
                  <button type="button" class="link" onClick={() => s.retryPending(p)}>
                    Retry
                  </button>
                </>
              ) : (
                "Sending…"
              )}
            </div>
          </div>
        </div>
      ))}
      {uploads.map((u) => (
        <div class="msg mine" key={u.id}>
          <div class="bubble upload">
            <div class="file-row">
              <Icon d={I.file} />
              <span class="file-name">{u.name}</span>
            </div>
            <progress max={u.total} value={u.sent} aria-label={`Uploading ${u.name}`} />
            <div class="meta">{u.error ? `Failed: ${u.error}` : `${size(u.sent)} of ${size(u.total)}`}</div>
          </div>
        </div>
      ))}
    </div>
  );
}

function Attachment({ id, type, caption }: { id: string; type: string; caption: string | null }) {
  const f = s.fileInfo(id);
  if (f === "loading") return <div class="attachment loading">Loading…</div>;
  if (f === "error") return <div class="attachment">File unavailable</div>;
  if (type === "image") {
    return (
      <a href={f.download_url} target="_blank" rel="noopener" class="image-link">
        <img src={f.download_url} alt={caption || f.name} loading="lazy" />
      </a>
    );
  }
  return (
    <a class="file-row file-link" href={`${f.download_url}${f.download_url.includes("?") ? "&" : "?"}disposition=attachment`} download={f.name}>
      <Icon d={I.file} />
      <span class="file-name">{f.name}</span>
      <span class="muted">{size(f.size)}</span>
    </a>
  );
}

function Bubble({ m, mine, showName, grouped, receipt }: { m: Message; mine: boolean; showName: boolean; grouped: boolean; receipt: string | null }) {
  const [picking, setPicking] = useState(false);
  const canEdit = mine && m.type === "text" && !m.recalled;
  return (
    <div class={`msg ${mine ? "mine" : "theirs"} ${grouped ? "grouped" : ""}`} data-seq={m.seq}>
      <div class={`bubble ${m.recalled ? "recalled" : m.type === "image" ? "media" : ""}`} tabIndex={0} aria-label={`${m.sender.username} at ${clock(m.created_at)}: ${s.preview(m)}`}>
        {showName && <div class="sender">{m.sender.username}</div>}
        {m.reply_to && !m.recalled && (
          <div class="quote">
            <span class="quote-line" />
            <span>{m.reply_to.preview || "Message"}</span>
          </div>
        )}
        {m.recalled ? (
          <div class="text muted">{mine ? "You recalled a message" : "This message was recalled"}</div>
        ) : (
          <>
            {m.attachments.map((a) => (
              <Attachment key={a} id={a} type={m.type} caption={m.content} />
            ))}
            {m.content && m.type !== "file" && <div class="text">{m.content}</div>}
          </>
        )}
        <div class="meta">
          {m.edited_at && !m.recalled && <span>edited · </span>}
          <time dateTime={m.created_at}>{clock(m.created_at)}</time>
        </div>
        {!m.recalled && (
          <div class="actions" role="toolbar" aria-label="Message actions">
            <button type="button" aria-label="Reply" title="Reply" onClick={() => ((state.replyTo = m), (state.editing = null), s.changed(), focusComposer())}>
              <Icon d={I.reply} />
            </button>
            <button type="button" aria-label="React" title="React" aria-expanded={picking} onClick={() => setPicking(!picking)}>
              <Icon d={I.smile} />
            </button>
            {canEdit && (
              <button type="button" aria-label="Edit" title="Edit" onClick={() => ((state.editing = m), (state.replyTo = null), s.changed(), focusComposer(m.content ?? ""))}>
                <Icon d={I.edit} />
              </button>
            )}
            {mine && (
              <button type="button" aria-label="Recall" title="Recall" onClick={() => void s.recall(m)}>
                <Icon d={I.undo} />
              </button>
            )}
          </div>
        )}
        {picking && (
          <div class="picker" role="group" aria-label="Pick a reaction">
            {EMOJIS.map((e) => (
              <button type="button" key={e} aria-label={`React ${e}`} onClick={() => (setPicking(false), void s.react(m, e))}>
                {e}
              </button>
            ))}
          </div>
        )}
      </div>
      {m.reactions.length > 0 && !m.recalled && (
        <div class="reactions">
          {m.reactions.map((r) => (
            <button type="button" key={r.emoji} class={r.me ? "me" : ""} aria-pressed={r.me} aria-label={`${r.emoji} ${r.count}`} onClick={() => void s.react(m, r.emoji)}>
              {r.emoji} <span>{r.count}</span>
            </button>
          ))}
        </div>
      )}
      {receipt && <div class="receipt">{receipt}</div>}
    </div>
  );
}

let composerInput: HTMLTextAreaElement | null = null;
function focusComposer(text?: string) {
  queueMicrotask(() => {
    if (!composerInput) return;
    if (text !== undefined) {
      composerInput.value = text;
      composerInput.dispatchEvent(new Event("input"));
    }
    composerInput.focus();
  });
}

function Composer({ c }: { c: Conversation }) {
  const [text, setText] = useState("");
  const ref = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    composerInput = ref.current;
    setText("");
  }, [c.id]);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${Math.min(160, el.scrollHeight)}px`;
  }, [text]);
  const context = state.editing ?? state.replyTo;
  function send() {
    const value = text;
    if (!value.trim()) return;
    setText("");
    void s.sendText(value);
  }
  return (
    <footer class="composer">
      {context && (
        <div class="composer-context">
          <Icon d={state.editing ? I.edit : I.reply} />
          <div>
            <strong>{state.editing ? "Editing message" : `Replying to ${context.sender.username}`}</strong>
            <span class="muted">{s.preview(context)}</span>
          </div>
          <IconButton
            icon={I.x}
            label={state.editing ? "Cancel editing" : "Cancel reply"}
            onClick={() => {
              if (state.editing) setText("");
              state.editing = state.replyTo = null;
              s.changed();
            }}
          />
        </div>
      )}
      <form
        class="composer-row"
        onSubmit={(e) => {
          e.preventDefault();
          send();
        }}
      >
        <label class="icon-btn attach" title="Attach a photo or file">
          <Icon d={I.clip} />
          <input
            type="file"
            aria-label="Attach"
            class="visually-hidden"
            onChange={(e) => {
              const files = [...(e.currentTarget.files ?? [])];
              e.currentTarget.value = "";
              for (const f of files) void s.sendFile(f);
            }}
          />
        </label>
        <textarea
          ref={ref}
          rows={1}
          aria-label="Message"
          placeholder="Write a message…"
          value={text}
          onInput={(e) => {
            setText(e.currentTarget.value);
            if (e.currentTarget.value) s.typingStarted();
            else s.typingStopped();
          }}
          onBlur={() => s.typingStopped()}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              send();
            } else if (e.key === "Escape" && (state.replyTo || state.editing)) {
              if (state.editing) setText("");
              state.editing = state.replyTo = null;
              s.changed();
            }
          }}
        />
        <button type="submit" class="send" aria-label="Send" title="Send" disabled={!text.trim()}>
          <Icon d={I.send} />
        </button>
      </form>
    </footer>
  );
}

// ---- panels -------------------------------------------------------------------------------------------
function Dialog({ title, children }: { title: string; children: ComponentChildren }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null;
    ref.current?.querySelector<HTMLElement>("input, button:not(.close)")?.focus();
    return () => previous?.focus?.();
  }, []);
  const close = () => ((state.panel = null), s.changed());
  return (
    <div class="overlay" onClick={(e) => e.target === e.currentTarget && close()} onKeyDown={(e) => e.key === "Escape" && close()}>
      <div class="dialog" role="dialog" aria-modal="true" aria-label={title} ref={ref}>
        <header>
          <h2>{title}</h2>
          <IconButton icon={I.x} label="Close" class="close" onClick={close} />
        </header>
        <div class="dialog-body">{children}</div>
      </div>
    </div>
  );
}

function Notifications() {
  return (
    <Dialog title="Notifications">
      {state.requests.length > 0 && (
        <section>
          <h3>Friend requests</h3>
          <ul class="people">
            {state.requests.map((r) => {
              const u = (r as { user?: { id: string; username: string } }).user;
              const name = u?.username ?? r.from_user_id;
              return (
                <li key={r.id}>
                  <Avatar id={r.from_user_id} name={name} size={36} />
                  <div class="grow">
                    <strong>{name}</strong>
                    <span class="muted">{r.reason || "wants to be friends"}</span>
                  </div>
                  <button type="button" class="primary small" onClick={() => void s.answerRequest(r, true)}>
                    Accept
                  </button>
                  <button type="button" class="secondary small" onClick={() => void s.answerRequest(r, false)}>
                    Decline
                  </button>
                </li>
              );
            })}
          </ul>
        </section>
      )}
      <section>
        <h3>Recent</h3>
        {state.notifications.length === 0 && <p class="muted">Nothing yet.</p>}
        <ul class="notes">
          {state.notifications.map((n) => (
            <li key={n.id} class={n.read ? "" : "new"}>
              <span>{s.notificationText(n)}</span>
              <time class="muted">{when(n.created_at)}</time>
            </li>
          ))}
        </ul>
      </section>
    </Dialog>
  );
}

function NewChat() {
  const [q, setQ] = useState("");
  const [users, setUsers] = useState<Awaited<ReturnType<typeof s.searchUsers>> | null>(null);
  const [sent, setSent] = useState(new Set<string>());
  const friendIds = new Set(state.friends.map((f) => f.user.id));
  async function find(e: Event) {
    e.preventDefault();
    if (q.trim()) setUsers(await s.searchUsers(q.trim()).catch((err) => (s.toast(s.errorText(err)), [])));
  }
  return (
    <Dialog title="New chat">
      <form onSubmit={find} class="search-form">
        <input type="search" aria-label="Find people" placeholder="Find people by username" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        <button type="submit" class="primary">
          Find
        </button>
      </form>
      <ul class="people">
        {users?.length === 0 && <li class="muted">No one found.</li>}
        {(users ?? state.friends.map((f) => f.user)).filter((u) => u.id !== s.me().id).map((u) => (
          <li key={u.id}>
            <Avatar id={u.id} name={u.username} size={36} status={friendIds.has(u.id) ? (state.presence.get(u.id) ?? null) : undefined} />
            <div class="grow">
              <strong>{u.username}</strong>
              <span class="muted">{friendIds.has(u.id) ? "Friend" : u.nickname || ""}</span>
            </div>
            {!friendIds.has(u.id) && (
              <button
                type="button"
                class="secondary small"
                disabled={sent.has(u.id)}
                aria-label={sent.has(u.id) ? undefined : `Add ${u.username} as a friend`}
                onClick={() =>
                  void s.addFriend(u.id).then(
                    (r) => (setSent(new Set([...sent, u.id])), s.toast(r.is_friend ? `You and ${u.username} are now friends` : `Friend request sent to ${u.username}`)),
                    (err) => s.toast(s.errorText(err)),
                  )
                }
              >
                {sent.has(u.id) ? "Requested" : "Add friend"}
              </button>
            )}
            <button type="button" class="primary small" aria-label={`Message ${u.username}`} onClick={() => void s.openDm(u.id).catch((err) => s.toast(s.errorText(err)))}>
              Message
            </button>
          </li>
        ))}
      </ul>
    </Dialog>
  );
}

function NewGroup() {
  const [name, setName] = useState("");
  const [visibility, setVisibility] = useState<"public" | "private">("private");
  const [members, setMembers] = useState(new Set<string>());
  const [busy, setBusy] = useState(false);
  return (
    <Dialog title="New group">
      <form
        class="stack"
        onSubmit={(e) => {
          e.preventDefault();
          if (!name.trim()) return;
          setBusy(true);
          void s.createGroup(name.trim(), [...members], visibility).catch((err) => (s.toast(s.errorText(err)), setBusy(false)));
        }}
      >
        <label class="field">
          <span>Group name</span>
          <input value={name} onInput={(e) => setName(e.currentTarget.value)} required maxLength={64} />
        </label>
        <fieldset class="segmented">
          <legend>Who can join</legend>
          <label>
            <input type="radio" name="vis" checked={visibility === "private"} onChange={() => setVisibility("private")} /> Invited people only
          </label>
          <label>
            <input type="radio" name="vis" checked={visibility === "public"} onChange={() => setVisibility("public")} /> Anyone can find and join
          </label>
        </fieldset>
        <fieldset class="pick">
          <legend>Add friends</legend>
          {state.friends.length === 0 && <p class="muted">Add friends first to invite them; you can create the group on your own.</p>}
          {state.friends.map((f) => (
            <label key={f.user.id} class="pick-row">
              <input
                type="checkbox"
                checked={members.has(f.user.id)}
                onChange={(e) => {
                  const next = new Set(members);
                  if (e.currentTarget.checked) next.add(f.user.id);
                  else next.delete(f.user.id);
                  setMembers(next);
                }}
              />
              <Avatar id={f.user.id} name={f.user.username} size={28} />
              {f.user.username}
            </label>
          ))}
        </fieldset>
        <button type="submit" class="primary" disabled={busy || !name.trim()}>
          Create group
        </button>
      </form>
    </Dialog>
  );
}

function Discover() {
  const [q, setQ] = useState("");
  const [found, setFound] = useState<Awaited<ReturnType<typeof s.discover>> | null>(null);
  const [roomName, setRoomName] = useState("");
  const joined = new Set(state.conversations.map((c) => c.id));
  const run = (query: string) => s.discover(query).then(setFound, (err) => s.toast(s.errorText(err)));
  useEffect(() => void run(""), []);
  return (
    <Dialog title="Discover groups and rooms">
      <form
        class="search-form"
        onSubmit={(e) => {
          e.preventDefault();
          void run(q.trim());
        }}
      >
        <input type="search" aria-label="Search groups and rooms" placeholder="Search groups and rooms" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        <button type="submit" class="primary">
          Search
        </button>
      </form>
      {found && (
        <>
          <h3>Groups</h3>
          <ul class="people">
            {found.groups.length === 0 && <li class="muted">{q ? "No public groups match." : "Search to find public groups."}</li>}
            {found.groups.map((g) => (
              <li key={g.id}>
                <Avatar id={g.id} name={g.name} size={36} />
                <div class="grow">
                  <strong>{g.name}</strong>
                  <span class="muted">{g.member_count ?? ""} members</span>
                </div>
                {joined.has(g.id) ? (
                  <button type="button" class="secondary small" onClick={() => void s.open(g.id).then(() => ((state.panel = null), s.changed()))}>
                    Open
                  </button>
                ) : (
                  <button type="button" class="primary small" aria-label={`Join ${g.name}`} onClick={() => void s.joinGroup(g.id).catch((err) => s.toast(s.errorText(err)))}>
                    Join
                  </button>
                )}
              </li>
            ))}
          </ul>
          <h3>Rooms</h3>
          <ul class="people">
            {found.rooms.length === 0 && <li class="muted">No rooms yet.</li>}
            {found.rooms.map((r) => (
              <li key={r.id}>
                <Avatar id={r.id} name={r.name} size={36} />
                <div class="grow">
                  <strong>{r.name}</strong>
                  <span class="muted">{r.member_count} members</span>
                </div>
                {joined.has(r.id) ? (
                  <button type="button" class="secondary small" onClick={() => void s.open(r.id).then(() => ((state.panel = null), s.changed()))}>
                    Open
                  </button>
                ) : (
                  <button type="button" class="primary small" aria-label={`Join ${r.name}`} onClick={() => void s.joinRoom(r.id).catch((err) => s.toast(s.errorText(err)))}>
                    Join
                  </button>
                )}
              </li>
            ))}
          </ul>
        </>
      )}
      <form
        class="search-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (roomName.trim()) void s.createRoom(roomName.trim()).catch((err) => s.toast(s.errorText(err)));
        }}
      >
        <input aria-label="New room name" placeholder="Or start a new public room" value={roomName} onInput={(e) => setRoomName(e.currentTarget.value)} maxLength={64} />
        <button type="submit" class="secondary">
          Create room
        </button>
      </form>
    </Dialog>
  );
}

// ---- the app ------------------------------------------------------------------------------------------
function App() {
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  useEffect(() => s.subscribe(() => rerender(undefined)), []);
  if (!state.session) return <Auth />;
  return (
    <div class={`shell ${state.activeId ? "has-chat" : ""}`}>
      <Sidebar />
      <Chat />
      {state.panel === "notifications" && <Notifications />}
      {state.panel === "new-chat" && <NewChat />}
      {state.panel === "new-group" && <NewGroup />}
      {state.panel === "discover" && <Discover />}
      {state.toast && (
        <div class="toast" role="status">
          {state.toast}
        </div>
      )}
    </div>
  );
}

render(<App />, document.getElementById("app")!);
if (state.session) void s.boot();
