import { drizzle } from "drizzle-orm/d1";
import * as schema from "../db/schema";
import type { Env } from "../env";
import { loadConfig } from "../lib/config";
import { joinRoom } from "../routes/rooms/rooms.service";
import { capture } from "./result";

/**
 * Seed 001's `join_room` on a room joins it, exactly as `POST /rooms/join` does (rooms are open).
 * Other conversations are not joined this way: their object checks membership itself.
 */
export async function ensureRoomMember(env: Env, conversationId: string, userId: string) {
  return capture(async () => {
    if (!conversationId.startsWith("room_")) return;
    const db = drizzle(env.DB, { schema });
    await joinRoom({ env, db, config: await loadConfig(db), userId, isAdmin: false }, conversationId);
  });
}
