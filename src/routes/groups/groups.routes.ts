import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../../middleware/auth";
import { bearer, createRouter, envelope, errors, jsonBody, ok } from "../../lib/openapi";
import { UserId } from "../users/users.schemas";
import groupMemberRoutes from "./group-members.routes";
import groupRequestRoutes from "./group-requests.routes";
import { managedRequests } from "./group-requests.service";
import { GroupCreate, GroupDetail, GroupId, GroupListItem, GroupUpdate, JoinRequest, Limit, Offset } from "./groups.schemas";
import * as groups from "./groups.service";

const tags = ["Groups"];
const router = createRouter();
router.use("/groups", requireAuth);
router.use("/groups/*", requireAuth);

const Paged = { total: z.number().int(), limit: z.number().int(), offset: z.number().int() };
const IdParam = z.object({ id: GroupId });

router.openapi(
  createRoute({
    method: "post",
    path: "/groups",
    tags,
    security: bearer,
    summary: "Create a group; I become its owner (403 when the operator disabled group creation)",
    request: { body: jsonBody(GroupCreate) },
    responses: { 201: envelope(z.object({ group: GroupDetail }), "Created"), ...errors(401, 403, 415) },
  }),
  async (c) => ok(c, "Group created", { group: await groups.createGroup(await groups.actorOf(c), c.req.valid("json")) }, 201),
);

router.openapi(
  createRoute({
    method: "get",
    path: "/groups",
    tags,
    security: bearer,
    summary: "My groups (dissolved ones stay listed, read-only, until I leave them)",
    request: { query: z.object({ limit: Limit(50, 100), offset: Offset }) },
    responses: { 200: envelope(z.object({ groups: z.array(GroupListItem), ...Paged })), ...errors(401) },
  }),
  async (c) => {
    const { limit, offset } = c.req.valid("query");
    return ok(c, "Groups retrieved", await groups.myGroups(await groups.actorOf(c), limit, offset));
  },
);

router.openapi(
  createRoute({
    method: "get",
    path: "/groups/search",
    tags,
    security: bearer,
    summary: "Search public groups by name (contains) or exact id",
    request: { query: z.object({ q: z.string().trim().min(1).max(64), limit: Limit(20, 50), offset: Offset }) },
    responses: {
      200: envelope(z.object({ groups: z.array(GroupListItem), limit: z.number().int(), offset: z.number().int() })),
      ...errors(401),
    },
  }),
  async (c) => {
    const { q, limit, offset } = c.req.valid("query");
    return ok(c, "Groups found", { groups: await groups.searchGroups(await groups.actorOf(c), q, limit, offset), limit, offset });
  },
);

router.openapi(
  createRoute({
    method: "get",
    path: "/groups/nearby",
    tags,
    security: bearer,
    summary: "Public groups with a location within radius_m (default: near_chatgroup_distance), nearest first",
    request: {
      query: z.object({
        lat: z.coerce.number().min(-90).max(90),
        lng: z.coerce.number().min(-180).max(180),
        radius_m: z.coerce.number().int().min(1).max(100_000).optional(),
        limit: Limit(50, 100),
      }),
    },
    responses: {
      200: envelope(z.object({ groups: z.array(GroupListItem.extend({ distance_m: z.number().int() })), radius_m: z.number().int() })),
      ...errors(401),
    },
  }),
  async (c) => {
    const { lat, lng, radius_m, limit } = c.req.valid("query");
    const actor = await groups.actorOf(c);
    const radius = radius_m ?? actor.config.near_chatgroup_distance;
    return ok(c, "Nearby groups", { groups: await groups.nearbyGroups(actor, lat, lng, radius, limit), radius_m: radius });
  },
);

router.openapi(
  createRoute({
    method: "get",
    path: "/groups/common",
    tags,
    security: bearer,
    summary: "Groups I share with another user",
    request: { query: z.object({ user_id: UserId, limit: Limit(50, 100), offset: Offset }) },
    responses: { 200: envelope(z.object({ groups: z.array(GroupListItem), ...Paged })), ...errors(401, 404) },
  }),
  async (c) => {
    const { user_id, limit, offset } = c.req.valid("query");
    return ok(c, "Groups in common", await groups.commonGroups(await groups.actorOf(c), user_id, limit, offset));
  },
);

router.openapi(
  createRoute({
    method: "get",
    path: "/groups/join-requests",
    tags,
    security: bearer,
    summary: "Pending join requests across every group I own or administer, newest first (004's approval list)",
    request: { query: z.object({ limit: Limit(50, 100), offset: Offset }) },
    responses: { 200: envelope(z.object({ requests: z.array(JoinRequest), ...Paged })), ...errors(401) },
  }),
  async (c) => {
    const { limit, offset } = c.req.valid("query");
    return ok(c, "Join requests retrieved", await managedRequests(await groups.actorOf(c), limit, offset));
  },
);

router.openapi(
  createRoute({
    method: "get",
    path: "/groups/{id}",
    tags,
    security: bearer,
    summary: "Group info with my role, state and mute; private groups only for members, requesters and invitees",
    request: { params: IdParam },
    responses: { 200: envelope(z.object({ group: GroupDetail })), ...errors(401, 403, 404) },
  }),
  async (c) => ok(c, "Group retrieved", { group: await groups.groupInfo(await groups.actorOf(c), c.req.valid("param").id) }),
);

router.openapi(
  createRoute({
    method: "patch",
    path: "/groups/{id}",
    tags,
    security: bearer,
    summary: "Update profile and settings (owner or admin; visibility and member_limit: owner only)",
    request: { params: IdParam, body: jsonBody(GroupUpdate) },
    responses: { 200: envelope(z.object({ group: GroupDetail })), ...errors(401, 403, 404, 409, 415) },
  }),
  async (c) =>
    ok(c, "Group updated", { group: await groups.updateGroup(await groups.actorOf(c), c.req.valid("param").id, c.req.valid("json")) }),
);

router.openapi(
  createRoute({
    method: "delete",
    path: "/groups/{id}",
    tags,
    security: bearer,
    summary: "Dissolve the group (owner): members are notified and keep the history read-only; nobody can join or post",
    request: { params: IdParam },
    responses: { 200: envelope(z.object({ group_id: z.string(), dissolved_at: z.string() })), ...errors(401, 403, 404, 409) },
  }),
  async (c) => ok(c, "Group dissolved", await groups.dissolveGroup(await groups.actorOf(c), c.req.valid("param").id)),
);

router.route("/", groupMemberRoutes);
router.route("/", groupRequestRoutes);

export default router;
