/**
 * What the HTTP surface is built from (`ApiDeps`), and the resolved form the
 * routes are handed (`RouteDeps`).
 *
 * @module
 */
import type { Broker } from "../queue/broker.ts";
import type { JobRegistry } from "../jobs/registry.ts";
import type { Logger } from "../log.ts";
import type { BodyBudget } from "./body_budget.ts";

/**
 * Dependencies of the API process's HTTP surface. `createApp` (the versioned
 * API) reads the API settings; the composed app the API role serves
 * (`buildApiApp` in `src/roles/api_app.ts`) takes the same object and also
 * reads the SSE and dashboard ones. Everything but broker and registry has a
 * default.
 */
export interface ApiDeps {
  /** The queue every route talks to. */
  broker: Broker;
  /** The job types submits are validated against. */
  registry: JobRegistry;
  /** Default: a logger with `role: "api"`. */
  log?: Logger;
  /** Largest accepted body of a single submit; default 1 MiB (the 1 MB maximum payload). */
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
  /** Dashboard files; default the repo's `static/` (`STATIC_DIR`). */
  staticDir?: string;
  /** Simultaneous SSE clients. Default 100. */
  maxSseClients?: number;
}

/** Resolved settings the routes use. */
export interface RouteDeps {
  /** The queue every route talks to. */
  broker: Broker;
  /** The job types submits are validated against. */
  registry: JobRegistry;
  /** Where routes log. */
  log: Logger;
  /** Largest accepted body of a single submit. */
  maxBodyBytes: number;
  /** Largest accepted batch body. */
  maxBatchBodyBytes: number;
  /** The process's budget of request-body bytes (see body_budget.ts). */
  bodies: BodyBudget;
  /** Awaits a broker call, turning a missed deadline into QueueUnavailableError. */
  call<T>(operation: Promise<T>): Promise<T>;
}
