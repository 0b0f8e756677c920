import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../../middleware/auth";
import { getConfig } from "../../middleware/context";
import { bearer, createRouter, envelope, errors, jsonBody, ok } from "../../lib/openapi";
import { userStub } from "../../realtime/push";
import { changePassword } from "../auth/auth.service";
import { Password, PrivateUser, ProfileUpdate, PublicUser, Relationship, Status, UserId } from "./users.schemas";
import * as users from "./users.service";

const tags = ["Users"];
const router = createRouter();
router.use("/users/*", requireAuth);
router.use("/users", requireAuth);

const Limit = (def: number, max: number) => z.coerce.number().int().min(1).max(max).default(def);
const Offset = z.coerce.number().int().min(0).max(1_000_000).default(0);

router.openapi(
  createRoute({
    method: "get",
    path: "/users/me",
    tags,
    security: bearer,
    summary: "My account (seed 001 shape, plus profile)",
    responses: { 200: envelope(z.object({ user: PrivateUser })), ...errors(401, 404) },
  }),
  async (c) => {
    const user = await users.requireUser(c.var.db, c.var.user.id);
    return ok(c, "User information retrieved successfully", { user: users.privateUser(user) });
  },
);

router.openapi(
  createRoute({
    method: "patch",
    path: "/users/me",
    tags,
    security: bearer,
    summary: "Update my profile; send only the fields to change (null clears)",
    request: { body: jsonBody(ProfileUpdate) },
    responses: { 200: envelope(z.object({ user: PrivateUser })), ...errors(401, 415) },
  }),
  async (c) => {
    const row = await users.updateProfile(c.var.db, c.var.user.id, c.req.valid("json"));
    return ok(c, "Profile updated", { user: users.privateUser(row) });
  },
);

router.openapi(
  createRoute({
    method: "put",
    path: "/users/me/password",
    tags,
    security: bearer,
    summary: "Change my password (old_password required when one is set); signs out my other sessions",
    request: { body: jsonBody(z.object({ old_password: z.string().min(1).max(128).optional(), password: Password }).strict()) },
    responses: { 200: envelope(z.object({ changed: z.literal(true) })), ...errors(401, 403, 415) },
  }),
  async (c) => {
    const { old_password, password } = c.req.valid("json");
    await changePassword(c.var.db, c.var.user.id, c.var.user.sessionId, old_password, password);
    return ok(c, "Password changed", { changed: true as const });
  },
);

router.openapi(
  createRoute({
    method: "put",
    path: "/users/me/status",
    tags,
    security: bearer,
    summary: "Set my presence status; friends hear it live (AWAY/BUSY stick while connected, ONLINE clears them)",
    request: { body: jsonBody(z.object({ status: Status }).strict()) },
    responses: {
      200: envelope(z.object({ id: z.string(), status: Status, last_seen: z.string().nullable() })),
      ...errors(401, 415),
    },
  }),
  async (c) => ok(c, "Status updated", await userStub(c.env, c.var.user.id).setStatus(c.var.user.id, c.req.valid("json").status)),
);

router.openapi(
  createRoute({
    method: "get",
    path: "/users",
    tags,
    security: bearer,
    summary: "All users, paged (seed 001)",
    request: { query: z.object({ limit: Limit(10, 100), offset: Offset }) },
    responses: {
      200: envelope(z.object({ users: z.array(PublicUser), total: z.number().int(), limit: z.number().int(), offset: z.number().int() })),
      ...errors(401),
    },
  }),
  async (c) => {
    const { limit, offset } = c.req.valid("query");
    const config = await getConfig(c);
    const { rows, total } = await users.listUsers(c.var.db, limit, offset);
    return ok(c, "Users retrieved successfully", { users: rows.map((u) => users.publicUser(u, config)), total, limit, offset });
  },
);

router.openapi(
  createRoute({
    method: "get",
    path: "/users/search",
    tags,
    security: bearer,
    summary: "Search users by id, username prefix, nickname, email or phone (as the operator allows)",
    request: { query: z.object({ q: z.string().trim().min(1).max(64), limit: Limit(20, 50), offset: Offset }) },
    responses: { 200: envelope(z.object({ users: z.array(PublicUser), limit: z.number().int(), offset: z.number().int() })), ...errors(401) },
  }),
  async (c) => {
    const { q, limit, offset } = c.req.valid("query");
    const config = await getConfig(c);
    const rows = await users.searchUsers(c.var.db, config, q, limit, offset);
    return ok(c, "Users found", { users: rows.map((u) => users.publicUser(u, config)), limit, offset });
  },
);

router.openapi(
  createRoute({
    method: "get",
    path: "/users/nearby",
    tags,
    security: bearer,
    summary: "Users who share a location within radius_m of a point, nearest first",
    request: {
      query: z.object({
        lat: z.coerce.number().min(-90).max(90),
        lng: z.coerce.number().min(-180).max(180),
        radius_m: z.coerce.number().int().min(1).max(100_000).optional(),
        limit: Limit(50, 100),
      }),
    },
    responses: {
      200: envelope(
        z.object({
          users: z.array(PublicUser.extend({ distance_m: z.number().int() })),
          radius_m: z.number().int(),
        }),
      ),
      ...errors(401),
    },
  }),
  async (c) => {
    const { lat, lng, radius_m, limit } = c.req.valid("query");
    const config = await getConfig(c);
    const radius = radius_m ?? config.near_friend_distance;
    const found = await users.nearbyUsers(c.var.db, c.var.user.id, lat, lng, radius, limit);
    return ok(c, "Nearby users", {
      users: found.map((r) => ({ ...users.publicUser(r.user, config), distance_m: Math.round(r.distance) })),
      radius_m: radius,
    });
  },
);

router.openapi(
  createRoute({
    method: "get",
    path: "/users/{user_id}",
    tags,
    security: bearer,
    summary: "One user (seed 001 shape) with my relationship to them",
    request: { params: z.object({ user_id: UserId }) },
    responses: { 200: envelope(z.object({ user: PublicUser, relationship: Relationship })), ...errors(401, 404) },
  }),
  async (c) => {
    const { user_id } = c.req.valid("param");
    const config = await getConfig(c);
    const user = await users.requireUser(c.var.db, user_id);
    const relationship = await users.relationship(c.var.db, c.var.user.id, user.id);
    return ok(c, "User information retrieved successfully", { user: users.publicUser(user, config), relationship });
  },
);

export default router;
