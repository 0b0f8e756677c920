import { drizzle } from "drizzle-orm/d1";
import { createApp } from "./app";
import * as schema from "./db/schema";
import type { Env } from "./env";
import { log } from "./middleware/observability";
import { expireUploads } from "./routes/files/files.service";

const app = createApp();

export default {
  fetch: app.fetch,
  /** The cron in wrangler.toml: aborts chunked uploads left unfinished past their expiry. */
  async scheduled(controller: ScheduledController, env: Env) {
    const swept = await expireUploads(env, drizzle(env.DB, { schema }), new Date(controller.scheduledTime));
    if (swept) log("info", "expired uploads aborted", { count: swept });
  },
} satisfies ExportedHandler<Env>;
export { ConversationDO } from "./realtime/conversation-do";
export { UserDO } from "./realtime/user-do";
