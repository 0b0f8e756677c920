import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { users } from "../../src/db/schema";
import { call, db, expectError, setConfig, signup, uniq, type TestUser } from "../helpers";
import { befriend, cast, createGroup, info, join, UNKNOWN_GROUP, UNKNOWN_USER, userPool } from "../group-helpers";

const people = userPool();

let root: TestUser;
beforeAll(async () => {
  root = await signup({ username: "root_admin" });
});

describe("POST /groups", () => {
  it("creates a group with defaults; the creator owns it", async () => {
    const owner = await signup();
    const res = await call("POST", "/groups", { token: owner.token, body: { name: "Hikers", description: "Weekend trips", avatar: "https://img.example/h.png" } });
    expect(res.status).toBe(201);
    expect(res.body.message).toBe("Group created");
    const g = res.body.data.group;
    expect(g.id).toMatch(/^grp_[0-9a-z]+$/);
    expect(g).toMatchObject({
      name: "Hikers",
      description: "Weekend trips",
      avatar: "https://img.example/h.png",
      owner_id: owner.id,
      creator_id: owner.id,
      workspace_id: null,
      visibility: "public",
      join_policy: "open",
      members_can_invite: true,
      member_list_visible: true,
      history_visible: true,
      member_limit: 500,
      location: null,
      member_count: 1,
      dissolved: false,
      dissolved_at: null,
      my_role: "owner",
      my_state: "member",
      my_is_muted: false,
      my_muted_until: null,
    });
  });

  it("takes every setting", async () => {
    const owner = await signup();
    const g = await createGroup(owner.token, {
      visibility: "private",
      join_policy: "approval",
      members_can_invite: false,
      member_list_visible: false,
      history_visible: false,
      member_limit: 20,
      location: { lat: 31.2, lng: 121.5 },
    });
    expect(g).toMatchObject({
      visibility: "private",
      join_policy: "approval",
      members_can_invite: false,
      member_list_visible: false,
      history_visible: false,
      member_limit: 20,
      location: { lat: 31.2, lng: 121.5 },
    });
  });

  it("defaults member_limit to the operator's chatgroup_members_limit and refuses more", async () => {
    const owner = await signup();
    await setConfig({ chatgroup_members_limit: 300 });
    try {
      expect((await createGroup(owner.token)).member_limit).toBe(300);
      expectError(await call("POST", "/groups", { token: owner.token, body: { name: "big", member_limit: 301 } }), 400, "VALIDATION_ERROR");
    } finally {
      await setConfig({ chatgroup_members_limit: 500 });
    }
  });

  it("honours create_chatgroup=false for everyone but administrators", async () => {
    const user = await signup();
    await setConfig({ create_chatgroup: false });
    try {
      expectError(await call("POST", "/groups", { token: user.token, body: { name: "nope" } }), 403, "FORBIDDEN");
      expect((await call("POST", "/groups", { token: root.token, body: { name: "admins may" } })).status).toBe(201);
    } finally {
      await setConfig({ create_chatgroup: true });
    }
  });

  it("rejects bad input with 400 and no token with 401", async () => {
    const user = await signup();
    const bad: Record<string, unknown>[] = [
      {},
      { name: "" },
      { name: "x".repeat(65) },
      { name: "ok", extra: true },
      { name: "ok", visibility: "secret" },
      { name: "ok", join_policy: "closed" },
      { name: "ok", member_limit: 1 },
      { name: "ok", member_limit: 2.5 },
      { name: "ok", members_can_invite: "yes" },
      { name: "ok", location: { lat: 91, lng: 0 } },
      { name: "ok", location: { lat: 0 } },
      { name: "ok", description: "x".repeat(501) },
    ];
    for (const body of bad) expectError(await call("POST", "/groups", { token: user.token, body }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", "/groups", { body: { name: "ok" } }), 401, "UNAUTHORIZED");
  });
});

describe("GET /groups (my groups)", () => {
  it("lists the groups I belong to with my role, newest membership first", async () => {
    const me = await signup();
    const other = await signup();
    const mine = await createGroup(me.token);
    const theirs = await createGroup(other.token);
    await join(theirs.id, me);
    await createGroup(other.token);
    const res = await call("GET", "/groups", { token: me.token });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ total: 2, limit: 50, offset: 0 });
    expect(res.body.data.groups.map((g: { id: string; my_role: string }) => [g.id, g.my_role])).toEqual([
      [theirs.id, "member"],
      [mine.id, "owner"],
    ]);
    const page = await call("GET", "/groups?limit=1&offset=1", { token: me.token });
    expect(page.body.data.groups.map((g: { id: string }) => g.id)).toEqual([mine.id]);
    expectError(await call("GET", "/groups?limit=101", { token: me.token }), 400, "VALIDATION_ERROR");
    expectError(await call("GET", "/groups"), 401, "UNAUTHORIZED");
  });
});

describe("GET /groups/{id}", () => {
  it("shows a public group to anyone signed in, with my_role null", async () => {
    const owner = await signup();
    const stranger = await signup();
    const g = await createGroup(owner.token);
    const res = await info(g.id, stranger);
    expect(res.status).toBe(200);
    expect(res.body.data.group).toMatchObject({ id: g.id, my_role: null, my_state: "none", my_nickname: null, my_joined_at: null, my_is_muted: false });
  });

  it("shows members their role, nickname, join time and mute", async () => {
    const { group, admin, member, owner } = await cast({}, people);
    expect((await info(group.id, admin)).body.data.group).toMatchObject({ my_role: "admin", my_state: "member" });
    await call("PATCH", `/groups/${group.id}/members/${member.id}`, { token: member.token, body: { nickname: "Bob in here" } });
    await call("PATCH", `/groups/${group.id}/members/${member.id}`, { token: owner.token, body: { muted_minutes: 5 } });
    const res = (await info(group.id, member)).body.data.group;
    expect(res).toMatchObject({ my_role: "member", my_nickname: "Bob in here", my_is_muted: true, member_count: 4 });
    expect(typeof res.my_joined_at).toBe("string");
    expect(Date.parse(res.my_muted_until)).toBeGreaterThan(Date.now());
  });

  it("hides a private group from outsiders (403) but not from requesters and invitees", async () => {
    const owner = await signup();
    const stranger = await signup();
    const requester = await signup();
    const invitee = await signup();
    const g = await createGroup(owner.token, { visibility: "private", join_policy: "approval" });
    expectError(await info(g.id, stranger), 403, "FORBIDDEN");
    await join(g.id, requester, { reason: "let me in" });
    expect((await info(g.id, requester)).body.data.group).toMatchObject({ my_role: null, my_state: "pending" });
    await call("POST", `/groups/${g.id}/members`, { token: owner.token, body: { user_ids: [invitee.id] } });
    expect((await info(g.id, invitee)).body.data.group).toMatchObject({ my_role: null, my_state: "invited" });
  });

  it("404 for unknown ids and rooms, 400 for malformed ids", async () => {
    const user = await signup();
    expectError(await info(UNKNOWN_GROUP, user), 404, "NOT_FOUND");
    expectError(await call("GET", "/groups/grp_!!", { token: user.token }), 400, "VALIDATION_ERROR");
    expectError(await call("GET", "/groups/room_0000000000zzzzzzzzzz", { token: user.token }), 400, "VALIDATION_ERROR");
    const room = await call("POST", "/rooms", { token: user.token, body: { name: "a room" } });
    const disguised = `grp_${room.body.data.id.slice(5)}`;
    expectError(await info(disguised, user), 404, "NOT_FOUND");
  });
});

describe("PATCH /groups/{id}", () => {
  it("the owner changes profile and every setting", async () => {
    const owner = await signup();
    const g = await createGroup(owner.token, { description: "old" });
    const res = await call("PATCH", `/groups/${g.id}`, {
      token: owner.token,
      body: {
        name: "Renamed",
        description: null,
        avatar: "a.png",
        visibility: "private",
        join_policy: "invite",
        members_can_invite: false,
        member_list_visible: false,
        history_visible: false,
        member_limit: 50,
        location: { lat: 1, lng: 2 },
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.data.group).toMatchObject({
      name: "Renamed",
      description: null,
      avatar: "a.png",
      visibility: "private",
      join_policy: "invite",
      members_can_invite: false,
      member_list_visible: false,
      history_visible: false,
      member_limit: 50,
      location: { lat: 1, lng: 2 },
      my_role: "owner",
    });
    const cleared = await call("PATCH", `/groups/${g.id}`, { token: owner.token, body: { location: null } });
    expect(cleared.body.data.group.location).toBeNull();
  });

  it("an admin changes profile and join rules, but not visibility or member_limit", async () => {
    const { group, admin } = await cast({}, people);
    const res = await call("PATCH", `/groups/${group.id}`, { token: admin.token, body: { name: "By admin", join_policy: "approval", history_visible: false } });
    expect(res.status).toBe(200);
    expect(res.body.data.group).toMatchObject({ name: "By admin", join_policy: "approval", history_visible: false, my_role: "admin" });
    expectError(await call("PATCH", `/groups/${group.id}`, { token: admin.token, body: { visibility: "private" } }), 403, "FORBIDDEN");
    expectError(await call("PATCH", `/groups/${group.id}`, { token: admin.token, body: { member_limit: 10 } }), 403, "FORBIDDEN");
  });

  it("member_limit can neither drop below the member count (409) nor exceed the operator's limit (400)", async () => {
    const { group, owner } = await cast({}, people);
    expectError(await call("PATCH", `/groups/${group.id}`, { token: owner.token, body: { member_limit: 3 } }), 409, "CONFLICT");
    expect((await call("PATCH", `/groups/${group.id}`, { token: owner.token, body: { member_limit: 4 } })).body.data.group.member_limit).toBe(4);
    expectError(await call("PATCH", `/groups/${group.id}`, { token: owner.token, body: { member_limit: 501 } }), 400, "VALIDATION_ERROR");
  });

  it("rejects empty, unknown and malformed bodies, unknown groups", async () => {
    const owner = await signup();
    const g = await createGroup(owner.token);
    expectError(await call("PATCH", `/groups/${g.id}`, { token: owner.token, body: {} }), 400, "VALIDATION_ERROR");
    expectError(await call("PATCH", `/groups/${g.id}`, { token: owner.token, body: { owner_id: owner.id } }), 400, "VALIDATION_ERROR");
    expectError(await call("PATCH", `/groups/${g.id}`, { token: owner.token, body: { name: "" } }), 400, "VALIDATION_ERROR");
    expectError(await call("PATCH", `/groups/${UNKNOWN_GROUP}`, { token: owner.token, body: { name: "x" } }), 404, "NOT_FOUND");
    expectError(await call("PATCH", "/groups/nope", { token: owner.token, body: { name: "x" } }), 400, "VALIDATION_ERROR");
  });
});

describe("GET /groups/search", () => {
  it("finds public live groups by name or exact id, never private or dissolved ones", async () => {
    const owner = await signup();
    const tag = uniq("srch");
    const pub = await createGroup(owner.token, { name: `${tag} public` });
    await createGroup(owner.token, { name: `${tag} private`, visibility: "private" });
    const gone = await createGroup(owner.token, { name: `${tag} gone` });
    await call("DELETE", `/groups/${gone.id}`, { token: owner.token });
    const searcher = await signup();
    const res = await call("GET", `/groups/search?q=${tag}`, { token: searcher.token });
    expect(res.status).toBe(200);
    expect(res.body.data.groups.map((g: { id: string }) => g.id)).toEqual([pub.id]);
    expect(res.body.data.groups[0].my_role).toBeNull();
    const mine = await call("GET", `/groups/search?q=${tag}`, { token: owner.token });
    expect(mine.body.data.groups[0].my_role).toBe("owner");
    const byId = await call("GET", `/groups/search?q=${pub.id}`, { token: searcher.token });
    expect(byId.body.data.groups.map((g: { id: string }) => g.id)).toEqual([pub.id]);
    const wild = await call("GET", `/groups/search?q=${encodeURIComponent("%")}`, { token: searcher.token });
    expect(wild.status).toBe(200);
    expect(wild.body.data.groups.every((g: { name: string }) => g.name.includes("%"))).toBe(true);
    expectError(await call("GET", "/groups/search", { token: searcher.token }), 400, "VALIDATION_ERROR");
    expectError(await call("GET", "/groups/search?q=", { token: searcher.token }), 400, "VALIDATION_ERROR");
    expectError(await call("GET", `/groups/search?q=${"x".repeat(65)}`, { token: searcher.token }), 400, "VALIDATION_ERROR");
  });
});

describe("GET /groups/nearby", () => {
  it("lists public groups within the radius, nearest first, with distances", async () => {
    const owner = await signup();
    const lat = 10 + Math.random() * 50;
    const lng = 20 + Math.random() * 50;
    const near = await createGroup(owner.token, { location: { lat: lat + 0.001, lng } });
    const nearer = await createGroup(owner.token, { location: { lat: lat + 0.0005, lng } });
    const far = await createGroup(owner.token, { location: { lat: lat + 0.05, lng } });
    await createGroup(owner.token, { location: { lat, lng }, visibility: "private" });
    const me = await signup();
    const res = await call("GET", `/groups/nearby?lat=${lat}&lng=${lng}&radius_m=500`, { token: me.token });
    expect(res.status).toBe(200);
    expect(res.body.data.radius_m).toBe(500);
    expect(res.body.data.groups.map((g: { id: string }) => g.id)).toEqual([nearer.id, near.id]);
    expect(res.body.data.groups[0].distance_m).toBeGreaterThan(40);
    expect(res.body.data.groups[0].distance_m).toBeLessThan(70);
    const wide = await call("GET", `/groups/nearby?lat=${lat}&lng=${lng}&radius_m=10000`, { token: me.token });
    expect(wide.body.data.groups.map((g: { id: string }) => g.id)).toEqual([nearer.id, near.id, far.id]);
    const byDefault = await call("GET", `/groups/nearby?lat=${lat}&lng=${lng}`, { token: me.token });
    expect(byDefault.body.data.radius_m).toBe(1000);
    expect(byDefault.body.data.groups).toHaveLength(2);
  });

  it("validates coordinates and radius", async () => {
    const me = await signup();
    for (const q of ["lat=91&lng=0", "lat=0&lng=181", "lng=0", "lat=0", "lat=x&lng=0", "lat=0&lng=0&radius_m=0", "lat=0&lng=0&radius_m=100001"]) {
      expectError(await call("GET", `/groups/nearby?${q}`, { token: me.token }), 400, "VALIDATION_ERROR");
    }
  });
});

describe("GET /groups/common", () => {
  it("lists the live groups both of us are in, private ones included", async () => {
    const a = await signup();
    const b = await signup();
    const shared = await createGroup(a.token, { name: "aaa shared" });
    const secret = await createGroup(a.token, { name: "bbb secret", visibility: "private", join_policy: "open" });
    await createGroup(a.token);
    await join(shared.id, b);
    await join(secret.id, b);
    const gone = await createGroup(b.token);
    await join(gone.id, a);
    await call("DELETE", `/groups/${gone.id}`, { token: b.token });
    const res = await call("GET", `/groups/common?user_id=${a.id}`, { token: b.token });
    expect(res.status).toBe(200);
    expect(res.body.data.total).toBe(2);
    expect(res.body.data.groups.map((g: { id: string; my_role: string }) => [g.id, g.my_role])).toEqual([
      [shared.id, "member"],
      [secret.id, "member"],
    ]);
  });

  it("404 for unknown users, 400 for myself and malformed ids", async () => {
    const me = await signup();
    expectError(await call("GET", `/groups/common?user_id=${UNKNOWN_USER}`, { token: me.token }), 404, "NOT_FOUND");
    expectError(await call("GET", `/groups/common?user_id=${me.id}`, { token: me.token }), 400, "BAD_REQUEST");
    expectError(await call("GET", "/groups/common?user_id=bob", { token: me.token }), 400, "VALIDATION_ERROR");
    expectError(await call("GET", "/groups/common", { token: me.token }), 400, "VALIDATION_ERROR");
  });
});

describe("GET /groups/{id}/members", () => {
  it("lists owner, admins, then members by join time, with 002's statistics", async () => {
    const { group, owner, admin, member, other } = await cast({}, people);
    await db().update(users).set({ gender: "male", birthday: "2003-06-26" }).where(eq(users.id, owner.id));
    await db().update(users).set({ gender: "female", birthday: "1999-12-31" }).where(eq(users.id, admin.id));
    await db().update(users).set({ gender: "male", birthday: "2000-01-01" }).where(eq(users.id, member.id));
    const res = await call("GET", `/groups/${group.id}/members`, { token: other.token });
    expect(res.status).toBe(200);
    expect(res.body.data.members.map((m: { user: { id: string }; role: string }) => [m.user.id, m.role])).toEqual([
      [owner.id, "owner"],
      [admin.id, "admin"],
      [member.id, "member"],
      [other.id, "member"],
    ]);
    expect(res.body.data.statistics).toEqual({ total: 4, male: 2, female: 1, unknown: 1, born_2000s: 2 });
    expect(res.body.data).toMatchObject({ total: 4, limit: 100, offset: 0 });
    expect(res.body.data.members[0]).toMatchObject({ nickname: null, muted_until: null, is_muted: false });
    expect(res.body.data.members[0].user).not.toHaveProperty("password_hash");
    expect(res.body.data.members[0].user).not.toHaveProperty("email");
    const page = await call("GET", `/groups/${group.id}/members?limit=2&offset=2`, { token: other.token });
    expect(page.body.data.members.map((m: { user: { id: string } }) => m.user.id)).toEqual([member.id, other.id]);
    expect(page.body.data.statistics.total).toBe(4);
    expectError(await call("GET", `/groups/${group.id}/members?limit=501`, { token: other.token }), 400, "VALIDATION_ERROR");
  });

  it("a hidden member list is for the owner and admins only", async () => {
    const { group, owner, admin, member, outsider } = await cast({ member_list_visible: false }, people);
    expect((await call("GET", `/groups/${group.id}/members`, { token: owner.token })).status).toBe(200);
    expect((await call("GET", `/groups/${group.id}/members`, { token: admin.token })).status).toBe(200);
    expectError(await call("GET", `/groups/${group.id}/members`, { token: member.token }), 403, "FORBIDDEN");
    expectError(await call("GET", `/groups/${group.id}/members`, { token: outsider.token }), 403, "FORBIDDEN");
  });

  it("public lists are visible to outsiders, private ones only to members", async () => {
    const pub = await cast({}, people);
    expect((await call("GET", `/groups/${pub.group.id}/members`, { token: pub.outsider.token })).status).toBe(200);
    const priv = await cast({ visibility: "private" }, people);
    expectError(await call("GET", `/groups/${priv.group.id}/members`, { token: priv.outsider.token }), 403, "FORBIDDEN");
    expect((await call("GET", `/groups/${priv.group.id}/members`, { token: priv.member.token })).status).toBe(200);
    expectError(await call("GET", `/groups/${UNKNOWN_GROUP}/members`, { token: priv.member.token }), 404, "NOT_FOUND");
  });
});

describe("GET /groups/join-requests (004's approval list)", () => {
  it("collects pending requests from every group I own or administer", async () => {
    const boss = await signup();
    const other = await signup();
    const owned = await createGroup(boss.token, { join_policy: "approval" });
    const administered = await createGroup(other.token);
    await join(administered.id, boss);
    await call("PATCH", `/groups/${administered.id}/members/${boss.id}`, { token: other.token, body: { role: "admin" } });
    await call("PATCH", `/groups/${administered.id}`, { token: other.token, body: { join_policy: "approval" } });
    const notMine = await createGroup(other.token, { join_policy: "approval" });
    const [r1, r2, r3] = await Promise.all([signup(), signup(), signup()]);
    await join(owned.id, r1, { reason: "one" });
    await join(administered.id, r2, { reason: "two" });
    await join(notMine.id, r3, { reason: "three" });
    const res = await call("GET", "/groups/join-requests", { token: boss.token });
    expect(res.status).toBe(200);
    expect(res.body.data.total).toBe(2);
    expect(res.body.data.requests.map((r: { user: { id: string }; group: { id: string }; reason: string }) => [r.user.id, r.group.id, r.reason])).toEqual([
      [r2.id, administered.id, "two"],
      [r1.id, owned.id, "one"],
    ]);
    expect(res.body.data.requests[0]).toMatchObject({ status: "pending", group: { member_count: 2, member_limit: 500 } });
    const plain = await call("GET", "/groups/join-requests", { token: r1.token });
    expect(plain.body.data).toMatchObject({ requests: [], total: 0 });
  });
});

describe("OpenAPI", () => {
  it("documents every group path", async () => {
    const doc = await call("GET", "/api/v1/openapi.json");
    for (const path of [
      "/groups",
      "/groups/search",
      "/groups/nearby",
      "/groups/common",
      "/groups/join-requests",
      "/groups/{id}",
      "/groups/{id}/join",
      "/groups/{id}/leave",
      "/groups/{id}/join-requests",
      "/groups/{id}/join-requests/{user_id}/approve",
      "/groups/{id}/join-requests/{user_id}/reject",
      "/groups/{id}/members",
      "/groups/{id}/members/{user_id}",
      "/groups/{id}/transfer",
      "/groups/{id}/invitations/accept",
      "/groups/{id}/invitations/decline",
    ]) {
      expect(doc.body.paths).toHaveProperty(path);
    }
  });
});

describe("friends fixture", () => {
  it("befriend() writes the social graph's two rows", async () => {
    const a = await signup();
    const b = await signup();
    await befriend(a, b);
    const rel = await call("GET", `/users/${b.id}`, { token: a.token });
    expect(rel.body.data.relationship.is_friend).toBe(true);
  });
});
