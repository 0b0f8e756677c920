import { sql } from "drizzle-orm";
import type { Db } from "../env";
import { AppError } from "./errors";

export interface Counter {
  count: number;
  resetAt: number;
}

/** Adds `by` to a fixed-window counter in one atomic upsert and returns the new value. */
export async function bump(db: Db, key: string, windowSeconds: number, by = 1): Promise<Counter> {
  const now = Math.floor(Date.now() / 1000);
  const rows = await db.all<{ count: number; reset_at: number }>(sql`
    INSERT INTO rate_counters (key, count, reset_at) VALUES (${key}, ${by}, ${now + windowSeconds})
    ON CONFLICT(key) DO UPDATE SET
      count = CASE WHEN reset_at <= ${now} THEN ${by} ELSE count + ${by} END,
      reset_at = CASE WHEN reset_at <= ${now} THEN ${now + windowSeconds} ELSE reset_at END
    RETURNING count, reset_at`);
  return { count: rows[0].count, resetAt: rows[0].reset_at };
}

export async function peek(db: Db, key: string): Promise<Counter> {
  const now = Math.floor(Date.now() / 1000);
  const rows = await db.all<{ count: number; reset_at: number }>(
    sql`SELECT count, reset_at FROM rate_counters WHERE key = ${key} AND reset_at > ${now}`,
  );
  return rows[0] ? { count: rows[0].count, resetAt: rows[0].reset_at } : { count: 0, resetAt: now };
}

export async function clear(db: Db, key: string) {
  await db.run(sql`DELETE FROM rate_counters WHERE key = ${key}`);
}

export function retryAfter(counter: Counter): number {
  return Math.max(1, counter.resetAt - Math.floor(Date.now() / 1000));
}

/** Counts one event and throws 429 with Retry-After once `limit` is exceeded in the window. */
export async function limit(db: Db, key: string, max: number, windowSeconds: number, what: string) {
  if (max <= 0) return;
  const counter = await bump(db, key, windowSeconds);
  if (counter.count > max) {
    throw new AppError("RATE_LIMITED", `Too many ${what}; try again later`, { retryAfter: retryAfter(counter) });
  }
}
