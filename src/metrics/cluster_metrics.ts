/**
 * The API's `/metrics`: the required metric names (`jobqueue_jobs_*`, `jobqueue_job_duration_seconds`) as CLUSTER-WIDE values, read
 * from Redis at scrape time, plus this API process's HTTP metrics
 * (`http_metrics.ts`).
 *
 * Sources and semantics (every `jobqueue_jobs_*` series is the same on every
 * API replica, so aggregate replicas with `max`, not `sum`; per-process worker
 * counts are the separate `jobqueue_worker_*` names):
 *
 * - `jobqueue_jobs_completed_total{job_type}`, `_failed_total` (reached the dead
 *   set), `_cancelled_total`: the broker's per-type counters (`Broker.stats()`),
 *   which keep counting after retention removes the jobs.
 * - `jobqueue_jobs_started_total{job_type}`: attempts started, counted by
 *   the claim script (a job tried three times counts 3).
 * - `jobqueue_jobs_enqueued_total{job_type}`: the type's `total` (every job in
 *   any state; finished states are the counters above).
 * - `jobqueue_jobs_retried_total`: retries scheduled after a failure or expired lease.
 * - `jobqueue_queue_jobs{queue,state}`: jobs pending, scheduled, running and
 *   waiting (for dependencies) now,
 *   per named queue (`Broker.queues()`); sum over `queue` for the total.
 * - `jobqueue_queue_latency_seconds{queue}`: age of the queue's oldest pending
 *   job (since it became ready); 0 when none is pending.
 * - `jobqueue_queue_paused{queue}`: 1 while the queue is paused, else 0.
 * - `jobqueue_workers`: worker processes registered and beating (not stale), cluster-wide
 *   (`Broker.workers()`, see `src/queue/worker_presence.ts`).
 * - `jobqueue_queues`: how many queues exist; `jobqueue_queues_reported`: how
 *   many of them this scrape reported.
 * - `jobqueue_job_duration_seconds{job_type,status}`: run times of the
 *   attempts a worker reported (status: how the attempt ended, `completed`,
 *   `retry_scheduled`, `failed` or `cancelled`), kept in Redis by the scripts
 *   that end attempts (`Broker.durations()`), so it counts every attempt once
 *   whether or not anyone was scraping, and reads the same on every replica.
 *   An attempt whose worker died (its lease expired) reported no run time and
 *   is not in it.
 * - `jobqueue_webhook_deliveries_total{outcome}`, `jobqueue_webhook_delivery_latency_seconds`:
 *   completion webhooks, from Redis (`webhook_metrics.ts`).
 *
 * Queue names are chosen by operators, so the `queue` label is capped: a
 * scrape reports at most `MAX_QUEUE_SERIES` (100) queues, the ones with the
 * most pending jobs (ties by name, so the choice is deterministic). When
 * `jobqueue_queues_reported` is below `jobqueue_queues`, the rest were left
 * out; the `jobqueue_jobs_*` series are not per queue and always cover every
 * queue. A scrape is one round of reads: `broker.stats()` and
 * `broker.queues()`, side by side.
 *
 * The counters come from lifetime totals in Redis, which never go down; as a
 * second guard each counter here mirrors only the increases it sees between
 * scrapes (a drop, e.g. a Redis restored from an older dump, is absorbed, not
 * reported as a reset).
 *
 * @module
 */
import { LimitMetrics } from "./limit_metrics.ts";
import type { LimitEntry } from "../limits/limit_store.ts";
import { Hono } from "hono";
import { Counter, Gauge, Registry } from "prom-client";
import type { Broker } from "../queue/broker.ts";
import type { DurationSeries, QueueInfo, Stats, StatsCounts } from "../queue/job.ts";
import { StoredHistogram } from "./stored_histogram.ts";
import { isStale, type WorkerRecord } from "../queue/worker_presence.ts";
import { withTimeout } from "../timing/timeout.ts";
import { defaultHttpMetrics, type HttpMetrics } from "./http_metrics.ts";
import { DURATION_BUCKETS, PROMETHEUS_CONTENT_TYPE } from "./prometheus.ts";
import { WebhookMetrics, type WebhookStats } from "./webhook_metrics.ts";

/**
 * A counter that follows an external running total but never goes down:
 * it adds only the increases between two reads.
 */
class MonotonicMirror {
  #last = new Map<string, number>();
  #value = new Map<string, number>();

  /** Feeds the latest raw totals; returns the values to export. */
  update(raw: Map<string, number>): Map<string, number> {
    for (const [key, v] of raw) {
      const value = Math.max(0, v);
      const last = this.#last.get(key);
      if (last === undefined) this.#value.set(key, value);
      else if (value > last) this.#value.set(key, (this.#value.get(key) ?? 0) + value - last);
      this.#last.set(key, value);
    }
    return this.#value;
  }
}

/** Most queues one scrape reports in the per-queue (`queue`-labelled) series. */
export const MAX_QUEUE_SERIES = 100;

/**
 * The queues a scrape reports: at most `max`, those with the most pending
 * jobs, ties by name (code-unit order); returned in name order.
 */
export function reportedQueues(
  queues: readonly QueueInfo[],
  max: number = MAX_QUEUE_SERIES,
): QueueInfo[] {
  const byName = (a: QueueInfo, b: QueueInfo) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  return [...queues]
    .sort((a, b) => (pendingOf(b) - pendingOf(a)) || byName(a, b))
    .slice(0, Math.max(0, max))
    .sort(byName);
}

/** A non-negative finite count (a missing or bad value reads as 0). */
function nonNegative(n: number | undefined): number {
  return typeof n === "number" && Number.isFinite(n) ? Math.max(0, n) : 0;
}

function pendingOf(q: QueueInfo): number {
  return nonNegative(q.pending);
}

/** Options for `ClusterMetrics`. */
export interface ClusterMetricsOptions {
  /** HTTP metrics to expose alongside; default `defaultHttpMetrics`. False: none. */
  http?: HttpMetrics | false;
  /** Longest wait for a scrape's reads (`broker.stats()`, `broker.queues()`). Default 5000 ms. */
  statsTimeoutMs?: number;
  /** More registries of this process exposed alongside (the scheduler loop's metrics). */
  extra?: Registry[];
  /** The webhook delivery counters (`webhook_metrics.ts`); absent: no webhook series. */
  webhookStats?: () => Promise<WebhookStats>;
}

type Collect<T extends string> = Counter<T>;

/**
 * Cluster-wide queue metrics computed from the broker at scrape time.
 *
 * @example
 * ```ts
 * const metrics = new ClusterMetrics(broker);
 * app.route("/", metrics.routes());
 * // on shutdown
 * await metrics.close();
 * ```
 */
export class ClusterMetrics {
  readonly registry: Registry = new Registry();
  readonly #broker: Broker;
  readonly #http: HttpMetrics | null;
  readonly #statsTimeoutMs: number;
  readonly #extra: Registry[];
  #mirrors = new Map<string, MonotonicMirror>();

  readonly #started: Collect<"job_type">;
  readonly #completed: Collect<"job_type">;
  readonly #failed: Collect<"job_type">;
  readonly #cancelled: Collect<"job_type">;
  readonly #enqueued: Collect<"job_type">;
  readonly #retried: Counter<string>;
  readonly #queue: Gauge<"queue" | "state">;
  readonly #latency: Gauge<"queue">;
  readonly #paused: Gauge<"queue">;
  readonly #queues: Gauge<string>;
  readonly #queuesReported: Gauge<string>;
  readonly #up: Gauge<string>;
  readonly #workers: Gauge<string>;
  readonly #scrapeSeconds: Gauge<string>;
  readonly #duration: StoredHistogram;
  readonly #limits: LimitMetrics;
  readonly #webhookStats: (() => Promise<WebhookStats>) | null;
  readonly #webhooks: WebhookMetrics | null;

  constructor(broker: Broker, options: ClusterMetricsOptions = {}) {
    this.#broker = broker;
    this.#http = options.http === false ? null : options.http ?? defaultHttpMetrics;
    this.#statsTimeoutMs = options.statsTimeoutMs ?? 5000;
    this.#extra = options.extra ?? [];
    this.#webhookStats = options.webhookStats ?? null;
    this.#webhooks = this.#webhookStats ? new WebhookMetrics(this.registry) : null;
    const registers = [this.registry];
    const counter = (name: string, help: string) =>
      new Counter({ name, help, labelNames: ["job_type"] as const, registers });
    this.#started = counter(
      "jobqueue_jobs_started_total",
      "Attempts started by any worker (a job tried three times counts 3), cluster-wide.",
    );
    this.#completed = counter(
      "jobqueue_jobs_completed_total",
      "Jobs that completed, cluster-wide (from Redis).",
    );
    this.#failed = counter(
      "jobqueue_jobs_failed_total",
      "Jobs that reached the dead set (attempts exhausted or fatal), cluster-wide.",
    );
    this.#cancelled = counter(
      "jobqueue_jobs_cancelled_total",
      "Jobs cancelled, cluster-wide.",
    );
    this.#enqueued = counter(
      "jobqueue_jobs_enqueued_total",
      "Jobs accepted into the queue, cluster-wide.",
    );
    this.#retried = new Counter({
      name: "jobqueue_jobs_retried_total",
      help: "Retries scheduled after a failed attempt or an expired lease, cluster-wide.",
      registers,
    });
    this.#queue = new Gauge({
      name: "jobqueue_queue_jobs",
      help: `Jobs waiting or running now, by queue and state (at most ${MAX_QUEUE_SERIES} ` +
        "queues, the most pending first: see jobqueue_queues_reported).",
      labelNames: ["queue", "state"] as const,
      registers,
    });
    this.#latency = new Gauge({
      name: "jobqueue_queue_latency_seconds",
      help: "Age of the queue's oldest pending job since it became ready; 0 when none is pending.",
      labelNames: ["queue"] as const,
      registers,
    });
    this.#paused = new Gauge({
      name: "jobqueue_queue_paused",
      help: "1 while the queue is paused (no worker claims from it), else 0.",
      labelNames: ["queue"] as const,
      registers,
    });
    this.#queues = new Gauge({
      name: "jobqueue_queues",
      help: "Queues that exist, cluster-wide.",
      registers,
    });
    this.#queuesReported = new Gauge({
      name: "jobqueue_queues_reported",
      help:
        `Queues this scrape reported in the queue-labelled series (at most ${MAX_QUEUE_SERIES}).`,
      registers,
    });
    this.#up = new Gauge({
      name: "jobqueue_redis_up",
      help: "1 when the last scrape read the queue statistics from Redis, else 0.",
      registers,
    });
    this.#workers = new Gauge({
      name: "jobqueue_workers",
      help: "Worker processes registered and beating (not stale), cluster-wide.",
      registers,
    });
    this.#scrapeSeconds = new Gauge({
      name: "jobqueue_stats_scrape_duration_seconds",
      help: "Time the last scrape spent reading statistics from Redis.",
      registers,
    });
    this.#duration = new StoredHistogram({
      name: "jobqueue_job_duration_seconds",
      help: "Run time of job attempts by how they ended, cluster-wide (kept in Redis).",
      bounds: DURATION_BUCKETS,
      registry: this.registry,
    });
    this.#limits = new LimitMetrics(this.registry);
  }

  /** Reads the stats from Redis and updates every cluster-wide series. */
  async refresh(): Promise<boolean> {
    const t0 = performance.now();
    let stats: Stats;
    let queues: QueueInfo[];
    let limits: LimitEntry[] | null;
    let durations: DurationSeries[];
    let workers: WorkerRecord[] | null;
    try {
      // One round of reads: all side by side, under one deadline (flow control's and the
      // worker registry's may fail alone).
      [stats, queues, limits, durations, workers] = await withTimeout(
        Promise.all([
          this.#broker.stats(),
          this.#broker.queues(),
          Promise.resolve().then(() => this.#broker.limits()).catch(() => null),
          this.#broker.durations(),
          Promise.resolve().then(() => this.#broker.workers()).catch(() => null),
          // Counters only ever grow in Redis: a failed read keeps the last values.
          this.#webhookStats?.().then((w) => this.#webhooks?.set(w)).catch(() => {}),
        ]),
        this.#statsTimeoutMs,
      );
    } catch {
      this.#up.set(0);
      this.#scrapeSeconds.set((performance.now() - t0) / 1000);
      return false;
    }
    this.#up.set(1);
    this.#scrapeSeconds.set((performance.now() - t0) / 1000);
    const byType = Object.entries(stats.by_type ?? {});
    const pick = (f: (c: StatsCounts) => number) =>
      new Map(byType.map(([type, c]) => [type, f(c)] as [string, number]));
    // The lifetime totals (they never go down): the counters are right whatever was purged.
    this.#mirror(
      this.#started,
      "started",
      pick((c) => c.started_total),
    );
    this.#mirror(this.#completed, "completed", pick((c) => c.completed_total));
    this.#mirror(this.#failed, "failed", pick((c) => c.failed_total));
    this.#mirror(this.#cancelled, "cancelled", pick((c) => c.cancelled_total));
    // Every job seen: what is in a live state, and every arrival in a finished one.
    this.#mirror(
      this.#enqueued,
      "enqueued",
      pick((c) =>
        c.pending + c.scheduled + c.running + c.waiting + c.completed_total + c.failed_total +
        c.cancelled_total
      ),
    );
    const retried = this.#mirrorOf("retried").update(new Map([["", stats.retried ?? 0]])).get("");
    this.#retried.reset();
    if (retried !== undefined) this.#retried.inc(retried);
    this.#setQueues(queues);
    this.#duration.set(durations.map((d) => ({
      labels: { job_type: d.type || "unknown", status: d.status },
      counts: d.counts,
      sum: d.sum_ms / 1000,
    })));
    if (limits) this.#limits.update(limits);
    if (workers) {
      const now = Date.now();
      this.#workers.set(workers.filter((w) => !isStale(w, now)).length);
    }
    return true;
  }

  /** The per-queue series: rebuilt each scrape, so a queue left out (or gone) loses its series. */
  #setQueues(queues: readonly QueueInfo[]): void {
    const reported = reportedQueues(queues);
    this.#queue.reset();
    this.#latency.reset();
    this.#paused.reset();
    for (const q of reported) {
      const queue = q.name;
      for (const state of ["pending", "scheduled", "running", "waiting"] as const) {
        this.#queue.set({ queue, state }, nonNegative(q[state]));
      }
      this.#latency.set({ queue }, nonNegative(q.latency_ms) / 1000);
      this.#paused.set({ queue }, q.paused ? 1 : 0);
    }
    this.#queues.set(queues.length);
    this.#queuesReported.set(reported.length);
  }

  #mirrorOf(name: string): MonotonicMirror {
    let m = this.#mirrors.get(name);
    if (!m) this.#mirrors.set(name, m = new MonotonicMirror());
    return m;
  }

  #mirror(metric: Counter<"job_type">, name: string, raw: Map<string, number>): void {
    const values = this.#mirrorOf(name).update(raw);
    // prom-client counters have no set(): rebuild from the mirrored totals.
    metric.reset();
    for (const [job_type, v] of values) metric.inc({ job_type }, v);
  }

  /** Refreshes and renders the exposition text (cluster + HTTP metrics). */
  async text(): Promise<string> {
    await this.refresh();
    const registries = [this.registry];
    if (this.#http) registries.push(this.#http.registry);
    registries.push(...this.#extra);
    return await Registry.merge(registries).metrics();
  }

  /** `GET /metrics` as a Hono sub-app. */
  routes(): Hono {
    const app = new Hono();
    app.get("/metrics", async (c) => {
      const body = await this.text();
      return c.body(body, 200, { "content-type": PROMETHEUS_CONTENT_TYPE });
    });
    return app;
  }

  /** Nothing to stop: every scrape reads Redis afresh (kept for the callers' shutdown order). */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
