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
import type { BodyDeadlines } from "./body_deadline.ts";
import type { WriteCheck } from "../queue/write_probe.ts";
import type { Authenticator } from "../auth/authenticator.ts";
import type { ScheduleService } from "../schedules/service.ts";
import type { QuotaStore } from "../tenants/quota_store.ts";
import type { WebhookStore } from "../webhooks/store.ts";
import type { Tracer } from "@opentelemetry/api";

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
   * Head start of a request body before it must keep `bodyMinBytesPerS` on
   * average; slower bodies are answered 408 (body_deadline.ts). Default 10 s.
   */
  bodyGraceMs?: number;
  /** Slowest average pace of a request body past its head start. Default 16 KiB/s. */
  bodyMinBytesPerS?: number;
  /**
   * The body deadlines themselves, when their owner drives them (the API
   * role: `external`, swept from its own interval); overrides the two above.
   */
  bodyDeadlines?: BodyDeadlines;
  /**
   * Whether Redis accepts writes, for `/ready` (write_probe.ts); absent:
   * `/ready` checks only that Redis answers.
   */
  writeCheck?: WriteCheck;
  /**
   * Longest a read (get, list, stats, ready) waits on the broker before
   * answering 503 `unavailable`; default 2500 ms. A safety net over the
   * broker's own timeouts, so a dead Redis never hangs clients.
   */
  brokerTimeoutMs?: number;
  /**
   * Longest a write (submit, batch, cancel, retry, purge) waits on the broker
   * before answering 503 `outcome_unknown`; default `DEFAULT_WRITE_TIMEOUT_MS`
   * (10 s). The broker's own bounds answer first (at most `READY_WAIT_MS` for
   * a connection, then the Redis command timeout); a write that may be on the
   * socket is never answered `unavailable` by this net, since it may still run.
   */
  writeTimeoutMs?: number;
  /** Dashboard files; default the repo's `static/` (`STATIC_DIR`). */
  staticDir?: string;
  /** Simultaneous SSE clients. Default 100. */
  maxSseClients?: number;
  /**
   * Checks API keys on every route (`src/api/auth/access.ts`); absent: every
   * route is open and there are no key routes (`/keys` answers 404).
   */
  auth?: Authenticator;
  /** Bearer token `/metrics` asks for (`METRICS_TOKEN`); absent: none. */
  metricsToken?: string;
  /** Recurring schedules (`/schedules`); absent: those routes answer 503 `unavailable`. */
  schedules?: ScheduleService;
  /** Tenants' quotas (`/tenants`, enforced on tenant keys' submits); absent: none. */
  quotas?: QuotaStore;
  /** Webhook subscriptions and deliveries (`/webhooks`); absent: those routes answer 503. */
  webhooks?: WebhookStore;
  /**
   * Where submit spans go (`src/tracing/submit_span.ts`); absent: no spans,
   * and a request's `traceparent` is stored with its jobs as it came.
   */
  tracer?: Tracer;
}

/** Resolved settings the routes use. */
export interface RouteDeps {
  /** The queue every route talks to. */
  broker: Broker;
  /** The job types submits are validated against. */
  registry: JobRegistry;
  /** Where routes log. */
  log: Logger;
  /** API keys, when the app checks them. */
  auth: Authenticator | null;
  /** Recurring schedules, when this process has them. */
  schedules: ScheduleService | null;
  /** Tenants' quotas, when this process keeps them. */
  quotas: QuotaStore | null;
  /** Webhook subscriptions and deliveries, when this process has them. */
  webhooks: WebhookStore | null;
  /** Submit spans' tracer, when this process traces. */
  tracer: Tracer | null;
  /** Largest accepted body of a single submit. */
  maxBodyBytes: number;
  /** Largest accepted batch body. */
  maxBatchBodyBytes: number;
  /**
   * The process's budget of request-body bytes (see body_budget.ts); its
   * tickets also carry the pace bodies must keep (body_deadline.ts).
   */
  bodies: BodyBudget;
  /** Whether Redis accepts writes, when known (`ApiDeps.writeCheck`). */
  writeCheck: WriteCheck | null;
  /** Awaits a broker read, turning a missed deadline into QueueUnavailableError. */
  call<T>(operation: Promise<T>): Promise<T>;
  /**
   * Awaits a broker write. A missed deadline or an `OutcomeUnknownError`
   * becomes 503 `outcome_unknown`, whose message tells how to retry `kind`
   * safely; a certainly-not-applied failure stays `unavailable`.
   */
  write<T>(operation: Promise<T>, kind: WriteKind): Promise<T>;
}

/**
 * What a write request was, for the retry advice of its `outcome_unknown`:
 * a single submit, a batch, a flow, or a change to existing jobs (cancel,
 * retry, purge).
 */
export type WriteKind = "submit" | "batch" | "flow" | "change";
