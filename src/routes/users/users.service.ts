import { and, asc, eq, gte, isNull, lte, ne, or, sql } from "drizzle-orm";
import type { Db } from "../../env";
import { blocks, friendRequests, friendships, users } from "../../db/schema";
import type { Config } from "../../lib/config";
import { notFound } from "../../lib/errors";

export type UserRow = typeof users.$inferSelect;

export function ageOf(birthday: string | null, now = new Date()): number | null {
  if (!birthday) return null;
  const [y, m, d] = birthday.split("-").map(Number);
  let age = now.getUTCFullYear() - y;
  if (now.getUTCMonth() + 1 < m || (now.getUTCMonth() + 1 === m && now.getUTCDate() < d)) age--;
  return age;
}

/** What anyone signed in may see of a user (never credentials, contact details or exact location). */
export function publicUser(u: UserRow, config?: Pick<Config, "display_online_status">) {
  const showStatus = config?.display_online_status ?? true;
  return {
    id: u.id,
    username: u.username,
    nickname: u.nickname,
    avatar: u.avatar,
    gender: u.gender,
    birthday: u.birthday,
    age: ageOf(u.birthday),
    bio: u.bio,
    country: u.country,
    province: u.province,
    city: u.city,
    district: u.district,
    status: showStatus ? u.status : null,
    last_seen: showStatus ? u.lastSeen : null,
    created_at: u.createdAt,
  };
}

/** The account owner's own view. */
export function privateUser(u: UserRow) {
  return {
    ...publicUser(u),
    email: u.email,
    phone: u.phone,
    location: u.lat != null && u.lng != null ? { lat: u.lat, lng: u.lng } : null,
    is_admin: u.isAdmin,
    needs_password: !u.passwordHash,
    updated_at: u.updatedAt,
  };
}

export async function findUser(db: Db, id: string): Promise<UserRow | undefined> {
  return db.select().from(users).where(eq(users.id, id)).get();
}

export async function requireUser(db: Db, id: string): Promise<UserRow> {
  const user = await findUser(db, id);
  if (!user || user.disabledAt) throw notFound("User");
  return user;
}

/** 002's friendState plus block flags, computed in one round trip. */
export async function relationship(db: Db, me: string, other: string) {
  if (me === other) {
    return { friend_state: 3, is_self: true, is_friend: false, is_blocked: false, blocked_me: false, request_id: null, remark: null };
  }
  const [friend, blockRows, pending] = await db.batch([
    db.select({ remark: friendships.remark }).from(friendships).where(and(eq(friendships.userId, me), eq(friendships.friendId, other))),
    db
      .select({ userId: blocks.userId })
      .from(blocks)
      .where(
        or(and(eq(blocks.userId, me), eq(blocks.blockedUserId, other)), and(eq(blocks.userId, other), eq(blocks.blockedUserId, me))),
      ),
    db
      .select({ id: friendRequests.id, from: friendRequests.fromUserId })
      .from(friendRequests)
      .where(
        and(
          eq(friendRequests.status, "pending"),
          or(
            and(eq(friendRequests.fromUserId, me), eq(friendRequests.toUserId, other)),
            and(eq(friendRequests.fromUserId, other), eq(friendRequests.toUserId, me)),
          ),
        ),
      )
      .orderBy(sql`created_at DESC`),
  ]);
  const isFriend = friend.length > 0;
  const isBlocked = blockRows.some((b) => b.userId === me);
  // A request they sent while I block them stays hidden from me (and from this view).
  const request = pending.find((r) => !(isBlocked && r.from === other));
  const friendState = isFriend ? 1 : request ? (request.from === me ? 0 : 4) : 2;
  return {
    friend_state: friendState,
    is_self: false,
    is_friend: isFriend,
    is_blocked: isBlocked,
    blocked_me: blockRows.some((b) => b.userId === other),
    request_id: request?.id ?? null,
    remark: friend[0]?.remark ?? null,
  };
}

export interface ProfileInput {
  nickname?: string | null;
  avatar?: string | null;
  gender?: "male" | "female" | "unknown";
  birthday?: string | null;
  bio?: string | null;
  location?: { lat: number; lng: number } | null;
  country?: string | null;
  province?: string | null;
  city?: string | null;
  district?: string | null;
}

export async function updateProfile(db: Db, userId: string, input: ProfileInput) {
  const { location, ...fields } = input;
  const set: Partial<typeof users.$inferInsert> = { ...fields, updatedAt: new Date().toISOString() };
  if (location !== undefined) {
    set.lat = location?.lat ?? null;
    set.lng = location?.lng ?? null;
  }
  const [row] = await db.update(users).set(set).where(eq(users.id, userId)).returning();
  if (!row) throw notFound("User");
  return row;
}

export async function listUsers(db: Db, limit: number, offset: number) {
  const [rows, count] = await db.batch([
    db.select().from(users).where(isNull(users.disabledAt)).orderBy(asc(users.createdAt), asc(users.id)).limit(limit).offset(offset),
    db.select({ total: sql<number>`count(*)` }).from(users).where(isNull(users.disabledAt)),
  ]);
  return { rows, total: count[0]?.total ?? 0 };
}

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (m) => `\\${m}`);

/** Search by the fields the operator allows (`search_account_mode`). */
export async function searchUsers(db: Db, config: Config, q: string, limit: number, offset: number) {
  const mode = config.search_account_mode;
  if (mode === "none") return [];
  const fields = new Set(mode === "all" ? ["id", "username", "nickname", "email", "phone"] : mode.split(","));
  const term = q.trim();
  const lower = term.toLowerCase();
  const conditions = [];
  if (fields.has("id")) conditions.push(eq(users.id, term));
  if (fields.has("username")) conditions.push(sql`${users.usernameKey} LIKE ${`${likeEscape(lower)}%`} ESCAPE '\\'`);
  if (fields.has("nickname")) conditions.push(sql`${users.nickname} LIKE ${`%${likeEscape(term)}%`} ESCAPE '\\'`);
  if (fields.has("email")) conditions.push(eq(users.email, lower));
  if (fields.has("phone")) conditions.push(eq(users.phone, /^[1-9]\d{6,14}$/.test(term) ? `+${term}` : term));
  if (!conditions.length) return [];
  return db
    .select()
    .from(users)
    .where(and(isNull(users.disabledAt), or(...conditions)))
    .orderBy(sql`CASE WHEN ${users.usernameKey} = ${lower} THEN 0 ELSE 1 END`, asc(users.usernameKey))
    .limit(limit)
    .offset(offset);
}

const EARTH_RADIUS_M = 6_371_000;

export function distanceMeters(lat1: number, lng1: number, lat2: number, lng2: number) {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLng = (lng2 - lng1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** Latitude/longitude box around a point that contains every point within `radius` metres. */
export function boundingBox(lat: number, lng: number, radius: number) {
  const dLat = radius / 111_320;
  const cos = Math.cos((lat * Math.PI) / 180);
  const dLng = cos < 1e-6 ? 180 : Math.min(180, radius / (111_320 * cos));
  return { minLat: lat - dLat, maxLat: lat + dLat, minLng: lng - dLng, maxLng: lng + dLng };
}

/** Users who share a location within `radius` metres, nearest first (index range scan, then exact distance). */
export async function nearbyUsers(db: Db, me: string, lat: number, lng: number, radius: number, limit: number) {
  const box = boundingBox(lat, lng, radius);
  const lngCondition =
    box.minLng < -180 || box.maxLng > 180
      ? or(gte(users.lng, box.minLng < -180 ? box.minLng + 360 : box.minLng), lte(users.lng, box.maxLng > 180 ? box.maxLng - 360 : box.maxLng))
      : and(gte(users.lng, box.minLng), lte(users.lng, box.maxLng));
  const rows = await db
    .select()
    .from(users)
    .where(and(gte(users.lat, box.minLat), lte(users.lat, box.maxLat), lngCondition, ne(users.id, me), isNull(users.disabledAt)))
    .limit(5000);
  return rows
    .map((u) => ({ user: u, distance: distanceMeters(lat, lng, u.lat!, u.lng!) }))
    .filter((r) => r.distance <= radius)
    .sort((a, b) => a.distance - b.distance)
    .slice(0, limit);
}
