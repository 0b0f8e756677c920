import { beforeAll, describe, expect, it } from "vitest";
import { call, connect, expectError, makeConversation, send, signup, type TestUser } from "../helpers";

let root: TestUser;
beforeAll(async () => {
  root = await signup({ username: "root_admin" });
});

describe("admin: users and stats", () => {
  it("lists and searches every account, and refuses non-admins", async () => {
    const a = await signup({ nickname: "Zebra Keeper" });
    await signup();
    const all = await call("GET", "/admin/users?limit=2", { token: root.token });
    expect(all.status).toBe(200);
    expect(all.body.data.users).toHaveLength(2);
    expect(all.body.data.total).toBeGreaterThanOrEqual(3);
    const found = (await call("GET", "/admin/users?q=zebra", { token: root.token })).body.data;
    expect(found.users.map((u: { id: string }) => u.id)).toEqual([a.id]);
    expect(found.users[0]).toMatchObject({ disabled: false, disabled_at: null, is_admin: false });
    // a search string is data, not a pattern
    expect((await call("GET", "/admin/users?q=%25", { token: root.token })).body.data.users).toEqual([]);

    expectError(await call("GET", "/admin/users", { token: a.token }), 403, "FORBIDDEN");
    expectError(await call("GET", "/admin/stats", { token: a.token }), 403);
    expectError(await call("GET", "/admin/users"), 401);
    expectError(await call("GET", "/admin/users?limit=0", { token: root.token }), 400);
  });

  it("reports counts in one call", async () => {
    const a = await signup();
    const b = await signup();
    const group = await makeConversation(a, [b]);
    await send(a, group, { content: "counted" });
    const stats = (await call("GET", "/admin/stats", { token: root.token })).body.data;
    expect(stats.users.total).toBeGreaterThanOrEqual(3);
    expect(stats.conversations.group.count).toBeGreaterThanOrEqual(1);
    expect(stats.messages).toBeGreaterThanOrEqual(1);
    expect(stats).toHaveProperty("files.bytes");
    expect(typeof stats.moments).toBe("number");
  });

  it("disabling ends sessions and sockets and every conversation refuses the account; enabling restores it", async () => {
    const a = await signup();
    const b = await signup();
    const group = await makeConversation(b, [a], { kind: "room" });
    const bound = await connect(`token=${a.token}&room_id=${group}`);
    await bound.next("authenticated");
    const user = await connect(`token=${a.token}`);
    await user.next("authenticated");

    const res = await call("POST", `/admin/users/${a.id}/disable`, { token: root.token });
    expect(res.status).toBe(200);
    expect(res.body.data.user).toMatchObject({ id: a.id, disabled: true });
    expect((await bound.closed).code).toBe(4003);
    expect((await user.closed).code).toBe(4003);
    // idempotent
    expect((await call("POST", `/admin/users/${a.id}/disable`, { token: root.token })).status).toBe(200);

    expectError(await call("POST", "/auth/login", { body: { username: a.username, password: a.password } }), 403, "ACCOUNT_DISABLED");
    expectError(await call("POST", "/auth/refresh", { body: { refresh_token: a.refresh_token } }), 401);
    // the access token still parses for up to an hour, but no conversation accepts it
    expectError(await send(a, group, { content: "still here?" }), 403);
    const again = await connect(`token=${a.token}`);
    expect((await again.closed).code).toBe(4003);
    expect((await call("GET", "/admin/users?disabled=true", { token: root.token })).body.data.users.map((u: { id: string }) => u.id)).toContain(a.id);

    expect((await call("POST", `/admin/users/${a.id}/enable`, { token: root.token })).body.data.user.disabled).toBe(false);
    const login = await call("POST", "/auth/login", { body: { username: a.username, password: a.password } });
    expect(login.status).toBe(200);
    expect((await send({ ...a, token: login.body.data.token }, group, { content: "back" })).status).toBe(201);
  });

  it("refuses to disable oneself, another admin, or nobody", async () => {
    const a = await signup();
    expectError(await call("POST", `/admin/users/${root.id}/disable`, { token: root.token }), 403);
    expectError(await call("POST", "/admin/users/user_0000000000missing00/disable", { token: root.token }), 404);
    expectError(await call("POST", "/admin/users/nonsense/disable", { token: root.token }), 400);
    expectError(await call("POST", `/admin/users/${root.id}/disable`, { token: a.token }), 403);
  });
});

describe("discover links", () => {
  it("admins manage them; every signed-in user reads them in order", async () => {
    const a = await signup();
    const second = await call("POST", "/admin/discover", { token: root.token, body: { name: "Docs", url: "https://example.com/docs", sort: 2 } });
    expect(second.status).toBe(201);
    const first = (await call("POST", "/admin/discover", { token: root.token, body: { name: "Home", url: "https://example.com", icon: "https://example.com/i.png", description: "start here", sort: 1 } })).body.data.link;
    const list = (await call("GET", "/discover", { token: a.token })).body.data;
    expect(list.title).toBe("Discover");
    const mine = list.links.filter((l: { id: string }) => [first.id, second.body.data.link.id].includes(l.id));
    expect(mine.map((l: { name: string }) => l.name)).toEqual(["Home", "Docs"]);

    const patched = await call("PATCH", `/admin/discover/${first.id}`, { token: root.token, body: { name: "Start", description: null } });
    expect(patched.body.data.link).toMatchObject({ name: "Start", description: null, url: "https://example.com" });
    expect((await call("DELETE", `/admin/discover/${first.id}`, { token: root.token })).body.data.deleted).toBe(true);
    expectError(await call("DELETE", `/admin/discover/${first.id}`, { token: root.token }), 404);
    expectError(await call("PATCH", `/admin/discover/${first.id}`, { token: root.token, body: { name: "x" } }), 404);

    for (const body of [{ name: "x", url: "javascript:alert(1)" }, { name: "", url: "https://x.y" }, { url: "https://x.y" }, { name: "x", url: "https://x.y", extra: 1 }, { name: "x", url: "ftp://x.y" }]) {
      expectError(await call("POST", "/admin/discover", { token: root.token, body }), 400);
    }
    expectError(await call("PATCH", `/admin/discover/${second.body.data.link.id}`, { token: root.token, body: {} }), 400);
    expectError(await call("POST", "/admin/discover", { token: a.token, body: { name: "x", url: "https://x.y" } }), 403);
    expectError(await call("GET", "/discover"), 401);
  });

  it("takes and returns seed 004's {name, logo, url}, with icon as an alias of logo", async () => {
    const a = await signup();
    const created = await call("POST", "/admin/discover", { token: root.token, body: { name: "Shop", logo: "https://example.com/logo.png", url: "https://example.com/shop" } });
    expect(created.status).toBe(201);
    const link = created.body.data.link;
    expect(link).toMatchObject({ name: "Shop", url: "https://example.com/shop", logo: "https://example.com/logo.png", icon: "https://example.com/logo.png" });
    const listed = (await call("GET", "/discover", { token: a.token })).body.data.links.find((l: { id: string }) => l.id === link.id);
    expect(listed).toMatchObject({ name: "Shop", logo: "https://example.com/logo.png", url: "https://example.com/shop", icon: "https://example.com/logo.png" });
    // icon (the older name) sets the same field
    const viaIcon = (await call("POST", "/admin/discover", { token: root.token, body: { name: "Old", icon: "https://example.com/i.png", url: "https://example.com/o" } })).body.data.link;
    expect(viaIcon).toMatchObject({ logo: "https://example.com/i.png", icon: "https://example.com/i.png" });
    const patched = await call("PATCH", `/admin/discover/${link.id}`, { token: root.token, body: { logo: "https://example.com/new.png" } });
    expect(patched.body.data.link).toMatchObject({ logo: "https://example.com/new.png", icon: "https://example.com/new.png", name: "Shop" });
    expect((await call("PATCH", `/admin/discover/${link.id}`, { token: root.token, body: { logo: null } })).body.data.link).toMatchObject({ logo: null, icon: null });
    // both names with different values, or a logo that is not an http(s) URL: 400
    expectError(await call("POST", "/admin/discover", { token: root.token, body: { name: "x", url: "https://x.y", logo: "https://x.y/a.png", icon: "https://x.y/b.png" } }), 400, "VALIDATION_ERROR");
    expectError(await call("PATCH", `/admin/discover/${link.id}`, { token: root.token, body: { logo: "https://x.y/a.png", icon: "https://x.y/b.png" } }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", "/admin/discover", { token: root.token, body: { name: "x", url: "https://x.y", logo: "javascript:alert(1)" } }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", "/admin/discover", { token: a.token, body: { name: "x", url: "https://x.y", logo: "https://x.y/a.png" } }), 403);
  });
});
