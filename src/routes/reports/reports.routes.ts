import { createRoute, z } from "@hono/zod-openapi";
import { listAudit } from "../../lib/audit";
import { bearer, createRouter, envelope, errors, jsonBody, ok } from "../../lib/openapi";
import { requireAdmin, requireAuth } from "../../middleware/auth";
import * as reports from "./reports.service";

const router = createRouter();
router.use("/reports", requireAuth);
router.use("/reports/*", requireAuth);
for (const path of ["/admin/reports", "/admin/reports/*", "/admin/audit"]) router.use(path, requireAuth, requireAdmin);

const ReportId = z.string().regex(/^rep_[0-9a-z]{6,40}$/, "a report id (rep_…)");
const TargetType = z.enum(["message", "user", "group", "moment", "comment"]);
const Reason = z.enum(["spam", "harassment", "sexual", "violence", "illegal", "other"]);
const Action = z.enum(["dismiss", "remove_content", "mute_user", "ban_user", "disable_user"]);
const Cursor = z.string().regex(/^[a-z]+_[0-9a-z]{6,40}$/, "the next_cursor of the previous page").optional();

const MyReport = z
  .object({
    id: ReportId,
    target_type: TargetType,
    target_id: z.string(),
    conversation_id: z.string().nullable(),
    reason: Reason,
    text: z.string().nullable(),
    status: z.enum(["open", "resolved"]),
    outcome: Action.nullable().openapi({ description: "what the moderators did, once resolved" }),
    created_at: z.string(),
    resolved_at: z.string().nullable(),
  })
  .openapi("MyReport");
const AdminReport = MyReport.extend({
  reporter_id: z.string().nullable(),
  target_user_id: z.string().nullable(),
  snapshot: z.record(z.string(), z.unknown()).openapi({ description: "the reported content as it was when reported" }),
  action: Action.nullable(),
  note: z.string().nullable(),
  resolved_by: z.string().nullable(),
}).openapi("AdminReport");

router.openapi(
  createRoute({
    method: "post",
    path: "/reports",
    tags: ["Reports"],
    security: bearer,
    summary: "Report a message, user, group, moment or comment; the content is kept as it is now, so a later recall does not erase the evidence",
    request: {
      body: jsonBody(
        z
          .object({
            target_type: TargetType,
            target_id: z.string().regex(/^[a-z]+_[0-9a-z]{6,40}$/, "an id"),
            conversation_id: z.string().regex(/^(dm|grp|room)_[0-9a-z]{6,40}$/, "a conversation id").optional().openapi({ description: "required for a message" }),
            reason: Reason,
            text: z.string().trim().max(1000).optional(),
          })
          .strict(),
      ),
    },
    responses: { 201: envelope(z.object({ report: MyReport }), "Reported"), ...errors(401, 403, 404, 415, 429) },
  }),
  async (c) => ok(c, "Report received", { report: await reports.createReport(c.env, c.var.db, c.var.user, c.req.valid("json")) }, 201),
);

router.openapi(
  createRoute({
    method: "get",
    path: "/reports/mine",
    tags: ["Reports"],
    security: bearer,
    summary: "My reports, newest first, with their outcome",
    request: { query: z.object({ cursor: Cursor, limit: z.coerce.number().int().min(1).max(100).default(20) }) },
    responses: { 200: envelope(z.object({ reports: z.array(MyReport), next_cursor: z.string().nullable() })), ...errors(401) },
  }),
  async (c) => ok(c, "Reports retrieved", await reports.myReports(c.var.db, c.var.user.id, c.req.valid("query"))),
);

router.openapi(
  createRoute({
    method: "get",
    path: "/admin/reports",
    tags: ["Admin"],
    security: bearer,
    summary: "The report queue, newest first; filter by status, target_type, reason",
    request: {
      query: z.object({
        status: z.enum(["open", "resolved"]).optional(),
        target_type: TargetType.optional(),
        reason: Reason.optional(),
        cursor: Cursor,
        limit: z.coerce.number().int().min(1).max(100).default(50),
      }),
    },
    responses: { 200: envelope(z.object({ reports: z.array(AdminReport), next_cursor: z.string().nullable() })), ...errors(401, 403) },
  }),
  async (c) => ok(c, "Reports retrieved", await reports.listReports(c.var.db, c.req.valid("query"))),
);

router.openapi(
  createRoute({
    method: "post",
    path: "/admin/reports/{id}/resolve",
    tags: ["Admin"],
    security: bearer,
    summary: "Resolve a report: dismiss, remove_content (hides the message for every member, or the moment or comment), mute_user or ban_user (in the group), disable_user; the reporter is notified",
    request: {
      params: z.object({ id: ReportId }),
      body: jsonBody(
        z
          .object({
            action: Action,
            note: z.string().trim().max(1000).optional(),
            mute_minutes: z.number().int().min(1).max(525_600).optional().openapi({ description: "for mute_user; default 1440" }),
          })
          .strict(),
      ),
    },
    responses: { 200: envelope(z.object({ report: AdminReport })), ...errors(401, 403, 404, 409, 415) },
  }),
  async (c) => ok(c, "Report resolved", { report: await reports.resolveReport(c.env, c.var.db, c.var.user, c.req.valid("param").id, c.req.valid("json")) }),
);

const AuditEntry = z
  .object({
    id: z.string(),
    actor: z.object({ id: z.string(), username: z.string() }),
    action: z.string().openapi({ example: "POST /admin/users/{id}/disable" }),
    target_type: z.string().nullable(),
    target_id: z.string().nullable(),
    data: z.record(z.string(), z.unknown()),
    created_at: z.string(),
  })
  .openapi("AuditEntry");

router.openapi(
  createRoute({
    method: "get",
    path: "/admin/audit",
    tags: ["Admin"],
    security: bearer,
    summary: "Every admin action (configs, disable and enable, report resolutions, discover links, activation and invite codes): who, what, target, when; newest first",
    request: { query: z.object({ cursor: Cursor, limit: z.coerce.number().int().min(1).max(200).default(50) }) },
    responses: { 200: envelope(z.object({ entries: z.array(AuditEntry), next_cursor: z.string().nullable() })), ...errors(401, 403) },
  }),
  async (c) => ok(c, "Audit log retrieved", await listAudit(c.var.db, c.req.valid("query"))),
);

export default router;
