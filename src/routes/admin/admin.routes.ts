import { createRoute, z } from "@hono/zod-openapi";
import { desc } from "drizzle-orm";
import { inviteCodes } from "../../db/schema";
import { requireAdmin, requireAuth } from "../../middleware/auth";
import { configKeys, loadConfig, parseConfigUpdate, saveConfig } from "../../lib/config";
import { AppError } from "../../lib/errors";
import { randomToken } from "../../lib/ids";
import { bearer, createRouter, envelope, errors, jsonBody, ok } from "../../lib/openapi";

const tags = ["Admin"];
const router = createRouter();
router.use("/admin/*", requireAuth, requireAdmin);

const ConfigMap = z.record(z.string(), z.unknown());

router.openapi(
  createRoute({
    method: "get",
    path: "/admin/configs",
    tags,
    security: bearer,
    summary: "Every operator setting with its current value",
    responses: { 200: envelope(z.object({ configs: ConfigMap, keys: z.array(z.string()) })), ...errors(401, 403) },
  }),
  async (c) => ok(c, "Configs retrieved", { configs: await loadConfig(c.var.db), keys: configKeys }),
);

router.openapi(
  createRoute({
    method: "put",
    path: "/admin/configs",
    tags,
    security: bearer,
    summary: "Change settings: `{configs: {key: value}}`; unknown keys or bad values reject the whole update",
    description: "New conversations use the new values at once; a conversation that is already active picks up the chat rules (length, sensitive words, send rate, recall window) within about 15 seconds.",
    request: { body: jsonBody(z.object({ configs: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])) }).strict()) },
    responses: { 200: envelope(z.object({ configs: ConfigMap })), ...errors(401, 403, 415) },
  }),
  async (c) => {
    const { values, invalid } = parseConfigUpdate(c.req.valid("json").configs);
    if (invalid.length) throw new AppError("VALIDATION_ERROR", `${invalid[0].key}: ${invalid[0].error}`, { details: invalid });
    await saveConfig(c.var.db, values);
    return ok(c, "Configs updated", { configs: await loadConfig(c.var.db) });
  },
);

const InviteCode = z.object({
  code: z.string(),
  max_uses: z.number().int(),
  uses: z.number().int(),
  expires_at: z.string().nullable(),
  created_at: z.string(),
});
const inviteView = (r: typeof inviteCodes.$inferSelect) => ({
  code: r.code,
  max_uses: r.maxUses,
  uses: r.uses,
  expires_at: r.expiresAt,
  created_at: r.createdAt,
});

router.openapi(
  createRoute({
    method: "get",
    path: "/admin/invite-codes",
    tags,
    security: bearer,
    summary: "Registration invite codes, newest first",
    responses: { 200: envelope(z.object({ invite_codes: z.array(InviteCode) })), ...errors(401, 403) },
  }),
  async (c) => {
    const rows = await c.var.db.select().from(inviteCodes).orderBy(desc(inviteCodes.createdAt)).limit(500);
    return ok(c, "Invite codes", { invite_codes: rows.map(inviteView) });
  },
);

router.openapi(
  createRoute({
    method: "post",
    path: "/admin/invite-codes",
    tags,
    security: bearer,
    summary: "Issue an invite code",
    request: {
      body: jsonBody(
        z.object({ max_uses: z.number().int().min(1).max(100_000).default(1), expires_in_days: z.number().int().min(1).max(3650).optional() }).strict(),
      ),
    },
    responses: { 201: envelope(InviteCode), ...errors(401, 403, 415) },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const [row] = await c.var.db
      .insert(inviteCodes)
      .values({
        code: randomToken(10).toUpperCase(),
        createdBy: c.var.user.id,
        maxUses: body.max_uses,
        expiresAt: body.expires_in_days ? new Date(Date.now() + body.expires_in_days * 86_400_000).toISOString() : null,
      })
      .returning();
    return ok(c, "Invite code created", inviteView(row), 201);
  },
);

export default router;
