import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../../middleware/auth";
import { bearer, createRouter, envelope, errors, jsonBody, ok } from "../../lib/openapi";
import { GroupCreate, GroupDetail, Limit, Offset } from "../groups/groups.schemas";
import { actorOf } from "../groups/groups.service";
import { Workspace, WorkspaceCreate, WorkspaceGroup, WorkspaceId } from "./workspaces.schemas";
import * as ws from "./workspaces.service";

const tags = ["Workspaces"];
const router = createRouter();
router.use("/workspaces", requireAuth);
router.use("/workspaces/*", requireAuth);

const IdParam = z.object({ id: WorkspaceId });
const Paged = { total: z.number().int(), limit: z.number().int(), offset: z.number().int() };

router.openapi(
  createRoute({
    method: "post",
    path: "/workspaces",
    tags,
    security: bearer,
    summary: "Create a workspace (003's merchant page) with an unused activation code; I become its owner",
    request: { body: jsonBody(WorkspaceCreate) },
    responses: { 201: envelope(z.object({ workspace: Workspace }), "Created"), ...errors(401, 404, 409, 415) },
  }),
  async (c) => ok(c, "Workspace created", { workspace: await ws.createWorkspace(await actorOf(c), c.req.valid("json")) }, 201),
);

router.openapi(
  createRoute({
    method: "get",
    path: "/workspaces",
    tags,
    security: bearer,
    summary: "Workspaces I own or joined",
    request: { query: z.object({ limit: Limit(50, 100), offset: Offset }) },
    responses: { 200: envelope(z.object({ workspaces: z.array(Workspace), ...Paged })), ...errors(401) },
  }),
  async (c) => {
    const { limit, offset } = c.req.valid("query");
    return ok(c, "Workspaces retrieved", await ws.myWorkspaces(await actorOf(c), limit, offset));
  },
);

router.openapi(
  createRoute({
    method: "get",
    path: "/workspaces/{id}",
    tags,
    security: bearer,
    summary: "One workspace with my membership",
    request: { params: IdParam },
    responses: { 200: envelope(z.object({ workspace: Workspace })), ...errors(401, 404) },
  }),
  async (c) => ok(c, "Workspace retrieved", { workspace: await ws.getWorkspace(await actorOf(c), c.req.valid("param").id) }),
);

router.openapi(
  createRoute({
    method: "post",
    path: "/workspaces/{id}/join",
    tags,
    security: bearer,
    summary: "Join a workspace; its owner is notified",
    request: { params: IdParam },
    responses: {
      200: envelope(z.object({ workspace_id: z.string(), user_id: z.string(), joined_at: z.string() })),
      ...errors(401, 404, 409),
    },
  }),
  async (c) => ok(c, "Joined workspace", await ws.joinWorkspace(await actorOf(c), c.req.valid("param").id)),
);

router.openapi(
  createRoute({
    method: "get",
    path: "/workspaces/{id}/groups",
    tags,
    security: bearer,
    summary: "The workspace's groups with my joined state (003's state 0/1); workspace members only",
    request: { params: IdParam, query: z.object({ limit: Limit(50, 100), offset: Offset }) },
    responses: { 200: envelope(z.object({ groups: z.array(WorkspaceGroup), ...Paged })), ...errors(401, 403, 404) },
  }),
  async (c) => {
    const { limit, offset } = c.req.valid("query");
    return ok(c, "Workspace groups retrieved", await ws.workspaceGroups(await actorOf(c), c.req.valid("param").id, limit, offset));
  },
);

router.openapi(
  createRoute({
    method: "post",
    path: "/workspaces/{id}/groups",
    tags,
    security: bearer,
    summary: "Create a group inside the workspace (workspace owner only); I own the group",
    request: { params: IdParam, body: jsonBody(GroupCreate) },
    responses: { 201: envelope(z.object({ group: GroupDetail }), "Created"), ...errors(401, 403, 404, 415) },
  }),
  async (c) =>
    ok(c, "Group created", { group: await ws.createWorkspaceGroup(await actorOf(c), c.req.valid("param").id, c.req.valid("json")) }, 201),
);

export default router;
