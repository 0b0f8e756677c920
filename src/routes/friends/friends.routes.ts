import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../../middleware/auth";
import { getConfig, requestContext } from "../../middleware/context";
import { bearer, createRouter, envelope, errors, jsonBody, ok } from "../../lib/openapi";
import { Relationship } from "../users/users.schemas";
import * as users from "../users/users.service";
import {
  Friend,
  FriendListQuery,
  FriendRequest,
  FriendUpdate,
  RejectBody,
  RequestListQuery,
  RequestParam,
  SendRequestBody,
  SendRequestResult,
  UserParam,
} from "./friends.schemas";
import * as friends from "./friends.service";

const tags = ["Friends"];
const router = createRouter();
router.use("/friends", requireAuth);
router.use("/friends/*", requireAuth);

router.openapi(
  createRoute({
    method: "post",
    path: "/friends/requests",
    tags,
    security: bearer,
    summary: "Send a friend request",
    description: [
      "Honours the operator's `add_friend_mode`: `none` → 403; `all` → friends at once (request stored as accepted, DM opened);",
      "`approval` (default) → a pending request the other user answers. If they already asked me, this accepts their request.",
      "Already friends or already pending → 409; myself → 400; a user I block → 403 (unblock first);",
      "more than `add_friend_apply_limit` requests a day → 429.",
      "If the other user blocks me the answer is the same 201 with a pending request (never revealing the block),",
      "but they are not notified and never see it.",
    ].join(" "),
    request: { body: jsonBody(SendRequestBody) },
    responses: { 201: envelope(SendRequestResult, "Request sent (or friendship made)"), ...errors(401, 403, 404, 409, 415, 429) },
  }),
  async (c) => {
    const ctx = await requestContext(c);
    const result = await friends.sendRequest(ctx, c.var.user.id, c.req.valid("json"));
    return ok(c, result.is_friend ? "You are now friends" : "Friend request sent", result, 201);
  },
);

router.openapi(
  createRoute({
    method: "get",
    path: "/friends/requests",
    tags,
    security: bearer,
    summary: "My incoming or outgoing friend requests, newest first (cursor paging), optionally by status",
    request: { query: RequestListQuery },
    responses: {
      200: envelope(z.object({ requests: z.array(FriendRequest), next_cursor: z.string().nullable() })),
      ...errors(401),
    },
  }),
  async (c) => {
    const config = await getConfig(c);
    return ok(c, "Friend requests retrieved", await friends.listRequests(c.var.db, config, c.var.user.id, c.req.valid("query")));
  },
);

router.openapi(
  createRoute({
    method: "post",
    path: "/friends/requests/{id}/accept",
    tags,
    security: bearer,
    summary: "Accept a request sent to me: we become friends and our DM is opened; the sender is notified",
    request: { params: RequestParam },
    responses: {
      200: envelope(z.object({ request: FriendRequest, conversation_id: z.string() })),
      ...errors(401, 403, 404, 409),
    },
  }),
  async (c) => {
    const ctx = await requestContext(c);
    return ok(c, "Friend request accepted", await friends.acceptRequest(ctx, c.var.user.id, c.req.valid("param").id));
  },
);

router.openapi(
  createRoute({
    method: "post",
    path: "/friends/requests/{id}/reject",
    tags,
    security: bearer,
    summary: "Reject a request sent to me, optionally with a reason the sender sees",
    request: {
      params: RequestParam,
      body: { required: false, content: { "application/json": { schema: RejectBody } } },
    },
    responses: { 200: envelope(z.object({ request: FriendRequest })), ...errors(401, 403, 404, 409, 415) },
  }),
  async (c) => {
    const ctx = await requestContext(c);
    const reason = c.req.valid("json")?.reason;
    return ok(c, "Friend request rejected", await friends.rejectRequest(ctx, c.var.user.id, c.req.valid("param").id, reason));
  },
);

router.openapi(
  createRoute({
    method: "post",
    path: "/friends/requests/{id}/cancel",
    tags,
    security: bearer,
    summary: "Cancel a pending request I sent",
    request: { params: RequestParam },
    responses: { 200: envelope(z.object({ request: FriendRequest })), ...errors(401, 403, 404, 409) },
  }),
  async (c) => {
    const ctx = await requestContext(c);
    return ok(c, "Friend request cancelled", await friends.cancelRequest(ctx, c.var.user.id, c.req.valid("param").id));
  },
);

router.openapi(
  createRoute({
    method: "get",
    path: "/friends",
    tags,
    security: bearer,
    summary: "My friends with my remark, labels and categories for each (status only where the operator shows it)",
    request: { query: FriendListQuery },
    responses: {
      200: envelope(z.object({ friends: z.array(Friend), total: z.number().int(), limit: z.number().int(), offset: z.number().int() })),
      ...errors(401),
    },
  }),
  async (c) => {
    const config = await getConfig(c);
    return ok(c, "Friends retrieved", await friends.listFriends(c.var.db, config, c.var.user.id, c.req.valid("query")));
  },
);

router.openapi(
  createRoute({
    method: "get",
    path: "/friends/{user_id}",
    tags,
    security: bearer,
    summary: "One friend as I see them; 404 when they are not my friend",
    request: { params: UserParam },
    responses: { 200: envelope(z.object({ friend: Friend })), ...errors(401, 404) },
  }),
  async (c) => {
    const config = await getConfig(c);
    return ok(c, "Friend retrieved", { friend: await friends.getFriend(c.var.db, config, c.var.user.id, c.req.valid("param").user_id) });
  },
);

router.openapi(
  createRoute({
    method: "patch",
    path: "/friends/{user_id}",
    tags,
    security: bearer,
    summary: "Set my private remark and/or labels for a friend",
    request: { params: UserParam, body: jsonBody(FriendUpdate) },
    responses: { 200: envelope(z.object({ friend: Friend })), ...errors(401, 404, 415) },
  }),
  async (c) => {
    const config = await getConfig(c);
    const friend = await friends.updateFriend(c.var.db, config, c.var.user.id, c.req.valid("param").user_id, c.req.valid("json"));
    return ok(c, "Friend updated", { friend });
  },
);

router.openapi(
  createRoute({
    method: "delete",
    path: "/friends/{user_id}",
    tags,
    security: bearer,
    summary: "Remove a friend on both sides (and from every category); they are notified",
    request: { params: UserParam },
    responses: { 200: envelope(z.object({ removed: z.literal(true), user_id: z.string() })), ...errors(401, 404) },
  }),
  async (c) => {
    const ctx = await requestContext(c);
    return ok(c, "Friend removed", await friends.removeFriend(ctx, c.var.user.id, c.req.valid("param").user_id));
  },
);

router.openapi(
  createRoute({
    method: "get",
    path: "/friends/{user_id}/relationship",
    tags,
    security: bearer,
    summary: "Relationship check (004 verify): is_friend, is_blocked (I block them), blocked_me, plus 002's friend_state",
    request: { params: UserParam },
    responses: { 200: envelope(Relationship), ...errors(401, 404) },
  }),
  async (c) => {
    const other = await users.requireUser(c.var.db, c.req.valid("param").user_id);
    return ok(c, "Relationship retrieved", await users.relationship(c.var.db, c.var.user.id, other.id));
  },
);

export default router;
