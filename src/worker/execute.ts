/**
 * Runs one job inside a thread: validates the payload against the type's
 * schema, calls the handler with a JobContext and turns whatever happens into
 * a `RunResult`. Kept apart from `thread.ts` so it can be tested without a
 * Web Worker.
 *
 * @module
 */
import { rateLimitOf } from "../limits/rate_limited_error.ts";
import type { JobContext, JobDefinition, JobLogger } from "../jobs/definition.ts";
import { NonRetryableError } from "../jobs/definition.ts";
import { LIMITS } from "../queue/job.ts";
import { oversizeBytes } from "../queue/validate.ts";
import type { LogLine, RunRequest, RunResult } from "./messages.ts";
import type { DependencyInfo } from "../queue/job.ts";
import type { ThreadTracing } from "../tracing/thread_tracing.ts";
import { trace } from "@opentelemetry/api";
import { TRACER_NAME } from "../tracing/names.ts";

/**
 * The tracer handlers get when the process does not trace: the API's no-op
 * one (nothing registered in the thread), so `ctx.tracer` code runs unchanged
 * and costs nothing.
 */
const NO_TRACER = trace.getTracer(TRACER_NAME);

/** Where a running job's side output goes. */
export interface ExecuteHooks {
  log(line: LogLine): void;
  progress(id: string, percent: number): void;
}

/** Progress reports closer together than this are coalesced into the latest one. */
export const PROGRESS_INTERVAL_MS = 250;

/** The message a thrown value is reported with. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    // Permission errors name their class, so the job's error says what was denied.
    return error.name === "NotCapable" || error.name === "PermissionDenied"
      ? `${error.name}: ${error.message}`
      : error.message || error.name;
  }
  return String(error);
}

/** False when retrying cannot help: NonRetryableError, `retryable: false`, or a denied permission. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof NonRetryableError) return false;
  if (
    error instanceof Error && (error.name === "NotCapable" || error.name === "PermissionDenied")
  ) {
    return false; // the thread's permissions do not change between attempts
  }
  if (typeof error === "object" && error !== null && "retryable" in error) {
    return error.retryable !== false;
  }
  return true;
}

function logger(id: string, hooks: ExecuteHooks): JobLogger {
  const line = (level: LogLine["level"]) => (message: string, fields?: Record<string, unknown>) =>
    hooks.log({ id, level, message, fields });
  return { debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error") };
}

/** Throttles one job's progress reports; the last value always gets out unless the job ends first. */
function progressReporter(id: string, hooks: ExecuteHooks) {
  let lastSent = 0;
  let pending: number | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const send = () => {
    timer = undefined;
    if (pending === null) return;
    hooks.progress(id, pending);
    lastSent = Date.now();
    pending = null;
  };
  return {
    report(percent: number) {
      if (!Number.isFinite(percent)) return;
      pending = Math.min(100, Math.max(0, percent));
      const wait = lastSent + PROGRESS_INTERVAL_MS - Date.now();
      if (wait <= 0) send();
      else if (timer === undefined) timer = setTimeout(send, wait);
    },
    stop() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}

/**
 * Runs `request` with `definition` (undefined when the type is unknown here).
 * Never throws: every outcome is a `RunResult`.
 */
export async function executeJob(
  definition: JobDefinition | undefined,
  request: RunRequest,
  signal: AbortSignal,
  hooks: ExecuteHooks,
  tracing?: ThreadTracing,
): Promise<RunResult> {
  const { id } = request;
  if (!definition) {
    return { id, ok: false, error: `unknown job type "${request.type}"`, retryable: false };
  }
  let payload: unknown;
  try {
    payload = JSON.parse(request.payload_json);
  } catch {
    return { id, ok: false, error: "invalid payload: not JSON", retryable: false };
  }
  const parsed = definition.schema.safeParse(payload);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((i) => `${i.path.length ? i.path.join(".") : "payload"}: ${i.message}`)
      .join("; ");
    return { id, ok: false, error: `invalid payload: ${issues}`, retryable: false };
  }
  let dependencies: DependencyInfo[] = [];
  if (request.dependencies_json !== undefined) {
    try {
      dependencies = JSON.parse(request.dependencies_json) ?? [];
    } catch {
      return { id, ok: false, error: "the job's dependencies could not be read", retryable: true };
    }
  }
  const progress = progressReporter(id, hooks);
  const ctx: JobContext = {
    dependencies,
    resultsOf: <R>(def: { readonly type: string }) =>
      dependencies.filter((d) => d.type === def.type && d.status === "completed")
        .map((d) => d.result as R),
    jobId: id,
    type: request.type,
    attempt: request.attempt,
    maxAttempts: request.max_attempts,
    signal,
    log: logger(id, hooks),
    progress: (percent) => progress.report(percent),
    tracer: tracing?.tracer ?? NO_TRACER,
  };
  try {
    const value = await (tracing
      ? tracing.run(request.trace, () =>
        definition.handler(ctx, parsed.data))
      : definition.handler(ctx, parsed.data));
    // Results are stored as JSON text: serialized here, on the job's thread.
    const text = value === undefined ? "null" : JSON.stringify(value);
    if (text === undefined) throw new TypeError("the handler's result is not JSON-serializable");
    // Too big to keep in Redis for the retention period; the same output would
    // be too big on every retry.
    const bytes = oversizeBytes(text, LIMITS.maxResultBytes);
    if (bytes > 0) {
      throw new NonRetryableError(
        `result is ${bytes} bytes; the limit is ${LIMITS.maxResultBytes}: write large outputs ` +
          "to a destination and return a reference to them",
      );
    }
    return { id, ok: true, result_json: text };
  } catch (error) {
    const limited = rateLimitOf(error);
    if (limited) {
      return { id, ok: false, error: errorMessage(error), retryable: true, rate_limited: limited };
    }
    return { id, ok: false, error: errorMessage(error), retryable: isRetryable(error) };
  } finally {
    progress.stop();
  }
}
