import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../../middleware/auth";
import { getConfig } from "../../middleware/context";
import { bearer, createRouter, envelope, errors, jsonBody, ok } from "../../lib/openapi";
import { MarkReadBody, Notification, NotificationCounts, NotificationListQuery } from "./notifications.schemas";
import * as notifications from "./notifications.service";

const tags = ["Notifications"];
const router = createRouter();
router.use("/notifications", requireAuth);
router.use("/notifications/*", requireAuth);

router.openapi(
  createRoute({
    method: "get",
    path: "/notifications",
    tags,
    security: bearer,
    summary: "My notifications, newest first (cursor paging), with unread_count and pending friend/group request counts",
    request: { query: NotificationListQuery },
    responses: {
      200: envelope(NotificationCounts.extend({ notifications: z.array(Notification), next_cursor: z.string().nullable() })),
      ...errors(401),
    },
  }),
  async (c) => {
    const config = await getConfig(c);
    return ok(c, "Notifications retrieved", await notifications.listNotifications(c.var.db, config, c.var.user.id, c.req.valid("query")));
  },
);

router.openapi(
  createRoute({
    method: "post",
    path: "/notifications/read",
    tags,
    security: bearer,
    summary: "Mark notifications read: `{ids}` (only mine are touched) or `{all: true}`",
    request: { body: jsonBody(MarkReadBody) },
    responses: { 200: envelope(z.object({ updated: z.number().int(), unread_count: z.number().int() })), ...errors(401, 415) },
  }),
  async (c) => ok(c, "Notifications marked read", await notifications.markRead(c.var.db, c.var.user.id, c.req.valid("json"))),
);

export default router;
