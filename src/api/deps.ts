/**
 * What the HTTP surface is built from (`ApiDeps`), and the resolved form the
 * routes are handed (`RouteDeps`).
 *
 * @module
 */
import type { Broker } from "../queue/broker.ts";
import type { JobRegistry } from "../jobs/registry.ts";
import type { EventBus } from "../events/bus.ts";
import type { Logger } from "../log.ts";
import type { BodyBudget } from "./body_budget.ts";

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
