/**
 * Per-worker-process Prometheus metrics, fed only by lifecycle events (the
 * observer pattern): the runner emits events on its `EventBus`, and
 * `MetricsObserver` turns them into counters and histograms. Worker code never
 * calls a metric directly.
 *
 * Every name here starts with `jobqueue_worker_`: these are this process's own
 * counts. The API exposes the required names (`jobqueue_jobs_*`) as cluster-wide
 * values read from Redis, so `sum(jobqueue_worker_jobs_completed_total)` over all
 * worker targets and `jobqueue_jobs_completed_total` from an API never count the
 * same job twice under one name.
 *
 * @module
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { LifecycleEvent, Observer } from "../events/lifecycle.ts";
import { DURATION_BUCKETS, PROMETHEUS_CONTENT_TYPE } from "./prometheus.ts";
import { METRICS_CHALLENGE, metricsTokenCheck } from "../auth/metrics_token.ts";

/** A snapshot of the worker pool, read at scrape time. */
export interface PoolSnapshot {
  /** Web Worker threads alive. */
  threads: number;
  /** Threads running at least one job. */
  busy_threads: number;
  /** Jobs in flight across all threads. */
  in_flight: number;
  /** Configured in-flight limit (concurrency). */
  concurrency?: number;
  /**
   * Times the supervisor restarted this worker slot's process (hard-timeout,
   * job or memory recycles, crashes): a thread stuck in a loop can only be
   * stopped by replacing the whole process.
   */
  recycles: number;
}

/** Options for `WorkerMetrics`. */
export interface WorkerMetricsOptions {
  /** Read at every scrape; omit when there is no pool (e.g. in unit tests). */
  pool?: () => PoolSnapshot;
  /** Labels added to every series (e.g. `{ queue: "default" }`). Keep it low-cardinality. */
  defaultLabels?: Record<string, string>;
}

/**
 * The registry of one worker process and its metrics.
 *
 * @example
 * ```ts
 * const metrics = new WorkerMetrics({ pool: () => pool.snapshot() });
 * bus.subscribe(metrics.observer);
 * const server = serveWorkerMetrics(9464, metrics.registry);
 * ```
 */
export class WorkerMetrics {
  readonly registry: Registry;
  readonly observer: MetricsObserver;
  readonly started: Counter<"job_type">;
  readonly completed: Counter<"job_type">;
  readonly retried: Counter<"job_type">;
  readonly failed: Counter<"job_type">;
  readonly cancelled: Counter<"job_type">;
  readonly timedOut: Counter<"job_type">;
  readonly recovered: Counter<"job_type">;
  readonly duration: Histogram<"job_type" | "status">;
  readonly queueWait: Histogram<"job_type">;

  constructor(options: WorkerMetricsOptions = {}) {
    const registry = new Registry();
    if (options.defaultLabels) registry.setDefaultLabels(options.defaultLabels);
    this.registry = registry;
    const registers = [registry];
    const counter = (name: string, help: string) =>
      new Counter({ name, help, labelNames: ["job_type"] as const, registers });

    this.started = counter(
      "jobqueue_worker_jobs_started_total",
      "Job attempts this worker process started.",
    );
    this.completed = counter(
      "jobqueue_worker_jobs_completed_total",
      "Job attempts this worker process completed successfully.",
    );
    this.retried = counter(
      "jobqueue_worker_jobs_retried_total",
      "Job attempts that failed in this worker process and were scheduled to run again.",
    );
    this.failed = counter(
      "jobqueue_worker_jobs_failed_total",
      "Jobs that reached the dead set from this worker process (attempts exhausted or fatal).",
    );
    this.cancelled = counter(
      "jobqueue_worker_jobs_cancelled_total",
      "Running jobs this worker process stopped because of a cancel request.",
    );
    this.timedOut = counter(
      "jobqueue_worker_jobs_timed_out_total",
      "Job attempts that passed their deadline in this worker process.",
    );
    this.recovered = counter(
      "jobqueue_worker_jobs_recovered_total",
      "Jobs whose expired lease this process's reaper took back.",
    );
    this.duration = new Histogram({
      name: "jobqueue_worker_job_duration_seconds",
      help: "Run time of job attempts in this worker process, by outcome.",
      labelNames: ["job_type", "status"] as const,
      buckets: [...DURATION_BUCKETS],
      registers,
    });
    this.queueWait = new Histogram({
      name: "jobqueue_worker_job_queue_wait_seconds",
      help: "Time from enqueue (or due time) to start, for jobs this process started.",
      labelNames: ["job_type"] as const,
      buckets: [...DURATION_BUCKETS],
      registers,
    });

    const pool = options.pool;
    if (pool) registerPoolMetrics(registry, pool);
    this.observer = new MetricsObserver(this);
  }

  /** The Prometheus text exposition of this registry. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}

function registerPoolMetrics(registry: Registry, pool: () => PoolSnapshot): void {
  // One snapshot per scrape: every collect() below reads the same numbers.
  let cached: { at: number; snap: PoolSnapshot | null } = { at: -1, snap: null };
  const snap = (): PoolSnapshot | null => {
    const now = Date.now();
    if (now - cached.at > 50) {
      let value: PoolSnapshot | null = null;
      try {
        value = pool();
      } catch {
        value = null; // a broken callback must not break the scrape
      }
      cached = { at: now, snap: value };
    }
    return cached.snap;
  };
  const gauge = (name: string, help: string, pick: (s: PoolSnapshot) => number | undefined) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const s = snap();
        const v = s ? pick(s) : undefined;
        if (typeof v === "number" && Number.isFinite(v)) this.set(v);
      },
    });
  gauge("jobqueue_worker_threads", "Web Worker threads alive in this process.", (s) => s.threads);
  gauge(
    "jobqueue_worker_threads_busy",
    "Web Worker threads running at least one job.",
    (s) => s.busy_threads,
  );
  gauge("jobqueue_worker_jobs_in_flight", "Jobs running in this process now.", (s) => s.in_flight);
  gauge(
    "jobqueue_worker_concurrency",
    "Configured limit of jobs in flight in this process.",
    (s) => s.concurrency,
  );
  new Counter({
    name: "jobqueue_worker_recycles_total",
    help: "Times this supervised worker's process was replaced (hard timeouts, limits, crashes).",
    registers: [registry],
    collect() {
      const s = snap();
      if (!s || !Number.isFinite(s.recycles) || s.recycles < 0) return;
      // The supervisor owns the running total; mirror it (a counter has no set()).
      this.reset();
      this.inc(s.recycles);
    },
  });
}

/**
 * The observer that turns lifecycle events into this process's metrics.
 * `timed_out` only counts: the `retry_scheduled`/`failed` event that follows
 * it carries the duration, so an attempt is never observed twice.
 */
export class MetricsObserver implements Observer {
  readonly name = "metrics";
  #m: WorkerMetrics;

  constructor(metrics: WorkerMetrics) {
    this.#m = metrics;
  }

  onEvent(event: LifecycleEvent): void {
    const m = this.#m;
    const job_type = event.type;
    switch (event.kind) {
      case "started":
        m.started.inc({ job_type });
        if (event.queued_ms >= 0) m.queueWait.observe({ job_type }, event.queued_ms / 1000);
        break;
      case "completed":
        m.completed.inc({ job_type });
        m.duration.observe({ job_type, status: "completed" }, seconds(event.duration_ms));
        break;
      case "retry_scheduled":
        m.retried.inc({ job_type });
        m.duration.observe({ job_type, status: event.kind }, seconds(event.duration_ms));
        break;
      case "failed":
        m.failed.inc({ job_type });
        if (event.duration_ms !== undefined) {
          m.duration.observe({ job_type, status: event.kind }, seconds(event.duration_ms));
        }
        break;
      case "cancelled":
        m.cancelled.inc({ job_type });
        if (event.duration_ms !== undefined) {
          m.duration.observe({ job_type, status: event.kind }, seconds(event.duration_ms));
        }
        break;
      case "timed_out":
        m.timedOut.inc({ job_type });
        break;
      case "recovered":
        m.recovered.inc({ job_type });
        break;
      case "enqueued":
      case "progress":
      case "released":
      case "requeued":
        break;
    }
  }
}

function seconds(ms: number): number {
  return Number.isFinite(ms) && ms > 0 ? ms / 1000 : 0;
}

/** A running metrics server. */
export interface MetricsServer {
  /** The port actually bound. */
  readonly port: number;
  /** Stops accepting and closes the listener. */
  shutdown(): Promise<void>;
}

/**
 * Serves `registry` on `GET /metrics`, liveness on `GET /health` (anything else
 * → 404). `port` 0 disables
 * serving and returns null, so the worker's config can switch it off. It
 * listens on loopback unless given a `hostname` (`WORKER_METRICS_HOST`), and
 * with a `token` (`METRICS_TOKEN`) `/metrics` answers 401 to a scrape
 * without `Authorization: Bearer <token>` (`/health` stays open for probes).
 *
 * @example
 * ```ts
 * const server = serveWorkerMetrics(9464, metrics.registry);
 * // later
 * await server?.shutdown();
 * ```
 */
export function serveWorkerMetrics(
  port: number,
  registry: Registry,
  options: { hostname?: string; token?: string; onListen?: (port: number) => void } = {},
): MetricsServer | null {
  if (!port) return null;
  const allowed = metricsTokenCheck(options.token);
  const server = Deno.serve({
    port,
    hostname: options.hostname ?? "127.0.0.1",
    onListen: ({ port }) => options.onListen?.(port),
  }, async (req) => {
    const url = new URL(req.url);
    // Liveness for container HEALTHCHECKs (src/healthcheck.ts): this process serves HTTP.
    if (url.pathname === "/health" && (req.method === "GET" || req.method === "HEAD")) {
      return Response.json({ status: "ok" });
    }
    if (url.pathname !== "/metrics") return new Response("not found\n", { status: 404 });
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    if (!allowed(req.headers.get("authorization"))) {
      return new Response("unauthorized\n", {
        status: 401,
        headers: { "www-authenticate": METRICS_CHALLENGE },
      });
    }
    try {
      const body = await registry.metrics();
      return new Response(req.method === "HEAD" ? null : body, {
        headers: { "content-type": PROMETHEUS_CONTENT_TYPE },
      });
    } catch (error) {
      return new Response(`metrics collection failed: ${String(error)}\n`, { status: 500 });
    }
  });
  return {
    port: server.addr.port,
    shutdown: () => server.shutdown(),
  };
}
