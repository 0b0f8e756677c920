import { createMiddleware } from "hono/factory";
import { and, desc, lt } from "drizzle-orm";
import type { AppEnv, Db } from "../env";
import { auditLog } from "../db/schema";
import { log } from "../middleware/observability";
import { newId } from "./ids";

const SECRET = /pass(word)?|secret|token|code_hash|captcha/i;
const MAX_DATA = 4096;

/** A body as the audit log keeps it: secrets redacted, bounded in size. */
function scrub(value: unknown, depth = 0): unknown {
  if (depth > 4) return "…";
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => scrub(v, depth + 1));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET.test(k) ? "[redacted]" : scrub(v, depth + 1)]));
  }
  return typeof value === "string" && value.length > 500 ? `${value.slice(0, 500)}…` : value;
}

const idSegment = /^([a-z]+)_[0-9a-z]{6,40}$/;

/**
 * Every successful admin request that changes something (any method but GET/HEAD/OPTIONS under
 * /admin/) lands in the audit log: the admin, `METHOD /admin/path/{id}/...` as the action, the id in
 * the path as the target, and the request body with secrets redacted. One middleware, so an admin
 * route added later is audited without remembering to.
 */
export const auditAdmin = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  const method = c.req.method;
  if (method === "GET" || method === "HEAD" || method === "OPTIONS" || c.res.status >= 400) return;
  const user = c.var.user;
  if (!user) return;
  const segments = c.req.path.replace(/^\/api\/v1/, "").split("/");
  let targetId: string | null = null;
  let targetType: string | null = null;
  const shape = segments.map((s) => {
    const m = s.match(idSegment);
    if (!m) return s;
    targetId ??= s;
    targetType ??= m[1];
    return "{id}";
  });
  let body: unknown;
  try {
    body = c.req.header("content-type")?.includes("json") ? await c.req.json() : undefined;
  } catch {
    body = undefined;
  }
  let data = (scrub(body) ?? {}) as Record<string, unknown>;
  if (JSON.stringify(data).length > MAX_DATA) data = { truncated: true };
  try {
    await recordAudit(c.var.db, { actorId: user.id, actorName: user.username, action: `${method} ${shape.join("/")}`, targetType, targetId, data: { ...data, status: c.res.status } });
  } catch (err) {
    // the action happened; a lost audit row must at least be visible in the logs
    log("error", "audit record failed", { actor_id: user.id, path: c.req.path, error: String(err) });
  }
});

export async function recordAudit(db: Db, row: { actorId: string; actorName: string; action: string; targetType: string | null; targetId: string | null; data: Record<string, unknown> }) {
  await db.insert(auditLog).values({ id: newId("aud"), ...row, createdAt: new Date().toISOString() });
}

export const auditView = (r: typeof auditLog.$inferSelect) => ({
  id: r.id,
  actor: { id: r.actorId, username: r.actorName },
  action: r.action,
  target_type: r.targetType,
  target_id: r.targetId,
  data: r.data,
  created_at: r.createdAt,
});

/** Newest first; `cursor` is the last id of the previous page. */
export async function listAudit(db: Db, q: { cursor?: string; limit: number }) {
  const rows = await db
    .select()
    .from(auditLog)
    .where(and(q.cursor ? lt(auditLog.id, q.cursor) : undefined))
    .orderBy(desc(auditLog.id))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  return { entries: page.map(auditView), next_cursor: rows.length > q.limit ? page[page.length - 1].id : null };
}
