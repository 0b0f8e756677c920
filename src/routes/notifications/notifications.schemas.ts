import { z } from "@hono/zod-openapi";
import { PublicUser } from "../users/users.schemas";

export const NotificationId = z
  .string()
  .regex(/^ntf_[0-9a-z]{6,40}$/, "a notification id (ntf_…)")
  .openapi({ example: "ntf_01jd8x2k3m9q7r4t6v8w" });

export const NotificationListQuery = z.object({
  cursor: NotificationId.optional().openapi({ description: "next_cursor of the previous page" }),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  unread: z
    .enum(["true", "false"])
    .transform((v) => v === "true")
    .optional()
    .openapi({ description: "true: only unread ones" }),
});

export const Notification = z
  .object({
    id: z.string(),
    kind: z.string().openapi({ example: "friend_request" }),
    actor_id: z.string().nullable(),
    actor: PublicUser.nullable().openapi({ description: "who caused it, when that user still exists" }),
    subject_id: z.string().nullable().openapi({ description: "what it is about: a request, group, moment…" }),
    data: z.record(z.string(), z.unknown()),
    read: z.boolean(),
    read_at: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi("Notification");

export const NotificationCounts = z.object({
  unread_count: z.number().int(),
  pending_friend_requests: z.number().int().openapi({ description: "friend requests waiting for my answer (002 friendNoticeNum)" }),
  pending_group_requests: z.number().int().openapi({ description: "join requests to groups I own or administer (002 groupNoticeNum)" }),
});

export const MarkReadBody = z
  .union([
    z.object({ ids: z.array(NotificationId).min(1).max(100) }).strict(),
    z.object({ all: z.literal(true) }).strict(),
  ])
  .openapi("MarkNotificationsRead", { description: "`{ids: [...]}` marks those of mine; `{all: true}` marks every one" });
