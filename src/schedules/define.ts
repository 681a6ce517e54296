/**
 * Schedules written in code: a job module exports them next to its job
 * types, and every process that loads the module upserts them at start
 * (`code_schedules.ts`). An unchanged one changes nothing in Redis, so its
 * ticks go on across restarts; a changed one is replaced.
 *
 * @example
 * ```ts
 * import { defineJob } from "../src/jobs/definition.ts";
 * import { defineSchedule } from "../src/schedules/define.ts";
 *
 * export const report = defineJob({ type: "report", schema: z.object({ day: z.string() }), ... });
 * export const nightly = defineSchedule(report, {
 *   name: "nightly-report",
 *   cron: "0 3 * * *",
 *   timezone: "Europe/Paris",
 *   payload: { day: "yesterday" },
 * });
 * ```
 *
 * @module
 */
import type { z } from "zod";
import type { JobDefinition } from "../jobs/definition.ts";
import type { ScheduleInput } from "./schedule.ts";

const BRAND = Symbol.for("jobqueue.schedule");

/** A schedule of a job type `S`, its payload typed by the type's schema. */
export type TypedScheduleInput<S extends z.ZodType> =
  & Omit<ScheduleInput, "type" | "payload">
  & { payload: z.input<S> };

/** What `defineSchedule` returns: the input, marked so a module's exports can be found. */
export interface CodeSchedule {
  readonly [BRAND]: true;
  readonly input: ScheduleInput;
}

/** Declares a schedule of `job` (validated when a process loads the module). */
export function defineSchedule<S extends z.ZodType>(
  job: JobDefinition<S>,
  schedule: TypedScheduleInput<S>,
): CodeSchedule {
  return { [BRAND]: true, input: { ...schedule, type: job.type } as ScheduleInput };
}

/** True for a value `defineSchedule` made. */
export function isCodeSchedule(value: unknown): value is CodeSchedule {
  return typeof value === "object" && value !== null && (value as CodeSchedule)[BRAND] === true;
}
