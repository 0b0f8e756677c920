import type { DrizzleD1Database } from "drizzle-orm/d1";
import type * as schema from "./db/schema";
import type { ConversationDO } from "./realtime/conversation-do";
import type { UserDO } from "./realtime/user-do";
import type { JobDO } from "./jobs/job-do";
import type { Config } from "./lib/config";

export interface Env {
  DB: D1Database;
  FILES: R2Bucket;
  /** Static files built into dist/public (wrangler.toml [assets]). */
  ASSETS: Fetcher;
  USER: DurableObjectNamespace<UserDO>;
  CONVERSATION: DurableObjectNamespace<ConversationDO>;
  /** Drives account jobs (deletion, export) by alarm: src/jobs/. */
  JOBS: DurableObjectNamespace<JobDO>;
  AUTH_LIMITER?: RateLimit;
  ENVIRONMENT: string;
  JWT_SECRET?: string;
  JWT_ISSUER: string;
  JWT_AUDIENCE: string;
  ADMIN_USERNAMES: string;
  DELIVERY_PROVIDER: string;
  DELIVERY_HTTP_URL?: string;
  DELIVERY_HTTP_TOKEN?: string;
  /** Seconds-scale override for tests; production uses 30 s. */
  WS_AUTH_TIMEOUT_MS?: string;
  /** Per-connection frame rate (token bucket); defaults 100/s, burst 200. */
  WS_RATE_PER_SECOND?: string;
  WS_RATE_BURST?: string;
  /** socket.io heartbeat (interval and timeout) override for tests; production pings every 25 s, 20 s timeout. */
  SIO_PING_INTERVAL_MS?: string;
  /** Tests and the fault harness: run an account job one unit per alarm, this far apart (production: back to back). */
  JOB_UNIT_PAUSE_MS?: string;
}

export type Db = DrizzleD1Database<typeof schema>;

export interface AuthUser {
  id: string;
  username: string;
  /** Refresh-token family of the session that minted this access token. */
  sessionId: string;
  isAdmin: boolean;
}

export interface AppEnv {
  Bindings: Env;
  Variables: {
    db: Db;
    requestId: string;
    user: AuthUser;
    config?: Config;
  };
}
