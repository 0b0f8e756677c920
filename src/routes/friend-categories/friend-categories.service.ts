import { and, asc, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "../../env";
import { friendCategories, friendCategoryMembers, friendships, users } from "../../db/schema";
import { isUniqueViolation } from "../../db/errors";
import type { Config } from "../../lib/config";
import { conflict, notFound } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { assertFriends, inIds } from "../friends/friends.service";
import { publicUser } from "../users/users.service";
import { MAX_CATEGORIES } from "./friend-categories.schemas";

type DisplayConfig = Pick<Config, "display_online_status">;
type CategoryRow = typeof friendCategories.$inferSelect;

const duplicateName = () => conflict("You already have a category with this name");

/** Adds friends to a category in one statement (ids bound as JSON); existing members are left as they are. */
function insertMembers(db: Db, categoryId: string, ids: string[], at: string) {
  return db
    .insert(friendCategoryMembers)
    .select(
      sql`SELECT ${categoryId}, value, ${at} FROM json_each(${JSON.stringify(ids)})
        WHERE EXISTS (SELECT 1 FROM ${friendCategories} WHERE id = ${categoryId})`,
    )
    .onConflictDoNothing();
}

/** Joins four tables with same-named columns, so it runs on its own (never inside db.batch, whose rows are objects). */
function membersQuery(db: Db, me: string, categoryId?: string) {
  return db
    .select({ categoryId: friendCategoryMembers.categoryId, addedAt: friendCategoryMembers.createdAt, user: users, friendship: friendships })
    .from(friendCategoryMembers)
    .innerJoin(friendCategories, eq(friendCategories.id, friendCategoryMembers.categoryId))
    .innerJoin(users, eq(users.id, friendCategoryMembers.friendId))
    .innerJoin(friendships, and(eq(friendships.userId, me), eq(friendships.friendId, friendCategoryMembers.friendId)))
    .where(and(eq(friendCategories.userId, me), isNull(users.disabledAt), categoryId ? eq(friendCategoryMembers.categoryId, categoryId) : undefined))
    .orderBy(asc(friendCategoryMembers.createdAt), asc(friendCategoryMembers.friendId));
}

type MemberRow = Awaited<ReturnType<typeof membersQuery>>[number];

function categoryView(category: CategoryRow, memberRows: MemberRow[], config: DisplayConfig) {
  const members = memberRows
    .filter((m) => m.categoryId === category.id)
    .map((m) => ({ user: publicUser(m.user, config), remark: m.friendship.remark, labels: m.friendship.labels, added_at: m.addedAt }));
  return {
    id: category.id,
    name: category.name,
    member_count: members.length,
    members,
    created_at: category.createdAt,
    updated_at: category.updatedAt,
  };
}

/** My category by id; someone else's is indistinguishable from a missing one. */
async function requireCategory(db: Db, me: string, id: string) {
  const row = await db
    .select()
    .from(friendCategories)
    .where(and(eq(friendCategories.id, id), eq(friendCategories.userId, me)))
    .get();
  if (!row) throw notFound("Friend category");
  return row;
}

/** One of my categories with its members. */
export async function getCategory(db: Db, config: DisplayConfig, me: string, id: string) {
  const [rows, memberRows] = await Promise.all([
    db
      .select()
      .from(friendCategories)
      .where(and(eq(friendCategories.id, id), eq(friendCategories.userId, me))),
    membersQuery(db, me, id),
  ]);
  if (!rows[0]) throw notFound("Friend category");
  return categoryView(rows[0], memberRows, config);
}

/** All my categories (at most 50) with their members, oldest first. */
export async function listCategories(db: Db, config: DisplayConfig, me: string) {
  const [rows, memberRows] = await Promise.all([
    db.select().from(friendCategories).where(eq(friendCategories.userId, me)).orderBy(asc(friendCategories.createdAt), asc(friendCategories.id)),
    membersQuery(db, me),
  ]);
  return { categories: rows.map((r) => categoryView(r, memberRows, config)), total: rows.length };
}

/**
 * Creates a category with its first members (all must be my friends). The category limit is enforced by
 * the insert itself, so two concurrent creates cannot pass it.
 */
export async function createCategory(db: Db, config: DisplayConfig, me: string, input: { name: string; members: string[] }) {
  await assertFriends(db, me, input.members);
  const id = newId("fcat");
  const now = new Date().toISOString();
  let created: D1Result;
  try {
    [created] = await db.batch([
      db
        .insert(friendCategories)
        .select(
          sql`SELECT ${id}, ${me}, ${input.name}, ${now}, ${now}
            WHERE (SELECT count(*) FROM ${friendCategories} WHERE user_id = ${me}) < ${MAX_CATEGORIES}`,
        ),
      insertMembers(db, id, input.members, now),
    ]);
  } catch (err) {
    if (isUniqueViolation(err)) throw duplicateName();
    throw err;
  }
  if (!created.meta.changes) throw conflict(`You can have at most ${MAX_CATEGORIES} friend categories`);
  return getCategory(db, config, me, id);
}

/** Renames one of my categories; a name I already use is a 409. */
export async function renameCategory(db: Db, config: DisplayConfig, me: string, id: string, name: string) {
  let updated: { id: string }[];
  try {
    updated = await db
      .update(friendCategories)
      .set({ name, updatedAt: new Date().toISOString() })
      .where(and(eq(friendCategories.id, id), eq(friendCategories.userId, me)))
      .returning({ id: friendCategories.id });
  } catch (err) {
    if (isUniqueViolation(err)) throw duplicateName();
    throw err;
  }
  if (!updated.length) throw notFound("Friend category");
  return getCategory(db, config, me, id);
}

/** Deletes one of my categories and its memberships (the friendships stay). */
export async function deleteCategory(db: Db, me: string, id: string) {
  await requireCategory(db, me, id);
  await db.batch([
    db.delete(friendCategoryMembers).where(eq(friendCategoryMembers.categoryId, id)),
    db.delete(friendCategories).where(and(eq(friendCategories.id, id), eq(friendCategories.userId, me))),
  ]);
  return { deleted: true as const, id };
}

/** Adds friends to one of my categories; anyone who is not my friend makes it a 400. */
export async function addMembers(db: Db, config: DisplayConfig, me: string, id: string, members: string[]) {
  await requireCategory(db, me, id);
  await assertFriends(db, me, members);
  const now = new Date().toISOString();
  await db.batch([
    insertMembers(db, id, members, now),
    db.update(friendCategories).set({ updatedAt: now }).where(eq(friendCategories.id, id)),
  ]);
  return getCategory(db, config, me, id);
}

/** Removes the listed users from my category; ids that are not in it are ignored. */
export async function removeMembers(db: Db, config: DisplayConfig, me: string, id: string, members: string[]) {
  await requireCategory(db, me, id);
  await db.batch([
    db.delete(friendCategoryMembers).where(and(eq(friendCategoryMembers.categoryId, id), inIds(friendCategoryMembers.friendId, members))),
    db.update(friendCategories).set({ updatedAt: new Date().toISOString() }).where(eq(friendCategories.id, id)),
  ]);
  return getCategory(db, config, me, id);
}
