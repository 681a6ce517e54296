/**
 * The typed client: enqueue jobs straight into Redis through the Broker (no
 * HTTP hop, like BullMQ's `Queue.add`), with each payload typed by its job
 * definition's zod schema and validated by it at run time, so a wrong payload
 * is a compile error and, for untyped callers, the same refusal the API gives.
 *
 * Its own retries are safe: when Redis does not answer (`QueueUnavailableError`,
 * or `OutcomeUnknownError`: the enqueue was sent and may have been stored) it
 * tries again, a bounded number of times (`ClientOptions`), with the same job
 * id. By default it chooses that id itself (a fresh UUID) for every job given
 * neither an `id` nor an `idempotency_key`: the id is its idempotency key, at
 * no Redis memory (an `idempotency_key` costs an extra key per job). A retry
 * refused because its own id exists proves an earlier attempt stored the job,
 * and is answered as created. The first attempt sends its fresh id as
 * `fresh_id` (no collision check, like an id the broker generates), so this
 * costs nothing while Redis answers. A caller's `idempotency_key` keeps its meaning
 * (a retry is answered from the key, `created: false`); a caller's `id` taken
 * on a retry may be someone else's job, so that ends in the
 * `OutcomeUnknownError` rather than a claim either way.
 *
 * @example
 * ```ts
 * import { builtinJobs } from "./jobs/builtins.ts";
 * const client = createClient(new RedisBroker({ url }), builtinJobs);
 * const { id } = await client.enqueue("email", {
 *   to: "user@example.com", from: "noreply@example.com", subject: "Hi", body: "Yo",
 * }, { priority: 5 });
 * ```
 *
 * @module
 */
import type { z } from "zod";
import type { JobDefinition } from "./jobs/definition.ts";
import { JobValidationError, prepareEnqueue } from "./jobs/prepare.ts";
import { JobRegistry } from "./jobs/registry.ts";
import type { Broker } from "./queue/broker.ts";
import { InvalidInputError, OutcomeUnknownError, QueueUnavailableError } from "./queue/errors.ts";
import type { EnqueueInput, EnqueueResult, Job } from "./queue/job.ts";
import { ENQUEUE_CHUNK } from "./queue/scripts.ts";
import { encodeBatch, queueOf } from "./queue/validate.ts";
import { isUuid, jobIdFor, parseJobId } from "./queue/job_id.ts";
import { sleep } from "./timing/sleep.ts";
import { ClientSchedules } from "./schedules/client_schedules.ts";
import { context, isSpanContextValid, trace } from "@opentelemetry/api";
import { formatTraceparent } from "./tracing/trace_context.ts";
import type { ScheduleStore } from "./schedules/store.ts";

export { JobValidationError };

/** How the client retries an enqueue that Redis did not answer. */
export interface ClientOptions {
  /**
   * Attempts per enqueue, and per chunk of 1000 of a batch, while Redis does
   * not answer. Default 3. 1 turns retries off, and with them the client's
   * own ids (the broker then generates them).
   */
  attempts?: number;
  /**
   * Wait before each retry, ms: retry n waits `retryDelaysMs[n - 1]`, the last
   * entry for any later one. Default [200, 500].
   */
  retryDelaysMs?: readonly number[];
  /**
   * Where `client.schedules` keeps schedules:
   * `new ScheduleStore({ client: connect(url) })` (`src/schedules/store.ts`).
   */
  schedules?: ScheduleStore;
}

const DEFAULT_ATTEMPTS = 3;
const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [200, 500];

/**
 * `request` with the caller's active span as its trace parent, when the
 * application traces (an OpenTelemetry SDK registered, a span active) and
 * the request names no `traceparent` of its own; else `request` itself.
 * Without an SDK `context.active()` is the empty root: nothing is added.
 */
function withActiveTrace(request: EnqueueInput): EnqueueInput {
  if (request.traceparent !== undefined) return request;
  const span = trace.getSpanContext(context.active());
  if (!span || !isSpanContextValid(span)) return request;
  const state = span.traceState?.serialize();
  return {
    ...request,
    traceparent: formatTraceparent({
      trace_id: span.traceId,
      span_id: span.spanId,
      flags: span.traceFlags,
    }),
    ...(state ? { tracestate: state } : {}),
  };
}

/** A refusal because a job id exists (single enqueue or a batch's JQ_EXISTS): that id. */
function takenId(error: unknown): string | null {
  if (!(error instanceof InvalidInputError) || error.field !== "id") return null;
  return /a job with id (\S+) already exists/.exec(error.message)?.[1] ?? null;
}

/** Redis did not answer: the failures worth another attempt. */
function isNoAnswer(error: unknown): boolean {
  return error instanceof OutcomeUnknownError || error instanceof QueueUnavailableError;
}

/**
 * What to throw when retries end in `error`: after an attempt whose outcome
 * was unknown, a later "not sent" does not make it known.
 */
function finalError(error: unknown, unknown: OutcomeUnknownError | null): unknown {
  return unknown && isNoAnswer(error) ? unknown : error;
}

/** `id` (a caller's UUID or job id of `queue`) as the broker answers it. */
function canonicalId(id: string, queue: string, home: string): string {
  return isUuid(id) ? jobIdFor(queue, home, id.toLowerCase()) : parseJobId(id, home)?.id ?? id;
}

/**
 * The broker's own checks of a whole batch (and its duplicate ids), so a
 * batch sent in several chunks writes nothing when any job is refused.
 */
function checkBatch(inputs: EnqueueInput[], defaultQueue: string, home: string): void {
  encodeBatch(inputs, Date.now(), (input) => ({ queue: queueOf(input, defaultQueue), home }));
}

/**
 * Job definitions keyed by their type name. Only `type` and `schema` matter
 * for typing, which also sidesteps the handler's parameter variance.
 */
export type JobMap = Record<string, { readonly type: string; readonly schema: z.ZodType }>;

/** The payload a caller passes for type `K` (the schema's input: defaults may be omitted). */
export type PayloadOf<M extends JobMap, K extends keyof M> = z.input<M[K]["schema"]>;

/** Per-job options besides type and payload (whose JSON text the client computes itself). */
export type EnqueueOptions = Omit<EnqueueInput, "type" | "payload" | "payload_json" | "fresh_id">;

/** One item of a typed batch: a type name and the matching payload. */
export type BatchItem<M extends JobMap> = {
  [K in keyof M & string]: { type: K; payload: PayloadOf<M, K> } & EnqueueOptions;
}[keyof M & string];

/** A typed producer over a Broker. */
export class JobClient<M extends JobMap> {
  readonly #broker: Broker;
  readonly #registry = new JobRegistry();
  readonly #attempts: number;
  readonly #delays: readonly number[];
  #home: string | null = null;
  /** Recurring schedules of these job types (`ClientOptions.schedules`). */
  readonly schedules: ClientSchedules<M>;

  constructor(broker: Broker, jobs: M, options: ClientOptions = {}) {
    this.#broker = broker;
    this.#attempts = Math.max(1, Math.floor(options.attempts ?? DEFAULT_ATTEMPTS));
    this.#delays = options.retryDelaysMs?.length ? options.retryDelaysMs : DEFAULT_RETRY_DELAYS_MS;
    for (const [name, definition] of Object.entries(jobs)) {
      if (name !== definition.type) {
        throw new Error(
          `client job map key ${JSON.stringify(name)} names type ${
            JSON.stringify(definition.type)
          }`,
        );
      }
      this.#registry.register(definition as unknown as JobDefinition);
    }
    this.schedules = new ClientSchedules(options.schedules, broker, this.#registry);
  }

  /** The broker's home queue, asked once (it never changes). */
  async #homeQueue(): Promise<string> {
    return this.#home = await this.#broker.homeQueue();
  }

  /** The job types this client can enqueue. */
  types(): string[] {
    return this.#registry.types();
  }

  /**
   * Validates `payload` with the type's schema, applies the type's defaults
   * and enqueues. Throws `JobValidationError` before touching Redis when
   * invalid. Retried while Redis does not answer (see the module doc); throws
   * `OutcomeUnknownError` when no attempt got an answer and one may have
   * stored the job, `QueueUnavailableError` when none can have.
   */
  async enqueue<K extends keyof M & string>(
    type: K,
    payload: PayloadOf<M, K>,
    options: EnqueueOptions = {},
  ): Promise<EnqueueResult> {
    const input = this.#prepare({ ...options, type, payload });
    const own = this.#attempts > 1 && this.#ownId(input, this.#home ?? await this.#homeQueue());
    try {
      return await this.#broker.enqueue(input);
    } catch (error) {
      // A retry checks its id, so a job the first attempt stored is found.
      delete input.fresh_id;
      return await this.#retryEnqueue(input, own, error);
    }
  }

  /** The retries of an enqueue whose first attempt failed with `first`. */
  async #retryEnqueue(input: EnqueueInput, own: boolean, first: unknown): Promise<EnqueueResult> {
    let error = first;
    let unknown: OutcomeUnknownError | null = null;
    for (let attempt = 1;; attempt++) {
      if (unknown && takenId(error) !== null) {
        // Our fresh id exists: an earlier attempt stored the job.
        if (own) return { id: input.id!, created: true };
        throw unknown; // the caller's id: taken by that attempt, or by another job
      }
      if (attempt >= this.#attempts || !isNoAnswer(error)) throw finalError(error, unknown);
      if (error instanceof OutcomeUnknownError) unknown = error;
      await sleep(this.#delay(attempt));
      try {
        return await this.#broker.enqueue(input);
      } catch (next) {
        error = next;
      }
    }
  }

  /**
   * Validates every item first (nothing is written if one is invalid), then
   * one round trip per 1000 jobs; each 1000 is all or nothing (see
   * `Broker.enqueueBatch`) and is retried on its own while Redis does not
   * answer, with the same ids. A batch over 1000 that fails for good keeps the
   * chunks written before.
   */
  async enqueueBatch(items: BatchItem<M>[]): Promise<EnqueueResult[]> {
    const inputs = items.map((item) => this.#prepare(item as EnqueueInput));
    const home = this.#home ?? await this.#homeQueue();
    for (const input of inputs) this.#ownId(input, home);
    if (inputs.length <= ENQUEUE_CHUNK) return await this.#sendChunk(inputs, home);
    checkBatch(inputs, this.#broker.defaultQueue, home);
    const out: EnqueueResult[] = [];
    for (let i = 0; i < inputs.length; i += ENQUEUE_CHUNK) {
      out.push(...await this.#sendChunk(inputs.slice(i, i + ENQUEUE_CHUNK), home));
    }
    return out;
  }

  /** A job's current record, or null. */
  get(id: string): Promise<Job | null> {
    return this.#broker.get(id);
  }

  #prepare(request: EnqueueInput): EnqueueInput {
    const prepared = prepareEnqueue(this.#registry, withActiveTrace(request));
    if (!prepared.ok) throw new JobValidationError(prepared);
    return prepared.input;
  }

  /**
   * Gives `input` (the client's own prepared copy) an id of the client's own,
   * in its queue's form, when retries are on and it has neither id nor key,
   * marked `fresh_id`: the first attempt needs no collision check for it.
   */
  #ownId(input: EnqueueInput, home: string): boolean {
    if (this.#attempts < 2 || input.id !== undefined || input.idempotency_key !== undefined) {
      return false;
    }
    input.id = jobIdFor(input.queue ?? this.#broker.defaultQueue, home, crypto.randomUUID());
    input.fresh_id = true;
    return true;
  }

  #delay(attempt: number): number {
    return this.#delays[Math.min(attempt, this.#delays.length) - 1];
  }

  /** One chunk (at most ENQUEUE_CHUNK jobs, one atomic script call), retried. */
  async #sendChunk(chunk: EnqueueInput[], home: string): Promise<EnqueueResult[]> {
    let unknown: OutcomeUnknownError | null = null;
    /** The client's own ids, known once the first attempt failed. */
    let own: Set<string> | null = null;
    for (let attempt = 1;; attempt++) {
      try {
        return await this.#broker.enqueueBatch(chunk);
      } catch (error) {
        if (own === null) {
          // Retries check the ids, so a chunk an earlier attempt stored is found.
          own = new Set();
          for (const input of chunk) {
            if (input.fresh_id) own.add(input.id!);
            delete input.fresh_id;
          }
        }
        const taken = unknown ? takenId(error) : null;
        if (unknown && taken !== null) {
          const stored = await this.#storedBefore(chunk, own, taken);
          if (stored === true) return await this.#storedResults(chunk, unknown, home);
          throw stored === false ? error : unknown;
        }
        if (attempt >= this.#attempts || !isNoAnswer(error)) throw finalError(error, unknown);
        if (error instanceof OutcomeUnknownError) unknown = error;
        await sleep(this.#delay(attempt));
      }
    }
  }

  /**
   * After a retry of `chunk` was refused because `taken` exists: whether an
   * earlier attempt stored the chunk (it is all or nothing, so one of its own
   * fresh ids existing proves it), false when it certainly did not (the id
   * is another job's), null when that cannot be told.
   */
  async #storedBefore(chunk: EnqueueInput[], own: Set<string>, taken: string): Promise<
    boolean | null
  > {
    if (own.has(taken)) return true;
    const probe = chunk.find((input) => input.id !== undefined && own.has(input.id));
    if (!probe) return null;
    try {
      return (await this.#broker.get(probe.id!)) !== null;
    } catch {
      return null;
    }
  }

  /**
   * The results of a chunk an earlier attempt stored whole: every job was
   * created with its id; jobs with an idempotency key are asked again (one
   * call, answered from their keys) for the id each key names.
   */
  async #storedResults(
    chunk: EnqueueInput[],
    unknown: OutcomeUnknownError,
    home: string,
  ): Promise<EnqueueResult[]> {
    const keyed = chunk.filter((input) => input.idempotency_key !== undefined);
    let answers: EnqueueResult[] = [];
    if (keyed.length > 0) {
      try {
        answers = await this.#sendChunk(keyed, home);
      } catch {
        throw unknown; // stored, but which id each key names is not known
      }
    }
    let k = 0;
    return chunk.map((input) =>
      // As the broker answers ids: canonical, in the queue's form (a caller's UUID may not be).
      input.idempotency_key !== undefined ? answers[k++] : {
        id: canonicalId(input.id!, input.queue ?? this.#broker.defaultQueue, home),
        created: true,
      }
    );
  }
}

/**
 * Creates a typed client for the given definitions (keyed by type name).
 *
 * @example
 * ```ts
 * const client = createClient(broker, { hello: helloJob });
 * await client.enqueue("hello", { name: "ann" });
 * ```
 */
export function createClient<M extends JobMap>(
  broker: Broker,
  jobs: M,
  options: ClientOptions = {},
): JobClient<M> {
  return new JobClient(broker, jobs, options);
}
