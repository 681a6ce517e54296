/**
 * The generic job definition: a job type is a name, a zod schema for its
 * payload `T`, a handler receiving a `T`, and defaults. The registry
 * (`registry.ts`) is the factory that turns a stored envelope back into a typed
 * call. Adding a job type is one new file exporting a definition.
 *
 * @module
 */
import type { z } from "zod";
import type { BackoffPolicy, DependencyInfo } from "../queue/job.ts";
import type { JobSettings } from "./job_settings.ts";
import type { LimitInput } from "../limits/limit.ts";
import type { Tracer } from "@opentelemetry/api";

/**
 * Deno permissions a handler needs. Jobs of a type run only on Web Worker
 * threads created with exactly these permissions; everything else is denied.
 */
export interface JobPermissions {
  /** Hosts (`host` or `host:port`) the handler may reach, or true for any. */
  net?: string[] | true;
  read?: string[] | true;
  write?: string[] | true;
  env?: string[] | true;
}

/** Log function handed to handlers; lines carry the job id, type and attempt. */
export interface JobLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** What a handler gets besides its payload. */
export interface JobContext {
  readonly jobId: string;
  readonly type: string;
  /** This attempt's number, from 1. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** Fires at the job's deadline, on cancel, and on shutdown past the drain deadline. */
  readonly signal: AbortSignal;
  readonly log: JobLogger;
  /** Reports progress, 0..100. Cheap: throttled and batched by the runner. */
  progress(percent: number): void;
  /**
   * An OpenTelemetry tracer: spans a handler starts with it (active or not)
   * are children of this attempt's span, and are exported by the worker
   * process. A no-op tracer when the worker does not trace (see the README's
   * Tracing section).
   *
   * @example
   * ```ts
   * await ctx.tracer.startActiveSpan("render", async (span) => {
   *   try { return await render(payload); } finally { span.end(); }
   * });
   * ```
   */
  readonly tracer: Tracer;
  /**
   * The job's dependencies (`depends_on`) as they ended, each with its
   * result when it completed (its error when it failed): empty for a job
   * with none. Typed results: `resultsOf`.
   */
  readonly dependencies: readonly DependencyInfo[];
  /**
   * The results of the completed dependencies of `definition`'s type,
   * typed by its handler.
   *
   * @example
   * ```ts
   * const [page] = ctx.resultsOf(fetchPage); // typed as fetchPage's handler returns
   * ```
   */
  resultsOf<R>(
    definition: { readonly type: string; readonly handler: (...args: never[]) => Promise<R> },
  ): R[];
}

/** Per-type defaults; a job's own fields win. */
export interface JobDefaults {
  max_attempts?: number;
  timeout_ms?: number;
  priority?: number;
  backoff?: BackoffPolicy;
}

/**
 * A job type.
 *
 * @example
 * ```ts
 * export default defineJob({
 *   type: "hello",
 *   schema: z.object({ name: z.string() }),
 *   handler: async (_ctx, p) => ({ greeting: `hi ${p.name}` }),
 * });
 * ```
 */
export interface JobDefinition<S extends z.ZodType = z.ZodType, R = unknown> {
  /** Unique type name, e.g. "email". */
  readonly type: string;
  readonly description?: string;
  /** Validates and types the payload; also published as JSON Schema. */
  readonly schema: S;
  readonly handler: (ctx: JobContext, payload: z.output<S>) => Promise<R>;
  readonly defaults?: JobDefaults;
  /**
   * The permissions its threads get; a function when they depend on the
   * operator's settings (an output folder, an SMTP host), called once per
   * worker process with the settings its threads will run with.
   */
  readonly permissions?: JobPermissions | ((settings: JobSettings) => JobPermissions);
  /**
   * Submit-time policy beyond the schema (e.g. destinations the operator
   * allows): problems as `{path, message}` refuse the job with 422
   * `validation_error` before anything is stored.
   */
  readonly admit?: (payload: z.output<S>, settings: JobSettings) => AdmitIssue[];
  /** The queue jobs of this type go to when a submit names none (else the default queue). */
  readonly queue?: string;
  /**
   * Flow control for the type, over every worker (`src/limits/`): at most
   * `rate.max` starts in any `rate.per_ms`, at most `concurrency` running.
   * A runtime limit (`PUT /api/v1/limits/type/<type>`) wins over this one.
   *
   * @example
   * ```ts
   * limits: { rate: { max: 20, per_ms: 1000 }, concurrency: 5 }
   * ```
   */
  readonly limits?: LimitInput;
}

/** A submit-time policy problem: dotted path into the payload and message. */
export interface AdmitIssue {
  path: string;
  message: string;
}

/** The permissions `definition` declares under `settings`. */
export function permissionsFor(
  definition: JobDefinition | undefined,
  settings: JobSettings,
): JobPermissions | undefined {
  const p = definition?.permissions;
  return typeof p === "function" ? p(settings) : p;
}

/** Schedules of a job type, exported by its module (`src/schedules/define.ts`). */
export { defineSchedule } from "../schedules/define.ts";

/**
 * Identity helper that infers `S` so the handler's payload is typed without annotations.
 */
export function defineJob<S extends z.ZodType, R = unknown>(
  definition: JobDefinition<S, R>,
): JobDefinition<S, R> {
  return definition;
}

/**
 * Throw this (or set `retryable = false` on an error) when retrying cannot help,
 * e.g. a 4xx answer: the job goes straight to `failed`.
 */
export class NonRetryableError extends Error {
  readonly retryable = false;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NonRetryableError";
  }
}
