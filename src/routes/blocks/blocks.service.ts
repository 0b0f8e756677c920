import { and, desc, eq, sql } from "drizzle-orm";
import type { Db } from "../../env";
import { blocks, users } from "../../db/schema";
import { isUniqueViolation } from "../../db/errors";
import type { Config } from "../../lib/config";
import { badRequest, conflict, notFound } from "../../lib/errors";
import { cancelPendingStatement, unfriendStatements } from "../friends/friends.service";
import { publicUser, requireUser } from "../users/users.service";

type DisplayConfig = Pick<Config, "display_online_status">;

/**
 * Blocks a user: ends our friendship on both sides (and their place in either side's categories) and
 * cancels pending requests both ways, all in one batch. The blocked user is not notified.
 */
export async function blockUser(db: Db, config: DisplayConfig, me: string, other: string) {
  if (other === me) throw badRequest("You cannot block yourself");
  const user = await requireUser(db, other);
  const createdAt = new Date().toISOString();
  try {
    await db.batch([
      db.insert(blocks).values({ userId: me, blockedUserId: other, createdAt }),
      ...unfriendStatements(db, me, other),
      cancelPendingStatement(db, me, other, createdAt),
    ]);
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict("You already block this user");
    throw err;
  }
  return { user: publicUser(user, config), created_at: createdAt };
}

/** Lifts my block; the friendship is not restored. */
export async function unblockUser(db: Db, me: string, other: string) {
  await requireUser(db, other);
  const removed = await db
    .delete(blocks)
    .where(and(eq(blocks.userId, me), eq(blocks.blockedUserId, other)))
    .returning({ id: blocks.blockedUserId });
  if (!removed.length) throw notFound("Block");
  return { unblocked: true as const, user_id: other };
}

/** My blacklist, most recently blocked first. */
export async function listBlocks(db: Db, config: DisplayConfig, me: string, page: { limit: number; offset: number }) {
  // Not db.batch: its rows are objects, so blocks.created_at and users.created_at would collide.
  const [rows, total] = await Promise.all([
    db
      .select({ block: blocks, user: users })
      .from(blocks)
      .innerJoin(users, eq(users.id, blocks.blockedUserId))
      .where(eq(blocks.userId, me))
      .orderBy(desc(blocks.createdAt), desc(blocks.blockedUserId))
      .limit(page.limit)
      .offset(page.offset),
    db.select({ n: sql<number>`count(*)` }).from(blocks).where(eq(blocks.userId, me)),
  ]);
  return {
    blocks: rows.map((r) => ({ user: publicUser(r.user, config), created_at: r.block.createdAt })),
    total: total[0]?.n ?? 0,
    limit: page.limit,
    offset: page.offset,
  };
}
