import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { activationCodes } from "../../src/db/schema";
import { call, db, expectError, setConfig, signup, type TestUser } from "../helpers";
import { kindsFor } from "../group-helpers";

let root: TestUser;
beforeAll(async () => {
  root = await signup({ username: "root_admin" });
});

async function issueCode() {
  const res = await call("POST", "/admin/activation-codes", { token: root.token, body: {} });
  expect(res.status).toBe(201);
  return res.body.data.activation_codes[0].code as string;
}

async function createWorkspace(owner: TestUser, support: TestUser = owner) {
  const res = await call("POST", "/workspaces", {
    token: owner.token,
    body: { activation_code: await issueCode(), name: "Blue's page", icon: "https://img.example/icon.png", support_user_id: support.id },
  });
  expect(res.status).toBe(201);
  return res.body.data.workspace as { id: string; owner_id: string };
}

const UNKNOWN_WS = "ws_0000000000zzzzzzzzzz";

describe("admin activation codes", () => {
  it("administrators issue and list single-use codes", async () => {
    const res = await call("POST", "/admin/activation-codes", { token: root.token, body: { count: 3 } });
    expect(res.status).toBe(201);
    expect(res.body.message).toBe("Activation codes created");
    const codes = res.body.data.activation_codes;
    expect(codes).toHaveLength(3);
    expect(new Set(codes.map((c: { code: string }) => c.code)).size).toBe(3);
    expect(codes[0]).toMatchObject({ used: false, used_by: null, used_at: null, workspace_id: null, created_by: root.id });
    const list = await call("GET", "/admin/activation-codes?status=unused", { token: root.token });
    expect(list.status).toBe(200);
    const listed = list.body.data.activation_codes.map((c: { code: string }) => c.code);
    for (const c of codes) expect(listed).toContain(c.code);
    const one = await call("POST", "/admin/activation-codes", { token: root.token, body: {} });
    expect(one.body.data.activation_codes).toHaveLength(1);
  });

  it("others get 403, no token 401, bad input 400", async () => {
    const user = await signup();
    expectError(await call("POST", "/admin/activation-codes", { token: user.token, body: {} }), 403, "FORBIDDEN");
    expectError(await call("GET", "/admin/activation-codes", { token: user.token }), 403, "FORBIDDEN");
    expectError(await call("GET", "/admin/activation-codes"), 401, "UNAUTHORIZED");
    for (const body of [{ count: 0 }, { count: 101 }, { count: "2" }, { count: 1, prefix: "x" }]) {
      expectError(await call("POST", "/admin/activation-codes", { token: root.token, body }), 400, "VALIDATION_ERROR");
    }
    expectError(await call("GET", "/admin/activation-codes?status=spent", { token: root.token }), 400, "VALIDATION_ERROR");
  });
});

describe("POST /workspaces", () => {
  it("creates a workspace with an unused code; the code is spent and I own the workspace", async () => {
    const owner = await signup();
    const support = await signup();
    const code = await issueCode();
    const res = await call("POST", "/workspaces", {
      token: owner.token,
      body: { activation_code: code.toLowerCase(), name: "Blue's page", icon: "https://img.example/icon.png", support_user_id: support.id },
    });
    expect(res.status).toBe(201);
    expect(res.body.message).toBe("Workspace created");
    const ws = res.body.data.workspace;
    expect(ws.id).toMatch(/^ws_/);
    expect(ws).toMatchObject({
      name: "Blue's page",
      icon: "https://img.example/icon.png",
      owner_id: owner.id,
      support_user: { id: support.id, username: support.username },
      member_count: 1,
      joined: true,
      my_role: "owner",
    });
    const [row] = await db().select().from(activationCodes).where(eq(activationCodes.code, code));
    expect(row).toMatchObject({ usedBy: owner.id, workspaceId: ws.id });
    const used = await call("GET", "/admin/activation-codes?status=used", { token: root.token });
    expect(used.body.data.activation_codes.find((c: { code: string }) => c.code === code)).toMatchObject({ used: true, used_by: owner.id, workspace_id: ws.id });
  });

  it("a code works once (409), an unknown code is a 400, an unknown support user a 404 that keeps the code", async () => {
    const owner = await signup();
    const code = await issueCode();
    const body = { activation_code: code, name: "one", icon: "i.png", support_user_id: owner.id };
    expect((await call("POST", "/workspaces", { token: owner.token, body })).status).toBe(201);
    const other = await signup();
    expectError(await call("POST", "/workspaces", { token: other.token, body: { ...body, support_user_id: other.id } }), 409, "CONFLICT");
    expectError(await call("POST", "/workspaces", { token: owner.token, body: { ...body, activation_code: "NOSUCHCODE" } }), 400, "BAD_REQUEST");
    const fresh = await issueCode();
    expectError(
      await call("POST", "/workspaces", { token: owner.token, body: { ...body, activation_code: fresh, support_user_id: "user_0000000000zzzzzzzzzz" } }),
      404,
      "NOT_FOUND",
    );
    expect((await call("POST", "/workspaces", { token: owner.token, body: { ...body, activation_code: fresh } })).status).toBe(201);
  });

  it("two requests racing for one code: exactly one workspace", async () => {
    const [a, b] = await Promise.all([signup(), signup()]);
    const code = await issueCode();
    const results = await Promise.all(
      [a, b].map((u) => call("POST", "/workspaces", { token: u.token, body: { activation_code: code, name: "race", icon: "i", support_user_id: u.id } })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
  });

  it("validates the body", async () => {
    const user = await signup();
    const good = { activation_code: "ABC", name: "n", icon: "i", support_user_id: user.id };
    for (const body of [
      {},
      { ...good, activation_code: "" },
      { ...good, name: "" },
      { ...good, icon: undefined },
      { ...good, support_user_id: "bob" },
      { ...good, owner_id: user.id },
    ]) {
      expectError(await call("POST", "/workspaces", { token: user.token, body }), 400, "VALIDATION_ERROR");
    }
    expectError(await call("POST", "/workspaces", { body: good }), 401, "UNAUTHORIZED");
  });
});

describe("joining and listing workspaces", () => {
  it("anyone signed in sees a workspace; joining adds me, notifies the owner, and is a 409 the second time", async () => {
    const owner = await signup();
    const ws = await createWorkspace(owner);
    const visitor = await signup();
    const seen = await call("GET", `/workspaces/${ws.id}`, { token: visitor.token });
    expect(seen.status).toBe(200);
    expect(seen.body.data.workspace).toMatchObject({ id: ws.id, joined: false, my_role: null, member_count: 1 });
    const res = await call("POST", `/workspaces/${ws.id}/join`, { token: visitor.token });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ workspace_id: ws.id, user_id: visitor.id });
    expect((await call("GET", `/workspaces/${ws.id}`, { token: visitor.token })).body.data.workspace).toMatchObject({
      joined: true,
      my_role: "member",
      member_count: 2,
    });
    expect(await kindsFor(owner.id, ws.id)).toEqual(["workspace_joined"]);
    expectError(await call("POST", `/workspaces/${ws.id}/join`, { token: visitor.token }), 409, "CONFLICT");
    expectError(await call("POST", `/workspaces/${ws.id}/join`, { token: owner.token }), 409, "CONFLICT");
  });

  it("GET /workspaces lists mine, owned and joined", async () => {
    const me = await signup();
    const other = await signup();
    const owned = await createWorkspace(me);
    const joined = await createWorkspace(other);
    await createWorkspace(other);
    await call("POST", `/workspaces/${joined.id}/join`, { token: me.token });
    const res = await call("GET", "/workspaces", { token: me.token });
    expect(res.status).toBe(200);
    expect(res.body.data.total).toBe(2);
    expect(res.body.data.workspaces.map((w: { id: string; my_role: string }) => [w.id, w.my_role])).toEqual([
      [joined.id, "member"],
      [owned.id, "owner"],
    ]);
  });

  it("404 for unknown workspaces, 400 for malformed ids", async () => {
    const user = await signup();
    expectError(await call("GET", `/workspaces/${UNKNOWN_WS}`, { token: user.token }), 404, "NOT_FOUND");
    expectError(await call("POST", `/workspaces/${UNKNOWN_WS}/join`, { token: user.token }), 404, "NOT_FOUND");
    expectError(await call("GET", `/workspaces/${UNKNOWN_WS}/groups`, { token: user.token }), 404, "NOT_FOUND");
    expectError(await call("POST", `/workspaces/${UNKNOWN_WS}/groups`, { token: user.token, body: { name: "g" } }), 404, "NOT_FOUND");
    expectError(await call("GET", "/workspaces/grp_0000000000zzzzzzzzzz", { token: user.token }), 400, "VALIDATION_ERROR");
  });
});

describe("groups inside a workspace (003)", () => {
  it("only the owner creates groups; members see them with joined/state 0 or 1", async () => {
    const owner = await signup();
    const ws = await createWorkspace(owner);
    const member = await signup();
    const outsider = await signup();
    await call("POST", `/workspaces/${ws.id}/join`, { token: member.token });

    const created = await call("POST", `/workspaces/${ws.id}/groups`, { token: owner.token, body: { name: "Little black's world", avatar: "i.png" } });
    expect(created.status).toBe(201);
    const group = created.body.data.group;
    expect(group).toMatchObject({ workspace_id: ws.id, owner_id: owner.id, my_role: "owner", member_count: 1 });
    const second = (await call("POST", `/workspaces/${ws.id}/groups`, { token: owner.token, body: { name: "World 2" } })).body.data.group;

    expectError(await call("POST", `/workspaces/${ws.id}/groups`, { token: member.token, body: { name: "mine" } }), 403, "FORBIDDEN");
    expectError(await call("POST", `/workspaces/${ws.id}/groups`, { token: outsider.token, body: { name: "mine" } }), 403, "FORBIDDEN");

    const before = await call("GET", `/workspaces/${ws.id}/groups`, { token: member.token });
    expect(before.status).toBe(200);
    expect(before.body.data.total).toBe(2);
    expect(before.body.data.groups.map((g: { id: string; joined: boolean; state: number }) => [g.id, g.joined, g.state])).toEqual([
      [group.id, false, 0],
      [second.id, false, 0],
    ]);
    expect((await call("POST", `/groups/${group.id}/join`, { token: member.token })).status).toBe(200);
    const after = await call("GET", `/workspaces/${ws.id}/groups`, { token: member.token });
    expect(after.body.data.groups.map((g: { joined: boolean; state: number; my_role: string | null }) => [g.joined, g.state, g.my_role])).toEqual([
      [true, 1, "member"],
      [false, 0, null],
    ]);
    const ownerView = await call("GET", `/workspaces/${ws.id}/groups`, { token: owner.token });
    expect(ownerView.body.data.groups.every((g: { state: number }) => g.state === 1)).toBe(true);

    expectError(await call("GET", `/workspaces/${ws.id}/groups`, { token: outsider.token }), 403, "FORBIDDEN");
    expectError(await call("POST", `/groups/${second.id}/join`, { token: outsider.token }), 403, "FORBIDDEN");
  });

  it("seed 003's {name, icon}: the icon (an https URL) is stored beside the avatar and listed with each user's joined state", async () => {
    const owner = await signup();
    const ws = await createWorkspace(owner);
    const member = await signup();
    const other = await signup();
    for (const u of [member, other]) await call("POST", `/workspaces/${ws.id}/join`, { token: u.token });
    const icon = "https://www.somode.com/uploadimg/image/20230129/20230129150835_59024.jpg";
    const created = await call("POST", `/workspaces/${ws.id}/groups`, { token: owner.token, body: { name: "小黑子的世界", icon } });
    expect(created.status).toBe(201);
    expect(created.body.data.group).toMatchObject({ name: "小黑子的世界", icon, avatar: null, workspace_id: ws.id });
    const group = created.body.data.group;
    const both = (await call("POST", `/workspaces/${ws.id}/groups`, { token: owner.token, body: { name: "World 2", icon, avatar: "file_x" } })).body.data.group;
    expect(both).toMatchObject({ icon, avatar: "file_x" });
    await call("POST", `/groups/${group.id}/join`, { token: member.token });

    const seen = async (token: string) =>
      (await call("GET", `/workspaces/${ws.id}/groups`, { token })).body.data.groups.map((g: { id: string; name: string; icon: string; state: number; joined: boolean }) => [g.id, g.name, g.icon, g.state, g.joined]);
    expect(await seen(member.token)).toEqual([
      [group.id, "小黑子的世界", icon, 1, true],
      [both.id, "World 2", icon, 0, false],
    ]);
    expect(await seen(other.token)).toEqual([
      [group.id, "小黑子的世界", icon, 0, false],
      [both.id, "World 2", icon, 0, false],
    ]);
    expect(await seen(owner.token)).toEqual([
      [group.id, "小黑子的世界", icon, 1, true],
      [both.id, "World 2", icon, 1, true],
    ]);
    // the group itself shows it too, and its owner may change or clear it
    expect((await call("GET", `/groups/${group.id}`, { token: member.token })).body.data.group).toMatchObject({ icon });
    const changed = await call("PATCH", `/groups/${group.id}`, { token: owner.token, body: { icon: "https://img.example/new.png" } });
    expect(changed.status).toBe(200);
    expect(changed.body.data.group).toMatchObject({ icon: "https://img.example/new.png" });
    expect((await call("PATCH", `/groups/${group.id}`, { token: owner.token, body: { icon: null } })).body.data.group).toMatchObject({ icon: null });
    expectError(await call("PATCH", `/groups/${group.id}`, { token: member.token, body: { icon } }), 403, "FORBIDDEN");
    // only https URLs
    for (const bad of ["http://img.example/i.png", "javascript:alert(1)", "icon.png", "https://user:pw@img.example/i.png", "", 5]) {
      expectError(await call("POST", `/workspaces/${ws.id}/groups`, { token: owner.token, body: { name: "bad", icon: bad } }), 400, "VALIDATION_ERROR");
    }
    expectError(await call("POST", `/workspaces/${ws.id}/groups`, { token: member.token, body: { name: "mine", icon } }), 403, "FORBIDDEN");
    expectError(await call("POST", `/workspaces/${ws.id}/groups`, { body: { name: "anon", icon } }), 401, "UNAUTHORIZED");
  });

  it("dissolved groups leave the workspace list; bad group bodies are 400", async () => {
    const owner = await signup();
    const ws = await createWorkspace(owner);
    const g = (await call("POST", `/workspaces/${ws.id}/groups`, { token: owner.token, body: { name: "short-lived" } })).body.data.group;
    await call("DELETE", `/groups/${g.id}`, { token: owner.token });
    expect((await call("GET", `/workspaces/${ws.id}/groups`, { token: owner.token })).body.data.groups).toEqual([]);
    expectError(await call("POST", `/workspaces/${ws.id}/groups`, { token: owner.token, body: {} }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", `/workspaces/${ws.id}/groups`, { token: owner.token, body: { name: "x", merchant: ws.id } }), 400, "VALIDATION_ERROR");
  });

  it("the workspace owner may create groups even when create_chatgroup is off", async () => {
    const owner = await signup();
    const ws = await createWorkspace(owner);
    await setConfig({ create_chatgroup: false });
    try {
      expectError(await call("POST", "/groups", { token: owner.token, body: { name: "plain" } }), 403, "FORBIDDEN");
      expect((await call("POST", `/workspaces/${ws.id}/groups`, { token: owner.token, body: { name: "granted" } })).status).toBe(201);
    } finally {
      await setConfig({ create_chatgroup: true });
    }
  });
});
