/**
 * `on_complete`, the chaining shorthand: a job and its follow-up are one
 * two-job flow. The follow-up is written with the job, waiting on it (so the
 * job's completion script releases it, atomically, and it sees the job's
 * result as its one dependency), with the policy `cancel` unless it names
 * its own: a job that fails for good has no follow-up to run.
 *
 * @module
 */
import type { EnqueueInput } from "../queue/job.ts";
import { LIMITS } from "../queue/job.ts";
import { jobIdFor } from "../queue/job_id.ts";

/**
 * The job with an id of its own chosen now (so the follow-up can name it),
 * and the follow-up depending on it. `home`: the deployment's home queue;
 * `defaultQueue`: where a job that names no queue goes. A job with an
 * idempotency key gives its follow-up a key derived from it, so a replay
 * finds both.
 *
 * @example
 * ```ts
 * const [job, next] = withFollowUp(input, { type: "report", payload: {} }, "default", "default");
 * await broker.enqueueBatch([job, next]);
 * ```
 */
export function withFollowUp(
  job: EnqueueInput,
  followUp: EnqueueInput,
  home: string,
  defaultQueue: string,
): [EnqueueInput, EnqueueInput] {
  const id = job.id ?? jobIdFor(job.queue ?? defaultQueue, home, crypto.randomUUID());
  const key = job.idempotency_key === undefined ? undefined : `${job.idempotency_key}:on_complete`;
  return [
    { ...job, id, fresh_id: job.id === undefined },
    {
      ...followUp,
      depends_on: [id],
      on_dependency_failure: followUp.on_dependency_failure ?? "cancel",
      idempotency_key: key !== undefined && key.length <= LIMITS.maxIdempotencyKeyLength
        ? key
        : undefined,
    },
  ];
}
