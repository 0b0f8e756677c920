import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../../middleware/auth";
import { getConfig } from "../../middleware/context";
import { bearer, createRouter, envelope, errors, jsonBody, ok } from "../../lib/openapi";
import { Block, BlockBody, BlockListQuery, BlockParam } from "./blocks.schemas";
import { dmRulesChanged } from "../conversations/conversations.service";
import * as blocks from "./blocks.service";

const tags = ["Blocks"];
const router = createRouter();
router.use("/blocks", requireAuth);
router.use("/blocks/*", requireAuth);

router.openapi(
  createRoute({
    method: "get",
    path: "/blocks",
    tags,
    security: bearer,
    summary: "My blacklist, most recent first",
    request: { query: BlockListQuery },
    responses: {
      200: envelope(z.object({ blocks: z.array(Block), total: z.number().int(), limit: z.number().int(), offset: z.number().int() })),
      ...errors(401),
    },
  }),
  async (c) => {
    const config = await getConfig(c);
    return ok(c, "Blocked users retrieved", await blocks.listBlocks(c.var.db, config, c.var.user.id, c.req.valid("query")));
  },
);

router.openapi(
  createRoute({
    method: "post",
    path: "/blocks",
    tags,
    security: bearer,
    summary: "Block a user: ends our friendship both ways and cancels pending requests; they can no longer request or message me",
    request: { body: jsonBody(BlockBody) },
    responses: { 201: envelope(z.object({ block: Block }), "Blocked"), ...errors(401, 404, 409, 415) },
  }),
  async (c) => {
    const config = await getConfig(c);
    const block = await blocks.blockUser(c.var.db, config, c.var.user.id, c.req.valid("json").user_id);
    await dmRulesChanged(c.env, c.var.db, c.var.user.id, c.req.valid("json").user_id);
    return ok(c, "User blocked", { block }, 201);
  },
);

router.openapi(
  createRoute({
    method: "delete",
    path: "/blocks/{user_id}",
    tags,
    security: bearer,
    summary: "Unblock a user (friendship is not restored)",
    request: { params: BlockParam },
    responses: { 200: envelope(z.object({ unblocked: z.literal(true), user_id: z.string() })), ...errors(401, 404) },
  }),
  async (c) => {
    const result = await blocks.unblockUser(c.var.db, c.var.user.id, c.req.valid("param").user_id);
    await dmRulesChanged(c.env, c.var.db, c.var.user.id, result.user_id);
    return ok(c, "User unblocked", result);
  },
);

export default router;
