import { z } from "@hono/zod-openapi";
import { PublicUser, UserId } from "../users/users.schemas";

export const MAX_CATEGORIES = 50;
export const MAX_MEMBERS_PER_CALL = 500;

export const CategoryId = z
  .string()
  .regex(/^fcat_[0-9a-z]{6,40}$/, "a friend category id (fcat_…)")
  .openapi({ example: "fcat_01jd8x2k3m9q7r4t6v8w" });

const Name = z.string().trim().min(1).max(32).openapi({ description: "1-32 characters, unique among my categories", example: "Family" });
const Members = z
  .array(UserId)
  .max(MAX_MEMBERS_PER_CALL)
  .transform((ids) => [...new Set(ids)])
  .openapi({ description: "user ids of my friends" });

export const CreateCategoryBody = z.object({ name: Name, members: Members.default([]) }).strict().openapi("CreateFriendCategory");
export const RenameCategoryBody = z.object({ name: Name }).strict().openapi("RenameFriendCategory");
export const MembersBody = z
  .object({ members: z.array(UserId).min(1).max(MAX_MEMBERS_PER_CALL).transform((ids) => [...new Set(ids)]) })
  .strict()
  .openapi("FriendCategoryMembers");

export const CategoryMember = z
  .object({ user: PublicUser, remark: z.string().nullable(), labels: z.array(z.string()), added_at: z.string() })
  .openapi("FriendCategoryMember");

export const FriendCategory = z
  .object({
    id: z.string(),
    name: z.string(),
    member_count: z.number().int(),
    members: z.array(CategoryMember),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("FriendCategory");

export const CategoryParam = z.object({ id: CategoryId });
