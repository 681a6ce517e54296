/**
 * Jobs as schedules see them: the page of `GET /jobs?schedule=` (newest tick
 * first, from the schedule's index) and the `schedule`/`schedule_tick`
 * fields a scheduled job's status carries.
 *
 * @module
 */
import type { Job, JobState } from "../queue/job.ts";
import type { RouteDeps } from "./deps.ts";
import { HttpError } from "./errors.ts";
import { jobToResponse } from "./serialize.ts";

/** Cursors of a schedule's job list: the offset into its index. */
const CURSOR = /^s\.(\d{1,9})$/;

/** The schedule and tick that produced job `id`, if one did (read beside the job itself). */
export async function producerOf(
  deps: RouteDeps,
  id: string,
): Promise<{ schedule: string; tick: string } | null> {
  if (!deps.schedules) return null;
  return (await deps.schedules.producers([id]))[0];
}

/** `job`'s public view, with the schedule that produced it when one did. */
export function scheduledJobResponse(
  job: Job,
  producer: { schedule: string; tick: string } | null,
): Record<string, unknown> {
  const view = jobToResponse(job);
  return producer ? { ...view, schedule: producer.schedule, schedule_tick: producer.tick } : view;
}

/** One page of the jobs `schedule` produced, optionally of one state or group only. */
export async function scheduleJobsPage(
  deps: RouteDeps,
  schedule: string,
  query: { status?: JobState; group?: string; limit: number; cursor?: string },
): Promise<{ jobs: Record<string, unknown>[]; next_cursor: string | null }> {
  if (!deps.schedules) {
    throw new HttpError(503, "unavailable", "schedules are not available in this process");
  }
  let offset = 0;
  if (query.cursor !== undefined) {
    const m = CURSOR.exec(query.cursor);
    if (!m) {
      throw new HttpError(422, "invalid_input", "cursor is not one this server handed out");
    }
    offset = Number(m[1]);
  }
  const ids = await deps.call(deps.schedules.jobIds(schedule, offset, query.limit));
  const [jobs, producers] = await Promise.all([
    deps.call(Promise.all(ids.map((id) => deps.broker.get(id)))),
    deps.call(deps.schedules.producers(ids)),
  ]);
  const out: Record<string, unknown>[] = [];
  jobs.forEach((job, i) => {
    // Expired jobs (past retention) are left out; the index forgets them soon after.
    if (!job || (query.status && job.status !== query.status)) return;
    if (query.group !== undefined && job.group !== query.group) return;
    out.push(scheduledJobResponse(job, producers[i]));
  });
  return {
    jobs: out,
    next_cursor: ids.length === query.limit ? `s.${offset + ids.length}` : null,
  };
}
