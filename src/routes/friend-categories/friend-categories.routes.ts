import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../../middleware/auth";
import { getConfig } from "../../middleware/context";
import { bearer, createRouter, envelope, errors, jsonBody, ok } from "../../lib/openapi";
import { CategoryParam, CreateCategoryBody, FriendCategory, MembersBody, RenameCategoryBody } from "./friend-categories.schemas";
import * as categories from "./friend-categories.service";

const tags = ["Friend categories"];
const router = createRouter();
router.use("/friend-categories", requireAuth);
router.use("/friend-categories/*", requireAuth);

const Category = z.object({ category: FriendCategory });

router.openapi(
  createRoute({
    method: "get",
    path: "/friend-categories",
    tags,
    security: bearer,
    summary: "My friend categories (004 好友分组), each with its members",
    responses: { 200: envelope(z.object({ categories: z.array(FriendCategory), total: z.number().int() })), ...errors(401) },
  }),
  async (c) => {
    const config = await getConfig(c);
    return ok(c, "Friend categories retrieved", await categories.listCategories(c.var.db, config, c.var.user.id));
  },
);

router.openapi(
  createRoute({
    method: "post",
    path: "/friend-categories",
    tags,
    security: bearer,
    summary: "Create a category, optionally with members (all must be my friends: 400 names the others); duplicate name or more than 50 → 409",
    request: { body: jsonBody(CreateCategoryBody) },
    responses: { 201: envelope(Category, "Created"), ...errors(401, 409, 415) },
  }),
  async (c) => {
    const config = await getConfig(c);
    const category = await categories.createCategory(c.var.db, config, c.var.user.id, c.req.valid("json"));
    return ok(c, "Friend category created", { category }, 201);
  },
);

router.openapi(
  createRoute({
    method: "get",
    path: "/friend-categories/{id}",
    tags,
    security: bearer,
    summary: "One of my categories with its members",
    request: { params: CategoryParam },
    responses: { 200: envelope(Category), ...errors(401, 404) },
  }),
  async (c) => {
    const config = await getConfig(c);
    return ok(c, "Friend category retrieved", { category: await categories.getCategory(c.var.db, config, c.var.user.id, c.req.valid("param").id) });
  },
);

router.openapi(
  createRoute({
    method: "patch",
    path: "/friend-categories/{id}",
    tags,
    security: bearer,
    summary: "Rename one of my categories",
    request: { params: CategoryParam, body: jsonBody(RenameCategoryBody) },
    responses: { 200: envelope(Category), ...errors(401, 404, 409, 415) },
  }),
  async (c) => {
    const config = await getConfig(c);
    const category = await categories.renameCategory(c.var.db, config, c.var.user.id, c.req.valid("param").id, c.req.valid("json").name);
    return ok(c, "Friend category renamed", { category });
  },
);

router.openapi(
  createRoute({
    method: "delete",
    path: "/friend-categories/{id}",
    tags,
    security: bearer,
    summary: "Delete one of my categories (the friends stay friends)",
    request: { params: CategoryParam },
    responses: { 200: envelope(z.object({ deleted: z.literal(true), id: z.string() })), ...errors(401, 404) },
  }),
  async (c) => ok(c, "Friend category deleted", await categories.deleteCategory(c.var.db, c.var.user.id, c.req.valid("param").id)),
);

router.openapi(
  createRoute({
    method: "post",
    path: "/friend-categories/{id}/members",
    tags,
    security: bearer,
    summary: "Add friends to one of my categories (non-friends → 400 naming them; existing members are kept)",
    request: { params: CategoryParam, body: jsonBody(MembersBody) },
    responses: { 200: envelope(Category), ...errors(401, 404, 415) },
  }),
  async (c) => {
    const config = await getConfig(c);
    const category = await categories.addMembers(c.var.db, config, c.var.user.id, c.req.valid("param").id, c.req.valid("json").members);
    return ok(c, "Members added", { category });
  },
);

router.openapi(
  createRoute({
    method: "delete",
    path: "/friend-categories/{id}/members",
    tags,
    security: bearer,
    summary: "Remove users from one of my categories (ids not in it are ignored)",
    request: { params: CategoryParam, body: jsonBody(MembersBody) },
    responses: { 200: envelope(Category), ...errors(401, 404, 415) },
  }),
  async (c) => {
    const config = await getConfig(c);
    const category = await categories.removeMembers(c.var.db, config, c.var.user.id, c.req.valid("param").id, c.req.valid("json").members);
    return ok(c, "Members removed", { category });
  },
);

export default router;
