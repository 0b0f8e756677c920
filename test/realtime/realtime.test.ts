import { evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { friendships } from "../../src/db/schema";
import { call, connect, db, expectError, makeConversation, openDm, send, signup, sleep, testEnv, type TestSocket, type TestUser } from "../helpers";

async function authed(user: TestUser, query = "") {
  const s = await connect(`token=${user.token}${query ? `&${query}` : ""}`);
  await s.next("authenticated");
  return s;
}

async function room(owner: TestUser) {
  const res = await call("POST", "/rooms", { token: owner.token, body: { name: `room ${Date.now()}`, description: "test" } });
  expect(res.status).toBe(201);
  return res.body.data.id as string;
}

/** Waits, then counts frames carrying a given message seq in a conversation. */
async function copiesOf(s: TestSocket, conversationId: string, seq: number) {
  await sleep(150);
  return s.frames.filter((f) => f.data?.conversation_id === conversationId && f.data?.seq === seq && (f.data.type === "message_received" || f.data.type === "message_sent")).length;
}

describe("seed 001 protocol", () => {
  it("runs auth → join_room → send_message → leave_room on user connections opened without a token", async () => {
    const a = await signup();
    const b = await signup();
    const roomId = await room(a);
    const sa = await connect();
    sa.send({ type: "auth", token: a.token });
    expect(await sa.next("authenticated")).toEqual({
      success: true,
      message: "WebSocket authentication successful",
      data: { type: "authenticated", user_id: a.id, username: a.username, status: "connected" },
    });
    sa.send({ type: "join_room", room_id: roomId });
    expect((await sa.next("room_joined")).data).toMatchObject({ room_id: roomId, user_id: a.id });
    const sb = await connect();
    sb.send(JSON.stringify({ type: "auth", token: b.token }));
    await sb.next("authenticated");
    sb.send({ type: "join_room", room_id: roomId });
    await sb.next("room_joined");
    const joined = await sa.next("user_joined");
    expect(joined).toMatchObject({ success: true, message: "User joined room", data: { user_id: b.id, username: b.username, room_id: roomId } });
    sb.send({ type: "send_message", content: "Hello, everyone!" });
    const sent = await sb.next("message_sent");
    expect(sent).toMatchObject({ success: true, message: "Message sent successfully" });
    expect(sent.data).toMatchObject({ user_id: b.id, username: b.username, room_id: roomId, content: "Hello, everyone!", conversation_id: roomId, seq: 1, message_type: "text" });
    expect(typeof sent.data!.timestamp).toBe("number");
    const got = await sa.next("message_received");
    expect(got.data).toMatchObject({ user_id: b.id, username: b.username, room_id: roomId, content: "Hello, everyone!", id: sent.data!.id, seq: 1 });
    sa.send({ type: "ping" });
    expect((await sa.next("pong")).data!.timestamp).toBeGreaterThan(0);
    sb.send({ type: "leave_room" });
    expect((await sb.next("room_left")).data).toMatchObject({ room_id: roomId, user_id: b.id });
    expect((await sa.next("user_left")).data).toMatchObject({ user_id: b.id, username: b.username, room_id: roomId });
    sb.send({ type: "send_message", content: "into the void" });
    expect((await sb.next((f) => f.success === false)).error).toBe("You are not in any room");
    // the message was stored
    const history = await call("GET", `/messages?room_id=${roomId}`, { token: a.token });
    expect(history.body.data.messages.map((m: { content: string }) => m.content)).toEqual(["Hello, everyone!"]);
  });

  it("runs the same flow on conversation-bound connections, with user_left on disconnect", async () => {
    const a = await signup();
    const b = await signup();
    const roomId = await room(a);
    const sa = await authed(a, `room_id=${roomId}`);
    sa.send({ type: "join_room", room_id: roomId });
    await sa.next("room_joined");
    const sb = await connect(`room_id=${roomId}`);
    sb.send({ type: "auth", token: b.token });
    await sb.next("authenticated");
    sb.send({ type: "join_room", room_id: roomId });
    await sb.next("room_joined");
    expect((await sa.next("user_joined")).data).toMatchObject({ user_id: b.id, room_id: roomId });
    sb.send({ type: "send_message", content: "bound hello", client_id: "b-1" });
    expect((await sb.next("message_sent")).data).toMatchObject({ content: "bound hello", client_id: "b-1", seq: 1 });
    expect((await sa.next("message_received")).data).toMatchObject({ content: "bound hello", user_id: b.id });
    sb.send({ type: "join_room", room_id: "room_0000000000other0000" });
    expect((await sb.next((f) => f.success === false)).error).toContain("bound to");
    sb.close();
    expect((await sa.next("user_left")).data).toMatchObject({ user_id: b.id, room_id: roomId });
  });

  it("closes unauthenticated sockets after the timeout and refuses bad tokens", async () => {
    const idle = await connect();
    const closed = await idle.closed;
    expect(closed.code).toBe(4002);
    expect(idle.frames[0]).toMatchObject({ success: false, message: "Authentication failed" });
    const bad = await connect();
    bad.send({ type: "auth", token: "nope" });
    expect(await bad.next((f) => f.success === false)).toEqual({ success: false, message: "Authentication failed", error: "Invalid or expired token", code: "UNAUTHORIZED" });
    expect((await bad.closed).code).toBe(4001);
    const badQuery = await connect("token=garbage");
    expect(badQuery.frames[0] ?? (await badQuery.next((f) => f.success === false))).toMatchObject({ success: false, message: "Authentication failed" });
    expect((await badQuery.closed).code).toBe(4001);
    const early = await connect();
    early.send({ type: "join_room", room_id: "room_x" });
    expect((await early.next((f) => f.success === false)).message).toBe("Authentication required");
    const plain = await call("GET", "/ws");
    expectError(plain, 426, "UPGRADE_REQUIRED");
  });

  it("accepts a single-use ticket", async () => {
    const a = await signup();
    const t = await call("POST", "/ws/ticket", { token: a.token });
    expect(t.body.data.expires_in).toBe(60);
    const s = await connect(`ticket=${encodeURIComponent(t.body.data.ticket)}`);
    expect((await s.next("authenticated")).data!.user_id).toBe(a.id);
    const again = await connect(`ticket=${encodeURIComponent(t.body.data.ticket)}`);
    expect((await again.closed).code).toBe(4001);
    expectError(await call("POST", "/ws/ticket"), 401);
  });
});

describe("delivery", () => {
  it("reaches every online member on every device and both kinds of connection, exactly once each", async () => {
    const a = await signup();
    const b = await signup();
    const c = await signup();
    const group = await makeConversation(a, [b, c]);
    const aUser = await authed(a, "device_id=phone");
    const aBound = await authed(a, `device_id=laptop&conversation_id=${group}`);
    const bPhone = await authed(b, "device_id=phone");
    const bLaptop = await authed(b, "device_id=laptop");
    const cBound = await authed(c, `room_id=${group}`);
    const sent = await send(a, group, { content: "to everyone" });
    const seq = sent.body.data.seq;
    for (const s of [aUser, aBound, bPhone, bLaptop, cBound]) expect(await copiesOf(s, group, seq)).toBe(1);
    // a socket send: the origin gets message_sent, every other connection one message_received
    bPhone.send({ type: "send_message", conversation_id: group, content: "from b's phone", client_id: "bp-1" });
    const ack = await bPhone.next("message_sent");
    for (const s of [aUser, aBound, bLaptop, cBound]) expect(await copiesOf(s, group, ack.data!.seq)).toBe(1);
    expect(bPhone.all("message_received").filter((f) => f.data!.seq === ack.data!.seq)).toHaveLength(0);
  });

  it("delivers DMs to user connections and after the objects hibernate", async () => {
    const a = await signup();
    const b = await signup();
    const dm = await openDm(a, b);
    const sb = await authed(b);
    await send(a, dm, { content: "first" });
    expect((await sb.next("message_received")).data).toMatchObject({ content: "first", conversation_id: dm });
    await evictDurableObject(testEnv.USER.get(testEnv.USER.idFromName(b.id)));
    await evictDurableObject(testEnv.CONVERSATION.get(testEnv.CONVERSATION.idFromName(dm)));
    await send(a, dm, { content: "after sleep" });
    expect((await sb.next("message_received")).data).toMatchObject({ content: "after sleep", seq: 2 });
    sb.send({ type: "ping" });
    await sb.next("pong");
  });

  it("resumes with sync: exactly what was missed, in order, marked replay", async () => {
    const a = await signup();
    const b = await signup();
    const dm = await openDm(a, b);
    const first = await authed(b);
    for (let i = 1; i <= 3; i++) await send(a, dm, { content: `m${i}` });
    let lastSeen = 0;
    for (let i = 0; i < 3; i++) lastSeen = (await first.next("message_received")).data!.seq;
    first.close();
    await first.closed;
    for (let i = 4; i <= 8; i++) await send(a, dm, { content: `m${i}` });
    const again = await authed(b);
    again.send({ type: "sync", cursors: { [dm]: lastSeen } });
    const done = await again.next("sync_done");
    expect(done.data!.conversations).toEqual({ [dm]: 8 });
    const replayed = again.all("message_received");
    expect(replayed.map((f) => f.data!.content)).toEqual(["m4", "m5", "m6", "m7", "m8"]);
    expect(replayed.every((f) => f.data!.replay === true)).toBe(true);
    again.send({ type: "sync", cursors: { "grp_0000000000notmine000": 0 } });
    expect((await again.next((f) => f.success === false)).error).toContain("grp_0000000000notmine000");
  });

  it("replaces the connection of the same device (close 4000) but keeps other devices", async () => {
    const a = await signup();
    const phone1 = await authed(a, "device_id=phone");
    const tablet = await authed(a, "device_id=tablet");
    const phone2 = await authed(a, "device_id=phone");
    expect((await phone1.closed).code).toBe(4000);
    phone2.send({ type: "ping" });
    await phone2.next("pong");
    tablet.send({ type: "ping" });
    await tablet.next("pong");
    const group = await makeConversation(a, []);
    const bound1 = await authed(a, `device_id=phone&room_id=${group}`);
    const bound2 = await authed(a, `device_id=phone&room_id=${group}`);
    expect((await bound1.closed).code).toBe(4000);
    bound2.send({ type: "ping" });
    await bound2.next("pong");
    phone2.send({ type: "ping" });
    await phone2.next("pong");
  });

  it("refuses a bound connection to a conversation the user cannot read", async () => {
    const a = await signup();
    const b = await signup();
    const group = await makeConversation(a, []);
    const s = await connect(`token=${b.token}&conversation_id=${group}`);
    expect((await s.closed).code).toBe(4003);
    expect(s.frames[0]).toMatchObject({ success: false, error: "You are not a member of this conversation" });
  });
});

describe("storing a burst", () => {
  it("stores each client_id once, gap-free, even when retries land in the same batch; duplicates are acked, not delivered", async () => {
    const a = await signup();
    const b = await signup();
    const group = await makeConversation(a, [b]);
    const sa = await authed(a, `room_id=${group}`);
    const sb = await authed(b, `room_id=${group}`);
    // 20 messages, each of the first 10 sent twice in the same burst (a retry racing its original)
    const frames = Array.from({ length: 20 }, (_, i) => ({ type: "send_message", content: `burst ${i}`, client_id: `burst-${i}` }));
    for (const f of [...frames.slice(0, 10), ...frames.slice(0, 10), ...frames.slice(10)]) sa.send(f);
    const acks = [];
    for (let i = 0; i < 30; i++) acks.push((await sa.next("message_sent")).data!);
    const fresh = acks.filter((f) => !f.duplicate);
    const dups = acks.filter((f) => f.duplicate);
    expect(fresh.map((f) => f.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(dups).toHaveLength(10);
    for (const d of dups) expect(d.seq).toBe(fresh.find((f) => f.client_id === d.client_id)!.seq);
    const received = [];
    for (let i = 0; i < 20; i++) received.push((await sb.next("message_received")).data!);
    expect(received.map((f) => f.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(await copiesOf(sb, group, 5)).toBe(1);
    const history = await call("GET", `/conversations/${group}/messages?limit=50`, { token: b.token });
    expect(history.body.data.messages.map((m: { client_id: string }) => m.client_id)).toEqual(received.map((f) => f.client_id));
  });

  it("brings the conversation list up to the newest message after a burst, and repairs a summary lost with the object", async () => {
    const a = await signup();
    const b = await signup();
    const group = await makeConversation(a, [b]);
    const sa = await authed(a, `room_id=${group}`);
    for (let i = 1; i <= 25; i++) sa.send({ type: "send_message", content: `m${i}` });
    for (let i = 0; i < 25; i++) await sa.next("message_sent");
    // summary writes are coalesced (a few per second), the last one trails the burst: poll up to 2 s
    const listedAt = async (seq: number) => {
      for (let i = 0; ; i++) {
        const res = await call("GET", "/conversations", { token: b.token });
        const row = res.body.data.conversations.find((c: { id: string }) => c.id === group);
        if (row.last_message?.seq === seq || i >= 20) return row;
        await sleep(100);
      }
    };
    let row = await listedAt(25);
    expect(row.last_message).toMatchObject({ seq: 25, preview: "m25" });
    expect(row.unread_count).toBe(25);
    // the runtime died before writing the summary: the next use of the conversation repairs it
    await testEnv.DB.prepare("UPDATE conversations SET last_seq = 3, last_message = NULL WHERE id = ?").bind(group).run();
    sa.close();
    await sa.closed;
    await evictDurableObject(testEnv.CONVERSATION.get(testEnv.CONVERSATION.idFromName(group)));
    expect((await call("GET", `/conversations/${group}/messages?limit=1`, { token: b.token })).status).toBe(200);
    row = await listedAt(25);
    expect(row.last_message).toMatchObject({ seq: 25, preview: "m25" });
  });
});

describe("presence, typing, reads", () => {
  it("goes ONLINE on the first socket and OFFLINE with last_seen after the last; friends hear it", async () => {
    const a = await signup();
    const friend = await signup();
    await db().insert(friendships).values([
      { userId: a.id, friendId: friend.id },
      { userId: friend.id, friendId: a.id },
    ]);
    const watcher = await authed(friend);
    const s1 = await authed(a);
    expect((await watcher.next((f) => f.data?.type === "user_status" && f.data.status === "ONLINE")).data).toMatchObject({ user_id: a.id });
    const group = await makeConversation(a, []);
    const s2 = await authed(a, `room_id=${group}`);
    s1.close();
    await sleep(200);
    expect((await call("GET", `/users/${a.id}`, { token: friend.token })).body.data.user.status).toBe("ONLINE");
    s2.send({ type: "status_update", status: "BUSY" });
    expect((await s2.next("status_updated")).data!.status).toBe("BUSY");
    expect((await watcher.next((f) => f.data?.type === "user_status" && f.data.status === "BUSY")).data!.user_id).toBe(a.id);
    s2.close();
    const off = await watcher.next((f) => f.data?.type === "user_status" && f.data.status === "OFFLINE");
    expect(off.data!.last_seen).toMatch(/^\d{4}-/);
    const user = (await call("GET", `/users/${a.id}`, { token: friend.token })).body.data.user;
    expect(user).toMatchObject({ status: "OFFLINE" });
    expect(user.last_seen).toBeTruthy();
  });

  it("relays typing to the others, not back to the typist", async () => {
    const a = await signup();
    const b = await signup();
    const group = await makeConversation(a, [b]);
    const sa = await authed(a, `room_id=${group}`);
    const sb = await authed(b);
    sa.send({ type: "typing", is_typing: true });
    expect((await sb.next("typing")).data).toMatchObject({ conversation_id: group, user_id: a.id, is_typing: true });
    sb.send({ type: "typing", conversation_id: group, is_typing: false });
    expect((await sa.next("typing")).data).toMatchObject({ user_id: b.id, is_typing: false });
    await sleep(100);
    expect(sa.all("typing").filter((f) => f.data!.user_id === a.id)).toHaveLength(0);
  });

  it("mark_read saves the read state, tells the others and updates my other devices", async () => {
    const a = await signup();
    const b = await signup();
    const dm = await openDm(a, b);
    const sa = await authed(a);
    const bPhone = await authed(b, "device_id=phone");
    const bLaptop = await authed(b, "device_id=laptop");
    const m = (await send(a, dm, { content: "read me" })).body.data;
    bPhone.send({ type: "mark_read", conversation_id: dm, seq: m.seq });
    expect((await sa.next("message_read")).data).toMatchObject({ conversation_id: dm, user_id: b.id, seq: m.seq });
    expect((await bLaptop.next("unread")).data).toMatchObject({ conversation_id: dm, unread_count: 0, read_seq: m.seq });
    const list = await call("GET", "/conversations", { token: b.token });
    expect(list.body.data.conversations.find((c: { id: string }) => c.id === dm).unread_count).toBe(0);
    bPhone.send({ type: "mark_read", conversation_id: dm, message_ids: [m.id] });
    await bPhone.next("unread");
  });

  it("relays call signalling and stores the call's start and end", async () => {
    const a = await signup();
    const b = await signup();
    const sb = await authed(b);
    const sa = await authed(a);
    sa.send({ type: "call", to_user_id: b.id, action: "invite", call_type: "video", payload: { sdp: "offer" } });
    const sentAck = await sa.next("call_sent");
    const callId = sentAck.data!.call_id;
    const inv = await sb.next("call");
    expect(inv.data).toMatchObject({ from_user_id: a.id, action: "invite", call_type: "video", payload: { sdp: "offer" }, call_id: callId });
    sb.send({ type: "call", to_user_id: a.id, action: "accept", call_id: callId, call_type: "video" });
    expect((await sa.next("call")).data).toMatchObject({ action: "accept", from_user_id: b.id });
    sa.send({ type: "call", to_user_id: b.id, action: "hangup", call_id: callId, call_type: "video", payload: { duration_s: 61 } });
    await sa.next((f) => f.data?.type === "call_sent" && f.data.action === "hangup");
    const dm = sentAck.data!.conversation_id;
    const history = await call("GET", `/conversations/${dm}/messages`, { token: b.token });
    expect(history.body.data.messages.map((m: { payload: { action: string } }) => m.payload.action)).toEqual(["started", "ended"]);
    expect(history.body.data.messages[1]).toMatchObject({ msg_type: 7, payload: { duration_s: 61 } });
  });
});

describe("bad input on the socket", () => {
  it("answers invalid frames with 001's errors without breaking anyone's connection", async () => {
    const a = await signup();
    const b = await signup();
    const group = await makeConversation(a, [b]);
    const sa = await authed(a);
    const sb = await authed(b, `room_id=${group}`);
    for (const s of [sa, sb]) {
      s.send("{not json");
      expect(await s.next((f) => f.success === false)).toEqual({ success: false, message: "Request failed", error: "Invalid JSON format", code: "MALFORMED_JSON" });
      s.send({ type: "invalid_type" });
      expect(await s.next((f) => f.success === false)).toMatchObject({ error: "Unknown message type: invalid_type", code: "BAD_REQUEST" });
      s.send({ type: "typing", is_typing: "yes", conversation_id: group });
      const invalid = await s.next((f) => f.success === false);
      expect(invalid.error).toContain("is_typing");
      expect(invalid.code).toBe("VALIDATION_ERROR");
      s.send({ type: "send_message", conversation_id: group, content: "x".repeat(70 * 1024) });
      expect(await s.next((f) => f.success === false)).toMatchObject({ error: expect.stringContaining("too large"), code: "PAYLOAD_TOO_LARGE" });
      s.send([1, 2]);
      expect(await s.next((f) => f.success === false)).toMatchObject({ error: "Invalid JSON format", code: "MALFORMED_JSON" });
    }
    sa.send({ type: "send_message", content: "no room" });
    expect(await sa.next((f) => f.success === false)).toMatchObject({ error: "You are not in any room", code: "BAD_REQUEST" });
    sa.send({ type: "send_message", conversation_id: "grp_0000000000notmine000", content: "hi" });
    expect(await sa.next((f) => f.success === false)).toMatchObject({ message: "Failed to send message", code: "NOT_FOUND" });
    // everything still works
    sb.send({ type: "send_message", content: "still alive" });
    expect((await sb.next("message_sent")).data!.content).toBe("still alive");
    expect((await sa.next("message_received")).data!.content).toBe("still alive");
  });

  it("applies the REST send rules to send_message frames on both kinds of socket, naming the refused client_id", async () => {
    const a = await signup();
    const b = await signup();
    const group = await makeConversation(a, [b]);
    for (const s of [await authed(a), await authed(a, `room_id=${group}`)]) {
      const bad: Record<string, unknown>[] = [
        { content: "   " },
        { message_type: "image" },
        { message_type: "text", content: "x", payload: { a: 1 } },
        { message_type: "location", payload: { lat: 91, lng: 0 } },
      ];
      for (const [i, frame] of bad.entries()) {
        s.send({ type: "send_message", conversation_id: group, client_id: `bad-${i}`, ...frame });
        const err = await s.next((f) => f.success === false);
        expect(err.client_id).toBe(`bad-${i}`);
        expect(err.error).toMatch(/^Invalid send_message frame/);
      }
    }
    const history = await call("GET", `/conversations/${group}/messages`, { token: a.token });
    expect(history.body.data.messages).toEqual([]);
  });

  it("closes a flooding connection with 1008 and leaves the others alone", async () => {
    const a = await signup();
    const b = await signup();
    const group = await makeConversation(a, [b]);
    const flood = await authed(a, `room_id=${group}`);
    const calm = await authed(b, `room_id=${group}`);
    for (let i = 0; i < 200; i++) flood.send({ type: "ping" });
    const errors = await flood.next((f) => f.success === false && /Rate limit/.test(f.error ?? ""));
    expect(errors.error).toContain("Rate limit");
    expect((await flood.closed).code).toBe(1008);
    calm.send({ type: "ping" });
    await calm.next("pong");
    calm.send({ type: "send_message", content: "after the flood" });
    expect((await calm.next("message_sent")).data!.seq).toBe(1);
  });
});

describe("fan-out limits", () => {
  it("pushes full messages to user connections only up to full_delivery_max_members; bound sockets always get them", async () => {
    const { setConfig } = await import("../helpers");
    const a = await signup();
    const b = await signup();
    const c = await signup();
    await setConfig({ full_delivery_max_members: 2 });
    try {
      const big = await makeConversation(a, [b, c]);
      const small = await openDm(a, b);
      const bUser = await authed(b);
      const cBound = await authed(c, `room_id=${big}`);
      await send(a, big, { content: "to the big group" });
      await send(a, small, { content: "to the dm" });
      expect((await cBound.next("message_received")).data!.content).toBe("to the big group");
      expect((await bUser.next("message_received")).data!.content).toBe("to the dm");
      await sleep(150);
      expect(bUser.all("message_received").map((f) => f.data!.conversation_id)).toEqual([small]);
      // joining the room on the user connection subscribes it
      bUser.send({ type: "join_room", room_id: big });
      await bUser.next("room_joined");
      await send(a, big, { content: "now you hear it" });
      expect((await bUser.next((f) => f.data?.type === "message_received" && f.data.conversation_id === big)).data!.content).toBe("now you hear it");
    } finally {
      await setConfig({ full_delivery_max_members: 50 });
    }
  });

  it("pushes notifications live to every device", async () => {
    const a = await signup();
    const b = await signup();
    const phone = await authed(b, "device_id=phone");
    const laptop = await authed(b, "device_id=laptop");
    expect((await call("POST", "/friends/requests", { token: a.token, body: { user_id: b.id, reason: "hi" } })).status).toBe(201);
    for (const s of [phone, laptop]) {
      expect((await s.next("notification")).data!.notification).toMatchObject({ kind: "friend_request", actor_id: a.id });
    }
  });
});
