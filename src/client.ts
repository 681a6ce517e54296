/**
 * The typed client: enqueue jobs straight into Redis through the Broker (no
 * HTTP hop, like BullMQ's `Queue.add`), with each payload typed by its job
 * definition's zod schema and validated by it at run time, so a wrong payload
 * is a compile error and, for untyped callers, the same refusal the API gives.
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
import type { EnqueueInput, EnqueueResult, Job } from "./queue/job.ts";

export { JobValidationError };

/**
 * Job definitions keyed by their type name. Only `type` and `schema` matter
 * for typing, which also sidesteps the handler's parameter variance.
 */
export type JobMap = Record<string, { readonly type: string; readonly schema: z.ZodType }>;

/** The payload a caller passes for type `K` (the schema's input: defaults may be omitted). */
export type PayloadOf<M extends JobMap, K extends keyof M> = z.input<M[K]["schema"]>;

/** Per-job options besides type and payload (whose JSON text the client computes itself). */
export type EnqueueOptions = Omit<EnqueueInput, "type" | "payload" | "payload_json">;

/** One item of a typed batch: a type name and the matching payload. */
export type BatchItem<M extends JobMap> = {
  [K in keyof M & string]: { type: K; payload: PayloadOf<M, K> } & EnqueueOptions;
}[keyof M & string];

/** A typed producer over a Broker. */
export class JobClient<M extends JobMap> {
  readonly #broker: Broker;
  readonly #registry = new JobRegistry();

  constructor(broker: Broker, jobs: M) {
    this.#broker = broker;
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
  }

  /** The job types this client can enqueue. */
  types(): string[] {
    return this.#registry.types();
  }

  /**
   * Validates `payload` with the type's schema, applies the type's defaults
   * and enqueues. Throws `JobValidationError` before touching Redis when invalid.
   */
  async enqueue<K extends keyof M & string>(
    type: K,
    payload: PayloadOf<M, K>,
    options: EnqueueOptions = {},
  ): Promise<EnqueueResult> {
    const input = this.#prepare({ ...options, type, payload });
    return await this.#broker.enqueue(input);
  }

  /**
   * Validates every item first (nothing is written if one is invalid), then
   * one round trip per 1000 jobs; each 1000 is all or nothing (see
   * `Broker.enqueueBatch`).
   */
  async enqueueBatch(items: BatchItem<M>[]): Promise<EnqueueResult[]> {
    const inputs = items.map((item) => this.#prepare(item as EnqueueInput));
    return await this.#broker.enqueueBatch(inputs);
  }

  /** A job's current record, or null. */
  get(id: string): Promise<Job | null> {
    return this.#broker.get(id);
  }

  #prepare(request: EnqueueInput): EnqueueInput {
    const prepared = prepareEnqueue(this.#registry, request);
    if (!prepared.ok) throw new JobValidationError(prepared);
    return prepared.input;
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
export function createClient<M extends JobMap>(broker: Broker, jobs: M): JobClient<M> {
  return new JobClient(broker, jobs);
}
