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
    const db = drizzle(env.DB, { schema });
    let swept = 0;
    // bounded per run; the next run takes the rest
    for (let round = 0; round < 10; round++) {
      const n = await expireUploads(env, db, new Date(controller.scheduledTime));
      swept += n;
      if (n < 100) break;
    }
    if (swept) log("info", "expired uploads aborted", { count: swept });
  },
} satisfies ExportedHandler<Env>;
export { ConversationDO } from "./realtime/conversation-do";
export { UserDO } from "./realtime/user-do";
