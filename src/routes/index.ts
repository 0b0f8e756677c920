import adminRoutes from "./admin/admin.routes";
import authRoutes from "./auth/auth.routes";
import blockRoutes from "./blocks/blocks.routes";
import conversationRoutes from "./conversations/conversations.routes";
import friendCategoryRoutes from "./friend-categories/friend-categories.routes";
import friendRoutes from "./friends/friends.routes";
import messageRoutes from "./messages/messages.routes";
import notificationRoutes from "./notifications/notifications.routes";
import systemRoutes from "./system/system.routes";
import userRoutes from "./users/users.routes";

/** Every resource router, mounted under /api/v1 in this order (static paths before parameterised ones). */
export const routers = [systemRoutes, authRoutes, userRoutes, friendRoutes, blockRoutes, friendCategoryRoutes, notificationRoutes, conversationRoutes, messageRoutes, adminRoutes];
