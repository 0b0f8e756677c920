import { and, eq } from "drizzle-orm";
import { expect } from "vitest";
import { friendships, notifications } from "../src/db/schema";
import { call, db, signup, uniq, type TestUser } from "./helpers";

export async function createGroup(token: string, body: Record<string, unknown> = {}) {
  const res = await call("POST", "/groups", { token, body: { name: uniq("group"), ...body } });
  if (res.status !== 201) throw new Error(`group create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data.group as Record<string, any> & { id: string };
}

export async function join(groupId: string, user: TestUser, body?: Record<string, unknown>) {
  const res = await call("POST", `/groups/${groupId}/join`, { token: user.token, body });
  if (res.status !== 200) throw new Error(`join failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data;
}

/** Friends are one row per direction (the social graph's model). */
export async function befriend(a: TestUser, b: TestUser) {
  await db()
    .insert(friendships)
    .values([
      { userId: a.id, friendId: b.id },
      { userId: b.id, friendId: a.id },
    ]);
}

export type People = () => Promise<TestUser[]>;

/**
 * Five users for a test file to share between casts (each cast has its own group, and assertions look at that
 * group only): signing up hashes a password, which is most of what a role-matrix test would otherwise spend.
 */
export function userPool(): People {
  let pool: Promise<TestUser[]> | undefined;
  return () => (pool ??= Promise.all(Array.from({ length: 5 }, () => signup())));
}

/** A fresh group with one user in each role, plus an outsider: the cast of the role matrix. */
export async function cast(groupBody: Record<string, unknown> = {}, people?: People) {
  const [owner, admin, member, other, outsider] = people ? await people() : await Promise.all(Array.from({ length: 5 }, () => signup()));
  const group = await createGroup(owner.token, groupBody);
  await join(group.id, admin);
  await join(group.id, member);
  await join(group.id, other);
  const promoted = await call("PATCH", `/groups/${group.id}/members/${admin.id}`, { token: owner.token, body: { role: "admin" } });
  expect(promoted.status).toBe(200);
  return { group, owner, admin, member, other, outsider };
}

export async function kindsFor(userId: string, subjectId: string) {
  const rows = await db()
    .select()
    .from(notifications)
    .where(and(eq(notifications.userId, userId), eq(notifications.subjectId, subjectId)))
    .orderBy(notifications.id);
  return rows.map((r) => r.kind);
}

export async function notificationsFor(userId: string, subjectId: string) {
  return db()
    .select()
    .from(notifications)
    .where(and(eq(notifications.userId, userId), eq(notifications.subjectId, subjectId)))
    .orderBy(notifications.id);
}

export async function info(groupId: string, user: TestUser) {
  return call("GET", `/groups/${groupId}`, { token: user.token });
}

export const UNKNOWN_GROUP = "grp_0000000000zzzzzzzzzz";
export const UNKNOWN_USER = "user_0000000000zzzzzzzzzz";
