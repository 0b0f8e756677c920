import { env } from "cloudflare:test";
import { SignJWT, UnsecuredJWT } from "jose";
import { describe, expect, it } from "vitest";
import { PBKDF2_ITERATIONS } from "../../src/lib/passwords";
import { call, captchaAnswer, db, expectError, outboxCode, setConfig, signup, testEnv, uniq } from "../helpers";
import { users } from "../../src/db/schema";
import { eq } from "drizzle-orm";

const secret = new TextEncoder().encode(testEnv.JWT_SECRET);

describe("POST /auth/register (seed 001)", () => {
  it("creates the account and answers 201 with token, id, username and never a password", async () => {
    const username = uniq("reg");
    const res = await call("POST", "/auth/register", { body: { username, password: "secret12" } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ success: true, message: "User registered successfully", data: { username } });
    expect(res.body.data.id).toMatch(/^user_/);
    expect(res.body.data.token.split(".")).toHaveLength(3);
    expect(res.body.data.refresh_token).toBeTruthy();
    expect(JSON.stringify(res.body)).not.toMatch(/password/i);
  });

  it("accepts email, phone and nickname", async () => {
    const email = `${uniq("m")}@Example.com`;
    const res = await call("POST", "/auth/register", {
      body: { username: uniq("full"), password: "secret12", email, phone: "+1415555" + String(Date.now()).slice(-4), nickname: "Ann" },
    });
    expect(res.status).toBe(201);
    const me = await call("GET", "/users/me", { token: res.body.data.token });
    expect(me.body.data.user).toMatchObject({ email: email.toLowerCase(), nickname: "Ann", needs_password: false });
  });

  it("answers 409 for a taken username (case-insensitive), email or phone", async () => {
    const email = `${uniq("d")}@example.com`;
    const first = await signup({ email });
    const dup = await call("POST", "/auth/register", { body: { username: first.username.toUpperCase(), password: "secret12" } });
    expectError(dup, 409, "USER_EXISTS");
    expect(dup.body).toMatchObject({ message: "User already exists", error: "Username already taken" });
    expectError(await call("POST", "/auth/register", { body: { username: uniq("x"), password: "secret12", email } }), 409, "USER_EXISTS");
  });

  it("rejects bad input with the envelope", async () => {
    const cases: [unknown, string][] = [
      [{}, "VALIDATION_ERROR"],
      [{ username: "ab", password: "secret12" }, "VALIDATION_ERROR"],
      [{ username: "x".repeat(33), password: "secret12" }, "VALIDATION_ERROR"],
      [{ username: "bad name!", password: "secret12" }, "VALIDATION_ERROR"],
      [{ username: uniq("v"), password: "123" }, "VALIDATION_ERROR"],
      [{ username: uniq("v"), password: "p".repeat(129) }, "VALIDATION_ERROR"],
      [{ username: 12345, password: "secret12" }, "VALIDATION_ERROR"],
      [{ username: uniq("v"), password: "secret12", email: "not-an-email" }, "VALIDATION_ERROR"],
      [{ username: uniq("v"), password: "secret12", phone: "12" }, "VALIDATION_ERROR"],
      [{ username: uniq("v"), password: "secret12", is_admin: true }, "VALIDATION_ERROR"],
    ];
    for (const [body, code] of cases) {
      const res = await call("POST", "/auth/register", { body });
      expectError(res, 400, code);
    }
    const details = await call("POST", "/auth/register", { body: { username: "ab" } });
    expect(Array.isArray(details.body.details)).toBe(true);
    expectError(await call("POST", "/auth/register", { raw: "{not json", headers: { "content-type": "application/json" } }), 400, "MALFORMED_JSON");
    expectError(await call("POST", "/auth/register", { raw: "username=a", headers: { "content-type": "text/plain" } }), 415, "UNSUPPORTED_MEDIA_TYPE");
    expectError(await call("POST", "/auth/register"), 400, "VALIDATION_ERROR");
    expectError(
      await call("POST", "/auth/register", { raw: JSON.stringify({ username: "a".repeat(300_000) }), headers: { "content-type": "application/json" } }),
      413,
      "PAYLOAD_TOO_LARGE",
    );
  });

  it("stores passwords as versioned PBKDF2-SHA256 with at most 100,000 iterations", async () => {
    expect(PBKDF2_ITERATIONS).toBeLessThanOrEqual(100_000);
    const user = await signup();
    const row = await db().select().from(users).where(eq(users.id, user.id)).get();
    const [scheme, iterations, salt, hash] = row!.passwordHash!.split("$");
    expect(scheme).toBe("pbkdf2-sha256");
    expect(Number(iterations)).toBe(100_000);
    expect(salt.length).toBeGreaterThanOrEqual(16);
    expect(hash.length).toBeGreaterThanOrEqual(40);
    const other = await signup({ password: user.password });
    const otherRow = await db().select().from(users).where(eq(users.id, other.id)).get();
    expect(otherRow!.passwordHash).not.toBe(row!.passwordHash);
  });

  it("makes usernames listed in ADMIN_USERNAMES admins", async () => {
    const admin = await signup({ username: "root_admin" });
    const me = await call("GET", "/users/me", { token: admin.token });
    expect(me.body.data.user.is_admin).toBe(true);
    expect((await call("GET", "/admin/configs", { token: admin.token })).status).toBe(200);
    const plain = await signup();
    expectError(await call("GET", "/admin/configs", { token: plain.token }), 403, "FORBIDDEN");
  });
});

describe("POST /auth/login", () => {
  it("signs in by username, email or phone", async () => {
    const email = `${uniq("l")}@example.com`;
    const phone = `+8613${String(Date.now()).slice(-9)}`;
    const user = await signup({ email, phone });
    for (const username of [user.username, user.username.toUpperCase(), email, phone]) {
      const res = await call("POST", "/auth/login", { body: { username, password: user.password } });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ success: true, message: "Login successful", data: { id: user.id, username: user.username } });
    }
  });

  it("answers 401 with seed 001's texts for a wrong password or unknown user", async () => {
    const user = await signup();
    for (const body of [
      { username: user.username, password: "wrong-pass" },
      { username: uniq("ghost"), password: "whatever1" },
    ]) {
      const res = await call("POST", "/auth/login", { body });
      expectError(res, 401, "INVALID_CREDENTIALS");
      expect(res.body).toMatchObject({ message: "Invalid credentials", error: "Username or password is incorrect" });
    }
    expectError(await call("POST", "/auth/login", { body: { username: user.username } }), 400, "VALIDATION_ERROR");
  });
});

describe("tokens", () => {
  it("refuses a missing, malformed, expired, foreign-key, alg:none, wrong-audience or refresh-as-access token", async () => {
    const user = await signup();
    const base = () => new SignJWT({ username: user.username, sid: "fam_x", typ: "access" }).setSubject(user.id).setIssuedAt();
    const expired = await base().setProtectedHeader({ alg: "HS256" }).setIssuer("edge-im").setAudience("edge-im").setExpirationTime(Math.floor(Date.now() / 1000) - 10).sign(secret);
    const foreign = await base().setProtectedHeader({ alg: "HS256" }).setIssuer("edge-im").setAudience("edge-im").setExpirationTime("1h").sign(new TextEncoder().encode("another-key-0123456789abcdef0123456789"));
    const wrongAud = await base().setProtectedHeader({ alg: "HS256" }).setIssuer("edge-im").setAudience("someone-else").setExpirationTime("1h").sign(secret);
    const none = new UnsecuredJWT({ username: user.username, sid: "fam_x", typ: "access" }).setSubject(user.id).setIssuer("edge-im").setAudience("edge-im").setIssuedAt().setExpirationTime("1h").encode();
    expectError(await call("GET", "/users/me"), 401, "UNAUTHORIZED");
    expectError(await call("GET", "/users/me", { headers: { authorization: "Basic abc" } }), 401, "UNAUTHORIZED");
    expectError(await call("GET", "/users/me", { token: "not.a.jwt" }), 401, "UNAUTHORIZED");
    expectError(await call("GET", "/users/me", { token: expired }), 401, "TOKEN_EXPIRED");
    expectError(await call("GET", "/users/me", { token: foreign }), 401, "UNAUTHORIZED");
    expectError(await call("GET", "/users/me", { token: wrongAud }), 401, "UNAUTHORIZED");
    expectError(await call("GET", "/users/me", { token: none }), 401, "UNAUTHORIZED");
    expectError(await call("GET", "/users/me", { token: user.refresh_token }), 401, "UNAUTHORIZED");
    expect((await call("GET", "/users/me", { token: user.token })).status).toBe(200);
  });

  it("access tokens last one hour and carry issuer and audience", async () => {
    const user = await signup();
    const payload = JSON.parse(atob(user.token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    expect(payload.exp - payload.iat).toBe(3600);
    expect(payload).toMatchObject({ iss: "edge-im", aud: "edge-im", sub: user.id });
  });

  it("rotates refresh tokens; reusing a rotated one revokes the whole family", async () => {
    const user = await signup();
    const first = await call("POST", "/auth/refresh", { body: { refresh_token: user.refresh_token } });
    expect(first.status).toBe(200);
    expect(first.body.data.refresh_token).not.toBe(user.refresh_token);
    expect((await call("GET", "/users/me", { token: first.body.data.token })).status).toBe(200);
    // the rotated token no longer works, and presenting it kills the newer one too
    expectError(await call("POST", "/auth/refresh", { body: { refresh_token: user.refresh_token } }), 401, "REFRESH_TOKEN_INVALID");
    expectError(await call("POST", "/auth/refresh", { body: { refresh_token: first.body.data.refresh_token } }), 401, "REFRESH_TOKEN_INVALID");
  });

  it("accepts the refresh token as a bearer header too, and rejects garbage", async () => {
    const user = await signup();
    const res = await call("POST", "/auth/refresh", { token: user.refresh_token });
    expect(res.status).toBe(200);
    expectError(await call("POST", "/auth/refresh", { body: { refresh_token: "nope" } }), 401, "REFRESH_TOKEN_INVALID");
    expectError(await call("POST", "/auth/refresh", { body: {} }), 400, "VALIDATION_ERROR");
  });

  it("logout revokes the session's refresh tokens but not other sessions", async () => {
    const user = await signup();
    const other = await call("POST", "/auth/login", { body: { username: user.username, password: user.password } });
    expectError(await call("POST", "/auth/logout"), 401);
    expect((await call("POST", "/auth/logout", { token: user.token })).status).toBe(200);
    expectError(await call("POST", "/auth/refresh", { body: { refresh_token: user.refresh_token } }), 401, "REFRESH_TOKEN_INVALID");
    expect((await call("POST", "/auth/refresh", { body: { refresh_token: other.body.data.refresh_token } })).status).toBe(200);
  });
});

describe("verification codes", () => {
  it("code login creates the account on first use and reports needs_password", async () => {
    const to = `${uniq("c")}@example.com`;
    const sent = await call("POST", "/auth/codes", { body: { channel: "email", to, purpose: "login" } });
    expect(sent.status).toBe(200);
    expect(sent.body.data).toMatchObject({ channel: "email", to, expires_in: 600 });
    const code = await outboxCode(to);
    expect(code).toMatch(/^\d{6}$/);
    const login = await call("POST", "/auth/login/code", { body: { channel: "email", to, code } });
    expect(login.status).toBe(200);
    expect(login.body.data).toMatchObject({ needs_password: true, created: true });
    // single use
    expectError(await call("POST", "/auth/login/code", { body: { channel: "email", to, code } }), 400, "CODE_INVALID");
    // set a password without an old one, then log in with it
    const set = await call("PUT", "/users/me/password", { token: login.body.data.token, body: { password: "brand-new-1" } });
    expect(set.status).toBe(200);
    expect((await call("POST", "/auth/login", { body: { username: to, password: "brand-new-1" } })).status).toBe(200);
  });

  it("signs in an existing phone account without creating another", async () => {
    const phone = `+4915${String(Date.now()).slice(-8)}`;
    const user = await signup({ phone });
    await call("POST", "/auth/codes", { body: { channel: "sms", to: phone, purpose: "login" } });
    const res = await call("POST", "/auth/login/code", { body: { channel: "sms", to: phone, code: await outboxCode(phone) } });
    expect(res.body.data).toMatchObject({ id: user.id, needs_password: false, created: false });
  });

  it("limits sends per address and wrong guesses per code", async () => {
    const to = `${uniq("r")}@example.com`;
    expect((await call("POST", "/auth/codes", { body: { channel: "email", to, purpose: "login" } })).status).toBe(200);
    const again = await call("POST", "/auth/codes", { body: { channel: "email", to, purpose: "login" } });
    expectError(again, 429, "RATE_LIMITED");
    expect(Number(again.headers.get("retry-after"))).toBeGreaterThan(0);
    const code = await outboxCode(to);
    const wrong = code === "000000" ? "111111" : "000000";
    for (let i = 0; i < 5; i++) expectError(await call("POST", "/auth/login/code", { body: { channel: "email", to, code: wrong } }), 400, "CODE_INVALID");
    // after 5 wrong guesses even the right code is refused
    expectError(await call("POST", "/auth/login/code", { body: { channel: "email", to, code } }), 400, "CODE_INVALID");
  });

  it("limits sends per client address", async () => {
    const ip = "10.200.0.1";
    let last;
    for (let i = 0; i < 31; i++) {
      last = await call("POST", "/auth/codes", { ip, body: { channel: "email", to: `${uniq("ip")}@example.com`, purpose: "login" } });
    }
    expectError(last!, 429, "RATE_LIMITED");
  });

  it("validates channel, address and code shape", async () => {
    expectError(await call("POST", "/auth/codes", { body: { channel: "email", to: "nope", purpose: "login" } }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", "/auth/codes", { body: { channel: "sms", to: "abc", purpose: "login" } }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", "/auth/codes", { body: { channel: "fax", to: "a@b.co", purpose: "login" } }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", "/auth/codes", { body: { channel: "email", to: "a@b.co", purpose: "steal" } }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", "/auth/login/code", { body: { channel: "email", to: "a@b.co", code: "12ab56" } }), 400, "VALIDATION_ERROR");
  });

  it("resets a password by code and signs out every session", async () => {
    const email = `${uniq("p")}@example.com`;
    const user = await signup({ email });
    const sent = await call("POST", "/auth/codes", { body: { channel: "email", to: email, purpose: "reset" } });
    expect(sent.status).toBe(200);
    const res = await call("POST", "/auth/password/reset", { body: { channel: "email", to: email, code: await outboxCode(email), password: "reset-pass-9" } });
    expect(res.status).toBe(200);
    expectError(await call("POST", "/auth/login", { body: { username: user.username, password: user.password } }), 401);
    expect((await call("POST", "/auth/login", { body: { username: user.username, password: "reset-pass-9" } })).status).toBe(200);
    expectError(await call("POST", "/auth/refresh", { body: { refresh_token: user.refresh_token } }), 401, "REFRESH_TOKEN_INVALID");
  });

  it("does not reveal whether a reset address has an account", async () => {
    const to = `${uniq("none")}@example.com`;
    const res = await call("POST", "/auth/codes", { body: { channel: "email", to, purpose: "reset" } });
    expect(res.status).toBe(200);
    const box = await call("GET", `/dev/outbox?to=${encodeURIComponent(to)}`);
    expect(box.body.data.messages).toEqual([]);
    expectError(await call("POST", "/auth/password/reset", { body: { channel: "email", to, code: "123456", password: "whatever1" } }), 400, "CODE_INVALID");
  });
});

describe("captcha and failed-login throttling", () => {
  it("serves a single-use SVG captcha", async () => {
    const res = await call("GET", "/auth/captcha");
    expect(res.status).toBe(200);
    expect(res.body.data.image).toMatch(/^data:image\/svg\+xml;base64,/);
    const svg = atob(res.body.data.image.split(",")[1]);
    const answer = await captchaAnswer(res.body.data.captcha_key);
    expect(svg).toContain("<svg");
    expect(svg).not.toContain(answer);
  });

  it("requires a captcha after N failures, then throttles with 429 + Retry-After", async () => {
    const user = await signup();
    const ip = "10.201.0.1";
    await setConfig({ login_fail_limit: 3 });
    try {
      for (let i = 0; i < 3; i++) expectError(await call("POST", "/auth/login", { ip, body: { username: user.username, password: "bad-pass" } }), 401);
      const needs = await call("POST", "/auth/login", { ip, body: { username: user.username, password: user.password } });
      expectError(needs, 400, "CAPTCHA_REQUIRED");
      const cap = (await call("GET", "/auth/captcha")).body.data;
      expectError(await call("POST", "/auth/login", { ip, body: { username: user.username, password: user.password, captcha_key: cap.captcha_key, captcha: "WRONG" } }), 400, "CAPTCHA_INVALID");
      // the captcha was consumed by the wrong try
      const answer = await captchaAnswer(cap.captcha_key);
      expectError(await call("POST", "/auth/login", { ip, body: { username: user.username, password: user.password, captcha_key: cap.captcha_key, captcha: answer } }), 400, "CAPTCHA_INVALID");
      const cap2 = (await call("GET", "/auth/captcha")).body.data;
      const good = await call("POST", "/auth/login", {
        ip,
        body: { username: user.username, password: user.password, captcha_key: cap2.captcha_key, captcha: (await captchaAnswer(cap2.captcha_key)).toLowerCase() },
      });
      expect(good.status).toBe(200);

      const victim = await signup();
      for (let i = 0; i < 3; i++) expectError(await call("POST", "/auth/login", { body: { username: victim.username, password: "bad-pass" } }), 401);
      for (let i = 0; i < 3; i++) {
        const c = (await call("GET", "/auth/captcha")).body.data;
        const a = await captchaAnswer(c.captcha_key);
        expectError(await call("POST", "/auth/login", { body: { username: victim.username, password: "bad-pass", captcha_key: c.captcha_key, captcha: a } }), 401);
      }
      const locked = await call("POST", "/auth/login", { body: { username: victim.username, password: victim.password } });
      expectError(locked, 429, "RATE_LIMITED");
      expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
    } finally {
      await setConfig({ login_fail_limit: 5 });
    }
  });

  it("requires a captcha on every login when login_captcha is on", async () => {
    const user = await signup();
    await setConfig({ login_captcha: true });
    try {
      expectError(await call("POST", "/auth/login", { body: { username: user.username, password: user.password } }), 400, "CAPTCHA_REQUIRED");
      const c = (await call("GET", "/auth/captcha")).body.data;
      const res = await call("POST", "/auth/login", { body: { username: user.username, password: user.password, captcha_key: c.captcha_key, captcha: await captchaAnswer(c.captcha_key) } });
      expect(res.status).toBe(200);
    } finally {
      await setConfig({ login_captcha: false });
    }
  });
});

describe("registration rules", () => {
  it("invite-only registration consumes invite codes", async () => {
    const admin = (await call("POST", "/auth/login", { body: { username: "root_admin", password: "pass-word-1" } })).body.data ?? (await signup({ username: "root_admin" }));
    const invite = await call("POST", "/admin/invite-codes", { token: admin.token, body: { max_uses: 1 } });
    expect(invite.status).toBe(201);
    await setConfig({ register_invite: true });
    try {
      expectError(await call("POST", "/auth/register", { body: { username: uniq("i"), password: "secret12" } }), 403, "REGISTRATION_CLOSED");
      expectError(await call("POST", "/auth/register", { body: { username: uniq("i"), password: "secret12", invite_code: "NOPE" } }), 400);
      const ok = await call("POST", "/auth/register", { body: { username: uniq("i"), password: "secret12", invite_code: invite.body.data.code } });
      expect(ok.status).toBe(201);
      expectError(await call("POST", "/auth/register", { body: { username: uniq("i"), password: "secret12", invite_code: invite.body.data.code } }), 400);
    } finally {
      await setConfig({ register_invite: false });
    }
  });

  it("limits registrations per client address", async () => {
    await setConfig({ ip_register_rate: 2 });
    const ip = "10.202.0.1";
    try {
      for (let i = 0; i < 2; i++) expect((await call("POST", "/auth/register", { ip, body: { username: uniq("ipr"), password: "secret12" } })).status).toBe(201);
      const res = await call("POST", "/auth/register", { ip, body: { username: uniq("ipr"), password: "secret12" } });
      expectError(res, 429, "RATE_LIMITED");
      expect(res.headers.get("retry-after")).toBeTruthy();
    } finally {
      await setConfig({ ip_register_rate: 0 });
    }
  });

  it("refuses to serve in production with a dev or missing secret", async () => {
    const { default: app } = await import("../../src/index");
    const res = await app.fetch(new Request("http://x/api/v1/users/me", { headers: { authorization: "Bearer a.b.c" } }), { ...env, ENVIRONMENT: "production", JWT_SECRET: "dev-only-secret-change-me-0123456789abcdef" }, { waitUntil() {}, passThroughOnException() {} } as unknown as ExecutionContext);
    expect(res.status).toBe(500);
    expect((await res.json<{ code: string }>()).code).toBe("MISCONFIGURED");
  });
});
