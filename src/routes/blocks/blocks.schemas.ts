import { z } from "@hono/zod-openapi";
import { PublicUser, UserId } from "../users/users.schemas";

export const BlockBody = z.object({ user_id: UserId }).strict().openapi("BlockUser");

export const Block = z
  .object({ user: PublicUser, created_at: z.string().openapi({ description: "when I blocked them" }) })
  .openapi("Block");

export const BlockListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

export const BlockParam = z.object({ user_id: UserId });
