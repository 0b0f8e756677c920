import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { blocks, conversations, joinRequests, members } from "../../src/db/schema";
import { call, db, expectError, setConfig, signup } from "../helpers";
import { befriend, cast, createGroup, info, join, kindsFor, notificationsFor, UNKNOWN_GROUP, UNKNOWN_USER, userPool } from "../group-helpers";

const people = userPool();

const memberRow = (groupId: string, userId: string) =>
  db().select().from(members).where(and(eq(members.conversationId, groupId), eq(members.userId, userId))).get();

describe("POST /groups/{id}/join by policy", () => {
  it("open: joins at once, counts the member, 409 when already in", async () => {
    const owner = await signup();
    const user = await signup();
    const g = await createGroup(owner.token);
    const res = await call("POST", `/groups/${g.id}/join`, { token: user.token });
    expect(res.status).toBe(200);
    expect(res.body.message).toBe("Joined group");
    expect(res.body.data).toMatchObject({ group_id: g.id, user_id: user.id, state: "joined", request_id: null });
    expect(typeof res.body.data.joined_at).toBe("string");
    expect((await info(g.id, user)).body.data.group).toMatchObject({ my_role: "member", member_count: 2 });
    expect(await memberRow(g.id, user.id)).toMatchObject({ role: "member", joinedSeq: 0 });
    expectError(await call("POST", `/groups/${g.id}/join`, { token: user.token }), 409, "CONFLICT");
    expectError(await call("POST", `/groups/${g.id}/join`, { token: owner.token }), 409, "CONFLICT");
  });

  it("records last_seq at join time so hidden history can start there", async () => {
    const owner = await signup();
    const user = await signup();
    const g = await createGroup(owner.token, { history_visible: false });
    await db().update(conversations).set({ lastSeq: 42 }).where(eq(conversations.id, g.id));
    await join(g.id, user);
    expect((await memberRow(g.id, user.id))!.joinedSeq).toBe(42);
  });

  it("approval: files a pending request with the reason, notifies owner and admins, 409 when repeated", async () => {
    const { group, owner, admin, member, outsider } = await cast({}, people);
    await call("PATCH", `/groups/${group.id}`, { token: owner.token, body: { join_policy: "approval" } });
    const res = await call("POST", `/groups/${group.id}/join`, { token: outsider.token, body: { reason: "I hike too" } });
    expect(res.status).toBe(200);
    expect(res.body.message).toBe("Join request sent");
    expect(res.body.data).toMatchObject({ state: "pending", joined_at: null });
    expect(res.body.data.request_id).toMatch(/^jr_/);
    expect(await memberRow(group.id, outsider.id)).toBeUndefined();
    for (const manager of [owner, admin]) {
      const [note] = await notificationsFor(manager.id, group.id).then((n) => n.filter((x) => x.kind === "group_join_request"));
      expect(note).toMatchObject({ actorId: outsider.id, data: { reason: "I hike too", request_id: res.body.data.request_id } });
    }
    expect(await kindsFor(member.id, group.id)).not.toContain("group_join_request");
    expectError(await call("POST", `/groups/${group.id}/join`, { token: outsider.token, body: { reason: "again" } }), 409, "CONFLICT");
  });

  it("invite-only: 403 unless invited; an invited user's join accepts the invitation", async () => {
    const owner = await signup();
    const user = await signup();
    const g = await createGroup(owner.token, { join_policy: "invite" });
    expectError(await call("POST", `/groups/${g.id}/join`, { token: user.token }), 403, "FORBIDDEN");
    const invited = await call("POST", `/groups/${g.id}/members`, { token: owner.token, body: { user_ids: [user.id] } });
    expect(invited.body.data.results).toEqual([{ user_id: user.id, status: "invited" }]);
    const res = await call("POST", `/groups/${g.id}/join`, { token: user.token });
    expect(res.status).toBe(200);
    expect(res.body.data.state).toBe("joined");
  });

  it("a private group is joinable by id under its policy", async () => {
    const owner = await signup();
    const user = await signup();
    const g = await createGroup(owner.token, { visibility: "private" });
    expect((await join(g.id, user)).state).toBe("joined");
  });

  it("validates the body and the id", async () => {
    const owner = await signup();
    const user = await signup();
    const g = await createGroup(owner.token, { join_policy: "approval" });
    expectError(await call("POST", `/groups/${g.id}/join`, { token: user.token, body: { reason: "x".repeat(201) } }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", `/groups/${g.id}/join`, { token: user.token, body: { reason: "ok", group_id: g.id } }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", `/groups/${g.id}/join`, { token: user.token, body: { reason: 5 } }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", `/groups/${UNKNOWN_GROUP}/join`, { token: user.token }), 404, "NOT_FOUND");
    expectError(await call("POST", "/groups/not_a_group/join", { token: user.token }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", `/groups/${g.id}/join`), 401, "UNAUTHORIZED");
  });
});

describe("join requests: list, approve, reject", () => {
  async function withRequest() {
    const c = await cast({ join_policy: "open" }, people);
    await call("PATCH", `/groups/${c.group.id}`, { token: c.owner.token, body: { join_policy: "approval" } });
    await join(c.group.id, c.outsider, { reason: "please" });
    return c;
  }

  it("owner and admins list the group's pending requests; members and outsiders get 403", async () => {
    const { group, owner, admin, member, outsider } = await withRequest();
    for (const manager of [owner, admin]) {
      const res = await call("GET", `/groups/${group.id}/join-requests`, { token: manager.token });
      expect(res.status).toBe(200);
      expect(res.body.data.total).toBe(1);
      expect(res.body.data.requests[0]).toMatchObject({ user: { id: outsider.id }, reason: "please", status: "pending", group: { id: group.id } });
    }
    expectError(await call("GET", `/groups/${group.id}/join-requests`, { token: member.token }), 403, "FORBIDDEN");
    expectError(await call("GET", `/groups/${group.id}/join-requests`, { token: outsider.token }), 403, "FORBIDDEN");
  });

  it("an admin approves: the requester becomes a member and is notified", async () => {
    const { group, admin, outsider, owner } = await withRequest();
    const res = await call("POST", `/groups/${group.id}/join-requests/${outsider.id}/approve`, { token: admin.token });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ group_id: group.id, user_id: outsider.id, status: "approved" });
    expect((await info(group.id, outsider)).body.data.group).toMatchObject({ my_role: "member", member_count: 5 });
    expect(await kindsFor(outsider.id, group.id)).toEqual(["group_join_approved"]);
    const rows = await db().select().from(joinRequests).where(eq(joinRequests.conversationId, group.id));
    expect(rows[0]).toMatchObject({ status: "approved", handledBy: admin.id });
    expectError(await call("POST", `/groups/${group.id}/join-requests/${outsider.id}/approve`, { token: owner.token }), 404, "NOT_FOUND");
    expect((await call("GET", `/groups/${group.id}/join-requests`, { token: owner.token })).body.data.total).toBe(0);
  });

  it("the owner rejects with a reason: the requester is told why, and may ask again", async () => {
    const { group, owner, outsider } = await withRequest();
    const res = await call("POST", `/groups/${group.id}/join-requests/${outsider.id}/reject`, { token: owner.token, body: { reason: "members only" } });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ status: "rejected", reason: "members only", joined_at: null });
    const notes = await notificationsFor(outsider.id, group.id);
    expect(notes.map((n) => n.kind)).toEqual(["group_join_rejected"]);
    expect(notes[0].data).toMatchObject({ reason: "members only" });
    expect(await memberRow(group.id, outsider.id)).toBeUndefined();
    expectError(await call("POST", `/groups/${group.id}/join-requests/${outsider.id}/reject`, { token: owner.token }), 404, "NOT_FOUND");
    expect((await join(group.id, outsider, { reason: "second try" })).state).toBe("pending");
    const plain = await call("POST", `/groups/${group.id}/join-requests/${outsider.id}/reject`, { token: owner.token });
    expect(plain.body.data.reason).toBeNull();
  });

  it("members and outsiders cannot approve or reject (403); unknown users and groups 404; bad ids 400", async () => {
    const { group, member, outsider, owner } = await withRequest();
    const stranger = await signup();
    for (const action of ["approve", "reject"]) {
      expectError(await call("POST", `/groups/${group.id}/join-requests/${outsider.id}/${action}`, { token: member.token }), 403, "FORBIDDEN");
      expectError(await call("POST", `/groups/${group.id}/join-requests/${outsider.id}/${action}`, { token: stranger.token }), 403, "FORBIDDEN");
      expectError(await call("POST", `/groups/${group.id}/join-requests/${UNKNOWN_USER}/${action}`, { token: owner.token }), 404, "NOT_FOUND");
      expectError(await call("POST", `/groups/${UNKNOWN_GROUP}/join-requests/${outsider.id}/${action}`, { token: owner.token }), 404, "NOT_FOUND");
      expectError(await call("POST", `/groups/${group.id}/join-requests/bob/${action}`, { token: owner.token }), 400, "VALIDATION_ERROR");
    }
    expectError(
      await call("POST", `/groups/${group.id}/join-requests/${outsider.id}/reject`, { token: owner.token, body: { reason: "x", extra: 1 } }),
      400,
      "VALIDATION_ERROR",
    );
    expect(await memberRow(group.id, outsider.id)).toBeUndefined();
  });
});

describe("POST /groups/{id}/members (invite)", () => {
  it("a friend of the inviter joins at once and is notified", async () => {
    const owner = await signup();
    const friend = await signup();
    const g = await createGroup(owner.token, { join_policy: "approval" });
    await befriend(owner, friend);
    const res = await call("POST", `/groups/${g.id}/members`, { token: owner.token, body: { user_ids: [friend.id] } });
    expect(res.status).toBe(200);
    expect(res.body.data.results).toEqual([{ user_id: friend.id, status: "joined" }]);
    expect((await info(g.id, friend)).body.data.group).toMatchObject({ my_role: "member", member_count: 2 });
    expect(await kindsFor(friend.id, g.id)).toEqual(["group_joined"]);
  });

  it("a non-friend must accept: pending invitation, notification, then accept joins and tells the inviter", async () => {
    const { group, member } = await cast({}, people);
    const invitee = await signup();
    const res = await call("POST", `/groups/${group.id}/members`, { token: member.token, body: { user_ids: [invitee.id] } });
    expect(res.body.data.results).toEqual([{ user_id: invitee.id, status: "invited" }]);
    expect(await memberRow(group.id, invitee.id)).toBeUndefined();
    const [note] = await notificationsFor(invitee.id, group.id);
    expect(note).toMatchObject({ kind: "group_invite", actorId: member.id });
    const again = await call("POST", `/groups/${group.id}/members`, { token: member.token, body: { user_ids: [invitee.id] } });
    expect(again.body.data.results).toEqual([{ user_id: invitee.id, status: "already_invited" }]);

    const accepted = await call("POST", `/groups/${group.id}/invitations/accept`, { token: invitee.token });
    expect(accepted.status).toBe(200);
    expect(accepted.body.data).toMatchObject({ group_id: group.id, user_id: invitee.id, state: "joined" });
    expect((await memberRow(group.id, invitee.id))!.role).toBe("member");
    expect(await kindsFor(member.id, group.id)).toContain("group_joined");
    expectError(await call("POST", `/groups/${group.id}/invitations/accept`, { token: invitee.token }), 404, "NOT_FOUND");
  });

  it("declining ends the invitation", async () => {
    const owner = await signup();
    const invitee = await signup();
    const g = await createGroup(owner.token, { join_policy: "invite" });
    await call("POST", `/groups/${g.id}/members`, { token: owner.token, body: { user_ids: [invitee.id] } });
    const res = await call("POST", `/groups/${g.id}/invitations/decline`, { token: invitee.token });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ group_id: g.id, user_id: invitee.id, status: "declined" });
    expectError(await call("POST", `/groups/${g.id}/invitations/accept`, { token: invitee.token }), 404, "NOT_FOUND");
    expectError(await call("POST", `/groups/${g.id}/invitations/decline`, { token: invitee.token }), 404, "NOT_FOUND");
    expectError(await call("POST", `/groups/${g.id}/join`, { token: invitee.token }), 403, "FORBIDDEN");
    expectError(await call("POST", `/groups/${UNKNOWN_GROUP}/invitations/decline`, { token: invitee.token }), 404, "NOT_FOUND");
  });

  it("members may invite only when members_can_invite; the owner and admins always may", async () => {
    const { group, owner, admin, member, outsider } = await cast({ members_can_invite: false }, people);
    const [a, b] = await Promise.all([signup(), signup()]);
    expectError(await call("POST", `/groups/${group.id}/members`, { token: member.token, body: { user_ids: [a.id] } }), 403, "FORBIDDEN");
    expectError(await call("POST", `/groups/${group.id}/members`, { token: outsider.token, body: { user_ids: [a.id] } }), 403, "FORBIDDEN");
    expect((await call("POST", `/groups/${group.id}/members`, { token: admin.token, body: { user_ids: [a.id] } })).body.data.results[0].status).toBe("invited");
    expect((await call("POST", `/groups/${group.id}/members`, { token: owner.token, body: { user_ids: [b.id] } })).body.data.results[0].status).toBe("invited");
  });

  it("reports members, skips users who blocked the inviter, and a manager's invite approves a pending request", async () => {
    const { group, owner, admin, member } = await cast({}, people);
    await call("PATCH", `/groups/${group.id}`, { token: owner.token, body: { join_policy: "approval" } });
    const [requester, blocker] = await Promise.all([signup(), signup()]);
    await join(group.id, requester, { reason: "hi" });
    await db().insert(blocks).values({ userId: blocker.id, blockedUserId: admin.id });
    const res = await call("POST", `/groups/${group.id}/members`, {
      token: admin.token,
      body: { user_ids: [member.id, admin.id, blocker.id, requester.id, requester.id] },
    });
    expect(res.body.data.results).toEqual([
      { user_id: member.id, status: "already_member" },
      { user_id: admin.id, status: "already_member" },
      { user_id: blocker.id, status: "blocked" },
      { user_id: requester.id, status: "joined" },
    ]);
    expect(await kindsFor(requester.id, group.id)).toEqual(["group_join_approved"]);
    const [request] = await db().select().from(joinRequests).where(and(eq(joinRequests.conversationId, group.id), eq(joinRequests.userId, requester.id)));
    expect(request).toMatchObject({ status: "approved", handledBy: admin.id });
    expect(await notificationsFor(blocker.id, group.id)).toEqual([]);
  });

  it("validates the body: unknown users 404, malformed or missing ids 400", async () => {
    const owner = await signup();
    const g = await createGroup(owner.token);
    expectError(await call("POST", `/groups/${g.id}/members`, { token: owner.token, body: { user_ids: [UNKNOWN_USER] } }), 404, "NOT_FOUND");
    for (const body of [{}, { user_ids: [] }, { user_ids: ["bob"] }, { user_ids: "user_x" }, { user_ids: [owner.id], note: "x" }]) {
      expectError(await call("POST", `/groups/${g.id}/members`, { token: owner.token, body }), 400, "VALIDATION_ERROR");
    }
    const many = Array.from({ length: 51 }, (_, i) => `user_${String(i).padStart(20, "0")}`);
    expectError(await call("POST", `/groups/${g.id}/members`, { token: owner.token, body: { user_ids: many } }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", `/groups/${UNKNOWN_GROUP}/members`, { token: owner.token, body: { user_ids: [owner.id] } }), 404, "NOT_FOUND");
  });
});

describe("member limit", () => {
  it("a full group refuses joins, requests, approvals, friend invites and accepted invitations with 409", async () => {
    const owner = await signup();
    const g = await createGroup(owner.token, { member_limit: 2 });
    const [first, second, friend, invitee, requester] = await Promise.all([signup(), signup(), signup(), signup(), signup()]);
    await call("POST", `/groups/${g.id}/members`, { token: owner.token, body: { user_ids: [invitee.id] } });
    await call("PATCH", `/groups/${g.id}`, { token: owner.token, body: { join_policy: "approval" } });
    await join(g.id, requester, { reason: "early" });
    await call("PATCH", `/groups/${g.id}`, { token: owner.token, body: { join_policy: "open" } });
    await join(g.id, first);

    expectError(await call("POST", `/groups/${g.id}/join`, { token: second.token }), 409, "CONFLICT");
    expectError(await call("POST", `/groups/${g.id}/join-requests/${requester.id}/approve`, { token: owner.token }), 409, "CONFLICT");
    await befriend(owner, friend);
    expectError(await call("POST", `/groups/${g.id}/members`, { token: owner.token, body: { user_ids: [friend.id] } }), 409, "CONFLICT");
    expectError(await call("POST", `/groups/${g.id}/invitations/accept`, { token: invitee.token }), 409, "CONFLICT");
    await call("PATCH", `/groups/${g.id}`, { token: owner.token, body: { join_policy: "approval" } });
    expectError(await call("POST", `/groups/${g.id}/join`, { token: second.token, body: { reason: "full?" } }), 409, "CONFLICT");
    expect((await info(g.id, owner)).body.data.group.member_count).toBe(2);

    await call("POST", `/groups/${g.id}/leave`, { token: first.token });
    expect((await call("POST", `/groups/${g.id}/join-requests/${requester.id}/approve`, { token: owner.token })).status).toBe(200);
    expect((await info(g.id, owner)).body.data.group.member_count).toBe(2);
  });

  it("the operator's chatgroup_members_limit caps groups created with a higher limit", async () => {
    const owner = await signup();
    const g = await createGroup(owner.token, { member_limit: 100 });
    const [a, b] = await Promise.all([signup(), signup()]);
    await setConfig({ chatgroup_members_limit: 2 });
    try {
      expect((await info(g.id, owner)).body.data.group.member_limit).toBe(2);
      await join(g.id, a);
      expectError(await call("POST", `/groups/${g.id}/join`, { token: b.token }), 409, "CONFLICT");
    } finally {
      await setConfig({ chatgroup_members_limit: 500 });
    }
    expect((await join(g.id, b)).state).toBe("joined");
  });

  it("batched friend invites never overshoot the limit", async () => {
    const owner = await signup();
    const g = await createGroup(owner.token, { member_limit: 3 });
    const friends = await Promise.all([signup(), signup(), signup()]);
    for (const f of friends) await befriend(owner, f);
    expectError(await call("POST", `/groups/${g.id}/members`, { token: owner.token, body: { user_ids: friends.map((f) => f.id) } }), 409, "CONFLICT");
    const ok = await call("POST", `/groups/${g.id}/members`, { token: owner.token, body: { user_ids: friends.slice(0, 2).map((f) => f.id) } });
    expect(ok.body.data.results.map((r: { status: string }) => r.status)).toEqual(["joined", "joined"]);
    expect((await info(g.id, owner)).body.data.group.member_count).toBe(3);
  });
});
