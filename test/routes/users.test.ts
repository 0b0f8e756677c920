import { describe, expect, it } from "vitest";
import { call, expectError, setConfig, signup, uniq } from "../helpers";

describe("GET /users/me and /users/{id} (seed 001)", () => {
  it("returns my account with 001's fields and no password", async () => {
    const user = await signup();
    const res = await call("GET", "/users/me", { token: user.token });
    expect(res.body).toMatchObject({ success: true, message: "User information retrieved successfully", data: { user: { id: user.id, username: user.username } } });
    expect(res.body.data.user.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(JSON.stringify(res.body)).not.toMatch(/password_hash|"password"/);
  });

  it("shows another user publicly with my relationship, hiding contact details", async () => {
    const me = await signup();
    const other = await signup({ email: `${uniq("o")}@example.com` });
    const res = await call("GET", `/users/${other.id}`, { token: me.token });
    expect(res.status).toBe(200);
    expect(res.body.data.user).toMatchObject({ id: other.id, username: other.username });
    expect(res.body.data.user).not.toHaveProperty("email");
    expect(res.body.data.relationship).toMatchObject({ friend_state: 2, is_friend: false, is_self: false });
    const self = await call("GET", `/users/${me.id}`, { token: me.token });
    expect(self.body.data.relationship.friend_state).toBe(3);
  });

  it("404s an unknown id and 400s a malformed one", async () => {
    const me = await signup();
    expectError(await call("GET", "/users/user_0000000000nothere00", { token: me.token }), 404, "NOT_FOUND");
    expectError(await call("GET", "/users/robert'); DROP TABLE users;--", { token: me.token }), 400, "VALIDATION_ERROR");
    expectError(await call("GET", `/users/${me.id}`), 401, "UNAUTHORIZED");
  });
});

describe("GET /users", () => {
  it("pages with limit (default 10) and offset, and reports the total", async () => {
    const me = await signup();
    for (let i = 0; i < 3; i++) await signup();
    const first = await call("GET", "/users", { token: me.token });
    expect(first.body).toMatchObject({ success: true, message: "Users retrieved successfully", data: { limit: 10, offset: 0 } });
    expect(first.body.data.total).toBeGreaterThanOrEqual(4);
    const page = await call("GET", "/users?limit=2&offset=1", { token: me.token });
    expect(page.body.data.users).toHaveLength(2);
    expect(page.body.data.users[0].id).toBe(first.body.data.users[1].id);
    for (const q of ["limit=0", "limit=101", "limit=abc", "offset=-1"]) {
      expectError(await call("GET", `/users?${q}`, { token: me.token }), 400, "VALIDATION_ERROR");
    }
  });
});

describe("PATCH /users/me", () => {
  it("updates every profile field and derives age", async () => {
    const me = await signup();
    const body = {
      nickname: "Nick",
      avatar: "https://cdn.example/a.png",
      gender: "female",
      birthday: "2000-02-29",
      bio: "hello",
      location: { lat: 31.23, lng: 121.47 },
      country: "CN",
      province: "Shanghai",
      city: "Shanghai",
      district: "Huangpu",
    };
    const res = await call("PATCH", "/users/me", { token: me.token, body });
    expect(res.status).toBe(200);
    expect(res.body.data.user).toMatchObject({ ...body, location: { lat: 31.23, lng: 121.47 } });
    expect(res.body.data.user.age).toBeGreaterThanOrEqual(25);
    const cleared = await call("PATCH", "/users/me", { token: me.token, body: { location: null, bio: null } });
    expect(cleared.body.data.user).toMatchObject({ location: null, bio: null, nickname: "Nick" });
  });

  it("validates each field", async () => {
    const me = await signup();
    const bad = [
      {},
      { nickname: "" },
      { nickname: "n".repeat(33) },
      { gender: "robot" },
      { birthday: "2001-02-30" },
      { birthday: "3000-01-01" },
      { birthday: "01/02/2000" },
      { bio: "b".repeat(281) },
      { location: { lat: 91, lng: 0 } },
      { location: { lat: 0, lng: -181 } },
      { location: { lat: "x", lng: 0 } },
      { city: 5 },
      { username: "rename" },
      { is_admin: true },
    ];
    for (const body of bad) expectError(await call("PATCH", "/users/me", { token: me.token, body }), 400, "VALIDATION_ERROR");
  });
});

describe("PUT /users/me/status", () => {
  it("sets ONLINE/AWAY/BUSY/OFFLINE with last_seen", async () => {
    const me = await signup();
    for (const status of ["ONLINE", "AWAY", "BUSY", "OFFLINE"]) {
      const res = await call("PUT", "/users/me/status", { token: me.token, body: { status } });
      expect(res.body.data).toMatchObject({ id: me.id, status });
      expect(res.body.data.last_seen).toMatch(/^\d{4}-/);
    }
    expectError(await call("PUT", "/users/me/status", { token: me.token, body: { status: "online" } }), 400, "VALIDATION_ERROR");
    expectError(await call("PUT", "/users/me/status", { body: { status: "AWAY" } }), 401);
  });

  it("hides presence from others when the operator turns it off", async () => {
    const me = await signup();
    const other = await signup();
    await call("PUT", "/users/me/status", { token: other.token, body: { status: "BUSY" } });
    expect((await call("GET", `/users/${other.id}`, { token: me.token })).body.data.user.status).toBe("BUSY");
    await setConfig({ display_online_status: false });
    try {
      expect((await call("GET", `/users/${other.id}`, { token: me.token })).body.data.user.status).toBeNull();
    } finally {
      await setConfig({ display_online_status: true });
    }
  });
});

describe("PUT /users/me/password", () => {
  it("needs the old password and signs out my other sessions", async () => {
    const me = await signup();
    const other = await call("POST", "/auth/login", { body: { username: me.username, password: me.password } });
    expectError(await call("PUT", "/users/me/password", { token: me.token, body: { password: "new-pass-1" } }), 400, "VALIDATION_ERROR");
    expectError(await call("PUT", "/users/me/password", { token: me.token, body: { old_password: "wrong-one", password: "new-pass-1" } }), 403, "FORBIDDEN");
    const res = await call("PUT", "/users/me/password", { token: me.token, body: { old_password: me.password, password: "new-pass-1" } });
    expect(res.status).toBe(200);
    expectError(await call("POST", "/auth/refresh", { body: { refresh_token: other.body.data.refresh_token } }), 401, "REFRESH_TOKEN_INVALID");
    expect((await call("POST", "/auth/refresh", { body: { refresh_token: me.refresh_token } })).status).toBe(200);
    expect((await call("POST", "/auth/login", { body: { username: me.username, password: "new-pass-1" } })).status).toBe(200);
  });
});

describe("GET /users/search", () => {
  it("finds by id, username prefix, nickname, email and phone", async () => {
    const me = await signup();
    const email = `${uniq("s")}@example.com`;
    const phone = `+3361${String(Date.now()).slice(-8)}`;
    const target = await signup({ email, phone, nickname: `Zed${uniq("n")}` });
    const nickname = (await call("GET", "/users/me", { token: target.token })).body.data.user.nickname;
    for (const q of [target.id, target.username.slice(0, 8), nickname.slice(2, 10), email, phone]) {
      const res = await call("GET", `/users/search?q=${encodeURIComponent(q)}`, { token: me.token });
      expect(res.body.data.users.map((u: { id: string }) => u.id)).toContain(target.id);
    }
    expectError(await call("GET", "/users/search?q=", { token: me.token }), 400, "VALIDATION_ERROR");
    expectError(await call("GET", "/users/search", { token: me.token }), 400, "VALIDATION_ERROR");
    // LIKE wildcards are literal
    const wild = await call("GET", "/users/search?q=%25", { token: me.token });
    expect(wild.body.data.users).toEqual([]);
  });

  it("honours the operator's search mode", async () => {
    const me = await signup();
    const email = `${uniq("m")}@example.com`;
    const target = await signup({ email });
    await setConfig({ search_account_mode: "id" });
    try {
      expect((await call("GET", `/users/search?q=${encodeURIComponent(email)}`, { token: me.token })).body.data.users).toEqual([]);
      expect((await call("GET", `/users/search?q=${target.id}`, { token: me.token })).body.data.users).toHaveLength(1);
      await setConfig({ search_account_mode: "none" });
      expect((await call("GET", `/users/search?q=${target.id}`, { token: me.token })).body.data.users).toEqual([]);
    } finally {
      await setConfig({ search_account_mode: "all" });
    }
  });
});

describe("GET /users/nearby", () => {
  it("lists users who share a location within the radius, nearest first", async () => {
    const me = await signup();
    const lat = 48.8566;
    const lng = 2.3522 + Math.random() * 0.001;
    const near = await signup();
    const nearer = await signup();
    const far = await signup();
    const hidden = await signup();
    await call("PATCH", "/users/me", { token: near.token, body: { location: { lat: lat + 0.004, lng } } });
    await call("PATCH", "/users/me", { token: nearer.token, body: { location: { lat: lat + 0.001, lng } } });
    await call("PATCH", "/users/me", { token: far.token, body: { location: { lat: lat + 0.1, lng } } });
    const res = await call("GET", `/users/nearby?lat=${lat}&lng=${lng}&radius_m=1000`, { token: me.token });
    const ids = res.body.data.users.map((u: { id: string }) => u.id);
    expect(ids.indexOf(nearer.id)).toBeGreaterThanOrEqual(0);
    expect(ids.indexOf(nearer.id)).toBeLessThan(ids.indexOf(near.id));
    expect(ids).not.toContain(far.id);
    expect(ids).not.toContain(hidden.id);
    expect(ids).not.toContain(me.id);
    const d = res.body.data.users.find((u: { id: string }) => u.id === nearer.id).distance_m;
    expect(d).toBeGreaterThan(90);
    expect(d).toBeLessThan(130);
    for (const q of ["lat=91&lng=0", "lat=0&lng=200", "lat=0", "lat=0&lng=0&radius_m=0", "lat=a&lng=0"]) {
      expectError(await call("GET", `/users/nearby?${q}`, { token: me.token }), 400, "VALIDATION_ERROR");
    }
  });
});
