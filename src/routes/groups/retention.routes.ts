import { createRoute, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { conversations } from "../../db/schema";
import { loadConfig } from "../../lib/config";
import { AppError } from "../../lib/errors";
import { bearer, createRouter, envelope, errors, jsonBody, ok } from "../../lib/openapi";
import { requireAuth } from "../../middleware/auth";
import { announce, loadGroup, requireRole } from "../groups/groups.service";

const router = createRouter();
router.use("/groups/:id/retention", requireAuth);

const GroupId = z.string().regex(/^grp_[0-9a-z]{6,40}$/, "a group id (grp_…)");
const Retention = z.object({
  group_id: z.string(),
  retention_days: z.number().int().nullable().openapi({ description: "the group's own setting; null follows the operator" }),
  effective_days: z.number().int().openapi({ description: "what applies now; 0 keeps everything" }),
});

async function view(db: Parameters<typeof loadConfig>[0], groupId: string, days: number | null) {
  return { group_id: groupId, retention_days: days, effective_days: days ?? (await loadConfig(db)).message_retention_days };
}

router.openapi(
  createRoute({
    method: "get",
    path: "/groups/{id}/retention",
    tags: ["Groups"],
    security: bearer,
    summary: "How long this group keeps messages (members)",
    request: { params: z.object({ id: GroupId }) },
    responses: { 200: envelope(Retention), ...errors(401, 403, 404) },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { group, me } = await loadGroup(c.var.db, id, c.var.user.id);
    if (!me) throw new AppError("FORBIDDEN", "You are not a member of this group");
    return ok(c, "Retention retrieved", await view(c.var.db, id, group.retentionDays));
  },
);

router.openapi(
  createRoute({
    method: "put",
    path: "/groups/{id}/retention",
    tags: ["Groups"],
    security: bearer,
    summary: "Set how many days this group keeps messages (owner); null follows the operator's message_retention_days, 0 keeps everything",
    description: "Expired messages are purged in the background in batches, with the files only they referenced; history and sync then start at `history_start_seq`.",
    request: { params: z.object({ id: GroupId }), body: jsonBody(z.object({ retention_days: z.number().int().min(0).max(36_500).nullable() }).strict()) },
    responses: { 200: envelope(Retention), ...errors(401, 403, 404, 409, 415) },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const days = c.req.valid("json").retention_days;
    requireRole(await loadGroup(c.var.db, id, c.var.user.id), ["owner"], "set message retention");
    await c.var.db.update(conversations).set({ retentionDays: days, updatedAt: new Date().toISOString() }).where(eq(conversations.id, id));
    // the conversation object reloads and re-arms its retention alarm
    await announce(c.env, id, { type: "retention", retention_days: days });
    return ok(c, "Retention updated", await view(c.var.db, id, days));
  },
);

export default router;
