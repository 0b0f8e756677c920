import activationCodeRoutes from "./admin/activation-codes.routes";
import adminRoutes from "./admin/admin.routes";
import adminUserRoutes from "./admin/admin-users.routes";
import authRoutes from "./auth/auth.routes";
import conversationRoutes from "./conversations/conversations.routes";
import messageRoutes from "./messages/messages.routes";
import momentRoutes from "./moments/moments.routes";
import reportRoutes from "./reports/reports.routes";
import accountJobRoutes from "./users/account-jobs.routes";
import retentionRoutes from "./groups/retention.routes";
import realtimeRoutes from "./realtime/realtime.routes";
import blockRoutes from "./blocks/blocks.routes";
import friendCategoryRoutes from "./friend-categories/friend-categories.routes";
import fileRoutes from "./files/files.routes";
import friendRoutes from "./friends/friends.routes";
import groupRoutes from "./groups/groups.routes";
import notificationRoutes from "./notifications/notifications.routes";
import roomRoutes from "./rooms/rooms.routes";
import systemRoutes from "./system/system.routes";
import userRoutes from "./users/users.routes";
import workspaceRoutes from "./workspaces/workspaces.routes";

/** Every resource router, mounted under /api/v1 in this order (static paths before parameterised ones). */
export const routers = [systemRoutes, authRoutes, accountJobRoutes, userRoutes, friendRoutes, blockRoutes, friendCategoryRoutes, notificationRoutes, conversationRoutes, messageRoutes, realtimeRoutes, roomRoutes, groupRoutes, workspaceRoutes, fileRoutes, momentRoutes, adminRoutes, adminUserRoutes, activationCodeRoutes, reportRoutes, retentionRoutes];
