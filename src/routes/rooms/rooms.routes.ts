import { createRoute, z } from "@hono/zod-openapi";
import { optionalAuth, requireAuth } from "../../middleware/auth";
import { bearer, createRouter, optionalBearer, envelope, errors, jsonBody, ok } from "../../lib/openapi";
import { actorOf } from "../groups/groups.service";
import { Room, RoomCreate, RoomId, RoomListItem, RoomRef, RoomUpdate } from "./rooms.schemas";
import * as rooms from "./rooms.service";

const tags = ["Rooms"];
const router = createRouter();
// GET /rooms is public (seed 001); a token, when sent, is checked as anywhere else.
// ("/rooms/*" matches "/rooms" itself too.)
const publicList = (path: string, method: string) => method === "GET" && /\/rooms\/?$/.test(path);
router.use("/rooms/*", (c, next) => (publicList(c.req.path, c.req.method) ? optionalAuth(c, next) : requireAuth(c, next)));

const IdParam = z.object({ id: RoomId });

router.openapi(
  createRoute({
    method: "post",
    path: "/rooms",
    tags,
    security: bearer,
    summary: "Create a chat room (seed 001); I join it at once",
    request: { body: jsonBody(RoomCreate) },
    responses: { 201: envelope(Room, "Created"), ...errors(401, 415) },
  }),
  async (c) => ok(c, "Room created successfully", await rooms.createRoom(await actorOf(c), c.req.valid("json")), 201),
);

router.openapi(
  createRoute({
    method: "get",
    path: "/rooms",
    tags,
    security: optionalBearer,
    summary: "All rooms, oldest first (seed 001, public): limit default 50, at most 100",
    description: "No token needed. With a valid token each room also says whether I have `joined` it; an invalid token is 401.",
    request: {
      query: z.object({
        limit: z.coerce.number().int().min(1).max(100).default(50),
        offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
      }),
    },
    responses: {
      200: envelope(
        z.object({
          rooms: z.array(RoomListItem),
          count: z.number().int(),
          total: z.number().int(),
          limit: z.number().int(),
          offset: z.number().int(),
        }),
      ),
      ...errors(401),
    },
  }),
  async (c) => {
    const { limit, offset } = c.req.valid("query");
    return ok(c, "Successfully retrieved rooms", await rooms.listRooms(c.var.db, c.var.user?.id ?? null, limit, offset));
  },
);

router.openapi(
  createRoute({
    method: "post",
    path: "/rooms/join",
    tags,
    security: bearer,
    summary: "Join a room (seed 001); joining again answers with the original join",
    request: { body: jsonBody(RoomRef) },
    responses: {
      200: envelope(z.object({ room_id: z.string(), user_id: z.string(), joined_at: z.string() })),
      ...errors(401, 404, 409, 415),
    },
  }),
  async (c) => ok(c, "Successfully joined room", await rooms.joinRoom(await actorOf(c), c.req.valid("json").room_id)),
);

router.openapi(
  createRoute({
    method: "post",
    path: "/rooms/leave",
    tags,
    security: bearer,
    summary: "Leave a room (seed 001); 409 when I am not in it",
    request: { body: jsonBody(RoomRef) },
    responses: { 200: envelope(z.object({ room_id: z.string(), user_id: z.string() })), ...errors(401, 404, 409, 415) },
  }),
  async (c) => ok(c, "Successfully left room", await rooms.leaveRoom(await actorOf(c), c.req.valid("json").room_id)),
);

router.openapi(
  createRoute({
    method: "patch",
    path: "/rooms/{id}",
    tags,
    security: bearer,
    summary: "Update the room's description (creator only)",
    request: { params: IdParam, body: jsonBody(RoomUpdate) },
    responses: {
      200: envelope(z.object({ room_id: z.string(), new_description: z.string(), updated_by: z.string() })),
      ...errors(401, 403, 404, 415),
    },
  }),
  async (c) =>
    ok(
      c,
      "Room description updated successfully",
      await rooms.updateRoomDescription(await actorOf(c), c.req.valid("param").id, c.req.valid("json").description),
    ),
);

router.openapi(
  createRoute({
    method: "delete",
    path: "/rooms/{id}",
    tags,
    security: bearer,
    summary: "Delete the room (creator only); its members are notified",
    request: { params: IdParam },
    responses: { 200: envelope(z.object({ room_id: z.string(), deleted_by: z.string() })), ...errors(401, 403, 404) },
  }),
  async (c) => ok(c, "Room deleted successfully", await rooms.deleteRoom(await actorOf(c), c.req.valid("param").id)),
);

export default router;
