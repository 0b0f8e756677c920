import { is, SQL } from "drizzle-orm";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import type { Env } from "../env";

export type Statement = SQL | { toSQL(): { sql: string; params: unknown[] } };
const dialect = new SQLiteAsyncDialect();

/**
 * Runs writes as one D1 batch (one implicit transaction), returning D1's results with `meta.changes`. drizzle's own
 * batch cannot bind raw `sql` statements (guarded writes such as the groups' insertMember are raw), and it maps batched rows by column name,
 * so joined selects whose tables share a column name (id, nickname, ...) run with Promise.all instead.
 */
export async function d1Batch(env: Env, statements: Statement[]): Promise<D1Result[]> {
  const prepared = statements.map((s) => {
    const q = is(s, SQL) ? dialect.sqlToQuery(s) : s.toSQL();
    return env.DB.prepare(q.sql).bind(...q.params);
  });
  return env.DB.batch(prepared);
}

export const changes = (result: D1Result | undefined) => result?.meta?.changes ?? 0;
