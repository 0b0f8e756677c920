import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { conversations, joinRequests, members } from "../../src/db/schema";
import { newId } from "../../src/lib/ids";
import { call, db, expectError, signup, testEnv, type TestUser } from "../helpers";

async function sendRequest(from: TestUser, to: TestUser) {
  const res = await call("POST", "/friends/requests", { token: from.token, body: { user_id: to.id, reason: "hello" } });
  expect(res.status).toBe(201);
  return res.body.data.request;
}

async function list(user: TestUser, query = "") {
  const res = await call("GET", `/notifications${query}`, { token: user.token });
  expect(res.status).toBe(200);
  return res.body.data;
}

/** Attaches a socket to the user's UserDO, as the realtime layer will, and collects what is pushed to it. */
async function liveSocket(user: TestUser) {
  const received: any[] = [];
  const stub = testEnv.USER.get(testEnv.USER.idFromName(user.id));
  await runInDurableObject(stub, (_instance: unknown, state: DurableObjectState) => {
    const pair = new WebSocketPair();
    state.acceptWebSocket(pair[1]);
    pair[0].accept();
    pair[0].addEventListener("message", (e) => received.push(JSON.parse(String(e.data))));
  });
  return received;
}

describe("GET /notifications", () => {
  it("stores every step of the friend flow for the other user", async () => {
    const [a, b] = [await signup(), await signup()];
    const req = await sendRequest(a, b);
    expect((await list(b)).notifications.map((n: any) => n.kind)).toEqual(["friend_request"]);
    await call("POST", `/friends/requests/${req.id}/accept`, { token: b.token });
    await call("DELETE", `/friends/${b.id}`, { token: a.token });
    const c = await signup();
    const req2 = await sendRequest(c, a);
    await call("POST", `/friends/requests/${req2.id}/reject`, { token: a.token, body: { reason: "no" } });

    const forA = await list(a);
    expect(forA.notifications.map((n: any) => n.kind)).toEqual(["friend_request", "friend_accepted"]);
    expect(forA.notifications[1]).toMatchObject({ actor_id: b.id, actor: { id: b.id }, subject_id: req.id });
    const forB = await list(b);
    expect(forB.notifications.map((n: any) => n.kind)).toEqual(["friend_removed", "friend_request"]);
    const forC = await list(c);
    expect(forC.notifications[0]).toMatchObject({ kind: "friend_rejected", actor_id: a.id, data: { request_id: req2.id, reason: "no" } });
    expect(forC.notifications[0].created_at).toMatch(/^\d{4}-/);
  });

  it("pushes each notification live through the user's object", async () => {
    const [a, b] = [await signup(), await signup()];
    const liveA = await liveSocket(a);
    const liveB = await liveSocket(b);
    const req = await sendRequest(a, b);
    await vi.waitFor(() => expect(liveB).toHaveLength(1));
    expect(liveB[0]).toMatchObject({
      success: true,
      data: { type: "notification", notification: { kind: "friend_request", actor_id: a.id, subject_id: req.id, read: false } },
    });
    const stored = await list(b);
    expect(liveB[0].data.notification.id).toBe(stored.notifications[0].id);

    await call("POST", `/friends/requests/${req.id}/accept`, { token: b.token });
    await vi.waitFor(() => expect(liveA).toHaveLength(1));
    expect(liveA[0].data.notification).toMatchObject({ kind: "friend_accepted", actor_id: b.id });
    await call("DELETE", `/friends/${a.id}`, { token: b.token });
    await vi.waitFor(() => expect(liveA).toHaveLength(2));
    expect(liveA[1].data.notification).toMatchObject({ kind: "friend_removed", actor_id: b.id });
  });

  it("pages by cursor, newest first, and filters unread", async () => {
    const me = await signup();
    const senders = [await signup(), await signup(), await signup(), await signup(), await signup()];
    for (const s of senders) await sendRequest(s, me);
    const first = await list(me, "?limit=2");
    expect(first.notifications.map((n: any) => n.actor_id)).toEqual([senders[4].id, senders[3].id]);
    expect(first.next_cursor).toBe(first.notifications[1].id);
    const second = await list(me, `?limit=2&cursor=${first.next_cursor}`);
    expect(second.notifications.map((n: any) => n.actor_id)).toEqual([senders[2].id, senders[1].id]);
    const third = await list(me, `?limit=2&cursor=${second.next_cursor}`);
    expect(third.notifications.map((n: any) => n.actor_id)).toEqual([senders[0].id]);
    expect(third.next_cursor).toBeNull();
    expect(first.unread_count).toBe(5);

    await call("POST", "/notifications/read", { token: me.token, body: { ids: [first.notifications[0].id] } });
    const unread = await list(me, "?unread=true");
    expect(unread.notifications).toHaveLength(4);
    expect(unread.notifications.map((n: any) => n.id)).not.toContain(first.notifications[0].id);
  });

  it("counts pending friend requests (002 init_apply_notice)", async () => {
    const me = await signup();
    const [s1, s2, s3] = [await signup(), await signup(), await signup()];
    const r1 = await sendRequest(s1, me);
    const r2 = await sendRequest(s2, me);
    await sendRequest(s3, me);
    await sendRequest(me, await signup());
    expect((await list(me)).pending_friend_requests).toBe(3);
    await call("POST", `/friends/requests/${r1.id}/accept`, { token: me.token });
    await call("POST", `/friends/requests/${r2.id}/reject`, { token: me.token });
    expect((await list(me)).pending_friend_requests).toBe(1);
    await call("POST", "/blocks", { token: me.token, body: { user_id: s3.id } });
    expect((await list(me)).pending_friend_requests).toBe(0);
    expect((await list(s1)).pending_friend_requests).toBe(0);
  });

  it("counts pending join requests of groups I own or administer", async () => {
    const [owner, admin, member, asker1, asker2] = [await signup(), await signup(), await signup(), await signup(), await signup()];
    const d = db();
    const group = newId("grp");
    const dissolved = newId("grp");
    await d.insert(conversations).values([
      { id: group, kind: "group", name: "G", ownerId: owner.id, joinPolicy: "approval" },
      { id: dissolved, kind: "group", name: "Old", ownerId: owner.id, dissolvedAt: new Date().toISOString() },
    ]);
    await d.insert(members).values([
      { conversationId: group, userId: owner.id, role: "owner" },
      { conversationId: group, userId: admin.id, role: "admin" },
      { conversationId: group, userId: member.id, role: "member" },
      { conversationId: dissolved, userId: owner.id, role: "owner" },
    ]);
    await d.insert(joinRequests).values([
      { id: newId("jr"), conversationId: group, userId: asker1.id, kind: "request" },
      { id: newId("jr"), conversationId: group, userId: asker2.id, kind: "request" },
      { id: newId("jr"), conversationId: group, userId: member.id, kind: "request", status: "approved" },
      { id: newId("jr"), conversationId: group, userId: asker1.id, kind: "invite", inviterId: admin.id },
      { id: newId("jr"), conversationId: dissolved, userId: asker2.id, kind: "request" },
    ]);
    expect((await list(owner)).pending_group_requests).toBe(2);
    expect((await list(admin)).pending_group_requests).toBe(2);
    expect((await list(member)).pending_group_requests).toBe(0);
    expect((await list(asker1)).pending_group_requests).toBe(0);
  });

  it("validates the query and needs a token", async () => {
    const me = await signup();
    expectError(await call("GET", "/notifications?cursor=123", { token: me.token }), 400, "VALIDATION_ERROR");
    expectError(await call("GET", "/notifications?limit=101", { token: me.token }), 400, "VALIDATION_ERROR");
    expectError(await call("GET", "/notifications?unread=maybe", { token: me.token }), 400, "VALIDATION_ERROR");
    expectError(await call("GET", "/notifications"), 401, "UNAUTHORIZED");
  });
});

describe("POST /notifications/read", () => {
  it("marks the given ones read and reports the unread count", async () => {
    const me = await signup();
    for (let i = 0; i < 3; i++) await sendRequest(await signup(), me);
    const before = await list(me);
    expect(before.unread_count).toBe(3);
    const ids = before.notifications.slice(0, 2).map((n: any) => n.id);
    const res = await call("POST", "/notifications/read", { token: me.token, body: { ids } });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ updated: 2, unread_count: 1 });
    const after = await list(me);
    expect(after.notifications.map((n: any) => n.read)).toEqual([true, true, false]);
    expect(after.notifications[0].read_at).toMatch(/^\d{4}-/);
    const again = await call("POST", "/notifications/read", { token: me.token, body: { ids } });
    expect(again.body.data).toEqual({ updated: 0, unread_count: 1 });
  });

  it("marks all read", async () => {
    const me = await signup();
    for (let i = 0; i < 3; i++) await sendRequest(await signup(), me);
    const res = await call("POST", "/notifications/read", { token: me.token, body: { all: true } });
    expect(res.body.data).toEqual({ updated: 3, unread_count: 0 });
    expect((await list(me)).notifications.every((n: any) => n.read)).toBe(true);
  });

  it("never touches another user's notifications", async () => {
    const [me, other] = [await signup(), await signup()];
    await sendRequest(await signup(), other);
    const theirs = (await list(other)).notifications[0].id;
    const res = await call("POST", "/notifications/read", { token: me.token, body: { ids: [theirs] } });
    expect(res.body.data).toEqual({ updated: 0, unread_count: 0 });
    await call("POST", "/notifications/read", { token: me.token, body: { all: true } });
    expect((await list(other)).unread_count).toBe(1);
  });

  it("validates the body", async () => {
    const me = await signup();
    const post = (body: unknown) => call("POST", "/notifications/read", { token: me.token, body });
    expectError(await post({}), 400, "VALIDATION_ERROR");
    expectError(await post({ ids: [] }), 400, "VALIDATION_ERROR");
    expectError(await post({ ids: ["nope"] }), 400, "VALIDATION_ERROR");
    expectError(await post({ all: false }), 400, "VALIDATION_ERROR");
    expectError(await post({ all: true, ids: [] }), 400, "VALIDATION_ERROR");
    expectError(await post({ ids: Array.from({ length: 101 }, (_, i) => `ntf_${String(i).padStart(10, "0")}`) }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", "/notifications/read", { body: { all: true } }), 401, "UNAUTHORIZED");
  });
});
