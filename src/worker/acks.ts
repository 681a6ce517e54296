/**
 * Turns thread results into broker acks. Completions are batched into one
 * `completeMany` per task (at thousands of jobs per second, one round trip per
 * job would be the bottleneck), and while one is in flight the next batch
 * collects; failures go one by one because each carries its own retry delay
 * and outcome. The lifecycle events of these transitions come from the
 * scripts that make them (through the broker), not from here.
 *
 * @module
 */
import type { Broker } from "../queue/broker.ts";
import {
  backoffDelayMs,
  type BackoffPolicy,
  type ClaimedJob,
  DEFAULT_BACKOFF,
} from "../queue/job.ts";
import { LeaseLostError } from "../queue/errors.ts";
import type { Logger } from "../log.ts";
import { sleep } from "../timing/sleep.ts";
import { nextTask } from "../timing/after_microtasks.ts";

/** A failure to record. `timedOut`: the attempt passed its deadline (see `FailInput.timed_out`). */
export interface Failure {
  message: string;
  retryable: boolean;
  timedOut?: "soft" | "hard";
}

/** What a RateLimitedError asked for (`RunResult.rate_limited`). */
export interface RateLimit {
  delay_ms: number;
  scope: "type" | "queue" | "group" | null;
}

/** Settings for `Acker`. */
export interface AckerOptions {
  broker: Broker;
  log: Logger;
  /** The type's default backoff, if it declared one. */
  typeBackoff(type: string): BackoffPolicy | undefined;
  /** Called once per job when its ack finished (or was given up), to free its slot. */
  done(id: string): void;
  /** A job was deferred or its retry scheduled until `at` (epoch ms): promote it then. */
  due?(at: number): void;
}

const MAX_BATCH = 500;
const RETRY_DELAYS_MS = [200, 500, 1000, 2000];

/**
 * Acks jobs.
 *
 * @example
 * ```ts
 * const acker = new Acker({ broker, log, typeBackoff: () => undefined, done: free });
 * acker.complete(job, JSON.stringify(result));
 * await acker.idle();
 * ```
 */
export class Acker {
  readonly #o: AckerOptions;
  #completions: Array<{ job: ClaimedJob; resultJson: string }> = [];
  #flushing: Promise<void> | null = null;
  readonly #pending = new Set<Promise<void>>();

  constructor(options: AckerOptions) {
    this.#o = options;
  }

  /** Queues a completion (the result as JSON text); flushed with the others of this tick. */
  complete(job: ClaimedJob, resultJson: string): void {
    this.#completions.push({ job, resultJson });
    if (!this.#flushing) this.#track(this.#flushing = this.#flush());
  }

  /** Records a failed attempt now. */
  fail(job: ClaimedJob, failure: Failure): void {
    this.#track(this.#fail(job, failure));
  }

  /**
   * The handler was rate limited (RateLimitedError): the job goes back to
   * scheduled, no attempt charged; `scope` pauses its type or queue too.
   */
  defer(job: ClaimedJob, limited: RateLimit): void {
    this.#track(
      (async () => {
        const pause = limited.scope
          ? { scope: limited.scope, type: job.type, group: job.group ?? "" }
          : null;
        const deferred = await this.#retrying(
          "defer",
          () => this.#o.broker.defer(job.id, job.token, limited.delay_ms, pause),
          job.id,
        );
        if (deferred) this.#o.due?.(Date.now() + limited.delay_ms);
        this.#o.done(job.id);
      })(),
    );
  }

  /** Resolves when every queued ack has been sent. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  #track(p: Promise<void>): void {
    this.#pending.add(p);
    p.finally(() => this.#pending.delete(p));
  }

  async #flush(): Promise<void> {
    await nextTask(); // let this task's results join the batch (not setTimeout(0): ~2 ms)
    while (this.#completions.length > 0) {
      const batch = this.#completions.splice(0, MAX_BATCH);
      const acks = batch.map(({ job, resultJson }) => ({
        id: job.id,
        token: job.token,
        result_json: resultJson,
      }));
      const acked = await this.#retrying("completeMany", () => this.#o.broker.completeMany(acks));
      batch.forEach(({ job }, i) => {
        if (acked && !acked[i]) {
          this.#o.log.warn("completion refused: lease lost", { job_id: job.id, type: job.type });
        }
        this.#o.done(job.id);
      });
    }
    this.#flushing = null;
  }

  async #fail(job: ClaimedJob, failure: Failure): Promise<void> {
    const policy = job.backoff ?? this.#o.typeBackoff(job.type) ?? DEFAULT_BACKOFF;
    const delay = backoffDelayMs(policy, job.attempt);
    const outcome = await this.#retrying(
      "fail",
      () =>
        this.#o.broker.fail(job.id, job.token, {
          message: failure.message,
          retryable: failure.retryable,
          retry_delay_ms: delay,
          timed_out: failure.timedOut,
        }),
      job.id,
    );
    // A retry waits `delay`: this process promotes it on time, not at its next beat.
    if (outcome === "scheduled") this.#o.due?.(Date.now() + delay);
    this.#o.done(job.id);
  }

  /**
   * Runs a broker call, retrying transient errors a few times. Gives up with
   * null: the lease then runs out and the job runs again (at-least-once).
   */
  async #retrying<T>(what: string, call: () => Promise<T>, jobId?: string): Promise<T | null> {
    for (let i = 0;; i++) {
      try {
        return await call();
      } catch (error) {
        if (error instanceof LeaseLostError) {
          this.#o.log.warn(`${what} refused: lease lost`, { job_id: jobId });
          return null;
        }
        if (i >= RETRY_DELAYS_MS.length) {
          this.#o.log.error(`${what} failed; giving up, the lease will expire`, {
            error,
            job_id: jobId,
          });
          return null;
        }
        await sleep(RETRY_DELAYS_MS[i]);
      }
    }
  }
}
