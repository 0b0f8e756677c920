import { createRoute, z } from "@hono/zod-openapi";
import { bearer, createRouter, envelope, errors, jsonBody, ok } from "../../lib/openapi";
import { UserId } from "../users/users.schemas";
import * as groupMembers from "./group-members.service";
import { GroupId, InviteResult, Limit, Member, MemberStatistics, MemberUpdate, Offset } from "./groups.schemas";
import { actorOf } from "./groups.service";

/** Mounted inside the groups router, which authenticates every /groups path. */
const tags = ["Group members"];
const router = createRouter();

const IdParam = z.object({ id: GroupId });
const MemberParams = z.object({ id: GroupId, user_id: UserId });

router.openapi(
  createRoute({
    method: "get",
    path: "/groups/{id}/members",
    tags,
    security: bearer,
    summary: "Members (owner, admins, then by join time) with 002's statistics; hidden lists only for the owner and admins",
    request: { params: IdParam, query: z.object({ limit: Limit(100, 500), offset: Offset }) },
    responses: {
      200: envelope(
        z.object({
          members: z.array(Member),
          statistics: MemberStatistics,
          total: z.number().int(),
          limit: z.number().int(),
          offset: z.number().int(),
        }),
      ),
      ...errors(401, 403, 404),
    },
  }),
  async (c) => {
    const { limit, offset } = c.req.valid("query");
    return ok(c, "Members retrieved", await groupMembers.listMembers(await actorOf(c), c.req.valid("param").id, limit, offset));
  },
);

router.openapi(
  createRoute({
    method: "post",
    path: "/groups/{id}/members",
    tags,
    security: bearer,
    summary: "Invite users: friends of mine join at once, others must accept (members only when the group allows it)",
    request: {
      params: IdParam,
      body: jsonBody(z.object({ user_ids: z.array(UserId).min(1).max(50) }).strict()),
    },
    responses: { 200: envelope(z.object({ results: z.array(InviteResult) })), ...errors(401, 403, 404, 409, 415) },
  }),
  async (c) => ok(c, "Invitations sent", await groupMembers.inviteMembers(await actorOf(c), c.req.valid("param").id, c.req.valid("json").user_ids)),
);

router.openapi(
  createRoute({
    method: "patch",
    path: "/groups/{id}/members/{user_id}",
    tags,
    security: bearer,
    summary: "Set or unset an admin (owner), mute for N minutes or unmute with 0 (owner over anyone, admin over members), my own nickname",
    request: { params: MemberParams, body: jsonBody(MemberUpdate) },
    responses: { 200: envelope(z.object({ member: Member })), ...errors(401, 403, 404, 409, 415) },
  }),
  async (c) => {
    const { id, user_id } = c.req.valid("param");
    return ok(c, "Member updated", { member: await groupMembers.updateMember(await actorOf(c), id, user_id, c.req.valid("json")) });
  },
);

router.openapi(
  createRoute({
    method: "delete",
    path: "/groups/{id}/members/{user_id}",
    tags,
    security: bearer,
    summary: "Kick: the owner removes anyone but themself, an admin removes plain members",
    request: { params: MemberParams },
    responses: {
      200: envelope(z.object({ group_id: z.string(), user_id: z.string(), removed_by: z.string() })),
      ...errors(401, 403, 404, 409),
    },
  }),
  async (c) => {
    const { id, user_id } = c.req.valid("param");
    return ok(c, "Member removed", await groupMembers.kickMember(await actorOf(c), id, user_id));
  },
);

router.openapi(
  createRoute({
    method: "post",
    path: "/groups/{id}/transfer",
    tags,
    security: bearer,
    summary: "Transfer ownership to a member (owner); I stay on as an admin",
    request: { params: IdParam, body: jsonBody(z.object({ user_id: UserId }).strict()) },
    responses: {
      200: envelope(z.object({ group_id: z.string(), owner_id: z.string(), previous_owner_id: z.string() })),
      ...errors(401, 403, 404, 409, 415),
    },
  }),
  async (c) =>
    ok(c, "Ownership transferred", await groupMembers.transferOwnership(await actorOf(c), c.req.valid("param").id, c.req.valid("json").user_id)),
);

router.openapi(
  createRoute({
    method: "post",
    path: "/groups/{id}/leave",
    tags,
    security: bearer,
    summary: "Leave the group (409 for the owner of a live group: transfer ownership or dissolve first)",
    request: { params: IdParam },
    responses: { 200: envelope(z.object({ group_id: z.string(), user_id: z.string() })), ...errors(401, 404, 409) },
  }),
  async (c) => ok(c, "Left group", await groupMembers.leaveGroup(await actorOf(c), c.req.valid("param").id)),
);

export default router;
