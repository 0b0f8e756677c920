import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { conversations, joinRequests, members } from "../../src/db/schema";
import { call, db, expectError, signup, type ApiResponse, type TestUser } from "../helpers";
import { cast, createGroup, info, join, kindsFor, notificationsFor, UNKNOWN_GROUP, UNKNOWN_USER, userPool } from "../group-helpers";

const people = userPool();

type Cast = Awaited<ReturnType<typeof cast>>;
type Who = "owner" | "admin" | "member" | "outsider";
const everyone: Who[] = ["owner", "admin", "member", "outsider"];

const memberRow = (groupId: string, userId: string) =>
  db().select().from(members).where(and(eq(members.conversationId, groupId), eq(members.userId, userId))).get();

const patchMember = (c: Cast, actor: TestUser, target: TestUser, body: Record<string, unknown>) =>
  call("PATCH", `/groups/${c.group.id}/members/${target.id}`, { token: actor.token, body });

interface Action {
  name: string;
  allowed: Who[];
  prepare?: (c: Cast) => Promise<unknown>;
  run: (c: Cast, actor: TestUser, extra: unknown) => Promise<ApiResponse>;
}

/** Every moderation action against the four kinds of caller: allowed (200) or 403, nothing else. */
const actions: Action[] = [
  { name: "set an admin", allowed: ["owner"], run: (c, a) => patchMember(c, a, c.other, { role: "admin" }) },
  { name: "unset an admin", allowed: ["owner"], run: (c, a) => patchMember(c, a, c.admin, { role: "member" }) },
  { name: "kick a member", allowed: ["owner", "admin"], run: (c, a) => call("DELETE", `/groups/${c.group.id}/members/${c.other.id}`, { token: a.token }) },
  { name: "kick an admin", allowed: ["owner"], run: (c, a) => call("DELETE", `/groups/${c.group.id}/members/${c.admin.id}`, { token: a.token }) },
  { name: "kick the owner", allowed: [], run: (c, a) => call("DELETE", `/groups/${c.group.id}/members/${c.owner.id}`, { token: a.token }) },
  { name: "mute a member", allowed: ["owner", "admin"], run: (c, a) => patchMember(c, a, c.other, { muted_minutes: 10 }) },
  { name: "mute an admin", allowed: ["owner"], run: (c, a) => patchMember(c, a, c.admin, { muted_minutes: 10 }) },
  { name: "mute the owner", allowed: [], run: (c, a) => patchMember(c, a, c.owner, { muted_minutes: 10 }) },
  {
    name: "unmute a member",
    allowed: ["owner", "admin"],
    prepare: (c) => patchMember(c, c.owner, c.other, { muted_minutes: 10 }),
    run: (c, a) => patchMember(c, a, c.other, { muted_minutes: 0 }),
  },
  { name: "set another member's nickname", allowed: [], run: (c, a) => patchMember(c, a, c.other, { nickname: "renamed" }) },
  {
    name: "transfer ownership",
    allowed: ["owner"],
    run: (c, a) => call("POST", `/groups/${c.group.id}/transfer`, { token: a.token, body: { user_id: c.other.id } }),
  },
  { name: "update the group", allowed: ["owner", "admin"], run: (c, a) => call("PATCH", `/groups/${c.group.id}`, { token: a.token, body: { name: "new name" } }) },
  { name: "dissolve the group", allowed: ["owner"], run: (c, a) => call("DELETE", `/groups/${c.group.id}`, { token: a.token }) },
  {
    name: "approve a join request",
    allowed: ["owner", "admin"],
    prepare: async (c) => {
      await call("PATCH", `/groups/${c.group.id}`, { token: c.owner.token, body: { join_policy: "approval" } });
      const requester = await signup();
      await join(c.group.id, requester, { reason: "hi" });
      return requester;
    },
    run: (c, a, requester) => call("POST", `/groups/${c.group.id}/join-requests/${(requester as TestUser).id}/approve`, { token: a.token }),
  },
  {
    name: "reject a join request",
    allowed: ["owner", "admin"],
    prepare: async (c) => {
      await call("PATCH", `/groups/${c.group.id}`, { token: c.owner.token, body: { join_policy: "approval" } });
      const requester = await signup();
      await join(c.group.id, requester, { reason: "hi" });
      return requester;
    },
    run: (c, a, requester) =>
      call("POST", `/groups/${c.group.id}/join-requests/${(requester as TestUser).id}/reject`, { token: a.token, body: { reason: "no" } }),
  },
  { name: "list join requests", allowed: ["owner", "admin"], run: (c, a) => call("GET", `/groups/${c.group.id}/join-requests`, { token: a.token }) },
  {
    name: "invite",
    allowed: ["owner", "admin", "member"],
    prepare: () => signup(),
    run: (c, a, invitee) => call("POST", `/groups/${c.group.id}/members`, { token: a.token, body: { user_ids: [(invitee as TestUser).id] } }),
  },
];

describe("role matrix: owner / admin / member / non-member × every moderation action", () => {
  for (const action of actions) {
    it(action.name, async () => {
      const outcomes: Record<string, number> = {};
      for (const who of everyone) {
        const c = await cast({}, people);
        const extra = action.prepare ? await action.prepare(c) : undefined;
        const res = await action.run(c, c[who], extra);
        outcomes[who] = res.status;
        if (action.allowed.includes(who)) {
          if (res.status !== 200) throw new Error(`${who} should be allowed to ${action.name}: ${res.status} ${JSON.stringify(res.body)}`);
        } else {
          expectError(res, 403, "FORBIDDEN");
        }
      }
      expect(Object.keys(outcomes)).toEqual(everyone);
    });
  }

  it("an admin can neither kick nor mute another admin", async () => {
    const c = await cast({}, people);
    await patchMember(c, c.owner, c.other, { role: "admin" });
    expectError(await call("DELETE", `/groups/${c.group.id}/members/${c.other.id}`, { token: c.admin.token }), 403, "FORBIDDEN");
    expectError(await patchMember(c, c.admin, c.other, { muted_minutes: 5 }), 403, "FORBIDDEN");
  });

  it("the owner cannot kick, mute or demote themself", async () => {
    const c = await cast({}, people);
    expectError(await call("DELETE", `/groups/${c.group.id}/members/${c.owner.id}`, { token: c.owner.token }), 403, "FORBIDDEN");
    expectError(await patchMember(c, c.owner, c.owner, { muted_minutes: 5 }), 403, "FORBIDDEN");
    expectError(await patchMember(c, c.owner, c.owner, { role: "member" }), 403, "FORBIDDEN");
    expectError(await patchMember(c, c.admin, c.admin, { muted_minutes: 5 }), 403, "FORBIDDEN");
  });
});

describe("set and unset admin", () => {
  it("promotes and demotes, notifying the member each time", async () => {
    const c = await cast({}, people);
    const res = await patchMember(c, c.owner, c.member, { role: "admin" });
    expect(res.status).toBe(200);
    expect(res.body.data.member).toMatchObject({ user: { id: c.member.id }, role: "admin" });
    expect((await info(c.group.id, c.member)).body.data.group.my_role).toBe("admin");
    await patchMember(c, c.owner, c.member, { role: "member" });
    expect((await memberRow(c.group.id, c.member.id))!.role).toBe("member");
    const notes = await notificationsFor(c.member.id, c.group.id);
    expect(notes.map((n) => [n.kind, (n.data as { role: string }).role])).toEqual([
      ["group_role_changed", "admin"],
      ["group_role_changed", "member"],
    ]);
    await patchMember(c, c.owner, c.member, { role: "member" });
    expect(await kindsFor(c.member.id, c.group.id)).toHaveLength(2);
  });

  it("refuses role owner (use transfer) and unknown roles with 400", async () => {
    const c = await cast({}, people);
    expectError(await patchMember(c, c.owner, c.member, { role: "owner" }), 400, "VALIDATION_ERROR");
    expectError(await patchMember(c, c.owner, c.member, { role: "moderator" }), 400, "VALIDATION_ERROR");
  });
});

describe("mute", () => {
  it("mutes for N minutes, shows it in the member list and info, notifies; 0 unmutes", async () => {
    const c = await cast({}, people);
    const before = Date.now();
    const res = await patchMember(c, c.admin, c.member, { muted_minutes: 30 });
    expect(res.status).toBe(200);
    expect(res.body.data.member.is_muted).toBe(true);
    const until = Date.parse(res.body.data.member.muted_until);
    expect(until).toBeGreaterThanOrEqual(before + 30 * 60_000 - 1000);
    expect(until).toBeLessThanOrEqual(Date.now() + 30 * 60_000 + 1000);
    const list = await call("GET", `/groups/${c.group.id}/members`, { token: c.other.token });
    expect(list.body.data.members.find((m: { user: { id: string } }) => m.user.id === c.member.id)).toMatchObject({ is_muted: true });
    expect((await info(c.group.id, c.member)).body.data.group).toMatchObject({ my_is_muted: true });
    const [muted] = await notificationsFor(c.member.id, c.group.id);
    expect(muted).toMatchObject({ kind: "group_muted", actorId: c.admin.id, data: { minutes: 30 } });

    const unmuted = await patchMember(c, c.admin, c.member, { muted_minutes: 0 });
    expect(unmuted.body.data.member).toMatchObject({ is_muted: false, muted_until: null });
    expect((await memberRow(c.group.id, c.member.id))!.mutedUntil).toBeNull();
    expect(await kindsFor(c.member.id, c.group.id)).toEqual(["group_muted", "group_unmuted"]);
  });

  it("an expired mute reads as not muted, and unmuting it notifies nobody", async () => {
    const c = await cast({}, people);
    await patchMember(c, c.owner, c.member, { muted_minutes: 1 });
    await db()
      .update(members)
      .set({ mutedUntil: new Date(Date.now() - 1000).toISOString() })
      .where(and(eq(members.conversationId, c.group.id), eq(members.userId, c.member.id)));
    expect((await info(c.group.id, c.member)).body.data.group).toMatchObject({ my_is_muted: false, my_muted_until: null });
    const list = await call("GET", `/groups/${c.group.id}/members`, { token: c.member.token });
    expect(list.body.data.members.find((m: { user: { id: string } }) => m.user.id === c.member.id)).toMatchObject({
      is_muted: false,
      muted_until: null,
    });
    await patchMember(c, c.owner, c.member, { muted_minutes: 0 });
    expect(await kindsFor(c.member.id, c.group.id)).toEqual(["group_muted"]);
  });

  it("accepts 1..43200 minutes only", async () => {
    const c = await cast({}, people);
    expect((await patchMember(c, c.owner, c.member, { muted_minutes: 43_200 })).status).toBe(200);
    for (const muted_minutes of [43_201, -1, 1.5, "10", null]) {
      expectError(await patchMember(c, c.owner, c.member, { muted_minutes }), 400, "VALIDATION_ERROR");
    }
  });

  it("a new owner is never muted", async () => {
    const c = await cast({}, people);
    await patchMember(c, c.owner, c.member, { muted_minutes: 10 });
    await call("POST", `/groups/${c.group.id}/transfer`, { token: c.owner.token, body: { user_id: c.member.id } });
    expect((await memberRow(c.group.id, c.member.id))!).toMatchObject({ role: "owner", mutedUntil: null });
  });
});

describe("member nickname and PATCH input", () => {
  it("each member sets and clears their own nickname", async () => {
    const c = await cast({}, people);
    const res = await patchMember(c, c.member, c.member, { nickname: "Trail Bob" });
    expect(res.status).toBe(200);
    expect(res.body.data.member).toMatchObject({ nickname: "Trail Bob", role: "member" });
    expect((await patchMember(c, c.member, c.member, { nickname: null })).body.data.member.nickname).toBeNull();
    expectError(await patchMember(c, c.owner, c.member, { nickname: "boss says" }), 403, "FORBIDDEN");
    expectError(await patchMember(c, c.member, c.member, { nickname: "x".repeat(33) }), 400, "VALIDATION_ERROR");
    expectError(await patchMember(c, c.member, c.member, { nickname: "" }), 400, "VALIDATION_ERROR");
  });

  it("400 for empty or unknown fields and malformed ids, 404 for non-members and unknown groups", async () => {
    const c = await cast({}, people);
    expectError(await patchMember(c, c.owner, c.member, {}), 400, "VALIDATION_ERROR");
    expectError(await patchMember(c, c.owner, c.member, { role: "admin", banned: true }), 400, "VALIDATION_ERROR");
    expectError(await patchMember(c, c.owner, c.outsider, { role: "admin" }), 404, "NOT_FOUND");
    expectError(await call("PATCH", `/groups/${c.group.id}/members/${UNKNOWN_USER}`, { token: c.owner.token, body: { role: "admin" } }), 404, "NOT_FOUND");
    expectError(await call("PATCH", `/groups/${c.group.id}/members/bob`, { token: c.owner.token, body: { role: "admin" } }), 400, "VALIDATION_ERROR");
    expectError(await call("PATCH", `/groups/${UNKNOWN_GROUP}/members/${c.member.id}`, { token: c.owner.token, body: { role: "admin" } }), 404, "NOT_FOUND");
    expectError(await call("DELETE", `/groups/${c.group.id}/members/${c.outsider.id}`, { token: c.owner.token }), 404, "NOT_FOUND");
    expectError(await call("DELETE", `/groups/${c.group.id}/members/bob`, { token: c.owner.token }), 400, "VALIDATION_ERROR");
  });
});

describe("kick", () => {
  it("removes the member, updates the count, notifies them; they may come back to an open group", async () => {
    const c = await cast({}, people);
    const res = await call("DELETE", `/groups/${c.group.id}/members/${c.member.id}`, { token: c.admin.token });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ group_id: c.group.id, user_id: c.member.id, removed_by: c.admin.id });
    expect(await memberRow(c.group.id, c.member.id)).toBeUndefined();
    expect((await info(c.group.id, c.owner)).body.data.group.member_count).toBe(3);
    expect(await kindsFor(c.member.id, c.group.id)).toEqual(["group_kicked"]);
    expect((await info(c.group.id, c.member)).body.data.group.my_role).toBeNull();
    expect((await join(c.group.id, c.member)).state).toBe("joined");
  });
});

describe("transfer", () => {
  it("hands ownership to a member; the old owner stays as an admin", async () => {
    const c = await cast({}, people);
    const res = await call("POST", `/groups/${c.group.id}/transfer`, { token: c.owner.token, body: { user_id: c.member.id } });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ group_id: c.group.id, owner_id: c.member.id, previous_owner_id: c.owner.id });
    expect((await info(c.group.id, c.member)).body.data.group).toMatchObject({ owner_id: c.member.id, my_role: "owner" });
    expect((await info(c.group.id, c.owner)).body.data.group.my_role).toBe("admin");
    expect(await kindsFor(c.member.id, c.group.id)).toEqual(["group_owner_transferred"]);
    expectError(await call("DELETE", `/groups/${c.group.id}`, { token: c.owner.token }), 403, "FORBIDDEN");
    expectError(await call("POST", `/groups/${c.group.id}/leave`, { token: c.member.token }), 409, "CONFLICT");
    expect((await call("POST", `/groups/${c.group.id}/leave`, { token: c.owner.token })).status).toBe(200);
  });

  it("404 for non-members, 400 for myself and bad bodies", async () => {
    const c = await cast({}, people);
    const url = `/groups/${c.group.id}/transfer`;
    expectError(await call("POST", url, { token: c.owner.token, body: { user_id: c.outsider.id } }), 404, "NOT_FOUND");
    expectError(await call("POST", url, { token: c.owner.token, body: { user_id: UNKNOWN_USER } }), 404, "NOT_FOUND");
    expectError(await call("POST", url, { token: c.owner.token, body: { user_id: c.owner.id } }), 400, "BAD_REQUEST");
    expectError(await call("POST", url, { token: c.owner.token, body: {} }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", url, { token: c.owner.token, body: { user_id: "bob" } }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", url, { token: c.owner.token, body: { user_id: c.member.id, keep_admin: false } }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", url, { token: c.owner.token }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", `/groups/${UNKNOWN_GROUP}/transfer`, { token: c.owner.token, body: { user_id: c.member.id } }), 404, "NOT_FOUND");
  });
});

describe("exit", () => {
  it("a member leaves; the owner is told; leaving twice is a 409", async () => {
    const c = await cast({}, people);
    const res = await call("POST", `/groups/${c.group.id}/leave`, { token: c.member.token });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ group_id: c.group.id, user_id: c.member.id });
    expect((await info(c.group.id, c.owner)).body.data.group.member_count).toBe(3);
    const [note] = await notificationsFor(c.owner.id, c.group.id).then((n) => n.filter((x) => x.kind === "group_left"));
    expect(note).toMatchObject({ actorId: c.member.id });
    expectError(await call("POST", `/groups/${c.group.id}/leave`, { token: c.member.token }), 409, "CONFLICT");
    expectError(await call("POST", `/groups/${c.group.id}/leave`, { token: c.outsider.token }), 409, "CONFLICT");
    expectError(await call("POST", `/groups/${UNKNOWN_GROUP}/leave`, { token: c.outsider.token }), 404, "NOT_FOUND");
  });

  it("the owner must transfer or dissolve first", async () => {
    const c = await cast({}, people);
    const res = await call("POST", `/groups/${c.group.id}/leave`, { token: c.owner.token });
    expectError(res, 409, "CONFLICT");
    expect(res.body.error).toMatch(/transfer ownership or dissolve/);
    expect((await memberRow(c.group.id, c.owner.id))!.role).toBe("owner");
  });
});

describe("dissolve", () => {
  it("notifies every member, keeps the history read-only for them, and hides the group from everyone else", async () => {
    const c = await cast({}, people);
    const requester = await signup();
    const invitee = await signup();
    await call("POST", `/groups/${c.group.id}/members`, { token: c.owner.token, body: { user_ids: [invitee.id] } });
    await call("PATCH", `/groups/${c.group.id}`, { token: c.owner.token, body: { join_policy: "approval" } });
    await join(c.group.id, requester, { reason: "late" });

    const res = await call("DELETE", `/groups/${c.group.id}`, { token: c.owner.token });
    expect(res.status).toBe(200);
    expect(res.body.data.group_id).toBe(c.group.id);
    expect(typeof res.body.data.dissolved_at).toBe("string");

    for (const u of [c.admin, c.member, c.other]) expect(await kindsFor(u.id, c.group.id)).toContain("group_dissolved");
    expect(await kindsFor(c.owner.id, c.group.id)).not.toContain("group_dissolved");
    expect(await db().select().from(joinRequests).where(and(eq(joinRequests.conversationId, c.group.id), eq(joinRequests.status, "pending")))).toEqual([]);

    const seen = await info(c.group.id, c.member);
    expect(seen.body.data.group).toMatchObject({ dissolved: true, my_role: "member", member_count: 4 });
    expect((await call("GET", `/groups/${c.group.id}/members`, { token: c.member.token })).status).toBe(200);
    const mine = await call("GET", "/groups", { token: c.member.token });
    expect(mine.body.data.groups.find((g: { id: string }) => g.id === c.group.id)).toMatchObject({ dissolved: true });
    const [row] = await db().select().from(conversations).where(eq(conversations.id, c.group.id));
    expect(row.dissolvedAt).not.toBeNull();

    expectError(await info(c.group.id, c.outsider), 404, "NOT_FOUND");
    expectError(await call("POST", `/groups/${c.group.id}/join`, { token: c.outsider.token }), 404, "NOT_FOUND");
    expectError(await call("POST", `/groups/${c.group.id}/invitations/accept`, { token: invitee.token }), 404, "NOT_FOUND");
  });

  it("after dissolving, nothing changes any more (409) but members may still leave", async () => {
    const c = await cast({}, people);
    await call("DELETE", `/groups/${c.group.id}`, { token: c.owner.token });
    const g = c.group.id;
    expectError(await call("DELETE", `/groups/${g}`, { token: c.owner.token }), 409, "CONFLICT");
    expectError(await call("PATCH", `/groups/${g}`, { token: c.owner.token, body: { name: "zombie" } }), 409, "CONFLICT");
    expectError(await call("POST", `/groups/${g}/members`, { token: c.owner.token, body: { user_ids: [c.outsider.id] } }), 409, "CONFLICT");
    expectError(await call("DELETE", `/groups/${g}/members/${c.member.id}`, { token: c.owner.token }), 409, "CONFLICT");
    expectError(await patchMember(c, c.owner, c.member, { muted_minutes: 5 }), 409, "CONFLICT");
    expectError(await call("POST", `/groups/${g}/transfer`, { token: c.owner.token, body: { user_id: c.member.id } }), 409, "CONFLICT");
    expectError(await call("POST", `/groups/${g}/join`, { token: c.member.token }), 409, "CONFLICT");
    expect((await call("POST", `/groups/${g}/leave`, { token: c.member.token })).status).toBe(200);
    expect((await call("POST", `/groups/${g}/leave`, { token: c.owner.token })).status).toBe(200);
    expectError(await info(g, c.owner), 404, "NOT_FOUND");
  });

  it("dissolve validates the id", async () => {
    const owner = await signup();
    await createGroup(owner.token);
    expectError(await call("DELETE", `/groups/${UNKNOWN_GROUP}`, { token: owner.token }), 404, "NOT_FOUND");
    expectError(await call("DELETE", "/groups/abc", { token: owner.token }), 400, "VALIDATION_ERROR");
    expectError(await call("DELETE", `/groups/${UNKNOWN_GROUP}`), 401, "UNAUTHORIZED");
  });
});
