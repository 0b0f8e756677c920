import { describe, expect, it } from "vitest";
import { call, expectError, signup, type TestUser } from "../helpers";

const UNKNOWN_USER = "user_0000000000zzzzzzzzzz";

async function befriend(a: TestUser, b: TestUser) {
  const sent = await call("POST", "/friends/requests", { token: a.token, body: { user_id: b.id } });
  expect(sent.status).toBe(201);
  const res = await call("POST", `/friends/requests/${sent.body.data.request.id}/accept`, { token: b.token });
  expect(res.status).toBe(200);
}

const block = (me: TestUser, other: { id: string }) => call("POST", "/blocks", { token: me.token, body: { user_id: other.id } });

describe("POST /blocks", () => {
  it("blocks a user and lists them", async () => {
    const [me, x] = [await signup(), await signup()];
    const res = await block(me, x);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ success: true, message: "User blocked", data: { block: { user: { id: x.id, username: x.username } } } });
    expect(res.body.data.block.created_at).toMatch(/^\d{4}-/);
    expect(res.body.data.block.user).not.toHaveProperty("email");

    const list = await call("GET", "/blocks", { token: me.token });
    expect(list.status).toBe(200);
    expect(list.body.data).toMatchObject({ total: 1, limit: 100, offset: 0 });
    expect(list.body.data.blocks).toEqual([res.body.data.block]);
    // the blocked user's own list is untouched
    expect((await call("GET", "/blocks", { token: x.token })).body.data).toMatchObject({ blocks: [], total: 0 });
  });

  it("ends the friendship both ways, cancels pending requests both ways, clears categories, without telling them", async () => {
    const [me, friend, asker, asked] = [await signup(), await signup(), await signup(), await signup()];
    await befriend(me, friend);
    const cat = await call("POST", "/friend-categories", { token: me.token, body: { name: "Pals", members: [friend.id] } });
    const theirCat = await call("POST", "/friend-categories", { token: friend.token, body: { name: "Pals", members: [me.id] } });
    const incoming = await call("POST", "/friends/requests", { token: asker.token, body: { user_id: me.id } });
    const outgoing = await call("POST", "/friends/requests", { token: me.token, body: { user_id: asked.id } });
    const notesBefore = (await call("GET", "/notifications", { token: friend.token })).body.data.notifications.length;

    expect((await block(me, friend)).status).toBe(201);
    expect((await block(me, asker)).status).toBe(201);
    expect((await block(me, asked)).status).toBe(201);

    expect((await call("GET", "/friends", { token: me.token })).body.data.friends).toEqual([]);
    expect((await call("GET", "/friends", { token: friend.token })).body.data.friends).toEqual([]);
    expect((await call("GET", `/friend-categories/${cat.body.data.category.id}`, { token: me.token })).body.data.category.members).toEqual([]);
    expect((await call("GET", `/friend-categories/${theirCat.body.data.category.id}`, { token: friend.token })).body.data.category.members).toEqual(
      [],
    );
    const askerOut = await call("GET", "/friends/requests?direction=outgoing", { token: asker.token });
    expect(askerOut.body.data.requests[0]).toMatchObject({ id: incoming.body.data.request.id, status: "cancelled" });
    const mineOut = await call("GET", "/friends/requests?direction=outgoing", { token: me.token });
    expect(mineOut.body.data.requests[0]).toMatchObject({ id: outgoing.body.data.request.id, status: "cancelled" });
    expect((await call("GET", "/notifications", { token: asked.token })).body.data.pending_friend_requests).toBe(0);
    expect((await call("GET", "/notifications", { token: friend.token })).body.data.notifications).toHaveLength(notesBefore);
  });

  it("a blocked user cannot request me; I must unblock before requesting them", async () => {
    const [me, x] = [await signup(), await signup()];
    await block(me, x);
    const attempt = await call("POST", "/friends/requests", { token: x.token, body: { user_id: me.id } });
    expect(attempt.status).toBe(201);
    expect((await call("GET", "/friends/requests", { token: me.token })).body.data.requests).toEqual([]);
    expect((await call("GET", "/notifications", { token: me.token })).body.data.notifications).toEqual([]);
    expectError(await call("POST", "/friends/requests", { token: me.token, body: { user_id: x.id } }), 403, "FORBIDDEN");
  });

  it("rejects myself, unknown users, duplicates and bad bodies", async () => {
    const [me, x] = [await signup(), await signup()];
    expectError(await block(me, me), 400, "BAD_REQUEST");
    expectError(await block(me, { id: UNKNOWN_USER }), 404, "NOT_FOUND");
    expect((await block(me, x)).status).toBe(201);
    expectError(await block(me, x), 409, "CONFLICT");
    expectError(await call("POST", "/blocks", { token: me.token, body: {} }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", "/blocks", { token: me.token, body: { user_id: "x" } }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", "/blocks", { token: me.token, body: { user_id: x.id, user: me.id } }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", "/blocks", { body: { user_id: x.id } }), 401, "UNAUTHORIZED");
  });
});

describe("GET /blocks", () => {
  it("pages with limit and offset, most recent first", async () => {
    const me = await signup();
    const others = [await signup(), await signup(), await signup()];
    for (const o of others) await block(me, o);
    const page = await call("GET", "/blocks?limit=2", { token: me.token });
    expect(page.body.data.total).toBe(3);
    expect(page.body.data.blocks.map((b: any) => b.user.id)).toEqual([others[2].id, others[1].id]);
    const rest = await call("GET", "/blocks?limit=2&offset=2", { token: me.token });
    expect(rest.body.data.blocks.map((b: any) => b.user.id)).toEqual([others[0].id]);
    expectError(await call("GET", "/blocks?limit=9999", { token: me.token }), 400, "VALIDATION_ERROR");
    expectError(await call("GET", "/blocks"), 401, "UNAUTHORIZED");
  });
});

describe("DELETE /blocks/{user_id}", () => {
  it("unblocks; the friendship is not restored but requests work again", async () => {
    const [me, x] = [await signup(), await signup()];
    await befriend(me, x);
    await block(me, x);
    const res = await call("DELETE", `/blocks/${x.id}`, { token: me.token });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ unblocked: true, user_id: x.id });
    expect((await call("GET", "/blocks", { token: me.token })).body.data.blocks).toEqual([]);
    const rel = await call("GET", `/friends/${x.id}/relationship`, { token: me.token });
    expect(rel.body.data).toMatchObject({ is_friend: false, is_blocked: false, blocked_me: false });
    expect((await call("POST", "/friends/requests", { token: me.token, body: { user_id: x.id } })).status).toBe(201);
  });

  it("a request sent while blocked stays hidden until unblocking, then waits for an answer (never notified)", async () => {
    const [me, x] = [await signup(), await signup()];
    await block(me, x);
    const sent = await call("POST", "/friends/requests", { token: x.token, body: { user_id: me.id, reason: "sorry" } });
    expect(sent.status).toBe(201);
    expect((await call("GET", "/friends/requests", { token: me.token })).body.data.requests).toEqual([]);
    await call("DELETE", `/blocks/${x.id}`, { token: me.token });
    const incoming = await call("GET", "/friends/requests", { token: me.token });
    expect(incoming.body.data.requests).toHaveLength(1);
    expect(incoming.body.data.requests[0]).toMatchObject({ id: sent.body.data.request.id, status: "pending", reason: "sorry" });
    const notes = await call("GET", "/notifications", { token: me.token });
    expect(notes.body.data).toMatchObject({ notifications: [], pending_friend_requests: 1 });
    expect((await call("POST", `/friends/requests/${sent.body.data.request.id}/accept`, { token: me.token })).status).toBe(200);
  });

  it("only removes my own block", async () => {
    const [me, x, other] = [await signup(), await signup(), await signup()];
    await block(other, x);
    expectError(await call("DELETE", `/blocks/${x.id}`, { token: me.token }), 404, "NOT_FOUND");
    const theirs = await call("GET", "/blocks", { token: other.token });
    expect(theirs.body.data.blocks.map((b: any) => b.user.id)).toEqual([x.id]);
  });

  it("404 for unknown users or no block, 400 for malformed ids", async () => {
    const [me, x] = [await signup(), await signup()];
    expectError(await call("DELETE", `/blocks/${x.id}`, { token: me.token }), 404, "NOT_FOUND");
    expectError(await call("DELETE", `/blocks/${UNKNOWN_USER}`, { token: me.token }), 404, "NOT_FOUND");
    expectError(await call("DELETE", "/blocks/abc", { token: me.token }), 400, "VALIDATION_ERROR");
    expectError(await call("DELETE", `/blocks/${x.id}`), 401, "UNAUTHORIZED");
  });
});
