/**
 * The broker's Job record as the API shows it: `id` becomes the required
 * `job_id`, and lease internals stay private.
 *
 * @module
 */
import type { Job } from "../queue/job.ts";

/** The public view of a job (see `jobResponseSchema`). */
export function jobToResponse(job: Job): Record<string, unknown> {
  return {
    job_id: job.id,
    status: job.status,
    started_at: job.started_at,
    completed_at: job.completed_at,
    attempts: job.attempts,
    queue: job.queue,
    type: job.type,
    priority: job.priority,
    max_attempts: job.max_attempts,
    created_at: job.created_at,
    scheduled_for: job.scheduled_for,
    timeout_ms: job.timeout_ms,
    progress: job.progress,
    cancel_requested: job.cancel_requested,
    payload: job.payload,
    result: job.result,
    error: job.error,
    error_history: job.error_history,
    dependencies: job.dependencies,
    on_dependency_failure: job.on_dependency_failure,
    group: job.group,
    callback_url: job.callback_url,
    callback_events: job.callback_events,
    trace_id: job.trace_id,
  };
}
