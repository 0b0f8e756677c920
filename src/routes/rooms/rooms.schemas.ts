import { z } from "@hono/zod-openapi";
import { idPattern } from "../../lib/ids";

export const RoomId = z.string().regex(idPattern("room"), "a room id (room_…)").openapi({ example: "room_01jd8x2k3m9q7r4t6v8w" });

export const RoomCreate = z
  .object({
    name: z.string().trim().min(1).max(64).openapi({ example: "My Room" }),
    description: z.string().trim().max(500).optional().openapi({ example: "A test room" }),
  })
  .strict()
  .openapi("RoomCreate");

export const Room = z
  .object({ id: z.string(), name: z.string(), description: z.string(), creator_id: z.string(), created_at: z.string() })
  .openapi("Room");

export const RoomListItem = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    creator_id: z.string(),
    member_count: z.number().int(),
    created_at: z.string(),
    joined: z.boolean().optional().openapi({ description: "only with a token: whether I am in the room" }),
  })
  .openapi("RoomListItem");

export const RoomRef = z.object({ room_id: RoomId }).strict().openapi("RoomRef");

export const RoomUpdate = z
  .object({ description: z.string().trim().max(500).openapi({ example: "Updated description" }) })
  .strict()
  .openapi("RoomUpdate");
