import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { log } from "../middleware/observability";
import { runJobSlice } from "./jobs";

const RETRY_MS = 5_000;

/**
 * Drives one account job (deletion or export) by alarm. The job's state and step cursor live in D1
 * (`account_jobs`); this object only remembers which job it drives and keeps an alarm armed until the
 * job is finished. An alarm survives eviction and restarts, so a job cut short anywhere (a crash, a
 * deploy) goes on from its last saved cursor; every step is idempotent, so the unit that was running
 * when it died may run again without doing anything twice.
 */
export class JobDO extends DurableObject<Env> {
  private running = false;

  /** Starts (or pokes) the job; idempotent. */
  async start(jobId: string, at = Date.now()): Promise<void> {
    const known = await this.ctx.storage.get<string>("job");
    if (!known) await this.ctx.storage.put("job", jobId);
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  async alarm() {
    const jobId = await this.ctx.storage.get<string>("job");
    if (!jobId || this.running) return;
    this.running = true;
    try {
      const next = await runJobSlice(this.env, jobId);
      if (next !== null) await this.ctx.storage.setAlarm(next);
    } catch (err) {
      log("error", "account job slice failed; retrying", { job_id: jobId, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
      await this.ctx.storage.setAlarm(Date.now() + RETRY_MS);
    } finally {
      this.running = false;
    }
  }
}
