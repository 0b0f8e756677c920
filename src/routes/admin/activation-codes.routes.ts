import { createRoute, z } from "@hono/zod-openapi";
import { requireAdmin, requireAuth } from "../../middleware/auth";
import { bearer, createRouter, envelope, errors, jsonBody, ok } from "../../lib/openapi";
import { ActivationCode } from "../workspaces/workspaces.schemas";
import { issueActivationCodes, listActivationCodes } from "../workspaces/workspaces.service";

const tags = ["Admin"];
const router = createRouter();
router.use("/admin/activation-codes", requireAuth, requireAdmin);

router.openapi(
  createRoute({
    method: "get",
    path: "/admin/activation-codes",
    tags,
    security: bearer,
    summary: "Workspace activation codes, newest first",
    request: {
      query: z.object({
        status: z.enum(["all", "used", "unused"]).default("all"),
        limit: z.coerce.number().int().min(1).max(500).default(100),
        offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
      }),
    },
    responses: {
      200: envelope(
        z.object({ activation_codes: z.array(ActivationCode), total: z.number().int(), limit: z.number().int(), offset: z.number().int() }),
      ),
      ...errors(401, 403),
    },
  }),
  async (c) => {
    const { status, limit, offset } = c.req.valid("query");
    return ok(c, "Activation codes", await listActivationCodes(c.var.db, status, limit, offset));
  },
);

router.openapi(
  createRoute({
    method: "post",
    path: "/admin/activation-codes",
    tags,
    security: bearer,
    summary: "Issue single-use workspace activation codes",
    request: { body: jsonBody(z.object({ count: z.number().int().min(1).max(100).default(1) }).strict()) },
    responses: { 201: envelope(z.object({ activation_codes: z.array(ActivationCode) }), "Created"), ...errors(401, 403, 415) },
  }),
  async (c) =>
    ok(c, "Activation codes created", { activation_codes: await issueActivationCodes(c.var.db, c.var.user.id, c.req.valid("json").count) }, 201),
);

export default router;
