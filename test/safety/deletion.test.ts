import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { accountJobs, conversations, files, members, users } from "../../src/db/schema";
import { call, connect, db, expectError, makeConversation, openDm, outboxCode, send, setConfig, signup, testEnv, uniq, type TestUser } from "../helpers";

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 1, 2, 3, 4]);

async function upload(user: TestUser, bytes: Uint8Array, purpose = "message", name = "a.bin", type = "application/octet-stream") {
  const form = new FormData();
  form.append("file", new File([bytes], name, { type }));
  form.append("purpose", purpose);
  const res = await call("POST", "/files", { token: user.token, raw: form });
  if (res.status !== 201) throw new Error(`upload failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data.file as { id: string };
}

/** Waits for the account job to finish (polling D1; the job runs by alarm in the background). */
export async function jobDone(id: string, ms = 60_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const job = await db().select().from(accountJobs).where(eq(accountJobs.id, id)).get();
    if (job?.state === "done") return job;
    if (job?.state === "failed" || Date.now() > deadline) throw new Error(`job ${id} did not finish: ${JSON.stringify(job)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const deleteMe = (user: TestUser, body?: unknown) => call("DELETE", "/users/me", { token: user.token, body });
const later = (ms: number) => new Date(Date.now() - ms).toISOString();

let root: TestUser;
beforeAll(async () => {
  root = await signup({ username: "root_admin" });
});

describe("DELETE /users/me", () => {
  it("is refused without re-authentication", async () => {
    const a = await signup();
    expectError(await call("DELETE", "/users/me", { token: a.token }), 400);
    expectError(await deleteMe(a, {}), 400);
    expectError(await deleteMe(a, { password: "wrong-password" }), 403);
    expectError(await deleteMe(a, { channel: "email", to: "x@example.com", code: "123456" }), 400);
    expectError(await call("DELETE", "/users/me", { body: { password: a.password } }), 401);
    expectError(await deleteMe(root, { password: root.password }), 403);
    // nothing happened
    expect((await call("GET", "/users/me", { token: a.token })).status).toBe(200);
    expect((await call("POST", "/auth/login", { body: { username: a.username, password: a.password } })).status).toBe(200);
  });

  it("disables at once, then erases everything; peers see 'Deleted account'; ownership passes on; the username is free", async () => {
    const [a, b, c, d] = [await signup(), await signup(), await signup(), await signup()];
    // b joined first as a member, c later as an admin: the admin inherits
    const owned = await makeConversation(a, [b, c], { roles: { [c.id]: "admin" } });
    await db().update(members).set({ joinedAt: later(60_000) }).where(eq(members.userId, b.id));
    const alone = await makeConversation(a, []);
    const memberOf = await makeConversation(d, [a, b]);
    const dm = await openDm(a, b);
    const file = await upload(a, new Uint8Array([1, 2, 3, 4, 5]));
    expect((await send(a, dm, { type: "file", attachments: [file.id] })).status).toBe(201);
    expect((await send(a, dm, { content: "hello from a" })).status).toBe(201);
    expect((await send(a, memberOf, { content: "in d's group" })).status).toBe(201);
    expect((await send(b, dm, { content: "hi a" })).status).toBe(201);
    await call("POST", "/friends/requests", { token: a.token, body: { user_id: b.id } });
    await call("POST", "/notes", { token: a.token, body: { text: "my note", color: "#ffcc00" } });
    const bMoment = (await call("POST", "/moments", { token: b.token, body: { text: "b's", visibility: "public" } })).body.data.moment;
    await call("POST", `/moments/${bMoment.id}/like`, { token: a.token });
    await call("POST", `/moments/${bMoment.id}/comments`, { token: a.token, body: { text: "nice" } });
    const socket = await connect(`token=${a.token}`);
    await socket.next("authenticated");
    const key = (await db().select().from(files).where(eq(files.id, file.id)).get())!.r2Key;
    expect(await testEnv.FILES.head(key)).not.toBeNull();

    const res = await deleteMe(a, { password: a.password });
    expect(res.status).toBe(202);
    expect(res.body.data.job).toMatchObject({ kind: "delete", state: expect.stringMatching(/pending|running|done/) });
    // at once: socket closed, login refused, refresh refused
    expect((await socket.closed).code).toBeGreaterThanOrEqual(4000);
    expectError(await call("POST", "/auth/login", { body: { username: a.username, password: a.password } }), 403, "ACCOUNT_DISABLED");
    expectError(await call("POST", "/auth/refresh", { body: { refresh_token: a.refresh_token } }), 401);
    // asking again returns the same job
    expect((await deleteMe(a, { password: a.password })).body.data.job.id).toBe(res.body.data.job.id);

    const job = await jobDone(res.body.data.job.id);
    expect(job.progress).toBe(1);
    expectError(await call("POST", "/auth/login", { body: { username: a.username, password: a.password } }), 401, "INVALID_CREDENTIALS");
    expect(await db().select().from(users).where(eq(users.id, a.id)).get()).toBeUndefined();
    // files: gone from D1 and R2
    expectError(await call("GET", `/files/${file.id}`, { token: b.token }), 404);
    expect(await testEnv.FILES.head(key)).toBeNull();
    // the peer's view of the DM: a's messages stay, attributed to "Deleted account"
    const dmHistory = (await call("GET", `/conversations/${dm}/messages?limit=50`, { token: b.token })).body.data.messages;
    const fromA = dmHistory.filter((m: { sender: { id: string } }) => m.sender.id === a.id);
    expect(fromA.map((m: { content: string | null }) => m.content)).toContain("hello from a");
    expect(fromA.every((m: { sender: { username: string } }) => m.sender.username === "Deleted account")).toBe(true);
    expect(dmHistory.find((m: { content: string }) => m.content === "hi a").sender.username).toBe(b.username);
    const inD = (await call("GET", `/conversations/${memberOf}/messages`, { token: d.token })).body.data.messages;
    expect(inD[0].sender.username).toBe("Deleted account");
    // ownership: the longest-serving admin (c), not the longest-serving member (b); the empty group is dissolved
    const g = await db().select().from(conversations).where(eq(conversations.id, owned)).get();
    expect(g!.ownerId).toBe(c.id);
    expect((await db().select().from(members).where(eq(members.conversationId, owned))).map((m) => [m.userId, m.role]).sort()).toEqual(
      [[b.id, "member"], [c.id, "owner"]].sort(),
    );
    expect((await db().select().from(conversations).where(eq(conversations.id, alone)).get())!.dissolvedAt).not.toBeNull();
    expect((await call("GET", `/groups/${memberOf}/members`, { token: d.token })).body.data.members.map((m: { user: { id: string } } & { user_id?: string }) => m.user?.id ?? m.user_id)).not.toContain(a.id);
    // social graph: the request, the like and the comment are gone, counts follow
    expect((await call("GET", "/friends/requests?direction=incoming", { token: b.token })).body.data.requests).toEqual([]);
    expect((await call("GET", `/moments/${bMoment.id}`, { token: b.token })).body.data.moment).toMatchObject({ like_count: 0, comment_count: 0 });
    // the username (and address) is free again
    expect((await call("POST", "/auth/register", { body: { username: a.username, password: "another-pass-1" } })).status).toBe(201);
  });

  it("erases messages instead when the operator says so", async () => {
    await setConfig({ deleted_account_messages: "erase" });
    try {
      const [a, b] = [await signup(), await signup()];
      const dm = await openDm(a, b);
      await send(a, dm, { content: "erase me" });
      await send(b, dm, { content: "stay" });
      const job = await jobDone((await deleteMe(a, { password: a.password })).body.data.job.id);
      expect(job.state).toBe("done");
      const history = (await call("GET", `/conversations/${dm}/messages`, { token: b.token })).body.data.messages;
      expect(history.map((m: { seq: number }) => m.seq)).toEqual([1, 2]);
      expect(history[0]).toMatchObject({ deleted: true, content: null, sender: { username: "Deleted account" } });
      expect(history[1]).toMatchObject({ content: "stay" });
    } finally {
      await setConfig({ deleted_account_messages: "keep" });
    }
  });

  it("keeps the username taken for the operator's grace period, with nothing else left", async () => {
    await setConfig({ deleted_username_grace_days: 7 });
    try {
      const a = await signup({ email: `${uniq("g")}@example.com` });
      const job = await jobDone((await deleteMe(a, { password: a.password })).body.data.job.id);
      expect(job.data.free_at).toBeTruthy();
      expectError(await call("POST", "/auth/register", { body: { username: a.username, password: "another-pass-1" } }), 409);
      const row = await db().select().from(users).where(eq(users.id, a.id)).get();
      expect(row).toMatchObject({ email: null, passwordHash: null, nickname: null });
    } finally {
      await setConfig({ deleted_username_grace_days: 0 });
    }
  });

  it("a code-only account confirms with a fresh code sent to its own address", async () => {
    const email = `${uniq("c")}@example.com`;
    const a = await signup({ email });
    // an account made by code login has no password
    await db().update(users).set({ passwordHash: null }).where(eq(users.id, a.id));
    expect((await call("POST", "/auth/codes", { body: { channel: "email", to: email, purpose: "login" } })).status).toBe(200);
    const code = await outboxCode(email);
    expectError(await deleteMe(a, { password: "anything" }), 403);
    expectError(await deleteMe(a, { channel: "email", to: email, code: code === "000000" ? "000001" : "000000" }), 400, "CODE_INVALID");
    expectError(await deleteMe(a, { channel: "email", to: "someone-else@example.com", code }), 403);
    const res = await deleteMe(a, { channel: "email", to: email, code });
    expect(res.status).toBe(202);
    await jobDone(res.body.data.job.id);
    expect(await db().select().from(users).where(eq(users.id, a.id)).get()).toBeUndefined();
  });
});
