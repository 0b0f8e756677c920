import { and, eq } from "drizzle-orm";
import type { Db } from "../../env";
import { conversations, members } from "../../db/schema";
import { isUniqueViolation } from "../../db/errors";
import { newId } from "../../lib/ids";

export type ConversationRow = typeof conversations.$inferSelect;

export const dmKey = (a: string, b: string) => (a < b ? `${a}:${b}` : `${b}:${a}`);

/** The DM between two users, created with both memberships on first use (idempotent under races). */
export async function ensureDm(db: Db, a: string, b: string): Promise<ConversationRow> {
  const key = dmKey(a, b);
  const existing = await db.select().from(conversations).where(eq(conversations.dmKey, key)).get();
  if (existing) return existing;
  const id = newId("dm");
  try {
    await db.batch([
      db.insert(conversations).values({ id, kind: "dm", dmKey: key, visibility: "private", joinPolicy: "invite", memberCount: 2, memberLimit: 2 }),
      db.insert(members).values([
        { conversationId: id, userId: a },
        { conversationId: id, userId: b },
      ]),
    ]);
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
  }
  return (await db.select().from(conversations).where(eq(conversations.dmKey, key)).get())!;
}

export async function membership(db: Db, conversationId: string, userId: string) {
  return db
    .select()
    .from(members)
    .where(and(eq(members.conversationId, conversationId), eq(members.userId, userId)))
    .get();
}

