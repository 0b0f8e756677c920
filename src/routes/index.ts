import adminRoutes from "./admin/admin.routes";
import authRoutes from "./auth/auth.routes";
import conversationRoutes from "./conversations/conversations.routes";
import messageRoutes from "./messages/messages.routes";
import systemRoutes from "./system/system.routes";
import userRoutes from "./users/users.routes";

/** Every resource router, mounted under /api/v1 in this order (static paths before parameterised ones). */
export const routers = [systemRoutes, authRoutes, userRoutes, conversationRoutes, messageRoutes, adminRoutes];
