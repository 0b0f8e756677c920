import { drizzle } from "drizzle-orm/d1";
import { createApp } from "./app";
import * as schema from "./db/schema";
import type { Env } from "./env";
import { log } from "./middleware/observability";
import { expireUploads } from "./routes/files/files.service";
import { resumeStaleJobs } from "./jobs/jobs";
import { pokeRetention } from "./realtime/retention";

const app = createApp();

export default {
  fetch: app.fetch,
  /** The cron in wrangler.toml: expired uploads, stalled account jobs, retention of idle conversations. */
  async scheduled(controller: ScheduledController, env: Env) {
    const db = drizzle(env.DB, { schema });
    const swept = await expireUploads(env, db, new Date(controller.scheduledTime));
    if (swept) log("info", "expired uploads aborted", { count: swept });
    // account jobs whose alarm was lost pick up again; idle conversations check their retention
    const resumed = await resumeStaleJobs(env, db);
    if (resumed) log("warn", "stalled account jobs resumed", { count: resumed });
    await pokeRetention(env);
  },
} satisfies ExportedHandler<Env>;
export { ConversationDO } from "./realtime/conversation-do";
export { UserDO } from "./realtime/user-do";
export { JobDO } from "./jobs/job-do";
