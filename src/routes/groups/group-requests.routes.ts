import { createRoute, z } from "@hono/zod-openapi";
import { bearer, createRouter, envelope, errors, ok } from "../../lib/openapi";
import { UserId } from "../users/users.schemas";
import * as requests from "./group-requests.service";
import { GroupId, JoinRequest, JoinResult, Limit, Offset, Reason } from "./groups.schemas";
import { actorOf } from "./groups.service";

/** Mounted inside the groups router, which authenticates every /groups path. */
const tags = ["Group joining"];
const router = createRouter();

const IdParam = z.object({ id: GroupId });
const RequestParams = z.object({ id: GroupId, user_id: UserId });
const optionalBody = <T extends z.ZodType>(schema: T) => ({ required: false, content: { "application/json": { schema } } });
const Decision = z.object({
  group_id: z.string(),
  user_id: z.string(),
  request_id: z.string(),
  status: z.enum(["approved", "rejected"]),
  joined_at: z.string().nullable(),
  reason: z.string().nullable(),
});

router.openapi(
  createRoute({
    method: "post",
    path: "/groups/{id}/join",
    tags,
    security: bearer,
    summary: "Join: open → joined; approval → a pending request with my reason; invite-only → 403 unless invited; full → 409",
    request: { params: IdParam, body: optionalBody(Reason) },
    responses: { 200: envelope(JoinResult), ...errors(401, 403, 404, 409, 415) },
  }),
  async (c) => {
    const result = await requests.joinGroup(await actorOf(c), c.req.valid("param").id, c.req.valid("json")?.reason);
    return ok(c, result.state === "joined" ? "Joined group" : "Join request sent", result);
  },
);

router.openapi(
  createRoute({
    method: "get",
    path: "/groups/{id}/join-requests",
    tags,
    security: bearer,
    summary: "Pending join requests of this group, oldest first (owner and admins)",
    request: { params: IdParam, query: z.object({ limit: Limit(50, 100), offset: Offset }) },
    responses: {
      200: envelope(z.object({ requests: z.array(JoinRequest), total: z.number().int(), limit: z.number().int(), offset: z.number().int() })),
      ...errors(401, 403, 404, 409),
    },
  }),
  async (c) => {
    const { limit, offset } = c.req.valid("query");
    return ok(c, "Join requests retrieved", await requests.groupRequests(await actorOf(c), c.req.valid("param").id, limit, offset));
  },
);

router.openapi(
  createRoute({
    method: "post",
    path: "/groups/{id}/join-requests/{user_id}/approve",
    tags,
    security: bearer,
    summary: "Approve a pending request (owner or admin); 409 when the group is full",
    request: { params: RequestParams },
    responses: { 200: envelope(Decision), ...errors(401, 403, 404, 409) },
  }),
  async (c) => {
    const { id, user_id } = c.req.valid("param");
    return ok(c, "Join request approved", await requests.approveRequest(await actorOf(c), id, user_id));
  },
);

router.openapi(
  createRoute({
    method: "post",
    path: "/groups/{id}/join-requests/{user_id}/reject",
    tags,
    security: bearer,
    summary: "Reject a pending request with an optional reason (owner or admin)",
    request: { params: RequestParams, body: optionalBody(Reason) },
    responses: { 200: envelope(Decision), ...errors(401, 403, 404, 409, 415) },
  }),
  async (c) => {
    const { id, user_id } = c.req.valid("param");
    return ok(c, "Join request rejected", await requests.rejectRequest(await actorOf(c), id, user_id, c.req.valid("json")?.reason));
  },
);

router.openapi(
  createRoute({
    method: "post",
    path: "/groups/{id}/invitations/accept",
    tags,
    security: bearer,
    summary: "Accept my pending invitation; 409 when the group is full",
    request: { params: IdParam },
    responses: { 200: envelope(JoinResult), ...errors(401, 404, 409) },
  }),
  async (c) => ok(c, "Invitation accepted", await requests.acceptInvitation(await actorOf(c), c.req.valid("param").id)),
);

router.openapi(
  createRoute({
    method: "post",
    path: "/groups/{id}/invitations/decline",
    tags,
    security: bearer,
    summary: "Decline my pending invitation",
    request: { params: IdParam },
    responses: {
      200: envelope(z.object({ group_id: z.string(), user_id: z.string(), status: z.literal("declined") })),
      ...errors(401, 404),
    },
  }),
  async (c) => ok(c, "Invitation declined", await requests.declineInvitation(await actorOf(c), c.req.valid("param").id)),
);

export default router;
