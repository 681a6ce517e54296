/**
 * What the routes are given, and the small helpers they share (validation
 * into 422s, the submit gate).
 *
 * @module
 */
import { setImmediate } from "node:timers";
import type { z } from "zod";
import type { Broker } from "../queue/broker.ts";
import type { JobRegistry } from "../jobs/registry.ts";
import { zodIssues } from "../jobs/registry.ts";
import type { EventBus } from "../events/bus.ts";
import type { Logger } from "../log.ts";
import type { BodyBudget } from "./body_budget.ts";
import { HttpError } from "./errors.ts";

/** Dependencies of `createApp`. */
export interface ApiDeps {
  broker: Broker;
  registry: JobRegistry;
  /** Receives `enqueued` events. */
  bus?: EventBus;
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
  bus?: EventBus;
  log: Logger;
  maxBodyBytes: number;
  maxBatchBodyBytes: number;
  /** The isolate's budget of request-body bytes (see body_budget.ts). */
  bodies: BodyBudget;
  /** Awaits a broker call, turning a missed deadline into QueueUnavailableError. */
  call<T>(operation: Promise<T>): Promise<T>;
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
