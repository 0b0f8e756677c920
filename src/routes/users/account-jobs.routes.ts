import { createRoute, z } from "@hono/zod-openapi";
import { bearer, createRouter, envelope, errors, jsonBody, ok } from "../../lib/openapi";
import { requireAuth } from "../../middleware/auth";
import { requestContext } from "../../middleware/context";
import * as jobs from "./account-jobs.service";

const router = createRouter();
router.use("/users/me", requireAuth);
router.use("/users/me/export", requireAuth);
const tags = ["Users"];

const Job = z
  .object({
    id: z.string(),
    kind: z.enum(["delete", "export"]),
    state: z.enum(["pending", "running", "done", "failed"]),
    progress: z.number().min(0).max(1),
    created_at: z.string(),
    updated_at: z.string(),
    finished_at: z.string().nullable(),
  })
  .openapi("AccountJob");

const Reauth = z
  .union([
    z.object({ password: z.string().min(1).max(256) }).strict(),
    z.object({ channel: z.enum(["email", "sms"]), to: z.string().trim().min(3).max(254), code: z.string().regex(/^\d{6}$/, "a 6-digit code") }).strict(),
  ])
  .openapi("Reauthentication", { description: "the password, or for an account without one a fresh login code sent to its own address (POST /auth/codes)" });

router.openapi(
  createRoute({
    method: "delete",
    path: "/users/me",
    tags,
    security: bearer,
    summary: "Delete my account (re-authenticated): disabled at once, then erased by a background job",
    description:
      "Sessions end, sockets close and login is refused at once; the job then erases the profile, credentials, sessions, friends and requests, blocks, categories, notes, moments with their likes and comments, files nothing else uses, and memberships (owned groups pass to the longest-serving admin or member, or are dissolved when empty). Messages stay as from \"Deleted account\" or are erased, by the operator's `deleted_account_messages`. The username is free again when the job ends (or after `deleted_username_grace_days`).",
    request: { body: jsonBody(Reauth) },
    responses: { 202: envelope(z.object({ job: Job }), "Deletion started"), ...errors(401, 403, 415, 429) },
  }),
  async (c) => ok(c, "Account deletion started", { job: await jobs.requestDeletion(await requestContext(c), c.var.user, c.req.valid("json")) }, 202),
);

router.openapi(
  createRoute({
    method: "post",
    path: "/users/me/export",
    tags,
    security: bearer,
    summary: "Export my data: a zip with my profile, contacts, groups, every message I sent, moments, notes and files",
    description: "One export runs at a time (asking again returns it); `export_per_day` a day. The archive expires after `export_expiry_hours`.",
    responses: { 202: envelope(z.object({ job: Job }), "Export started"), ...errors(401, 429) },
  }),
  async (c) => ok(c, "Export started", { job: await jobs.requestExport(await requestContext(c), c.var.user) }, 202),
);

router.openapi(
  createRoute({
    method: "get",
    path: "/users/me/export",
    tags,
    security: bearer,
    summary: "My newest export: state, progress 0..1, and when done a signed download URL (about an hour; ask again for a new one)",
    responses: {
      200: envelope(
        z.object({
          export: Job.extend({
            expires_at: z.string().nullable(),
            expired: z.boolean(),
            size: z.number().int().nullable(),
            download_url: z.string().nullable(),
            download_url_expires_at: z.string().nullable(),
          }),
        }),
      ),
      ...errors(401, 404),
    },
  }),
  async (c) => ok(c, "Export status", { export: await jobs.exportStatus(c.env, c.var.db, c.var.user) }),
);

export default router;
