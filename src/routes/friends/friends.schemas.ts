import { z } from "@hono/zod-openapi";
import { PublicUser, UserId } from "../users/users.schemas";

export const FriendRequestId = z
  .string()
  .regex(/^freq_[0-9a-z]{6,40}$/, "a friend request id (freq_…)")
  .openapi({ example: "freq_01jd8x2k3m9q7r4t6v8w" });
export const RequestStatus = z.enum(["pending", "accepted", "rejected", "cancelled"]);
export const Direction = z.enum(["incoming", "outgoing"]);

const Reason = z.string().trim().max(200).nullable().optional();

export const SendRequestBody = z
  .object({ user_id: UserId, reason: Reason.openapi({ description: "why I want to be friends (up to 200 characters)" }) })
  .strict()
  .openapi("SendFriendRequest");

export const RejectBody = z.object({ reason: Reason.openapi({ description: "why (shown to the sender)" }) }).strict();

export const RequestListQuery = z.object({
  direction: Direction.default("incoming"),
  status: RequestStatus.optional(),
  cursor: FriendRequestId.optional().openapi({ description: "next_cursor of the previous page" }),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

export const FriendRequest = z
  .object({
    id: z.string(),
    direction: Direction,
    status: RequestStatus,
    reason: z.string().nullable(),
    reject_reason: z.string().nullable(),
    from_user_id: z.string(),
    to_user_id: z.string(),
    user: PublicUser.openapi({ description: "the other user" }),
    created_at: z.string(),
    handled_at: z.string().nullable(),
  })
  .openapi("FriendRequest");

export const SendRequestResult = z.object({
  request: FriendRequest,
  is_friend: z.boolean().openapi({ description: "true when the friendship exists now (add_friend_mode all, or they had asked me)" }),
  conversation_id: z.string().nullable().openapi({ description: "our DM once we are friends" }),
});

export const CategoryRef = z.object({ id: z.string(), name: z.string() }).openapi("FriendCategoryRef");

export const Labels = z
  .array(z.string().trim().min(1).max(32))
  .max(20)
  .transform((labels) => [...new Set(labels)])
  .openapi({ description: "up to 20 labels of up to 32 characters; duplicates are merged", example: ["work", "client"] });

export const Friend = z
  .object({
    user: PublicUser,
    remark: z.string().nullable().openapi({ description: "my private remark (only I see it)" }),
    labels: z.array(z.string()).openapi({ description: "my private labels (only I see them)" }),
    categories: z.array(CategoryRef),
    conversation_id: z.string().nullable(),
    since: z.string(),
  })
  .openapi("Friend");

export const FriendUpdate = z
  .object({
    remark: z.string().trim().max(64).nullable().openapi({ description: "null or empty clears" }),
    labels: Labels.nullable().openapi({ description: "replaces my labels; null clears" }),
  })
  .partial()
  .strict()
  .refine((v) => Object.keys(v).length > 0, "send remark and/or labels")
  .openapi("FriendUpdate");

export const FriendListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(200),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

export const UserParam = z.object({ user_id: UserId });
export const RequestParam = z.object({ id: FriendRequestId });
