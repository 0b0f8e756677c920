import { beforeAll, describe, expect, it } from "vitest";
import { call, connect, expectError, makeConversation, send, signup, type TestUser } from "../helpers";

let root: TestUser;
beforeAll(async () => {
  root = await signup({ username: "root_admin" });
});

const report = (user: TestUser, body: Record<string, unknown>) => call("POST", "/reports", { token: user.token, body });
const resolve = (id: string, body: Record<string, unknown>, token = root.token) => call("POST", `/admin/reports/${id}/resolve`, { token, body });
const history = async (user: TestUser, conv: string) => (await call("GET", `/conversations/${conv}/messages?limit=50`, { token: user.token })).body.data.messages;

describe("reports", () => {
  it("a reported message is snapshotted: a recall afterwards does not erase the evidence", async () => {
    const [a, b] = [await signup(), await signup()];
    const group = await makeConversation(a, [b]);
    const msg = (await send(a, group, { content: "you will regret this" })).body.data;
    const res = await report(b, { target_type: "message", target_id: msg.id, conversation_id: group, reason: "harassment", text: "threat" });
    expect(res.status).toBe(201);
    expect(res.body.data.report).toMatchObject({ target_type: "message", target_id: msg.id, reason: "harassment", status: "open", outcome: null });
    expect((await call("POST", `/conversations/${group}/messages/${msg.id}/recall`, { token: a.token })).status).toBe(200);
    const queue = (await call("GET", "/admin/reports?status=open&target_type=message", { token: root.token })).body.data.reports;
    const mine = queue.find((r: { id: string }) => r.id === res.body.data.report.id);
    expect(mine).toMatchObject({ reporter_id: b.id, target_user_id: a.id, conversation_id: group, snapshot: { id: msg.id, content: "you will regret this", sender: { id: a.id } } });
  });

  it("remove_content hides the message for every member, notifies the reporter, and lands in the audit log", async () => {
    const [a, b, c] = [await signup(), await signup(), await signup()];
    const group = await makeConversation(a, [b, c]);
    const msg = (await send(a, group, { content: "spam spam spam" })).body.data;
    await send(b, group, { content: "unrelated" });
    const live = await connect(`token=${c.token}`);
    await live.next("authenticated");
    const id = (await report(b, { target_type: "message", target_id: msg.id, conversation_id: group, reason: "spam" })).body.data.report.id;

    const done = await resolve(id, { action: "remove_content", note: "obvious spam" });
    expect(done.status).toBe(200);
    expect(done.body.data.report).toMatchObject({ status: "resolved", action: "remove_content", note: "obvious spam", resolved_by: root.id });
    for (const member of [a, b, c]) {
      const seen = (await history(member, group)).find((m: { id: string }) => m.id === msg.id);
      expect(seen).toMatchObject({ deleted: true, content: null });
      expect((await history(member, group)).some((m: { content: string }) => m.content === "unrelated")).toBe(true);
    }
    expect((await live.next((f) => f.data?.type === "message_deleted" && f.data.message_id === msg.id)).data).toMatchObject({ conversation_id: group });
    live.close();

    const mine = (await call("GET", "/reports/mine", { token: b.token })).body.data.reports;
    expect(mine).toEqual([expect.objectContaining({ id, status: "resolved", outcome: "remove_content" })]);
    expect(mine[0]).not.toHaveProperty("note");
    const note = (await call("GET", "/notifications", { token: b.token })).body.data.notifications.find((n: { kind: string }) => n.kind === "report_resolved");
    expect(note.data).toMatchObject({ report_id: id, outcome: "remove_content" });

    const audit = (await call("GET", "/admin/audit?limit=200", { token: root.token })).body.data.entries;
    expect(audit.find((e: { target_id: string }) => e.target_id === id)).toMatchObject({
      actor: { id: root.id, username: "root_admin" },
      action: "POST /admin/reports/{id}/resolve",
      target_type: "rep",
      data: { action: "remove_content", note: "obvious spam" },
    });
    expectError(await resolve(id, { action: "dismiss" }), 409);
  });

  it("mute_user and ban_user act in the group; disable_user disables the account", async () => {
    const [a, b, c] = [await signup(), await signup(), await signup()];
    const group = await makeConversation(a, [b, c]);
    const m1 = (await send(c, group, { content: "first" })).body.data;
    const mute = (await report(b, { target_type: "message", target_id: m1.id, conversation_id: group, reason: "spam" })).body.data.report.id;
    expect((await resolve(mute, { action: "mute_user", mute_minutes: 5 })).status).toBe(200);
    expectError(await send(c, group, { content: "muted?" }), 403);

    const g = (await report(b, { target_type: "group", target_id: group, reason: "other" })).body.data.report.id;
    // a group report names its owner; the owner cannot be banned from their own group
    expectError(await resolve(g, { action: "ban_user" }), 409);
    expect((await resolve(g, { action: "dismiss" })).body.data.report.action).toBe("dismiss");

    const m2 = (await send(b, group, { content: "hello" })).body.data;
    const ban = (await report(c, { target_type: "message", target_id: m2.id, conversation_id: group, reason: "harassment" })).body.data.report.id;
    expect((await resolve(ban, { action: "ban_user" })).status).toBe(200);
    expectError(await send(b, group, { content: "still in?" }), 403);

    const u = (await report(a, { target_type: "user", target_id: c.id, reason: "illegal" })).body.data.report.id;
    expect((await resolve(u, { action: "disable_user" })).status).toBe(200);
    expectError(await call("POST", "/auth/login", { body: { username: c.username, password: c.password } }), 403, "ACCOUNT_DISABLED");
    const another = (await report(a, { target_type: "user", target_id: b.id, reason: "spam" })).body.data.report.id;
    expectError(await resolve(another, { action: "remove_content" }), 400);
    expectError(await resolve(another, { action: "mute_user" }), 400);
  });

  it("moments and comments: reported as seen, removed by remove_content", async () => {
    const [a, b] = [await signup(), await signup()];
    const moment = (await call("POST", "/moments", { token: a.token, body: { text: "public post", visibility: "public" } })).body.data.moment;
    const comment = (await call("POST", `/moments/${moment.id}/comments`, { token: a.token, body: { text: "my comment" } })).body.data.comment;
    const rc = (await report(b, { target_type: "comment", target_id: comment.id, reason: "spam" })).body.data.report;
    expect((await call("GET", "/admin/reports?target_type=comment", { token: root.token })).body.data.reports.find((r: { id: string }) => r.id === rc.id).snapshot).toMatchObject({ text: "my comment" });
    expect((await resolve(rc.id, { action: "remove_content" })).status).toBe(200);
    expect((await call("GET", `/moments/${moment.id}`, { token: b.token })).body.data.moment.comments).toEqual([]);
    const rm = (await report(b, { target_type: "moment", target_id: moment.id, reason: "sexual" })).body.data.report;
    expect((await resolve(rm.id, { action: "remove_content" })).status).toBe(200);
    expectError(await call("GET", `/moments/${moment.id}`, { token: b.token }), 404);
    // a private moment of someone else cannot even be reported (no probing)
    const hidden = (await call("POST", "/moments", { token: a.token, body: { text: "secret", visibility: "private" } })).body.data.moment;
    expectError(await report(b, { target_type: "moment", target_id: hidden.id, reason: "spam" }), 404);
  });

  it("refuses bad reports", async () => {
    const [a, b, outsider] = [await signup(), await signup(), await signup()];
    const group = await makeConversation(a, [b]);
    const msg = (await send(a, group, { content: "members only" })).body.data;
    expectError(await report(outsider, { target_type: "message", target_id: msg.id, conversation_id: group, reason: "spam" }), 403);
    expectError(await report(b, { target_type: "message", target_id: msg.id, reason: "spam" }), 400);
    expectError(await report(b, { target_type: "message", target_id: msg.id, conversation_id: group, reason: "boring" }), 400);
    expectError(await report(b, { target_type: "planet", target_id: msg.id, reason: "spam" }), 400);
    expectError(await report(a, { target_type: "message", target_id: msg.id, conversation_id: group, reason: "spam" }), 400);
    expectError(await report(a, { target_type: "user", target_id: a.id, reason: "spam" }), 400);
    expectError(await report(a, { target_type: "user", target_id: "user_0000000000missing00", reason: "spam" }), 404);
    expectError(await report(b, { target_type: "user", target_id: a.id, reason: "spam", extra: 1 }), 400);
    expectError(await call("POST", "/reports", { body: { target_type: "user", target_id: a.id, reason: "spam" } }), 401);
    expectError(await call("GET", "/reports/mine"), 401);
  });
});

describe("admin routes refuse non-admins", () => {
  it("403 for a signed-in user, 401 without a token", async () => {
    const a = await signup();
    const b = await signup();
    const id = (await report(a, { target_type: "user", target_id: b.id, reason: "spam" })).body.data.report.id;
    expectError(await call("GET", "/admin/reports", { token: a.token }), 403);
    expectError(await resolve(id, { action: "dismiss" }, a.token), 403);
    expectError(await call("GET", "/admin/audit", { token: a.token }), 403);
    expectError(await call("GET", "/admin/audit"), 401);
    expectError(await call("GET", "/admin/reports"), 401);
    expectError(await resolve("rep_0000000000missing00", { action: "dismiss" }), 404);
    expectError(await resolve(id, { action: "nuke" }), 400);
    // nothing a refused caller tried reached the log
    const audit = (await call("GET", "/admin/audit?limit=200", { token: root.token })).body.data.entries;
    expect(audit.some((e: { actor: { id: string } }) => e.actor.id === a.id)).toBe(false);
  });
});

describe("audit log", () => {
  it("records configs, disable/enable, discover links and codes, newest first, by cursor, secrets redacted", async () => {
    const a = await signup();
    await call("PUT", "/admin/configs", { token: root.token, body: { configs: { discover_name: "Explore" } } });
    await call("POST", `/admin/users/${a.id}/disable`, { token: root.token });
    await call("POST", `/admin/users/${a.id}/enable`, { token: root.token });
    const link = (await call("POST", "/admin/discover", { token: root.token, body: { name: "Docs", url: "https://example.com" } })).body.data.link;
    await call("DELETE", `/admin/discover/${link.id}`, { token: root.token });
    expect((await call("POST", "/admin/invite-codes", { token: root.token, body: { max_uses: 1 } })).status).toBeLessThan(300);
    expect((await call("POST", "/admin/activation-codes", { token: root.token, body: { count: 1 } })).status).toBeLessThan(300);
    await call("PUT", "/admin/configs", { token: root.token, body: { configs: { discover_name: "Discover" } } });

    const first = (await call("GET", "/admin/audit?limit=8", { token: root.token })).body.data;
    const actions = first.entries.map((e: { action: string }) => e.action);
    expect(actions).toEqual([
      "PUT /admin/configs",
      "POST /admin/activation-codes",
      "POST /admin/invite-codes",
      "DELETE /admin/discover/{id}",
      "POST /admin/discover",
      "POST /admin/users/{id}/enable",
      "POST /admin/users/{id}/disable",
      "PUT /admin/configs",
    ]);
    expect(first.entries[7]).toMatchObject({ data: { configs: { discover_name: "Explore" } } });
    expect(first.entries[6]).toMatchObject({ target_type: "user", target_id: a.id });
    const next = (await call("GET", `/admin/audit?limit=8&cursor=${first.next_cursor}`, { token: root.token })).body.data.entries;
    expect(next.every((e: { id: string }) => e.id < first.entries[7].id)).toBe(true);
    // a refused admin change (bad config value) is not an action
    expectError(await call("PUT", "/admin/configs", { token: root.token, body: { configs: { chat_rate: -1 } } }), 400);
    expect((await call("GET", "/admin/audit?limit=1", { token: root.token })).body.data.entries[0].id).toBe(first.entries[0].id);
  });
});
