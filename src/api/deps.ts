/**
 * What the routes are given, and the small helpers they share (validation
 * into 422s, a deadline on broker calls).
 *
 * @module
 */
import { setImmediate } from "node:timers";
import type { z } from "zod";
import type { Broker } from "../queue/broker.ts";
import { QueueUnavailableError } from "../queue/errors.ts";
import type { JobRegistry } from "../jobs/registry.ts";
import { zodIssues } from "../jobs/registry.ts";
import type { Logger } from "../log.ts";
import type { BodyBudget } from "./body_budget.ts";
import { HttpError } from "./errors.ts";

/** Dependencies of `createApp`. */
export interface ApiDeps {
  broker: Broker;
  registry: JobRegistry;
  log?: Logger;
  /** Largest accepted body of a single submit; default 1 MiB (the spec's payload limit). */
  maxBodyBytes?: number;
  /** Largest accepted batch body; default 16 MiB. */
  maxBatchBodyBytes?: number;
  /**
   * Request-body bytes held at once by the submits in flight; past it they get
   * 503 `overloaded`. Default 256 MiB.
   */
  bodyBudgetBytes?: number;
  /**
   * Longest a request waits on the broker before answering 503. A safety
   * net over the broker's own timeouts, so a dead Redis never hangs clients.
   */
  brokerTimeoutMs?: number;
}

/** Resolved settings the routes use. */
export interface RouteDeps {
  broker: Broker;
  registry: JobRegistry;
  log: Logger;
  maxBodyBytes: number;
  maxBatchBodyBytes: number;
  /** The isolate's budget of request-body bytes (see body_budget.ts). */
  bodies: BodyBudget;
  /** Awaits a broker call, turning a missed deadline into QueueUnavailableError. */
  call<T>(operation: Promise<T>): Promise<T>;
}

/** One call waiting in a `Deadlines` queue. */
interface Waiter {
  at: number;
  settled: boolean;
  reject: (error: Error) => void;
  next: Waiter | null;
}

/**
 * `withDeadline` for many calls sharing one fixed timeout, with one timer for
 * all of them instead of a timer and three extra promises per call. Calls
 * join a FIFO queue, which is also deadline order (same timeout for all);
 * the one timer is armed for the oldest unsettled call, and is cleared when
 * nothing is in flight, so an idle app holds no timer.
 *
 * @example
 * ```ts
 * const deadlines = new Deadlines(2500);
 * const job = await deadlines.call(broker.get(id)); // QueueUnavailableError after 2.5 s
 * ```
 */
export class Deadlines {
  readonly #ms: number;
  #head: Waiter | null = null;
  #tail: Waiter | null = null;
  #inFlight = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #fire = () => this.#expire();

  constructor(ms: number) {
    this.#ms = ms;
  }

  /** Awaits `operation`, or rejects with QueueUnavailableError once the timeout passes. */
  call<T>(operation: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        at: performance.now() + this.#ms,
        settled: false,
        reject,
        next: null,
      };
      if (this.#tail) this.#tail.next = waiter;
      else this.#head = waiter;
      this.#tail = waiter;
      if (this.#inFlight++ === 0 && this.#timer === undefined) {
        this.#timer = setTimeout(this.#fire, this.#ms);
      }
      operation.then(
        (value) => {
          if (this.#settle(waiter)) resolve(value);
        },
        (error) => {
          if (this.#settle(waiter)) reject(error);
        },
      );
    });
  }

  /** Marks `waiter` done; false when its deadline already rejected it. */
  #settle(waiter: Waiter): boolean {
    if (waiter.settled) return false;
    waiter.settled = true;
    if (--this.#inFlight === 0) {
      // Nothing in flight: drop the queue and the timer.
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#head = this.#tail = null;
    }
    return true;
  }

  #expire(): void {
    this.#timer = undefined;
    const now = performance.now();
    let waiter = this.#head;
    while (waiter && (waiter.settled || waiter.at <= now)) {
      if (!waiter.settled) {
        waiter.settled = true;
        this.#inFlight--;
        waiter.reject(new QueueUnavailableError(`queue did not answer within ${this.#ms} ms`));
      }
      waiter = waiter.next;
    }
    this.#head = waiter;
    if (!waiter) this.#tail = null;
    else this.#timer = setTimeout(this.#fire, Math.max(0, waiter.at - now));
  }
}

/**
 * Lines up concurrent single submits so the broker can coalesce them. The
 * broker joins the enqueues issued in one microtask turn into one script
 * call, but HTTP requests reach their enqueue at scattered points of the
 * event loop, so without help each pays its own call. While other submits
 * are in flight, a submit waits for the end of the current event-loop turn
 * (`setImmediate`), where everything that arrived in that turn is handed to
 * the broker together. An idle server (nothing in flight) goes straight
 * through, adding no latency. Each job still succeeds or fails on its own.
 *
 * @example
 * ```ts
 * const gate = new SubmitGate();
 * const result = await gate.run(() => broker.enqueue(input));
 * ```
 */
export class SubmitGate {
  #inFlight = 0;
  #turn: Promise<void> | null = null;
  readonly #open = () => {
    this.#turn = null;
  };

  /** Runs `submit` now when nothing is in flight, else at the end of this event-loop turn. */
  async run<T>(submit: () => Promise<T>): Promise<T> {
    if (this.#inFlight > 0) {
      await (this.#turn ??= new Promise<void>((resolve) => setImmediate(resolve)).then(this.#open));
    }
    this.#inFlight++;
    try {
      return await submit();
    } finally {
      this.#inFlight--;
    }
  }
}

/** Parses `value` or throws 422 `validation_error` with dotted field paths. */
export function parseOr422<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
  prefix: readonly PropertyKey[] = [],
): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new HttpError(422, "validation_error", `invalid ${what}`, {
    issues: zodIssues(parsed.error, prefix),
  });
}

/** Parses a query/path value or throws 400 with the given code. */
export function parseOr400<S extends z.ZodType>(
  schema: S,
  value: unknown,
  code: string,
  what: string,
): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new HttpError(400, code, `invalid ${what}`, { issues: zodIssues(parsed.error) });
}
