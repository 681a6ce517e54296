/**
 * The webhook delivery metrics of the API's `/metrics`, read from Redis at
 * scrape time (each queue's `webhookStats` HASH, which webhook_done.lua
 * increments as it records each outcome), so they are right from the first
 * scrape and the same on every API replica (aggregate replicas with `max`):
 *
 * - `jobqueue_webhook_deliveries_total{outcome}`: attempts by outcome,
 *   `delivered` (2xx), `retried` (to be tried again), `failed` (given up),
 *   `dropped` (never sent: its subscription was deleted first).
 * - `jobqueue_webhook_delivery_latency_seconds`: from the job's end to its
 *   successful delivery (retries included), histogram; its buckets are
 *   counted in Redis, so it is a `StoredHistogram` like the job durations.
 *
 * @module
 */
import { Counter, type Registry } from "prom-client";
import { emptyWebhookStats, LATENCY_BUCKETS, type WebhookStats } from "../webhooks/stats.ts";
import { StoredHistogram } from "./stored_histogram.ts";

export {
  addWebhookStats,
  emptyWebhookStats,
  LATENCY_BUCKETS,
  type WebhookStats,
} from "../webhooks/stats.ts";

const OUTCOMES = ["delivered", "retried", "failed", "dropped"] as const;

/** The webhook series in `registry`; `set` them from each scrape's stats. */
export class WebhookMetrics {
  readonly #deliveries: Counter<"outcome">;
  readonly #latency: StoredHistogram;

  constructor(registry: Registry) {
    this.#deliveries = new Counter({
      name: "jobqueue_webhook_deliveries_total",
      help: "Webhook delivery attempts by outcome (delivered, retried, failed = given up, " +
        "dropped = never sent: its subscription was deleted), " +
        "cluster-wide (from Redis).",
      labelNames: ["outcome"] as const,
      registers: [registry],
    });
    this.#latency = new StoredHistogram({
      name: "jobqueue_webhook_delivery_latency_seconds",
      help: "Time from a job's end to its webhook's successful delivery, cluster-wide " +
        "(from Redis).",
      bounds: LATENCY_BUCKETS,
      registry,
    });
    // Every series from the first scrape on, before (or without) a read of Redis.
    this.set(emptyWebhookStats());
  }

  /** Every series from `stats`, zeros included (the counts only grow in Redis). */
  set(stats: WebhookStats): void {
    // prom-client counters have no set(): rebuilt from the stored totals.
    this.#deliveries.reset();
    for (const outcome of OUTCOMES) this.#deliveries.inc({ outcome }, stats[outcome]);
    const counts = [...LATENCY_BUCKETS.map((b) => String(b)), "+Inf"].map((le) =>
      stats.buckets.get(le) ?? 0
    );
    this.#latency.set([{ labels: {}, counts, sum: stats.sum }]);
  }
}
