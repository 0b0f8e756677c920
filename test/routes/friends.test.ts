import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { conversations, friendRequests } from "../../src/db/schema";
import { dmKey } from "../../src/routes/conversations/conversations.service";
import { call, db, expectError, setConfig, signup, type TestUser } from "../helpers";

const UNKNOWN_USER = "user_0000000000zzzzzzzzzz";
const UNKNOWN_REQUEST = "freq_0000000000zzzzzzzzzz";

async function request(from: TestUser, to: TestUser, reason = "hi") {
  const res = await call("POST", "/friends/requests", { token: from.token, body: { user_id: to.id, reason } });
  expect(res.status).toBe(201);
  return res.body.data;
}

async function befriend(a: TestUser, b: TestUser) {
  const sent = await request(a, b);
  const res = await call("POST", `/friends/requests/${sent.request.id}/accept`, { token: b.token });
  expect(res.status).toBe(200);
  return res.body.data;
}

async function notificationsOf(user: TestUser) {
  const res = await call("GET", "/notifications?limit=100", { token: user.token });
  expect(res.status).toBe(200);
  return res.body.data;
}

afterEach(async () => {
  await setConfig({ add_friend_mode: "approval", add_friend_apply_limit: 0, display_online_status: true });
});

describe("POST /friends/requests", () => {
  it("sends a pending request with a reason and notifies the recipient", async () => {
    const [a, b] = [await signup(), await signup()];
    const res = await call("POST", "/friends/requests", { token: a.token, body: { user_id: b.id, reason: "  we met at the conf  " } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ success: true, message: "Friend request sent" });
    const { request, is_friend, conversation_id } = res.body.data;
    expect(is_friend).toBe(false);
    expect(conversation_id).toBeNull();
    expect(request).toMatchObject({
      direction: "outgoing",
      status: "pending",
      reason: "we met at the conf",
      reject_reason: null,
      from_user_id: a.id,
      to_user_id: b.id,
      handled_at: null,
      user: { id: b.id, username: b.username },
    });
    expect(request.id).toMatch(/^freq_/);
    expect(request.user).not.toHaveProperty("password");
    expect(request.user).not.toHaveProperty("email");

    const notes = await notificationsOf(b);
    expect(notes.notifications[0]).toMatchObject({
      kind: "friend_request",
      actor_id: a.id,
      subject_id: request.id,
      read: false,
      data: { request_id: request.id, reason: "we met at the conf" },
      actor: { id: a.id, username: a.username },
    });
    expect(notes.pending_friend_requests).toBe(1);
  });

  it("reason is optional", async () => {
    const [a, b] = [await signup(), await signup()];
    const res = await call("POST", "/friends/requests", { token: a.token, body: { user_id: b.id } });
    expect(res.status).toBe(201);
    expect(res.body.data.request.reason).toBeNull();
  });

  it("rejects myself, unknown users, duplicates and existing friends", async () => {
    const [a, b, c] = [await signup(), await signup(), await signup()];
    expectError(await call("POST", "/friends/requests", { token: a.token, body: { user_id: a.id } }), 400, "BAD_REQUEST");
    expectError(await call("POST", "/friends/requests", { token: a.token, body: { user_id: UNKNOWN_USER } }), 404, "NOT_FOUND");
    await request(a, b);
    expectError(await call("POST", "/friends/requests", { token: a.token, body: { user_id: b.id } }), 409, "CONFLICT");
    await befriend(a, c);
    expectError(await call("POST", "/friends/requests", { token: a.token, body: { user_id: c.id } }), 409, "CONFLICT");
    expectError(await call("POST", "/friends/requests", { token: c.token, body: { user_id: a.id } }), 409, "CONFLICT");
  });

  it("validates the body", async () => {
    const a = await signup();
    expectError(await call("POST", "/friends/requests", { token: a.token, body: {} }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", "/friends/requests", { token: a.token, body: { user_id: "bob" } }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", "/friends/requests", { token: a.token, body: { user_id: 42 } }), 400, "VALIDATION_ERROR");
    const b = await signup();
    expectError(
      await call("POST", "/friends/requests", { token: a.token, body: { user_id: b.id, reason: "x".repeat(201) } }),
      400,
      "VALIDATION_ERROR",
    );
    const strict = await call("POST", "/friends/requests", { token: a.token, body: { user_id: b.id, from_user_id: b.id } });
    expectError(strict, 400, "VALIDATION_ERROR");
    expect(strict.body.details).toBeDefined();
    expectError(await call("POST", "/friends/requests", { token: a.token, raw: "{nope", headers: { "content-type": "application/json" } }), 400);
  });

  it("needs a token", async () => {
    const b = await signup();
    expectError(await call("POST", "/friends/requests", { body: { user_id: b.id } }), 401, "UNAUTHORIZED");
    expectError(await call("GET", "/friends/requests"), 401, "UNAUTHORIZED");
    expectError(await call("GET", "/friends"), 401, "UNAUTHORIZED");
    expectError(await call("GET", `/friends/${b.id}`), 401, "UNAUTHORIZED");
  });

  it("sending back to someone who asked me accepts their request", async () => {
    const [a, b] = [await signup(), await signup()];
    const sent = await request(a, b);
    const res = await call("POST", "/friends/requests", { token: b.token, body: { user_id: a.id } });
    expect(res.status).toBe(201);
    expect(res.body.message).toBe("You are now friends");
    expect(res.body.data).toMatchObject({ is_friend: true, request: { id: sent.request.id, status: "accepted", direction: "incoming" } });
    expect(res.body.data.conversation_id).toMatch(/^dm_/);
    const rel = await call("GET", `/friends/${b.id}/relationship`, { token: a.token });
    expect(rel.body.data).toMatchObject({ is_friend: true, friend_state: 1 });
    expect((await notificationsOf(a)).notifications[0]).toMatchObject({ kind: "friend_accepted", actor_id: b.id });
  });

  it("add_friend_mode none refuses, all makes friends at once", async () => {
    const [a, b] = [await signup(), await signup()];
    await setConfig({ add_friend_mode: "none" });
    expectError(await call("POST", "/friends/requests", { token: a.token, body: { user_id: b.id } }), 403, "FORBIDDEN");

    await setConfig({ add_friend_mode: "all" });
    const res = await call("POST", "/friends/requests", { token: a.token, body: { user_id: b.id, reason: "auto" } });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ is_friend: true, request: { status: "accepted", reason: "auto" } });
    expect(res.body.data.request.handled_at).toBeTruthy();
    const dm = await db().select().from(conversations).where(eq(conversations.dmKey, dmKey(a.id, b.id))).get();
    expect(dm?.id).toBe(res.body.data.conversation_id);
    const list = await call("GET", "/friends", { token: b.token });
    expect(list.body.data.friends.map((f: any) => f.user.id)).toEqual([a.id]);
    expect((await notificationsOf(b)).notifications[0]).toMatchObject({ kind: "friend_accepted", actor_id: a.id, data: { automatic: true } });
  });

  it("add_friend_apply_limit caps requests per day with 429 and Retry-After", async () => {
    const [a, b, c, d] = [await signup(), await signup(), await signup(), await signup()];
    await setConfig({ add_friend_apply_limit: 2 });
    await request(a, b);
    await request(a, c);
    const res = await call("POST", "/friends/requests", { token: a.token, body: { user_id: d.id } });
    expectError(res, 429, "RATE_LIMITED");
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    const other = await signup();
    await request(other, d);
  });

  it("I cannot request someone I block (403), and it never reveals that they block me", async () => {
    const [a, b] = [await signup(), await signup()];
    expect((await call("POST", "/blocks", { token: b.token, body: { user_id: a.id } })).status).toBe(201);
    expectError(await call("POST", "/friends/requests", { token: b.token, body: { user_id: a.id } }), 403, "FORBIDDEN");

    // a is blocked by b: the answer is indistinguishable from a normal request
    const blockedRes = await call("POST", "/friends/requests", { token: a.token, body: { user_id: b.id, reason: "hello?" } });
    const c = await signup();
    const normalRes = await call("POST", "/friends/requests", { token: a.token, body: { user_id: c.id, reason: "hello?" } });
    expect(blockedRes.status).toBe(normalRes.status);
    expect(blockedRes.body.message).toBe(normalRes.body.message);
    expect(Object.keys(blockedRes.body.data).sort()).toEqual(Object.keys(normalRes.body.data).sort());
    expect(blockedRes.body.data).toMatchObject({ is_friend: false, conversation_id: null, request: { status: "pending", reason: "hello?" } });
    expectError(await call("POST", "/friends/requests", { token: a.token, body: { user_id: b.id } }), 409, "CONFLICT");
    const outgoing = await call("GET", "/friends/requests?direction=outgoing", { token: a.token });
    expect(outgoing.body.data.requests.map((r: any) => r.to_user_id)).toContain(b.id);

    // b never hears of it
    const notes = await notificationsOf(b);
    expect(notes.notifications.filter((n: any) => n.kind === "friend_request")).toEqual([]);
    expect(notes.pending_friend_requests).toBe(0);
    const incoming = await call("GET", "/friends/requests?direction=incoming", { token: b.token });
    expect(incoming.body.data.requests).toEqual([]);
    const rel = await call("GET", `/friends/${a.id}/relationship`, { token: b.token });
    expect(rel.body.data).toMatchObject({ friend_state: 2, request_id: null, is_blocked: true });
    expectError(await call("POST", `/friends/requests/${blockedRes.body.data.request.id}/accept`, { token: b.token }), 404, "NOT_FOUND");
  });

  it("also works in add_friend_mode all without revealing a block (no friendship is made)", async () => {
    const [a, b] = [await signup(), await signup()];
    await call("POST", "/blocks", { token: b.token, body: { user_id: a.id } });
    await setConfig({ add_friend_mode: "all" });
    const res = await call("POST", "/friends/requests", { token: a.token, body: { user_id: b.id } });
    expect(res.status).toBe(201);
    expect(res.body.data.is_friend).toBe(false);
    expect((await call("GET", "/friends", { token: b.token })).body.data.friends).toEqual([]);
    expect((await notificationsOf(b)).notifications).toEqual([]);
  });
});

describe("GET /friends/requests", () => {
  it("lists incoming and outgoing with status, reasons, times and the other user", async () => {
    const [a, b, c] = [await signup(), await signup(), await signup()];
    const toB = await request(a, b, "first");
    const fromC = await request(c, a, "second");
    const incoming = await call("GET", "/friends/requests?direction=incoming", { token: a.token });
    expect(incoming.status).toBe(200);
    expect(incoming.body.data.requests).toHaveLength(1);
    expect(incoming.body.data.requests[0]).toMatchObject({
      id: fromC.request.id,
      direction: "incoming",
      status: "pending",
      reason: "second",
      user: { id: c.id },
    });
    expect(incoming.body.data.requests[0].created_at).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    const outgoing = await call("GET", "/friends/requests?direction=outgoing", { token: a.token });
    expect(outgoing.body.data.requests.map((r: any) => r.id)).toEqual([toB.request.id]);
    expect(outgoing.body.data.requests[0].user.id).toBe(b.id);

    const rejected = await call("POST", `/friends/requests/${toB.request.id}/reject`, { token: b.token, body: { reason: "who are you" } });
    expect(rejected.status).toBe(200);
    const byStatus = await call("GET", "/friends/requests?direction=outgoing&status=rejected", { token: a.token });
    expect(byStatus.body.data.requests).toHaveLength(1);
    expect(byStatus.body.data.requests[0]).toMatchObject({ status: "rejected", reject_reason: "who are you" });
    expect(byStatus.body.data.requests[0].handled_at).toBeTruthy();
    const pendingOut = await call("GET", "/friends/requests?direction=outgoing&status=pending", { token: a.token });
    expect(pendingOut.body.data.requests).toEqual([]);
  });

  it("defaults to incoming and pages by cursor", async () => {
    const me = await signup();
    const senders = [await signup(), await signup(), await signup()];
    const ids = [];
    for (const s of senders) ids.push((await request(s, me)).request.id);
    const first = await call("GET", "/friends/requests?limit=2", { token: me.token });
    expect(first.body.data.requests.map((r: any) => r.id)).toEqual([ids[2], ids[1]]);
    expect(first.body.data.next_cursor).toBe(ids[1]);
    const second = await call("GET", `/friends/requests?limit=2&cursor=${first.body.data.next_cursor}`, { token: me.token });
    expect(second.body.data.requests.map((r: any) => r.id)).toEqual([ids[0]]);
    expect(second.body.data.next_cursor).toBeNull();
  });

  it("validates the query", async () => {
    const me = await signup();
    expectError(await call("GET", "/friends/requests?direction=sideways", { token: me.token }), 400, "VALIDATION_ERROR");
    expectError(await call("GET", "/friends/requests?status=maybe", { token: me.token }), 400, "VALIDATION_ERROR");
    expectError(await call("GET", "/friends/requests?cursor=abc", { token: me.token }), 400, "VALIDATION_ERROR");
    expectError(await call("GET", "/friends/requests?limit=0", { token: me.token }), 400, "VALIDATION_ERROR");
  });
});

describe("accept / reject / cancel", () => {
  it("accepting makes a mutual friendship, opens the DM and notifies the sender", async () => {
    const [a, b] = [await signup(), await signup()];
    const sent = await request(a, b);
    const res = await call("POST", `/friends/requests/${sent.request.id}/accept`, { token: b.token });
    expect(res.status).toBe(200);
    expect(res.body.data.request).toMatchObject({ id: sent.request.id, status: "accepted", direction: "incoming", user: { id: a.id } });
    expect(res.body.data.request.handled_at).toBeTruthy();
    const dm = await db().select().from(conversations).where(eq(conversations.dmKey, dmKey(a.id, b.id))).get();
    expect(dm).toMatchObject({ id: res.body.data.conversation_id, kind: "dm", memberCount: 2 });

    for (const [me, other] of [[a, b], [b, a]] as const) {
      const friend = await call("GET", `/friends/${other.id}`, { token: me.token });
      expect(friend.status).toBe(200);
      expect(friend.body.data.friend).toMatchObject({ user: { id: other.id }, conversation_id: dm!.id, remark: null, labels: [] });
    }
    const note = (await notificationsOf(a)).notifications[0];
    expect(note).toMatchObject({ kind: "friend_accepted", actor_id: b.id, subject_id: sent.request.id, data: { conversation_id: dm!.id } });
    expectError(await call("POST", `/friends/requests/${sent.request.id}/accept`, { token: b.token }), 409, "CONFLICT");
    expectError(await call("POST", `/friends/requests/${sent.request.id}/reject`, { token: b.token }), 409, "CONFLICT");
    expectError(await call("POST", `/friends/requests/${sent.request.id}/cancel`, { token: a.token }), 409, "CONFLICT");
  });

  it("rejecting stores the reason and tells the sender; a new request is possible afterwards", async () => {
    const [a, b] = [await signup(), await signup()];
    const sent = await request(a, b);
    const res = await call("POST", `/friends/requests/${sent.request.id}/reject`, { token: b.token, body: { reason: "not now" } });
    expect(res.status).toBe(200);
    expect(res.body.data.request).toMatchObject({ status: "rejected", reject_reason: "not now" });
    expect((await notificationsOf(a)).notifications[0]).toMatchObject({ kind: "friend_rejected", actor_id: b.id, data: { reason: "not now" } });
    expect((await call("GET", `/friends/${a.id}/relationship`, { token: b.token })).body.data.is_friend).toBe(false);
    await request(a, b);
  });

  it("a concurrent accept and reject: exactly one wins and the friendship matches it", async () => {
    const [a, b] = [await signup(), await signup()];
    const sent = await request(a, b);
    const [accept, reject] = await Promise.all([
      call("POST", `/friends/requests/${sent.request.id}/accept`, { token: b.token }),
      call("POST", `/friends/requests/${sent.request.id}/reject`, { token: b.token }),
    ]);
    expect([accept.status, reject.status].sort()).toEqual([200, 409]);
    expectError(accept.status === 200 ? reject : accept, 409, "CONFLICT");
    const rel = await call("GET", `/friends/${a.id}/relationship`, { token: b.token });
    expect(rel.body.data.is_friend).toBe(accept.status === 200);
  });

  it("rejecting works without a body", async () => {
    const [a, b] = [await signup(), await signup()];
    const sent = await request(a, b);
    const res = await call("POST", `/friends/requests/${sent.request.id}/reject`, { token: b.token });
    expect(res.status).toBe(200);
    expect(res.body.data.request).toMatchObject({ status: "rejected", reject_reason: null });
  });

  it("cancelling my own request", async () => {
    const [a, b] = [await signup(), await signup()];
    const sent = await request(a, b);
    const res = await call("POST", `/friends/requests/${sent.request.id}/cancel`, { token: a.token });
    expect(res.status).toBe(200);
    expect(res.body.data.request).toMatchObject({ status: "cancelled", direction: "outgoing", user: { id: b.id } });
    const notes = await notificationsOf(b);
    expect(notes.pending_friend_requests).toBe(0);
    expect((await call("GET", "/friends/requests?status=pending", { token: b.token })).body.data.requests).toEqual([]);
  });

  it("nobody else can act on a request by its id", async () => {
    const [a, b, c] = [await signup(), await signup(), await signup()];
    const { request: req } = await request(a, b);
    for (const action of ["accept", "reject", "cancel"]) {
      expectError(await call("POST", `/friends/requests/${req.id}/${action}`, { token: c.token }), 404, "NOT_FOUND");
    }
    expectError(await call("POST", `/friends/requests/${req.id}/accept`, { token: a.token }), 403, "FORBIDDEN");
    expectError(await call("POST", `/friends/requests/${req.id}/reject`, { token: a.token }), 403, "FORBIDDEN");
    expectError(await call("POST", `/friends/requests/${req.id}/cancel`, { token: b.token }), 403, "FORBIDDEN");
    const row = await db().select().from(friendRequests).where(eq(friendRequests.id, req.id)).get();
    expect(row?.status).toBe("pending");
  });

  it("unknown and malformed ids, bad bodies", async () => {
    const [a, b] = [await signup(), await signup()];
    expectError(await call("POST", `/friends/requests/${UNKNOWN_REQUEST}/accept`, { token: a.token }), 404, "NOT_FOUND");
    expectError(await call("POST", "/friends/requests/42/accept", { token: a.token }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", `/friends/requests/${b.id}/cancel`, { token: a.token }), 400, "VALIDATION_ERROR");
    const { request: req } = await request(a, b);
    expectError(await call("POST", `/friends/requests/${req.id}/reject`, { token: b.token, body: { reason: "x".repeat(201) } }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", `/friends/requests/${req.id}/reject`, { token: b.token, body: { reason: "no", status: "pass" } }), 400, "VALIDATION_ERROR");
  });
});

describe("friends list, one friend, remark and labels", () => {
  it("lists my friends with remark, labels, categories and since", async () => {
    const [me, x, y, stranger] = [await signup(), await signup({ nickname: "Zed" }), await signup({ nickname: "Amy" }), await signup()];
    await befriend(me, x);
    await befriend(y, me);
    await request(stranger, me);
    const cat = await call("POST", "/friend-categories", { token: me.token, body: { name: "Work", members: [x.id] } });
    expect(cat.status).toBe(201);
    await call("PATCH", `/friends/${x.id}`, { token: me.token, body: { remark: "boss", labels: ["work"] } });

    const res = await call("GET", "/friends", { token: me.token });
    expect(res.status).toBe(200);
    expect(res.body.data.total).toBe(2);
    const [first, second] = res.body.data.friends;
    expect(first).toMatchObject({ user: { id: y.id, nickname: "Amy", status: "OFFLINE" }, remark: null, labels: [], categories: [] });
    expect(second).toMatchObject({
      user: { id: x.id },
      remark: "boss",
      labels: ["work"],
      categories: [{ id: cat.body.data.category.id, name: "Work" }],
    });
    expect(second.since).toMatch(/^\d{4}-/);
    expect(second.conversation_id).toMatch(/^dm_/);

    const page = await call("GET", "/friends?limit=1&offset=1", { token: me.token });
    expect(page.body.data).toMatchObject({ total: 2, limit: 1, offset: 1 });
    expect(page.body.data.friends.map((f: any) => f.user.id)).toEqual([x.id]);
    expectError(await call("GET", "/friends?limit=0", { token: me.token }), 400, "VALIDATION_ERROR");
  });

  it("hides presence when the operator turns display_online_status off", async () => {
    const [me, x] = [await signup(), await signup()];
    await befriend(me, x);
    await setConfig({ display_online_status: false });
    const res = await call("GET", "/friends", { token: me.token });
    expect(res.body.data.friends[0].user).toMatchObject({ id: x.id, status: null, last_seen: null });
    const one = await call("GET", `/friends/${x.id}`, { token: me.token });
    expect(one.body.data.friend.user.status).toBeNull();
  });

  it("GET /friends/{user_id}: 404 for non-friends and unknown users, 400 for malformed ids", async () => {
    const [me, x] = [await signup(), await signup()];
    expectError(await call("GET", `/friends/${x.id}`, { token: me.token }), 404, "NOT_FOUND");
    expectError(await call("GET", `/friends/${UNKNOWN_USER}`, { token: me.token }), 404, "NOT_FOUND");
    expectError(await call("GET", "/friends/not-an-id", { token: me.token }), 400, "VALIDATION_ERROR");
  });

  it("remark and labels are mine only", async () => {
    const [me, x] = [await signup(), await signup()];
    await befriend(me, x);
    const res = await call("PATCH", `/friends/${x.id}`, { token: me.token, body: { remark: " Xavier ", labels: ["client", "vip", "client"] } });
    expect(res.status).toBe(200);
    expect(res.body.data.friend).toMatchObject({ remark: "Xavier", labels: ["client", "vip"] });

    const theirs = await call("GET", `/friends/${me.id}`, { token: x.token });
    expect(theirs.body.data.friend).toMatchObject({ remark: null, labels: [] });
    const theirList = await call("GET", "/friends", { token: x.token });
    expect(JSON.stringify(theirList.body)).not.toContain("Xavier");
    const home = await call("GET", `/users/${x.id}`, { token: me.token });
    expect(home.body.data.relationship).toMatchObject({ remark: "Xavier", friend_state: 1 });
    const homeOther = await call("GET", `/users/${me.id}`, { token: x.token });
    expect(homeOther.body.data.relationship.remark).toBeNull();

    const labelsOnly = await call("PATCH", `/friends/${x.id}`, { token: me.token, body: { labels: null } });
    expect(labelsOnly.body.data.friend).toMatchObject({ remark: "Xavier", labels: [] });
    const cleared = await call("PATCH", `/friends/${x.id}`, { token: me.token, body: { remark: "" } });
    expect(cleared.body.data.friend.remark).toBeNull();
    await call("PATCH", `/friends/${x.id}`, { token: me.token, body: { remark: "back" } });
    expect((await call("PATCH", `/friends/${x.id}`, { token: me.token, body: { remark: null } })).body.data.friend.remark).toBeNull();
  });

  it("PATCH validates and only works for my friends", async () => {
    const [me, x, stranger] = [await signup(), await signup(), await signup()];
    await befriend(me, x);
    const patch = (body: unknown, id = x.id) => call("PATCH", `/friends/${id}`, { token: me.token, body });
    expectError(await patch({}), 400, "VALIDATION_ERROR");
    expectError(await patch({ remark: "x".repeat(65) }), 400, "VALIDATION_ERROR");
    expectError(await patch({ labels: Array.from({ length: 21 }, (_, i) => `l${i}`) }), 400, "VALIDATION_ERROR");
    expectError(await patch({ labels: ["x".repeat(33)] }), 400, "VALIDATION_ERROR");
    expectError(await patch({ labels: [""] }), 400, "VALIDATION_ERROR");
    expectError(await patch({ labels: "a,b" }), 400, "VALIDATION_ERROR");
    expectError(await patch({ remark: "ok", nickname: "no" }), 400, "VALIDATION_ERROR");
    expectError(await patch({ remark: "hi" }, stranger.id), 404, "NOT_FOUND");
    expectError(await patch({ remark: "hi" }, UNKNOWN_USER), 404, "NOT_FOUND");
    expectError(await patch({ remark: "hi" }, "user_"), 400, "VALIDATION_ERROR");
    // a third user cannot touch my friendship's remark by naming my friend
    expectError(await call("PATCH", `/friends/${x.id}`, { token: stranger.token, body: { remark: "hacked" } }), 404, "NOT_FOUND");
    expect((await call("GET", `/friends/${x.id}`, { token: me.token })).body.data.friend.remark).toBeNull();
  });
});

describe("DELETE /friends/{user_id}", () => {
  it("removes the friendship on both sides, from categories, and notifies the other", async () => {
    const [me, x] = [await signup(), await signup()];
    await befriend(me, x);
    const mine = await call("POST", "/friend-categories", { token: me.token, body: { name: "Close", members: [x.id] } });
    const theirs = await call("POST", "/friend-categories", { token: x.token, body: { name: "Close", members: [me.id] } });
    const res = await call("DELETE", `/friends/${x.id}`, { token: me.token });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ removed: true, user_id: x.id });
    expect((await call("GET", "/friends", { token: me.token })).body.data.friends).toEqual([]);
    expect((await call("GET", "/friends", { token: x.token })).body.data.friends).toEqual([]);
    const catMine = await call("GET", `/friend-categories/${mine.body.data.category.id}`, { token: me.token });
    expect(catMine.body.data.category.members).toEqual([]);
    const catTheirs = await call("GET", `/friend-categories/${theirs.body.data.category.id}`, { token: x.token });
    expect(catTheirs.body.data.category.members).toEqual([]);
    expect((await notificationsOf(x)).notifications[0]).toMatchObject({ kind: "friend_removed", actor_id: me.id, subject_id: me.id });
    const rel = await call("GET", `/users/${x.id}`, { token: me.token });
    expect(rel.body.data.relationship).toMatchObject({ friend_state: 2, is_friend: false });
    expectError(await call("DELETE", `/friends/${x.id}`, { token: me.token }), 404, "NOT_FOUND");
    await request(me, x);
  });

  it("404 for strangers and unknown users, 400 for malformed ids", async () => {
    const [me, x] = [await signup(), await signup()];
    expectError(await call("DELETE", `/friends/${x.id}`, { token: me.token }), 404, "NOT_FOUND");
    expectError(await call("DELETE", `/friends/${UNKNOWN_USER}`, { token: me.token }), 404, "NOT_FOUND");
    expectError(await call("DELETE", "/friends/requests", { token: me.token }), 400, "VALIDATION_ERROR");
  });

  it("nobody else can end a friendship by naming one side", async () => {
    const [a, b, c] = [await signup(), await signup(), await signup()];
    await befriend(a, b);
    expectError(await call("DELETE", `/friends/${b.id}`, { token: c.token }), 404, "NOT_FOUND");
    expectError(await call("DELETE", `/friends/${a.id}`, { token: c.token }), 404, "NOT_FOUND");
    expect((await call("GET", `/friends/${b.id}`, { token: a.token })).status).toBe(200);
    expect((await notificationsOf(b)).notifications.map((n: any) => n.kind)).not.toContain("friend_removed");
  });
});

describe("GET /friends/{user_id}/relationship and the home view", () => {
  it("reports friend_state through the whole flow", async () => {
    const [a, b] = [await signup(), await signup()];
    const rel = async (me: TestUser, other: TestUser) => (await call("GET", `/friends/${other.id}/relationship`, { token: me.token })).body.data;
    const home = async (me: TestUser, other: TestUser) => (await call("GET", `/users/${other.id}`, { token: me.token })).body.data.relationship;

    expect(await rel(a, b)).toMatchObject({ friend_state: 2, is_friend: false, is_blocked: false, blocked_me: false });
    expect(await rel(a, a)).toMatchObject({ friend_state: 3, is_self: true });
    const sent = await request(a, b);
    expect(await rel(a, b)).toMatchObject({ friend_state: 0, request_id: sent.request.id });
    expect(await home(b, a)).toMatchObject({ friend_state: 4, request_id: sent.request.id });
    await call("POST", `/friends/requests/${sent.request.id}/accept`, { token: b.token });
    expect(await rel(a, b)).toMatchObject({ friend_state: 1, is_friend: true });
    expect(await home(b, a)).toMatchObject({ friend_state: 1, is_friend: true });

    await call("POST", "/blocks", { token: a.token, body: { user_id: b.id } });
    expect(await rel(a, b)).toMatchObject({ friend_state: 2, is_friend: false, is_blocked: true, blocked_me: false });
    expect(await rel(b, a)).toMatchObject({ friend_state: 2, is_friend: false, is_blocked: false, blocked_me: true });
  });

  it("404 for unknown users, 400 for malformed ids", async () => {
    const me = await signup();
    expectError(await call("GET", `/friends/${UNKNOWN_USER}/relationship`, { token: me.token }), 404, "NOT_FOUND");
    expectError(await call("GET", "/friends/nobody/relationship", { token: me.token }), 400, "VALIDATION_ERROR");
    expectError(await call("GET", `/friends/${me.id}/relationship`), 401, "UNAUTHORIZED");
  });
});

describe("OpenAPI", () => {
  it("documents every social route", async () => {
    const doc = await call("GET", "/api/v1/openapi.json");
    const paths = doc.body.paths;
    const expected: Record<string, string[]> = {
      "/friends/requests": ["get", "post"],
      "/friends/requests/{id}/accept": ["post"],
      "/friends/requests/{id}/reject": ["post"],
      "/friends/requests/{id}/cancel": ["post"],
      "/friends": ["get"],
      "/friends/{user_id}": ["get", "patch", "delete"],
      "/friends/{user_id}/relationship": ["get"],
      "/blocks": ["get", "post"],
      "/blocks/{user_id}": ["delete"],
      "/friend-categories": ["get", "post"],
      "/friend-categories/{id}": ["get", "patch", "delete"],
      "/friend-categories/{id}/members": ["post", "delete"],
      "/notifications": ["get"],
      "/notifications/read": ["post"],
    };
    for (const [path, methods] of Object.entries(expected)) {
      for (const method of methods) expect(paths[path]?.[method], `${method} ${path}`).toBeDefined();
    }
    expect(doc.body.components.schemas).toHaveProperty("FriendRequest");
    expect(doc.body.components.schemas).toHaveProperty("FriendCategory");
  });
});
