import { createRoute, z } from "@hono/zod-openapi";
import { requireAdmin, requireAuth } from "../../middleware/auth";
import { getConfig } from "../../middleware/context";
import { bearer, createRouter, envelope, errors, jsonBody, ok } from "../../lib/openapi";
import { PrivateUser, UserId } from "../users/users.schemas";
import * as admin from "./admin.service";

const tags = ["Admin"];
const router = createRouter();
for (const path of ["/admin/users", "/admin/users/*", "/admin/stats", "/admin/discover", "/admin/discover/*", "/discover"]) router.use(path, requireAuth);
for (const path of ["/admin/users", "/admin/users/*", "/admin/stats", "/admin/discover", "/admin/discover/*"]) router.use(path, requireAdmin);

const AdminUser = PrivateUser.extend({ disabled: z.boolean(), disabled_at: z.string().nullable(), created_at: z.string() }).openapi("AdminUser");

router.openapi(
  createRoute({
    method: "get",
    path: "/admin/users",
    tags,
    security: bearer,
    summary: "Every account, newest first; q matches username, nickname, email or phone; disabled=true|false filters",
    request: {
      query: z.object({
        q: z.string().trim().min(1).max(64).optional(),
        disabled: z.enum(["true", "false"]).transform((v) => v === "true").optional(),
        limit: z.coerce.number().int().min(1).max(200).default(50),
        offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
      }),
    },
    responses: { 200: envelope(z.object({ users: z.array(AdminUser), total: z.number().int(), limit: z.number().int(), offset: z.number().int() })), ...errors(401, 403) },
  }),
  async (c) => ok(c, "Users retrieved", await admin.listUsers(c.var.db, c.req.valid("query"))),
);

router.openapi(
  createRoute({
    method: "get",
    path: "/admin/stats",
    tags,
    security: bearer,
    summary: "Counts: users (total, disabled, online, new in 24 h), conversations and messages by kind, files, moments",
    responses: {
      200: envelope(
        z.object({
          users: z.object({ total: z.number(), disabled: z.number(), online: z.number(), new_24h: z.number() }),
          conversations: z.record(z.string(), z.object({ count: z.number(), messages: z.number(), active_24h: z.number() })),
          messages: z.number(),
          files: z.object({ count: z.number(), bytes: z.number() }),
          moments: z.number(),
          generated_at: z.string(),
        }),
      ),
      ...errors(401, 403),
    },
  }),
  async (c) => ok(c, "Stats retrieved", await admin.stats(c.var.db)),
);

for (const action of ["disable", "enable"] as const) {
  router.openapi(
    createRoute({
      method: "post",
      path: `/admin/users/{id}/${action}`,
      tags,
      security: bearer,
      summary:
        action === "disable"
          ? "Disable an account: its sessions end, its sockets close, its conversations stop accepting it, and it cannot log in (idempotent)"
          : "Enable a disabled account again (idempotent)",
      request: { params: z.object({ id: UserId }) },
      responses: { 200: envelope(z.object({ user: AdminUser })), ...errors(401, 403, 404) },
    }),
    async (c) => ok(c, action === "disable" ? "User disabled" : "User enabled", { user: await admin.setDisabled(c.env, c.var.db, c.var.user, c.req.valid("param").id, action === "disable") }),
  );
}

// ---- discover links -----------------------------------------------------------------------------

const LinkId = z.string().regex(/^disc_[0-9a-z]{6,40}$/, "a discover link id (disc_…)");
const Url = z
  .string()
  .trim()
  .max(2048)
  .refine((s) => {
    try {
      return /^https?:$/.test(new URL(s).protocol) && !/\s/.test(s);
    } catch {
      return false;
    }
  }, "an http(s) URL");
const LinkFields = {
  name: z.string().trim().min(1).max(64),
  url: Url,
  logo: Url.nullable().optional().openapi({ description: "seed 004's logo: an image URL" }),
  icon: Url.nullable().optional().openapi({ description: "the same as logo (an alias); send one of them" }),
  description: z.string().trim().max(500).nullable().optional(),
  sort: z.number().int().min(-1_000_000).max(1_000_000).optional().openapi({ description: "lower first; ties by creation" }),
};
/** `logo` (seed 004) and `icon` name one field; sending both with different values is refused. */
const oneLogo = (v: { logo?: string | null; icon?: string | null }) => v.logo === undefined || v.icon === undefined || v.logo === v.icon;
const ONE_LOGO = { message: "logo and icon are the same field: send one of them", path: ["logo"] };
function foldLogo<T extends { logo?: string | null; icon?: string | null }>({ logo, icon, ...rest }: T) {
  const value = logo !== undefined ? logo : icon;
  return { ...rest, ...(value !== undefined ? { icon: value } : {}) };
}

const DiscoverLink = z
  .object({
    id: LinkId,
    name: z.string(),
    url: z.string(),
    logo: z.string().nullable().openapi({ description: "seed 004's logo" }),
    icon: z.string().nullable().openapi({ description: "the same as logo (kept for older clients)" }),
    description: z.string().nullable(), sort: z.number().int(), created_at: z.string(), updated_at: z.string() })
  .openapi("DiscoverLink");

router.openapi(
  createRoute({
    method: "get",
    path: "/discover",
    tags: ["System"],
    security: bearer,
    summary: "The operator's discover links, with the section's title (config discover_name)",
    responses: { 200: envelope(z.object({ title: z.string(), links: z.array(DiscoverLink) })), ...errors(401) },
  }),
  async (c) => {
    const [config, links] = await Promise.all([getConfig(c), admin.listLinks(c.var.db)]);
    return ok(c, "Discover links retrieved", { title: config.discover_name, links });
  },
);

router.openapi(
  createRoute({
    method: "post",
    path: "/admin/discover",
    tags,
    security: bearer,
    summary: "Add a discover link",
    request: { body: jsonBody(z.object(LinkFields).strict().refine(oneLogo, ONE_LOGO)) },
    responses: { 201: envelope(z.object({ link: DiscoverLink }), "Added"), ...errors(401, 403, 415) },
  }),
  async (c) => ok(c, "Discover link added", { link: await admin.createLink(c.var.db, foldLogo(c.req.valid("json"))) }, 201),
);

router.openapi(
  createRoute({
    method: "patch",
    path: "/admin/discover/{id}",
    tags,
    security: bearer,
    summary: "Change a discover link",
    request: {
      params: z.object({ id: LinkId }),
      body: jsonBody(
        z
          .object({ name: LinkFields.name.optional(), url: Url.optional(), logo: LinkFields.logo, icon: LinkFields.icon, description: LinkFields.description, sort: LinkFields.sort })
          .strict()
          .refine((v) => Object.keys(v).length > 0, "nothing to change")
          .refine(oneLogo, ONE_LOGO),
      ),
    },
    responses: { 200: envelope(z.object({ link: DiscoverLink })), ...errors(401, 403, 404, 415) },
  }),
  async (c) => ok(c, "Discover link updated", { link: await admin.updateLink(c.var.db, c.req.valid("param").id, foldLogo(c.req.valid("json"))) }),
);

router.openapi(
  createRoute({
    method: "delete",
    path: "/admin/discover/{id}",
    tags,
    security: bearer,
    summary: "Remove a discover link",
    request: { params: z.object({ id: LinkId }) },
    responses: { 200: envelope(z.object({ id: z.string(), deleted: z.literal(true) })), ...errors(401, 403, 404) },
  }),
  async (c) => ok(c, "Discover link deleted", await admin.deleteLink(c.var.db, c.req.valid("param").id)),
);

export default router;
