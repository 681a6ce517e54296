/**
 * What a recurring schedule is: the input a caller writes (API body,
 * `defineSchedule`, the typed client), its validation, and the normalized
 * definition stored in Redis. Validation is complete at creation: a bad cron
 * expression, an unknown time zone, an interval under a second, a window that
 * ends before it starts, an unknown job type or a payload its schema refuses
 * never reaches Redis, so a tick never meets a schedule it cannot enqueue.
 *
 * @module
 */
import { z } from "zod";
import { prepareEnqueue } from "../jobs/prepare.ts";
import { type JobRegistry, type ValidationIssue, zodIssues } from "../jobs/registry.ts";
import { LIMITS } from "../queue/job.ts";
import { QUEUE_NAME_SOURCE } from "../queue/keys.ts";
import { backoffSchema, queueNameSchema } from "../api/schemas.ts";
import { cadenceOf, cronProblem, timeZoneProblem } from "./cadence.ts";

/** Shortest interval of an `every_ms` schedule. */
export const MIN_EVERY_MS = 1000;
/** Most missed ticks `catch_up: "all"` enqueues after downtime. */
export const MAX_CATCH_UP = 100;

/**
 * Schedule names: like queue names (letters, digits, `_`, `-`, `.`, optionally
 * after `<tenant>/`), so keys stay whole.
 */
export const scheduleNameSchema = z.string().regex(
  new RegExp(`^${QUEUE_NAME_SOURCE}$`),
  'a schedule name is 1-64 letters, digits, "_", "-" or ".", optionally after "<tenant>/"',
);

/** The job a tick enqueues: a submit's fields, but no delay and no key of its own. */
const templateShape = {
  type: z.string().min(1).max(LIMITS.maxTypeLength).describe("A registered job type"),
  payload: z.unknown().describe("Validated by the type's schema when the schedule is saved"),
  queue: queueNameSchema.optional(),
  priority: z.int().min(LIMITS.minPriority).max(LIMITS.maxPriority).optional(),
  max_attempts: z.int().min(1).max(LIMITS.maxAttempts).optional(),
  timeout_ms: z.int().min(LIMITS.minTimeoutMs).max(LIMITS.maxTimeoutMs).optional(),
  backoff: backoffSchema.optional(),
};

/** The body of `PUT /schedules/:name` (and of POST, with `name`). */
export const scheduleBodySchema = z.object({
  cron: z.string().min(1).max(200).optional()
    .describe("5 or 6 fields (seconds first, optional); exclusive with every_ms"),
  timezone: z.string().min(1).max(64).optional()
    .describe("IANA time zone of cron; default UTC"),
  every_ms: z.int().min(MIN_EVERY_MS).max(366 * 24 * 60 * 60 * 1000).optional()
    .describe("Fixed interval, ticks at start_at (or the epoch) plus multiples"),
  start_at: z.iso.datetime({ offset: true }).optional().describe("No tick before"),
  end_at: z.iso.datetime({ offset: true }).optional().describe("No tick after"),
  overlap: z.enum(["allow", "skip"]).default("allow")
    .describe("skip: no tick while the previous job is pending, scheduled or running"),
  catch_up: z.enum(["none", "one", "all"]).default("none")
    .describe(
      `After downtime: none skips missed ticks, one runs once, all runs each (≤${MAX_CATCH_UP})`,
    ),
  ...templateShape,
}).strict();

/** `POST /schedules` body. */
export const scheduleCreateSchema = scheduleBodySchema.extend({ name: scheduleNameSchema })
  .strict();

/** A schedule as a caller writes it. */
export type ScheduleInput = z.input<typeof scheduleCreateSchema>;

/** Where a schedule was defined: by an API call (or client), or in a job module's code. */
export type ScheduleSource = "api" | "code";

/** The job a tick enqueues. */
export interface JobTemplate {
  type: string;
  payload: unknown;
  queue?: string;
  priority?: number;
  max_attempts?: number;
  timeout_ms?: number;
  backoff?: z.output<typeof backoffSchema>;
}

/** A validated schedule, as stored (epoch ms for instants). */
export interface ScheduleDefinition {
  name: string;
  cron: string | null;
  timezone: string;
  every_ms: number | null;
  start_at: number | null;
  end_at: number | null;
  overlap: "allow" | "skip";
  catch_up: "none" | "one" | "all";
  job: JobTemplate;
  source: ScheduleSource;
}

/** Outcome of `parseSchedule`. */
export type ParsedSchedule =
  | { ok: true; definition: ScheduleDefinition }
  | { ok: false; issues: ValidationIssue[] };

/**
 * Validates `input` (already shaped by `scheduleCreateSchema` or not) against
 * the rules and the job type's schema.
 *
 * @example
 * ```ts
 * const r = parseSchedule({ name: "nightly", cron: "0 3 * * *", type: "compute", payload: {} }, registry, "api");
 * if (!r.ok) console.log(r.issues); // [{ path, message }]
 * ```
 */
export function parseSchedule(
  input: unknown,
  registry: JobRegistry,
  source: ScheduleSource,
): ParsedSchedule {
  const shaped = scheduleCreateSchema.safeParse(input);
  if (!shaped.success) return { ok: false, issues: zodIssues(shaped.error) };
  const s = shaped.data;
  const issues: ValidationIssue[] = [];
  if ((s.cron === undefined) === (s.every_ms === undefined)) {
    issues.push({ path: "cron", message: "give exactly one of cron and every_ms" });
  }
  if (s.cron !== undefined) {
    const problem = cronProblem(s.cron);
    if (problem) issues.push({ path: "cron", message: problem });
  }
  if (s.timezone !== undefined) {
    if (s.every_ms !== undefined) {
      issues.push({ path: "timezone", message: "timezone applies to cron only" });
    }
    const problem = timeZoneProblem(s.timezone);
    if (problem) issues.push({ path: "timezone", message: problem });
  }
  const startAt = s.start_at === undefined ? null : Date.parse(s.start_at);
  const endAt = s.end_at === undefined ? null : Date.parse(s.end_at);
  if (startAt !== null && endAt !== null && endAt <= startAt) {
    issues.push({ path: "end_at", message: "end_at must be after start_at" });
  }
  const job: JobTemplate = { type: s.type, payload: s.payload };
  for (const field of ["queue", "priority", "max_attempts", "timeout_ms", "backoff"] as const) {
    if (s[field] !== undefined) Object.assign(job, { [field]: s[field] });
  }
  const prepared = prepareEnqueue(registry, { ...job });
  if (!prepared.ok) {
    if (prepared.reason === "unknown_type") {
      issues.push({ path: "type", message: prepared.message });
    } else if (prepared.reason === "payload_too_large") {
      issues.push({ path: "payload", message: prepared.message });
    } else {
      for (const i of prepared.issues) {
        issues.push({ path: i.path ? `payload.${i.path}` : "payload", message: i.message });
      }
    }
  }
  if (issues.length > 0) return { ok: false, issues };
  const definition: ScheduleDefinition = {
    name: s.name,
    cron: s.cron ?? null,
    timezone: s.timezone ?? "UTC",
    every_ms: s.every_ms ?? null,
    start_at: startAt,
    end_at: endAt,
    overlap: s.overlap,
    catch_up: s.catch_up,
    job,
    source,
  };
  // A window that holds no tick at all is refused as well: it could never run.
  if (cadenceOf(definition).nextAfter(startAt === null ? -Infinity : startAt - 1) === null) {
    return { ok: false, issues: [{ path: "end_at", message: "no tick falls before end_at" }] };
  }
  return { ok: true, definition };
}

/**
 * The definition's JSON as stored: fields in one fixed order, so an upsert of
 * an unchanged schedule writes the same text and changes nothing.
 */
export function definitionJson(d: ScheduleDefinition): string {
  return JSON.stringify({
    name: d.name,
    cron: d.cron,
    timezone: d.timezone,
    every_ms: d.every_ms,
    start_at: d.start_at,
    end_at: d.end_at,
    overlap: d.overlap,
    catch_up: d.catch_up,
    job: {
      type: d.job.type,
      payload: d.job.payload,
      queue: d.job.queue,
      priority: d.job.priority,
      max_attempts: d.job.max_attempts,
      timeout_ms: d.job.timeout_ms,
      backoff: d.job.backoff,
    },
    source: d.source,
  });
}

/** The part of a definition that places its ticks: when it changes, ticks restart. */
export function cadenceText(d: ScheduleDefinition): string {
  return JSON.stringify([d.cron, d.timezone, d.every_ms, d.start_at, d.end_at]);
}

/** A stored definition read back; null when unreadable. */
export function readDefinition(json: string): ScheduleDefinition | null {
  try {
    const d = JSON.parse(json) as ScheduleDefinition;
    return typeof d?.name === "string" && d.job && typeof d.job.type === "string" ? d : null;
  } catch {
    return null;
  }
}

/** A definition as the API shows it (ISO instants). */
export function definitionView(d: ScheduleDefinition): Record<string, unknown> {
  return {
    name: d.name,
    cron: d.cron,
    timezone: d.timezone,
    every_ms: d.every_ms,
    start_at: d.start_at === null ? null : new Date(d.start_at).toISOString(),
    end_at: d.end_at === null ? null : new Date(d.end_at).toISOString(),
    overlap: d.overlap,
    catch_up: d.catch_up,
    ...d.job,
    source: d.source,
  };
}
