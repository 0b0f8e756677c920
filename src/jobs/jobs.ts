import { and, eq, inArray, lt, ne } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import * as schema from "../db/schema";
import { accountJobs } from "../db/schema";
import type { Db, Env } from "../env";
import { log } from "../middleware/observability";
import { deletionSteps } from "./delete-account";
import { exportSteps } from "./export";

export type JobRow = typeof accountJobs.$inferSelect;

/** What a step's unit of work reports: the step is finished, or where to go on from. */
export type UnitResult = { done: true; data?: Record<string, unknown> } | { done: false; cursor: string; data?: Record<string, unknown> };

export interface Step {
  name: string;
  /** One bounded, idempotent unit of work from `cursor` (null: the step's start). */
  unit(ctx: { env: Env; db: Db; job: JobRow }, cursor: string | null): Promise<UnitResult>;
}

export interface JobKind {
  steps: Step[];
  /** after the last step: when this object should wake again (archive expiry, username grace), or null */
  after?(ctx: { env: Env; db: Db; job: JobRow }): Promise<number | null>;
}

const kinds: Record<JobRow["kind"], JobKind> = { delete: deletionSteps, export: exportSteps };

/** Wall time one alarm spends before it saves and re-arms (well under the platform's limits). */
const SLICE_MS = 10_000;

export function jobStub(env: Env, jobId: string) {
  return env.JOBS.get(env.JOBS.idFromName(jobId));
}

export const dbOf = (env: Env) => drizzle(env.DB, { schema });

/**
 * Runs units of the job until it finishes or the slice's time is up; the cursor is saved in D1 after
 * every unit. Returns when to run again (null: nothing left to do).
 * JOB_UNIT_PAUSE_MS (tests, the fault harness) runs one unit per alarm with that pause between them.
 */
export async function runJobSlice(env: Env, jobId: string): Promise<number | null> {
  const db = dbOf(env);
  const pause = Number(env.JOB_UNIT_PAUSE_MS ?? 0);
  const started = Date.now();
  for (;;) {
    const job = await db.select().from(accountJobs).where(eq(accountJobs.id, jobId)).get();
    if (!job) return null;
    const kind = kinds[job.kind];
    if (job.state === "done" || job.state === "failed") return kind.after ? kind.after({ env, db, job }) : null;
    const index = kind.steps.findIndex((s) => s.name === job.step);
    if (index < 0) {
      await db.update(accountJobs).set({ state: "failed", error: `unknown step ${job.step}` }).where(eq(accountJobs.id, jobId));
      return null;
    }
    const step = kind.steps[index];
    const result = await step.unit({ env, db, job }, job.cursor);
    const data = result.data ? { ...job.data, ...result.data } : job.data;
    const now = new Date().toISOString();
    if (result.done) {
      const next = kind.steps[index + 1];
      await db
        .update(accountJobs)
        .set(
          next
            ? { state: "running", step: next.name, cursor: null, data, progress: (index + 1) / kind.steps.length, updatedAt: now }
            : { state: "done", cursor: null, data, progress: 1, updatedAt: now, finishedAt: now },
        )
        .where(and(eq(accountJobs.id, jobId), eq(accountJobs.step, job.step), ne(accountJobs.state, "done")));
      if (!next) {
        log("info", "account job finished", { job_id: jobId, kind: job.kind });
        continue; // the `after` hook decides the next wake-up
      }
    } else {
      const within = typeof data.step_total === "number" && data.step_total > 0 ? Math.min(0.99, Number(data.step_done ?? 0) / data.step_total) : 0;
      await db
        .update(accountJobs)
        .set({ state: "running", cursor: result.cursor, data, progress: (index + within) / kind.steps.length, updatedAt: now })
        .where(and(eq(accountJobs.id, jobId), eq(accountJobs.step, job.step)));
    }
    if (pause > 0) return Date.now() + pause;
    if (Date.now() - started > SLICE_MS) return Date.now();
  }
}

/** Pokes every unfinished job that has not moved for a while (the cron's safety net). */
export async function resumeStaleJobs(env: Env, db: Db, now = Date.now()) {
  const stale = new Date(now - 5 * 60_000).toISOString();
  const rows = await db
    .select({ id: accountJobs.id })
    .from(accountJobs)
    .where(and(inArray(accountJobs.state, ["pending", "running"]), lt(accountJobs.updatedAt, stale)))
    .limit(100);
  await Promise.all(rows.map((r) => jobStub(env, r.id).start(r.id)));
  return rows.length;
}
