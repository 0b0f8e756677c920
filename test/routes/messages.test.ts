import { runInDurableObject } from "cloudflare:test";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { blocks, conversations, files, members } from "../../src/db/schema";
import { conversationStub } from "../../src/realtime/push";
import type { ConversationDO } from "../../src/realtime/conversation-do";
import { call, db, expectError, makeConversation, openDm, send, setConfig, signup, testEnv, uniq } from "../helpers";

async function addFile(ownerId: string, contentType: string) {
  const id = `file_${uniq("f").toLowerCase().replace(/[^0-9a-z]/g, "")}`;
  await db().insert(files).values({ id, ownerId, purpose: "message", r2Key: `k/${id}`, name: "x", size: 10, contentType });
  return id;
}

describe("direct conversations", () => {
  it("opens the same DM from either side; refuses self, unknown and blocked users", async () => {
    const a = await signup();
    const b = await signup();
    const id = await openDm(a, b);
    expect(id).toMatch(/^dm_/);
    expect(await openDm(b, a)).toBe(id);
    expectError(await call("POST", "/conversations/dm", { token: a.token, body: { user_id: a.id } }), 400);
    expectError(await call("POST", "/conversations/dm", { token: a.token, body: { user_id: "user_0000000000nobody0000" } }), 404);
    expectError(await call("POST", "/conversations/dm", { token: a.token, body: { user_id: "x" } }), 400, "VALIDATION_ERROR");
    const c = await signup();
    await db().insert(blocks).values({ userId: c.id, blockedUserId: a.id });
    expectError(await call("POST", "/conversations/dm", { token: a.token, body: { user_id: c.id } }), 403);
  });

  it("blocking through the API takes effect in the DM at once, and unblocking lifts it", async () => {
    const a = await signup();
    const b = await signup();
    const id = await openDm(a, b);
    expect((await send(a, id, { content: "hi" })).status).toBe(201);
    expect((await call("POST", "/blocks", { token: b.token, body: { user_id: a.id } })).status).toBe(201);
    expectError(await send(a, id, { content: "are you there?" }), 403, "FORBIDDEN");
    expect((await call("DELETE", `/blocks/${a.id}`, { token: b.token })).status).toBe(200);
    expect((await send(a, id, { content: "thanks" })).status).toBe(201);
  });

  it("a blocked sender cannot post into an existing DM", async () => {
    const a = await signup();
    const b = await signup();
    const id = await openDm(a, b);
    expect((await send(a, id, { content: "hi" })).status).toBe(201);
    await db().insert(blocks).values({ userId: b.id, blockedUserId: a.id });
    await conversationStub(testEnv, id).membersChanged({});
    expectError(await send(a, id, { content: "still there?" }), 403, "FORBIDDEN");
    expect((await send(b, id, { content: "I can still write" })).status).toBe(201);
  });
});

describe("sending", () => {
  it("answers 201 with id, seq, created_at and sender, seq increasing by one", async () => {
    const a = await signup();
    const b = await signup();
    const id = await openDm(a, b);
    const first = await send(a, id, { content: "hello" });
    expect(first.status).toBe(201);
    expect(first.body.data).toMatchObject({ conversation_id: id, seq: 1, type: "text", content: "hello", sender: { id: a.id, username: a.username }, duplicate: false });
    expect(first.body.data.id).toMatch(/^msg_/);
    expect(first.body.data.created_at).toMatch(/^\d{4}-/);
    const second = await send(b, id, { type: "text", content: "hi back" });
    expect(second.body.data.seq).toBe(2);
  });

  it("keeps seq gap-free under many concurrent sends", async () => {
    const owner = await signup();
    const others = [await signup(), await signup(), await signup()];
    const id = await makeConversation(owner, others);
    const senders = [owner, ...others];
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => send(senders[i % 4], id, { content: `m${i}`, client_id: `c${i}` })));
    expect(results.every((r) => r.status === 201)).toBe(true);
    const seqs = results.map((r) => r.body.data.seq).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    const history = await call("GET", `/conversations/${id}/messages?limit=100`, { token: owner.token });
    expect(history.body.data.messages.map((m: { seq: number }) => m.seq)).toEqual(seqs);
    expect(history.body.data.total).toBe(60);
  });

  it("returns the first message for a repeated client_id, even when retries race", async () => {
    const a = await signup();
    const b = await signup();
    const id = await openDm(a, b);
    const first = await send(a, id, { content: "once", client_id: "retry-1" });
    const again = await send(a, id, { content: "once", client_id: "retry-1" });
    expect(again.status).toBe(200);
    expect(again.body.data).toMatchObject({ id: first.body.data.id, seq: first.body.data.seq, duplicate: true });
    const racing = await Promise.all(Array.from({ length: 8 }, () => send(a, id, { content: "race", client_id: "retry-2" })));
    expect(new Set(racing.map((r) => r.body.data.id)).size).toBe(1);
    // another sender may use the same client_id independently
    expect((await send(b, id, { content: "mine", client_id: "retry-1" })).status).toBe(201);
    const history = await call("GET", `/conversations/${id}/messages`, { token: a.token });
    expect(history.body.data.messages).toHaveLength(3);
  });

  it("refuses non-members, outsiders guessing a DM id, and unknown conversations", async () => {
    const a = await signup();
    const b = await signup();
    const outsider = await signup();
    const dm = await openDm(a, b);
    await send(a, dm, { content: "private" });
    expectError(await send(outsider, dm, { content: "let me in" }), 403, "FORBIDDEN");
    expectError(await call("GET", `/conversations/${dm}/messages`, { token: outsider.token }), 403, "FORBIDDEN");
    expectError(await call("GET", `/conversations/${dm}`, { token: outsider.token }), 403, "FORBIDDEN");
    const group = await makeConversation(a, [b]);
    expectError(await send(outsider, group, { content: "x" }), 403);
    expectError(await call("GET", `/messages?room_id=${group}`, { token: outsider.token }), 403);
    expectError(await send(a, "grp_0000000000doesnotexist", { content: "x" }), 404, "NOT_FOUND");
    expectError(await send(a, "nonsense", { content: "x" }), 400, "VALIDATION_ERROR");
    expectError(await call("GET", `/conversations/${dm}/messages`), 401);
  });

  it("validates each type's payload", async () => {
    const a = await signup();
    const b = await signup();
    const id = await openDm(a, b);
    const image = await addFile(a.id, "image/png");
    const pdf = await addFile(a.id, "application/pdf");
    const theirs = await addFile(b.id, "image/png");
    const bad: Record<string, unknown>[] = [
      {},
      { content: "   " },
      { type: "image" },
      { type: "image", attachments: [theirs] },
      { type: "image", attachments: [pdf] },
      { type: "image", attachments: ["file_0000000000missing000"] },
      { type: "video", attachments: [image, image] },
      { type: "text", content: "x", attachments: [image] },
      { type: "location", payload: { lat: 91, lng: 0 } },
      { type: "location" },
      { type: "call", payload: { call_type: "hologram", action: "started" } },
      { type: "system", content: "I am the server" },
      { type: "emoji", content: "x".repeat(65) },
      { type: "text", content: "x", payload: { a: 1 } },
      { type: "unknown", content: "x" },
      { content: 5 },
      { content: "x", client_id: "has space" },
      { content: "x", extra: true },
    ];
    for (const body of bad) {
      const res = await send(a, id, body);
      if (res.status !== 400) throw new Error(`${JSON.stringify(body)} → ${res.status}`);
      expectError(res, 400);
    }
    const ok = [
      { type: "image", attachments: [image], payload: { width: 10, height: 20 } },
      { type: "file", attachments: [pdf], content: "the report" },
      { type: "location", payload: { lat: 31.2, lng: 121.5, name: "Bund" } },
      { type: "call", payload: { call_type: "video", action: "ended", duration_s: 42 } },
      { type: "emoji", content: "🎉" },
      { type: "markdown", content: "# Title" },
    ];
    for (const body of ok) expect((await send(a, id, body)).status).toBe(201);
    const call7 = (await call("GET", `/conversations/${id}/messages`, { token: b.token })).body.data.messages.find((m: { type: string }) => m.type === "call");
    expect(call7.msg_type).toBe(7);
  });

  it("applies operator rules: max length, sensitive words (replace or reject), send rate", async () => {
    const a = await signup();
    const b = await signup();
    await setConfig({ chat_text_max_length: 10, sensitive_words: "badword,worse", sensitive_replace: "**", chat_rate: 3 });
    try {
      const id = await openDm(a, b);
      expectError(await send(a, id, { content: "x".repeat(11) }), 400, "VALIDATION_ERROR");
      const replaced = await send(a, id, { content: "a badword!" });
      expect(replaced.body.data.content).toBe("a **!");
      expect((await send(a, id, { content: "ok" })).status).toBe(201);
      const limited = await send(a, id, { content: "too fast" });
      expectError(limited, 429, "RATE_LIMITED");
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
      await setConfig({ sensitive_send: false, chat_rate: 0 });
      const id2 = await openDm(a, await signup());
      expectError(await send(a, id2, { content: "so WORSE" }), 400, "CONTENT_REJECTED");
    } finally {
      await setConfig({ chat_text_max_length: 5000, sensitive_words: "", sensitive_send: true, chat_rate: 0 });
    }
  });

  it("an active conversation picks up changed rules after its cache expires, without holding sends for the reload", async () => {
    const a = await signup();
    const b = await signup();
    const id = await openDm(a, b);
    expect((await send(a, id, { content: "quux before" })).body.data.content).toBe("quux before");
    await setConfig({ sensitive_words: "quux", sensitive_replace: "##" });
    try {
      // still within the object's cache: the old rules
      expect((await send(a, id, { content: "quux cached" })).body.data.content).toBe("quux cached");
      const stub = testEnv.CONVERSATION.get(testEnv.CONVERSATION.idFromName(id));
      await runInDurableObject(stub, (instance: ConversationDO) => {
        (instance as unknown as { config: { at: number } }).config.at = 0;
      });
      // expired: the send that finds it so is answered with the cached rules and starts the reload
      expect((await send(a, id, { content: "quux stale" })).body.data.content).toBe("quux stale");
      let content = "";
      for (let i = 0; i < 20 && content !== "## after"; i++) content = (await send(a, id, { content: "quux after" })).body.data.content;
      expect(content).toBe("## after");
    } finally {
      await setConfig({ sensitive_words: "" });
    }
  });
});

describe("group rules", () => {
  it("muted members cannot post until the mute expires; dissolved groups are read-only", async () => {
    const owner = await signup();
    const m = await signup();
    const id = await makeConversation(owner, [m]);
    const set = (until: string | null) =>
      db().update(members).set({ mutedUntil: until }).where(and(eq(members.conversationId, id), eq(members.userId, m.id)));
    await set(new Date(Date.now() + 60_000).toISOString());
    await conversationStub(testEnv, id).membersChanged({});
    expectError(await send(m, id, { content: "hello?" }), 403, "FORBIDDEN");
    await set(new Date(Date.now() - 1000).toISOString());
    await conversationStub(testEnv, id).membersChanged({});
    expect((await send(m, id, { content: "free" })).status).toBe(201);
    await db().update(conversations).set({ dissolvedAt: new Date().toISOString() }).where(eq(conversations.id, id));
    await conversationStub(testEnv, id).membersChanged({});
    expectError(await send(owner, id, { content: "anyone?" }), 403, "FORBIDDEN");
    expect((await call("GET", `/conversations/${id}/messages`, { token: m.token })).body.data.messages).toHaveLength(1);
  });

  it("with history hidden, a new member sees only what came after joining", async () => {
    const owner = await signup();
    const late = await signup();
    const id = await makeConversation(owner, [], { historyVisible: false });
    for (let i = 0; i < 3; i++) await send(owner, id, { content: `before ${i}` });
    const early = (await call("GET", `/conversations/${id}/messages`, { token: owner.token })).body.data.messages[0];
    await db().insert(members).values({ conversationId: id, userId: late.id, joinedSeq: 3 });
    await conversationStub(testEnv, id).membersChanged({});
    await send(owner, id, { content: "after" });
    const seen = await call("GET", `/conversations/${id}/messages`, { token: late.token });
    expect(seen.body.data.messages.map((m: { content: string }) => m.content)).toEqual(["after"]);
    expectError(await call("GET", `/conversations/${id}/messages/${early.id}`, { token: late.token }), 404);
    const list = await call("GET", "/conversations", { token: late.token });
    expect(list.body.data.conversations.find((c: { id: string }) => c.id === id).unread_count).toBe(1);
  });
});

describe("changing messages", () => {
  it("edits by the sender only, keeping edit time", async () => {
    const a = await signup();
    const b = await signup();
    const id = await openDm(a, b);
    const msg = (await send(a, id, { content: "typo" })).body.data;
    const edited = await call("PATCH", `/conversations/${id}/messages/${msg.id}`, { token: a.token, body: { content: "fixed" } });
    expect(edited.body.data).toMatchObject({ content: "fixed", seq: msg.seq });
    expect(edited.body.data.edited_at).toBeTruthy();
    expectError(await call("PATCH", `/conversations/${id}/messages/${msg.id}`, { token: b.token, body: { content: "mine now" } }), 403);
    expectError(await call("PATCH", `/conversations/${id}/messages/${msg.id}`, { token: a.token, body: { content: "" } }), 400);
    expectError(await call("PATCH", `/conversations/${id}/messages/msg_0000000000nothere00`, { token: a.token, body: { content: "x" } }), 404);
  });

  it("recalls within the window, shown to everyone as recalled", async () => {
    const a = await signup();
    const b = await signup();
    const id = await openDm(a, b);
    const msg = (await send(a, id, { content: "oops" })).body.data;
    expectError(await call("POST", `/conversations/${id}/messages/${msg.id}/recall`, { token: b.token }), 403);
    const res = await call("POST", `/conversations/${id}/messages/${msg.id}/recall`, { token: a.token });
    expect(res.body.data).toMatchObject({ recalled: true, content: null });
    const seen = await call("GET", `/conversations/${id}/messages/${msg.id}`, { token: b.token });
    expect(seen.body.data).toMatchObject({ recalled: true, content: null, seq: msg.seq });
    expectError(await call("POST", `/conversations/${id}/messages/${msg.id}/recall`, { token: a.token }), 409);
    const list = await call("GET", "/conversations", { token: b.token });
    expect(list.body.data.conversations.find((c: { id: string }) => c.id === id).last_message.preview).toBe("[recalled]");
  });

  it("refuses a recall after the window", async () => {
    const a = await signup();
    const b = await signup();
    await setConfig({ recall_window_seconds: 0 });
    try {
      const id = await openDm(a, b);
      const msg = (await send(a, id, { content: "too late" })).body.data;
      await new Promise((r) => setTimeout(r, 5));
      expectError(await call("POST", `/conversations/${id}/messages/${msg.id}/recall`, { token: a.token }), 403);
    } finally {
      await setConfig({ recall_window_seconds: 120 });
    }
  });

  it("deletes by the sender or a group admin, not by other members", async () => {
    const owner = await signup();
    const admin = await signup();
    const m1 = await signup();
    const m2 = await signup();
    const id = await makeConversation(owner, [admin, m1, m2], { roles: { [admin.id]: "admin" } });
    const a = (await send(m1, id, { content: "one" })).body.data;
    const b = (await send(m1, id, { content: "two" })).body.data;
    expectError(await call("DELETE", `/conversations/${id}/messages/${a.id}`, { token: m2.token }), 403);
    expect((await call("DELETE", `/conversations/${id}/messages/${a.id}`, { token: m1.token })).body.data.deleted).toBe(true);
    expect((await call("DELETE", `/conversations/${id}/messages/${b.id}`, { token: admin.token })).status).toBe(200);
    expectError(await call("DELETE", `/conversations/${id}/messages/${b.id}`, { token: admin.token }), 404);
    const history = await call("GET", `/conversations/${id}/messages`, { token: m2.token });
    expect(history.body.data.messages.map((m: { seq: number; deleted: boolean }) => [m.seq, m.deleted])).toEqual([[1, true], [2, true]]);
  });

  it("adds and removes reactions with counts", async () => {
    const a = await signup();
    const b = await signup();
    const id = await openDm(a, b);
    const msg = (await send(a, id, { content: "react to me" })).body.data;
    const path = (emoji: string) => `/conversations/${id}/messages/${msg.id}/reactions/${encodeURIComponent(emoji)}`;
    await call("PUT", path("👍"), { token: a.token });
    await call("PUT", path("👍"), { token: a.token });
    const res = await call("PUT", path("👍"), { token: b.token });
    expect(res.body.data.reactions).toEqual([{ emoji: "👍", count: 2, me: true }]);
    const removed = await call("DELETE", path("👍"), { token: a.token });
    expect(removed.body.data.reactions).toEqual([{ emoji: "👍", count: 1, me: false }]);
    expectError(await call("PUT", path("a b"), { token: a.token }), 400);
    expectError(await call("PUT", path("x".repeat(33)), { token: a.token }), 400);
  });

  it("replies carry the quoted message's preview", async () => {
    const a = await signup();
    const b = await signup();
    const id = await openDm(a, b);
    const q = (await send(a, id, { content: "what time?" })).body.data;
    const reply = await send(b, id, { content: "noon", reply_to: q.id });
    expect(reply.body.data.reply_to).toEqual({ id: q.id, seq: q.seq, sender_id: a.id, type: "text", preview: "what time?" });
    expectError(await send(b, id, { content: "x", reply_to: "msg_0000000000nothere00" }), 404);
  });
});

describe("deleted rooms", () => {
  it("closes the room's sockets and removes its history when the creator deletes it", async () => {
    const { connect } = await import("../helpers");
    const owner = await signup();
    const other = await signup();
    const room = (await call("POST", "/rooms", { token: owner.token, body: { name: "gone soon", description: "x" } })).body.data.id;
    await call("POST", "/rooms/join", { token: other.token, body: { room_id: room } });
    await send(owner, room, { content: "soon deleted" });
    const s = await connect(`token=${other.token}&room_id=${room}`);
    await s.next("authenticated");
    expect((await call("DELETE", `/rooms/${room}`, { token: owner.token })).status).toBe(200);
    expect((await s.closed).code).toBe(4003);
    expectError(await call("GET", `/messages?room_id=${room}`, { token: owner.token }), 404);
    const stored = await runInDurableObject(testEnv.CONVERSATION.get(testEnv.CONVERSATION.idFromName(room)), (_i, state) =>
      state.storage.sql.exec("SELECT count(*) AS n FROM sqlite_master WHERE name = 'messages'").one().n,
    );
    expect(stored).toBe(0);
  });
});

describe("reading", () => {
  it("searches the conversation's history", async () => {
    const a = await signup();
    const b = await signup();
    const id = await openDm(a, b);
    for (const content of ["meeting at noon", "lunch later", "the MEETING moved", "会议改到三点", "ok"]) await send(a, id, { content });
    const res = await call("GET", `/conversations/${id}/messages/search?q=meeting`, { token: b.token });
    expect(res.body.data.messages.map((m: { content: string }) => m.content)).toEqual(["the MEETING moved", "meeting at noon"]);
    const cjk = await call("GET", `/conversations/${id}/messages/search?q=${encodeURIComponent("三点")}`, { token: b.token });
    expect(cjk.body.data.messages).toHaveLength(1);
    const quote = await call("GET", `/conversations/${id}/messages/search?q=${encodeURIComponent('"noon')}`, { token: b.token });
    expect(quote.status).toBe(200);
    expectError(await call("GET", `/conversations/${id}/messages/search?q=`, { token: b.token }), 400);
    expectError(await call("GET", `/conversations/${id}/messages/search?q=noon`, { token: (await signup()).token }), 403);
  });

  it("keeps search current across later sends, edits, recalls and deletes", async () => {
    const a = await signup();
    const b = await signup();
    const id = await openDm(a, b);
    const first = (await send(a, id, { content: "alpha one" })).body.data;
    const search = async (q: string) =>
      (await call("GET", `/conversations/${id}/messages/search?q=${encodeURIComponent(q)}`, { token: b.token })).body.data.messages.map((m: { seq: number }) => m.seq);
    expect(await search("alpha")).toEqual([1]);
    const second = (await send(a, id, { content: "alpha two" })).body.data;
    expect(await search("alpha")).toEqual([2, 1]);
    await call("PATCH", `/conversations/${id}/messages/${first.id}`, { token: a.token, body: { content: "omega one" } });
    expect(await search("alpha")).toEqual([2]);
    expect(await search("omega")).toEqual([1]);
    await call("POST", `/conversations/${id}/messages/${second.id}/recall`, { token: a.token });
    expect(await search("alpha")).toEqual([]);
    await call("DELETE", `/conversations/${id}/messages/${first.id}`, { token: a.token });
    expect(await search("omega")).toEqual([]);
  });

  it("marks read, counts unread, lists conversations by activity with mute and pin", async () => {
    const a = await signup();
    const b = await signup();
    const c = await signup();
    const ab = await openDm(a, b);
    const ac = await openDm(a, c);
    const empty = await openDm(a, await signup());
    for (let i = 0; i < 3; i++) await send(b, ab, { content: `b${i}` });
    await send(c, ac, { content: "c0" });
    let list = (await call("GET", "/conversations", { token: a.token })).body.data.conversations;
    expect(list.map((x: { id: string }) => x.id)).toEqual([ac, ab]);
    expect(list.find((x: { id: string }) => x.id === ab)).toMatchObject({ unread_count: 3, last_seq: 3, kind: "dm", peer: { id: b.id } });
    expect(list.find((x: { id: string }) => x.id === ab).last_message).toMatchObject({ preview: "b2", sender_id: b.id });
    expect(list.map((x: { id: string }) => x.id)).not.toContain(empty);
    const read = await call("POST", `/conversations/${ab}/read`, { token: a.token, body: { seq: 2 } });
    expect(read.body.data).toMatchObject({ read_seq: 2, unread_count: 1 });
    expect((await call("POST", `/conversations/${ab}/read`, { token: a.token, body: { seq: 1 } })).body.data.read_seq).toBe(2);
    expect((await call("POST", `/conversations/${ab}/read`, { token: a.token, body: { seq: 999 } })).body.data.read_seq).toBe(3);
    expectError(await call("POST", `/conversations/${ab}/read`, { token: a.token, body: { seq: -1 } }), 400);
    expectError(await call("POST", `/conversations/${ab}/read`, { token: c.token, body: { seq: 1 } }), 403);
    const pinned = await call("PATCH", `/conversations/${ab}`, { token: a.token, body: { pinned: true, muted: true } });
    expect(pinned.body.data.conversation).toMatchObject({ pinned: true, muted: true, unread_count: 0 });
    expectError(await call("PATCH", `/conversations/${ab}`, { token: a.token, body: {} }), 400);
    expectError(await call("PATCH", `/conversations/${ab}`, { token: c.token, body: { pinned: true } }), 403);
    list = (await call("GET", "/conversations", { token: a.token })).body.data.conversations;
    expect(list[0].id).toBe(ab);
    const page1 = await call("GET", "/conversations?limit=1", { token: a.token });
    const page2 = await call("GET", `/conversations?limit=1&cursor=${encodeURIComponent(page1.body.data.next_cursor)}`, { token: a.token });
    expect(page2.body.data.conversations[0].id).toBe(ac);
    expect(page2.body.data.next_cursor).toBeNull();
  });

  it("reports per-message read receipts in small conversations", async () => {
    const owner = await signup();
    const r1 = await signup();
    const r2 = await signup();
    const id = await makeConversation(owner, [r1, r2]);
    const msg = (await send(owner, id, { content: "did you read this" })).body.data;
    await call("POST", `/conversations/${id}/read`, { token: r1.token, body: { seq: msg.seq } });
    const res = await call("GET", `/conversations/${id}/messages/${msg.id}/reads`, { token: owner.token });
    expect(res.body.data.read_by.map((r: { user_id: string }) => r.user_id)).toEqual([r1.id]);
    expect(res.body.data.unread_by.map((r: { user_id: string }) => r.user_id)).toEqual([r2.id]);
    await setConfig({ read_receipts_max_members: 2 });
    try {
      expectError(await call("GET", `/conversations/${id}/messages/${msg.id}/reads`, { token: owner.token }), 403);
    } finally {
      await setConfig({ read_receipts_max_members: 50 });
    }
  });

  it("serves seed 001's GET /messages?room_id=&limit=", async () => {
    const owner = await signup();
    const id = await makeConversation(owner, [], { kind: "room" });
    for (let i = 0; i < 5; i++) await send(owner, id, { content: `room ${i}` });
    const res = await call("GET", `/messages?room_id=${id}&limit=3`, { token: owner.token });
    expect(res.body).toMatchObject({ success: true, message: "Messages retrieved successfully", data: { room_id: id, count: 3 } });
    expect(res.body.data.messages.map((m: { content: string }) => m.content)).toEqual(["room 2", "room 3", "room 4"]);
    expect(res.body.data.messages[0]).toMatchObject({ room_id: id, user_id: owner.id, sender: { id: owner.id, username: owner.username } });
    expect(typeof res.body.data.messages[0].timestamp).toBe("number");
    expect(JSON.stringify(res.body)).not.toContain("password");
    expectError(await call("GET", "/messages", { token: owner.token }), 400);
    expectError(await call("GET", `/messages?room_id=${id}&limit=101`, { token: owner.token }), 400);
  });

  it("pages correctly across more than 10,000 messages", async () => {
    const owner = await signup();
    const id = await makeConversation(owner, []);
    await send(owner, id, { content: "first" });
    const stub = testEnv.CONVERSATION.get(testEnv.CONVERSATION.idFromName(id));
    await runInDurableObject(stub, async (instance: ConversationDO, state) => {
      const sql = state.storage.sql;
      state.storage.transactionSync(() => {
        for (let seq = 2; seq <= 10_050; seq++) {
          sql.exec(
            "INSERT INTO messages (seq, id, sender_id, sender_name, type, content, created_at) VALUES (?, ?, ?, ?, 'text', ?, ?)",
            seq, `msg_bulk${String(seq).padStart(8, "0")}`, owner.id, owner.username, `bulk ${seq}`, new Date().toISOString(),
          );
        }
      });
      // the object keeps its next seq in memory; a fresh instance reads it back from storage
      (instance as unknown as { lastSeq: number }).lastSeq = 10_050;
    });
    const next = await send(owner, id, { content: "after bulk" });
    expect(next.body.data.seq).toBe(10_051);
    const seen: number[] = [];
    let before: number | undefined;
    for (;;) {
      const page = await call("GET", `/conversations/${id}/messages?limit=100${before ? `&before=${before}` : ""}`, { token: owner.token });
      const seqs = page.body.data.messages.map((m: { seq: number }) => m.seq);
      seen.unshift(...seqs);
      if (!page.body.data.has_more) break;
      before = seqs[0];
    }
    expect(seen).toHaveLength(10_051);
    expect(seen.every((s, i) => s === i + 1)).toBe(true);
    const forward = await call("GET", `/conversations/${id}/messages?after=5000&limit=3`, { token: owner.token });
    expect(forward.body.data.messages.map((m: { seq: number }) => m.seq)).toEqual([5001, 5002, 5003]);
    expectError(await call("GET", `/conversations/${id}/messages?after=1&before=5`, { token: owner.token }), 400);
    expectError(await call("GET", `/conversations/${id}/messages?limit=0`, { token: owner.token }), 400);
  });
});
