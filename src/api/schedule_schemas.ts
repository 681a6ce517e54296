/**
 * The schedules' answers as the API publishes them (the request bodies are
 * `scheduleCreateSchema` and `scheduleBodySchema` of `src/schedules/schedule.ts`,
 * the same schemas the service validates with).
 *
 * @module
 */
import { z } from "zod";
import { JOB_STATES } from "../queue/job.ts";
import { backoffSchema, jobIdSchema } from "./schemas.ts";

const isoOrNull = z.string().nullable();

/** One schedule: its definition, its next runs and its last job. */
export const scheduleResponseSchema = z.object({
  name: z.string(),
  cron: z.string().nullable(),
  timezone: z.string(),
  every_ms: z.int().nullable(),
  start_at: isoOrNull,
  end_at: isoOrNull,
  overlap: z.enum(["allow", "skip"]),
  catch_up: z.enum(["none", "one", "all"]),
  type: z.string(),
  payload: z.unknown(),
  queue: z.string().optional(),
  priority: z.int().optional(),
  max_attempts: z.int().optional(),
  timeout_ms: z.int().optional(),
  backoff: backoffSchema.optional(),
  source: z.enum(["api", "code"]).describe("code: defined by a job module (defineSchedule)"),
  paused: z.boolean(),
  next_runs: z.array(z.string()).describe("The next 5 ticks (ISO); empty while paused or ended"),
  last_run_at: isoOrNull.describe("When the last job was enqueued"),
  last_tick: isoOrNull.describe("The tick the last job belongs to"),
  last_job_id: jobIdSchema.nullable(),
  last_status: z.enum(JOB_STATES).nullable().describe("The last job's state now"),
});

/** `GET /schedules`. */
export const scheduleListResponseSchema = z.object({ schedules: z.array(scheduleResponseSchema) });

/** `POST /schedules/:name/trigger`. */
export const scheduleTriggerResponseSchema = z.object({ job_id: jobIdSchema, tick: z.string() });

/** `DELETE /schedules/:name`. */
export const scheduleDeleteResponseSchema = z.object({ name: z.string(), deleted: z.boolean() });
