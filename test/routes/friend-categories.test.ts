import { describe, expect, it } from "vitest";
import { call, expectError, signup, uniq, type TestUser } from "../helpers";

const UNKNOWN_USER = "user_0000000000zzzzzzzzzz";
const UNKNOWN_CATEGORY = "fcat_0000000000zzzzzzzzzz";

async function befriend(a: TestUser, b: TestUser) {
  const sent = await call("POST", "/friends/requests", { token: a.token, body: { user_id: b.id } });
  expect(sent.status).toBe(201);
  const res = await call("POST", `/friends/requests/${sent.body.data.request.id}/accept`, { token: b.token });
  expect(res.status).toBe(200);
}

async function withFriends(n: number) {
  const me = await signup();
  const friends: TestUser[] = [];
  for (let i = 0; i < n; i++) {
    const f = await signup();
    await befriend(me, f);
    friends.push(f);
  }
  return { me, friends };
}

async function create(me: TestUser, name: string, members: string[] = []) {
  const res = await call("POST", "/friend-categories", { token: me.token, body: { name, members } });
  expect(res.status).toBe(201);
  return res.body.data.category;
}

const memberIds = (category: any) => category.members.map((m: any) => m.user.id);

describe("POST /friend-categories", () => {
  it("creates a category with members", async () => {
    const { me, friends } = await withFriends(2);
    await call("PATCH", `/friends/${friends[0].id}`, { token: me.token, body: { remark: "Ann", labels: ["gym"] } });
    const res = await call("POST", "/friend-categories", { token: me.token, body: { name: "  Family ", members: [friends[0].id, friends[1].id, friends[0].id] } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ success: true, message: "Friend category created" });
    const cat = res.body.data.category;
    expect(cat.id).toMatch(/^fcat_/);
    expect(cat).toMatchObject({ name: "Family", member_count: 2 });
    expect(memberIds(cat)).toEqual([friends[0].id, friends[1].id]);
    expect(cat.members[0]).toMatchObject({ remark: "Ann", labels: ["gym"], user: { username: friends[0].username } });
    expect(cat.created_at).toMatch(/^\d{4}-/);
  });

  it("members default to none", async () => {
    const me = await signup();
    const cat = await create(me, "Empty");
    expect(cat).toMatchObject({ member_count: 0, members: [] });
  });

  it("non-friends (including unknown users) are refused with their ids; nothing is created", async () => {
    const { me, friends } = await withFriends(1);
    const stranger = await signup();
    const res = await call("POST", "/friend-categories", { token: me.token, body: { name: "Mixed", members: [friends[0].id, stranger.id, UNKNOWN_USER] } });
    expectError(res, 400, "BAD_REQUEST");
    expect(res.body.details).toEqual({ not_friends: [stranger.id, UNKNOWN_USER] });
    expect(res.body.error).toContain(stranger.id);
    expect((await call("GET", "/friend-categories", { token: me.token })).body.data.categories).toEqual([]);
    expectError(await call("POST", "/friend-categories", { token: me.token, body: { name: "Self", members: [me.id] } }), 400, "BAD_REQUEST");
  });

  it("names are unique per user, not globally", async () => {
    const [me, other] = [await signup(), await signup()];
    await create(me, "Work");
    expectError(await call("POST", "/friend-categories", { token: me.token, body: { name: "Work" } }), 409, "CONFLICT");
    expectError(await call("POST", "/friend-categories", { token: me.token, body: { name: " Work " } }), 409, "CONFLICT");
    await create(other, "Work");
  });

  it("allows at most 50 categories", async () => {
    const me = await signup();
    for (let i = 0; i < 50; i++) await create(me, `c${i}`);
    const res = await call("POST", "/friend-categories", { token: me.token, body: { name: "one too many" } });
    expectError(res, 409, "CONFLICT");
    expect(res.body.error).toContain("50");
    expect((await call("GET", "/friend-categories", { token: me.token })).body.data.total).toBe(50);
  });

  it("validates the body", async () => {
    const me = await signup();
    const post = (body: unknown) => call("POST", "/friend-categories", { token: me.token, body });
    expectError(await post({}), 400, "VALIDATION_ERROR");
    expectError(await post({ name: "" }), 400, "VALIDATION_ERROR");
    expectError(await post({ name: "   " }), 400, "VALIDATION_ERROR");
    expectError(await post({ name: "x".repeat(33) }), 400, "VALIDATION_ERROR");
    expectError(await post({ name: "ok", members: "all" }), 400, "VALIDATION_ERROR");
    expectError(await post({ name: "ok", members: ["nobody"] }), 400, "VALIDATION_ERROR");
    expectError(await post({ name: "ok", user_id: me.id }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", "/friend-categories", { body: { name: "ok" } }), 401, "UNAUTHORIZED");
  });
});

describe("GET /friend-categories and /friend-categories/{id}", () => {
  it("lists mine with members, in creation order", async () => {
    const { me, friends } = await withFriends(2);
    const a = await create(me, "A", [friends[0].id]);
    const b = await create(me, "B", [friends[0].id, friends[1].id]);
    const other = await signup();
    await create(other, uniq("theirs"));
    const res = await call("GET", "/friend-categories", { token: me.token });
    expect(res.status).toBe(200);
    expect(res.body.data.total).toBe(2);
    expect(res.body.data.categories.map((c: any) => c.id)).toEqual([a.id, b.id]);
    expect(memberIds(res.body.data.categories[1])).toEqual([friends[0].id, friends[1].id]);
    const one = await call("GET", `/friend-categories/${b.id}`, { token: me.token });
    expect(one.body.data.category).toEqual(res.body.data.categories[1]);
    const friend = await call("GET", `/friends/${friends[0].id}`, { token: me.token });
    expect(friend.body.data.friend.categories).toEqual([
      { id: a.id, name: "A" },
      { id: b.id, name: "B" },
    ]);
  });

  it("someone else's category is not found; bad ids are 400", async () => {
    const [me, other] = [await signup(), await signup()];
    const cat = await create(me, "Mine");
    expectError(await call("GET", `/friend-categories/${cat.id}`, { token: other.token }), 404, "NOT_FOUND");
    expectError(await call("GET", `/friend-categories/${UNKNOWN_CATEGORY}`, { token: me.token }), 404, "NOT_FOUND");
    expectError(await call("GET", "/friend-categories/17", { token: me.token }), 400, "VALIDATION_ERROR");
    expectError(await call("GET", `/friend-categories/${cat.id}`), 401, "UNAUTHORIZED");
  });
});

describe("PATCH /friend-categories/{id}", () => {
  it("renames", async () => {
    const me = await signup();
    const cat = await create(me, "Old");
    const res = await call("PATCH", `/friend-categories/${cat.id}`, { token: me.token, body: { name: "New" } });
    expect(res.status).toBe(200);
    expect(res.body.data.category).toMatchObject({ id: cat.id, name: "New" });
    expect(res.body.data.category.updated_at >= cat.updated_at).toBe(true);
    const same = await call("PATCH", `/friend-categories/${cat.id}`, { token: me.token, body: { name: "New" } });
    expect(same.status).toBe(200);
  });

  it("409 on a name I already use, 404 on another's category, 400 on bad bodies", async () => {
    const [me, other] = [await signup(), await signup()];
    const a = await create(me, "A");
    await create(me, "B");
    expectError(await call("PATCH", `/friend-categories/${a.id}`, { token: me.token, body: { name: "B" } }), 409, "CONFLICT");
    expectError(await call("PATCH", `/friend-categories/${a.id}`, { token: other.token, body: { name: "Hijacked" } }), 404, "NOT_FOUND");
    expect((await call("GET", `/friend-categories/${a.id}`, { token: me.token })).body.data.category.name).toBe("A");
    expectError(await call("PATCH", `/friend-categories/${a.id}`, { token: me.token, body: {} }), 400, "VALIDATION_ERROR");
    expectError(await call("PATCH", `/friend-categories/${a.id}`, { token: me.token, body: { name: "" } }), 400, "VALIDATION_ERROR");
    expectError(await call("PATCH", `/friend-categories/${a.id}`, { token: me.token, body: { name: "C", members: [] } }), 400, "VALIDATION_ERROR");
    expectError(await call("PATCH", `/friend-categories/${UNKNOWN_CATEGORY}`, { token: me.token, body: { name: "C" } }), 404, "NOT_FOUND");
  });
});

describe("DELETE /friend-categories/{id}", () => {
  it("deletes mine; friends stay friends", async () => {
    const { me, friends } = await withFriends(1);
    const cat = await create(me, "Gone", [friends[0].id]);
    const res = await call("DELETE", `/friend-categories/${cat.id}`, { token: me.token });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ deleted: true, id: cat.id });
    expectError(await call("GET", `/friend-categories/${cat.id}`, { token: me.token }), 404, "NOT_FOUND");
    const friend = await call("GET", `/friends/${friends[0].id}`, { token: me.token });
    expect(friend.body.data.friend.categories).toEqual([]);
    await create(me, "Gone");
  });

  it("cannot delete another's category", async () => {
    const [me, other] = [await signup(), await signup()];
    const cat = await create(me, "Keep");
    expectError(await call("DELETE", `/friend-categories/${cat.id}`, { token: other.token }), 404, "NOT_FOUND");
    expect((await call("GET", `/friend-categories/${cat.id}`, { token: me.token })).status).toBe(200);
    expectError(await call("DELETE", "/friend-categories/nope", { token: me.token }), 400, "VALIDATION_ERROR");
  });
});

describe("POST and DELETE /friend-categories/{id}/members", () => {
  it("adds and removes members", async () => {
    const { me, friends } = await withFriends(3);
    const cat = await create(me, "Team", [friends[0].id]);
    const added = await call("POST", `/friend-categories/${cat.id}/members`, { token: me.token, body: { members: [friends[1].id, friends[2].id, friends[0].id] } });
    expect(added.status).toBe(200);
    expect(added.body.data.category.member_count).toBe(3);
    expect(memberIds(added.body.data.category)).toEqual([friends[0].id, friends[1].id, friends[2].id]);

    const removed = await call("DELETE", `/friend-categories/${cat.id}/members`, { token: me.token, body: { members: [friends[0].id, friends[2].id] } });
    expect(removed.status).toBe(200);
    expect(memberIds(removed.body.data.category)).toEqual([friends[1].id]);
    const again = await call("DELETE", `/friend-categories/${cat.id}/members`, { token: me.token, body: { members: [friends[0].id] } });
    expect(memberIds(again.body.data.category)).toEqual([friends[1].id]);
  });

  it("only my friends can be added (400 names the rest, nothing is added)", async () => {
    const { me, friends } = await withFriends(1);
    const stranger = await signup();
    const cat = await create(me, "Only friends");
    const res = await call("POST", `/friend-categories/${cat.id}/members`, { token: me.token, body: { members: [friends[0].id, stranger.id] } });
    expectError(res, 400, "BAD_REQUEST");
    expect(res.body.details).toEqual({ not_friends: [stranger.id] });
    expect((await call("GET", `/friend-categories/${cat.id}`, { token: me.token })).body.data.category.members).toEqual([]);
  });

  it("nobody can change another's category members", async () => {
    const { me, friends } = await withFriends(1);
    const cat = await create(me, "Private", [friends[0].id]);
    const intruder = friends[0];
    const other = await signup();
    await befriend(intruder, other);
    expectError(await call("POST", `/friend-categories/${cat.id}/members`, { token: intruder.token, body: { members: [other.id] } }), 404, "NOT_FOUND");
    expectError(await call("DELETE", `/friend-categories/${cat.id}/members`, { token: intruder.token, body: { members: [intruder.id] } }), 404, "NOT_FOUND");
    expect(memberIds((await call("GET", `/friend-categories/${cat.id}`, { token: me.token })).body.data.category)).toEqual([friends[0].id]);
  });

  it("validates ids and bodies", async () => {
    const me = await signup();
    const cat = await create(me, "V");
    const path = `/friend-categories/${cat.id}/members`;
    expectError(await call("POST", path, { token: me.token, body: {} }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", path, { token: me.token, body: { members: [] } }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", path, { token: me.token, body: { members: ["bad"] } }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", path, { token: me.token, body: { members: [me.id], name: "x" } }), 400, "VALIDATION_ERROR");
    expectError(await call("DELETE", path, { token: me.token, body: { members: "x" } }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", `/friend-categories/${UNKNOWN_CATEGORY}/members`, { token: me.token, body: { members: [me.id] } }), 404, "NOT_FOUND");
    expectError(await call("POST", "/friend-categories/1/members", { token: me.token, body: { members: [me.id] } }), 400, "VALIDATION_ERROR");
  });
});
