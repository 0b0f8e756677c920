import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { conversations, members, notifications } from "../../src/db/schema";
import { call, db, expectError, signup, uniq } from "../helpers";

async function createRoom(token: string, body: Record<string, unknown> = {}) {
  const res = await call("POST", "/rooms", { token, body: { name: uniq("room"), description: "A test room", ...body } });
  expect(res.status).toBe(201);
  return res.body.data as { id: string; name: string; description: string; creator_id: string; created_at: string };
}

async function listAll(token: string) {
  const res = await call("GET", "/rooms?limit=100", { token });
  expect(res.status).toBe(200);
  return res.body.data.rooms as { id: string; member_count: number }[];
}

describe("POST /rooms (seed 001)", () => {
  it("creates a room: 201 with exactly 001's shape, and the creator is its first member", async () => {
    const user = await signup();
    const res = await call("POST", "/rooms", { token: user.token, body: { name: "My Room", description: "A test room" } });
    expect(res.status).toBe(201);
    expect(res.body.success).toBe(true);
    expect(res.body.message).toBe("Room created successfully");
    expect(Object.keys(res.body.data).sort()).toEqual(["created_at", "creator_id", "description", "id", "name"]);
    expect(res.body.data).toMatchObject({ name: "My Room", description: "A test room", creator_id: user.id });
    expect(res.body.data.id).toMatch(/^room_[0-9a-z]+$/);
    expect(new Date(res.body.data.created_at).toISOString()).toBe(res.body.data.created_at);
    const row = await db().select().from(members).where(eq(members.conversationId, res.body.data.id)).get();
    expect(row).toMatchObject({ userId: user.id, role: "owner" });
  });

  it("description is optional and reads back as an empty string", async () => {
    const user = await signup();
    const res = await call("POST", "/rooms", { token: user.token, body: { name: "Bare" } });
    expect(res.status).toBe(201);
    expect(res.body.data.description).toBe("");
  });

  it("rejects bad input with 400 and no token with 401", async () => {
    const user = await signup();
    expectError(await call("POST", "/rooms", { body: { name: "x" } }), 401, "UNAUTHORIZED");
    expectError(await call("POST", "/rooms", { token: user.token, body: {} }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", "/rooms", { token: user.token, body: { name: "   " } }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", "/rooms", { token: user.token, body: { name: "x".repeat(65) } }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", "/rooms", { token: user.token, body: { name: "ok", owner: "me" } }), 400, "VALIDATION_ERROR");
    expectError(await call("POST", "/rooms", { token: user.token, body: { name: 5 } }), 400, "VALIDATION_ERROR");
    expectError(
      await call("POST", "/rooms", { token: user.token, raw: "{name", headers: { "content-type": "application/json" } }),
      400,
      "MALFORMED_JSON",
    );
    expectError(await call("POST", "/rooms", { token: user.token, raw: "name=x", headers: { "content-type": "text/plain" } }), 415);
  });
});

describe("GET /rooms (seed 001)", () => {
  it("lists rooms with member_count, count, total, limit (default 50) and offset", async () => {
    const user = await signup();
    const room = await createRoom(user.token, { name: "General Chat", description: "Main discussion room" });
    const res = await call("GET", "/rooms", { token: user.token });
    expect(res.status).toBe(200);
    expect(res.body.message).toBe("Successfully retrieved rooms");
    expect(Object.keys(res.body.data).sort()).toEqual(["count", "limit", "offset", "rooms", "total"]);
    expect(res.body.data).toMatchObject({ limit: 50, offset: 0 });
    expect(res.body.data.count).toBe(res.body.data.rooms.length);
    expect(res.body.data.total).toBeGreaterThanOrEqual(1);
    const all = await listAll(user.token);
    const item = all.find((r) => r.id === room.id)!;
    expect(Object.keys(item).sort()).toEqual(["created_at", "creator_id", "description", "id", "joined", "member_count", "name"]);
    expect(item).toMatchObject({ name: "General Chat", description: "Main discussion room", creator_id: user.id, member_count: 1 });
  });

  it("pages with limit and offset", async () => {
    const user = await signup();
    for (let i = 0; i < 3; i++) await createRoom(user.token);
    const first = await call("GET", "/rooms?limit=2&offset=0", { token: user.token });
    const second = await call("GET", "/rooms?limit=2&offset=2", { token: user.token });
    expect(first.body.data).toMatchObject({ count: 2, limit: 2, offset: 0 });
    expect(second.body.data.offset).toBe(2);
    expect(first.body.data.total).toBe(second.body.data.total);
    const ids = new Set(first.body.data.rooms.map((r: { id: string }) => r.id));
    for (const r of second.body.data.rooms) expect(ids.has(r.id)).toBe(false);
    const beyond = await call("GET", `/rooms?offset=${first.body.data.total}`, { token: user.token });
    expect(beyond.body.data).toMatchObject({ rooms: [], count: 0 });
  });

  it("caps limit at 100 and validates the query", async () => {
    const user = await signup();
    expect((await call("GET", "/rooms?limit=100", { token: user.token })).status).toBe(200);
    expectError(await call("GET", "/rooms?limit=101", { token: user.token }), 400, "VALIDATION_ERROR");
    expectError(await call("GET", "/rooms?limit=0", { token: user.token }), 400, "VALIDATION_ERROR");
    expectError(await call("GET", "/rooms?offset=-1", { token: user.token }), 400, "VALIDATION_ERROR");
    expectError(await call("GET", "/rooms?limit=abc", { token: user.token }), 400, "VALIDATION_ERROR");
    expectError(await call("GET", "/rooms?limit=abc"), 400, "VALIDATION_ERROR");
  });

  it("is public (seed 001 marks no lock on it): no token lists every room without per-user fields", async () => {
    const owner = await signup();
    const room = await createRoom(owner.token, { name: "Lobby", description: "open to all" });
    const res = await call("GET", "/rooms?limit=100");
    expect(res.status).toBe(200);
    expect(res.body.message).toBe("Successfully retrieved rooms");
    let item = res.body.data.rooms.find((r: { id: string }) => r.id === room.id);
    for (let offset = 100; !item && offset < res.body.data.total; offset += 100) {
      item = (await call("GET", `/rooms?limit=100&offset=${offset}`)).body.data.rooms.find((r: { id: string }) => r.id === room.id);
    }
    expect(item).toEqual({ id: room.id, name: "Lobby", description: "open to all", creator_id: owner.id, member_count: 1, created_at: room.created_at });
    for (const r of res.body.data.rooms) expect(r).not.toHaveProperty("joined");
  });

  it("with a token adds whether I joined each room; a bad token is still refused", async () => {
    const owner = await signup();
    const other = await signup();
    const room = await createRoom(owner.token);
    const find = async (token: string) => (await listAll(token)).find((r) => r.id === room.id)!;
    expect(await find(owner.token)).toMatchObject({ joined: true });
    expect(await find(other.token)).toMatchObject({ joined: false });
    await call("POST", "/rooms/join", { token: other.token, body: { room_id: room.id } });
    expect(await find(other.token)).toMatchObject({ joined: true, member_count: 2 });
    expectError(await call("GET", "/rooms", { token: "not-a-jwt" }), 401, "UNAUTHORIZED");
    expectError(await call("GET", "/rooms", { headers: { authorization: "Basic abc" } }), 401, "UNAUTHORIZED");
    // the rest of /rooms still needs a token
    expectError(await call("POST", "/rooms", { body: { name: "x" } }), 401, "UNAUTHORIZED");
  });
});

describe("POST /rooms/join and /rooms/leave (seed 001)", () => {
  it("joins with 001's shape, counts the member, and a second join returns the first", async () => {
    const owner = await signup();
    const guest = await signup();
    const room = await createRoom(owner.token);
    const res = await call("POST", "/rooms/join", { token: guest.token, body: { room_id: room.id } });
    expect(res.status).toBe(200);
    expect(res.body.message).toBe("Successfully joined room");
    expect(Object.keys(res.body.data).sort()).toEqual(["joined_at", "room_id", "user_id"]);
    expect(res.body.data).toMatchObject({ room_id: room.id, user_id: guest.id });
    expect((await listAll(owner.token)).find((r) => r.id === room.id)!.member_count).toBe(2);

    const again = await call("POST", "/rooms/join", { token: guest.token, body: { room_id: room.id } });
    expect(again.status).toBe(200);
    expect(again.body.data.joined_at).toBe(res.body.data.joined_at);
    expect((await listAll(owner.token)).find((r) => r.id === room.id)!.member_count).toBe(2);
  });

  it("leaves with 001's shape; leaving again is a 409", async () => {
    const owner = await signup();
    const guest = await signup();
    const room = await createRoom(owner.token);
    await call("POST", "/rooms/join", { token: guest.token, body: { room_id: room.id } });
    const res = await call("POST", "/rooms/leave", { token: guest.token, body: { room_id: room.id } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: true, message: "Successfully left room", data: { room_id: room.id, user_id: guest.id } });
    expect(Object.keys(res.body.data).sort()).toEqual(["room_id", "user_id"]);
    expect((await listAll(owner.token)).find((r) => r.id === room.id)!.member_count).toBe(1);
    expectError(await call("POST", "/rooms/leave", { token: guest.token, body: { room_id: room.id } }), 409, "CONFLICT");
  });

  it("the creator may leave and rejoin; the room stays theirs", async () => {
    const owner = await signup();
    const room = await createRoom(owner.token);
    expect((await call("POST", "/rooms/leave", { token: owner.token, body: { room_id: room.id } })).status).toBe(200);
    expect((await listAll(owner.token)).find((r) => r.id === room.id)!.member_count).toBe(0);
    expect((await call("POST", "/rooms/join", { token: owner.token, body: { room_id: room.id } })).status).toBe(200);
    expect((await call("PATCH", `/rooms/${room.id}`, { token: owner.token, body: { description: "still mine" } })).status).toBe(200);
  });

  it("refuses a full room with 409", async () => {
    const owner = await signup();
    const room = await createRoom(owner.token);
    await db().update(conversations).set({ memberLimit: 2 }).where(eq(conversations.id, room.id));
    const a = await signup();
    const b = await signup();
    expect((await call("POST", "/rooms/join", { token: a.token, body: { room_id: room.id } })).status).toBe(200);
    expectError(await call("POST", "/rooms/join", { token: b.token, body: { room_id: room.id } }), 409, "CONFLICT");
    expect((await listAll(owner.token)).find((r) => r.id === room.id)!.member_count).toBe(2);
  });

  it("validates room_id: unknown 404, malformed, missing or extra fields 400, no token 401", async () => {
    const user = await signup();
    for (const path of ["/rooms/join", "/rooms/leave"]) {
      expectError(await call("POST", path, { token: user.token, body: { room_id: "room_0000000000zzzzzzzzzz" } }), 404, "NOT_FOUND");
      expectError(await call("POST", path, { token: user.token, body: { room_id: "not-a-room" } }), 400, "VALIDATION_ERROR");
      expectError(await call("POST", path, { token: user.token, body: { room_id: "grp_0000000000zzzzzzzzzz" } }), 400, "VALIDATION_ERROR");
      expectError(await call("POST", path, { token: user.token, body: {} }), 400, "VALIDATION_ERROR");
      expectError(await call("POST", path, { token: user.token, body: { room_id: "room_0000000000zzzzzzzzzz", x: 1 } }), 400, "VALIDATION_ERROR");
      expectError(await call("POST", path, { body: { room_id: "room_0000000000zzzzzzzzzz" } }), 401, "UNAUTHORIZED");
    }
  });

  it("a group id that exists is still not a room", async () => {
    const user = await signup();
    const group = await call("POST", "/groups", { token: user.token, body: { name: "not a room" } });
    const [conv] = await db().select().from(conversations).where(eq(conversations.id, group.body.data.group.id));
    expect(conv.kind).toBe("group");
    expectError(await call("PATCH", `/rooms/${conv.id}`, { token: user.token, body: { description: "x" } }), 400, "VALIDATION_ERROR");
  });
});

describe("PATCH and DELETE /rooms/{id} (seed 001, creator only)", () => {
  it("the creator updates the description with 001's shape", async () => {
    const owner = await signup();
    const room = await createRoom(owner.token);
    const res = await call("PATCH", `/rooms/${room.id}`, { token: owner.token, body: { description: "Updated description" } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      success: true,
      message: "Room description updated successfully",
      data: { room_id: room.id, new_description: "Updated description", updated_by: owner.id },
    });
    expect((await listAll(owner.token)).find((r) => r.id === room.id)).toMatchObject({ description: "Updated description" });
    const cleared = await call("PATCH", `/rooms/${room.id}`, { token: owner.token, body: { description: "" } });
    expect(cleared.body.data.new_description).toBe("");
  });

  it("others get 403 (members included), unknown rooms 404, bad bodies 400", async () => {
    const owner = await signup();
    const member = await signup();
    const room = await createRoom(owner.token);
    await call("POST", "/rooms/join", { token: member.token, body: { room_id: room.id } });
    expectError(await call("PATCH", `/rooms/${room.id}`, { token: member.token, body: { description: "mine now" } }), 403, "FORBIDDEN");
    expectError(await call("DELETE", `/rooms/${room.id}`, { token: member.token }), 403, "FORBIDDEN");
    const stranger = await signup();
    expectError(await call("DELETE", `/rooms/${room.id}`, { token: stranger.token }), 403, "FORBIDDEN");
    expectError(await call("PATCH", "/rooms/room_0000000000zzzzzzzzzz", { token: owner.token, body: { description: "x" } }), 404, "NOT_FOUND");
    expectError(await call("DELETE", "/rooms/room_0000000000zzzzzzzzzz", { token: owner.token }), 404, "NOT_FOUND");
    expectError(await call("PATCH", "/rooms/nope", { token: owner.token, body: { description: "x" } }), 400, "VALIDATION_ERROR");
    expectError(await call("DELETE", "/rooms/nope", { token: owner.token }), 400, "VALIDATION_ERROR");
    expectError(await call("PATCH", `/rooms/${room.id}`, { token: owner.token, body: {} }), 400, "VALIDATION_ERROR");
    expectError(await call("PATCH", `/rooms/${room.id}`, { token: owner.token, body: { description: "x", name: "y" } }), 400, "VALIDATION_ERROR");
    expectError(await call("PATCH", `/rooms/${room.id}`, { token: owner.token, body: { description: "x".repeat(501) } }), 400, "VALIDATION_ERROR");
    expectError(await call("PATCH", `/rooms/${room.id}`, { body: { description: "x" } }), 401, "UNAUTHORIZED");
  });

  it("the creator deletes the room with 001's shape; members are notified and the room is gone", async () => {
    const owner = await signup();
    const member = await signup();
    const room = await createRoom(owner.token);
    await call("POST", "/rooms/join", { token: member.token, body: { room_id: room.id } });
    const res = await call("DELETE", `/rooms/${room.id}`, { token: owner.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, message: "Room deleted successfully", data: { room_id: room.id, deleted_by: owner.id } });
    expect((await listAll(owner.token)).some((r) => r.id === room.id)).toBe(false);
    expectError(await call("POST", "/rooms/join", { token: member.token, body: { room_id: room.id } }), 404, "NOT_FOUND");
    expectError(await call("DELETE", `/rooms/${room.id}`, { token: owner.token }), 404, "NOT_FOUND");
    expect(await db().select().from(members).where(eq(members.conversationId, room.id))).toEqual([]);
    const notes = await db()
      .select()
      .from(notifications)
      .where(and(eq(notifications.userId, member.id), eq(notifications.subjectId, room.id)));
    expect(notes.map((n) => n.kind)).toEqual(["group_dissolved"]);
    const ownerNotes = await db().select().from(notifications).where(and(eq(notifications.userId, owner.id), eq(notifications.subjectId, room.id)));
    expect(ownerNotes).toEqual([]);
  });

  it("documents every room path in the OpenAPI document", async () => {
    const doc = await call("GET", "/api/v1/openapi.json");
    for (const path of ["/rooms", "/rooms/join", "/rooms/leave", "/rooms/{id}"]) expect(doc.body.paths).toHaveProperty(path);
    expect(doc.body.paths["/rooms/{id}"]).toHaveProperty("patch");
    expect(doc.body.paths["/rooms/{id}"]).toHaveProperty("delete");
  });
});
