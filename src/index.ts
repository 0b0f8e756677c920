import { createApp } from "./app";

const app = createApp();

export default app;
export { ConversationDO } from "./realtime/conversation-do";
export { UserDO } from "./realtime/user-do";
