/**
 * The webhook delivery metrics of the API's `/metrics`, read from Redis at
 * scrape time (each queue's `webhookStats` HASH, which webhook_done.lua
 * increments as it records each outcome), so they are right from the first
 * scrape and the same on every API replica (aggregate replicas with `max`):
 *
 * - `jobqueue_webhook_deliveries_total{outcome}`: attempts by outcome,
 *   `delivered` (2xx), `retried` (to be tried again), `failed` (given up).
 * - `jobqueue_webhook_delivery_latency_seconds`: from the job's end to its
 *   successful delivery (retries included), histogram.
 *
 * Rendered as exposition text here: prom-client cannot hold a histogram
 * whose buckets are counted elsewhere.
 *
 * @module
 */
/** The delivery latency histogram's bucket bounds, seconds (job finish -> delivered). */
export const LATENCY_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  300,
  1800,
  3600,
];

/** The summed counters of every queue. */
export interface WebhookStats {
  delivered: number;
  retried: number;
  failed: number;
  /** Non-cumulative count per bucket bound (`"0.05"`, ..., `"+Inf"`). */
  buckets: Map<string, number>;
  sum: number;
  count: number;
}

/** Adds one queue's HASH (`webhookStats`) into `into`. */
export function addWebhookStats(into: WebhookStats, hash: Record<string, string>): void {
  const n = (v: string | undefined) => {
    const x = Number(v ?? 0);
    return Number.isFinite(x) && x > 0 ? x : 0;
  };
  into.delivered += n(hash.delivered);
  into.retried += n(hash.retried);
  into.failed += n(hash.failed);
  into.sum += n(hash["lat:sum"]);
  into.count += n(hash["lat:count"]);
  for (const [field, value] of Object.entries(hash)) {
    if (!field.startsWith("lat:") || field === "lat:sum" || field === "lat:count") continue;
    const le = field.slice(4);
    into.buckets.set(le, (into.buckets.get(le) ?? 0) + n(value));
  }
}

/** Zero of everything. */
export function emptyWebhookStats(): WebhookStats {
  return { delivered: 0, retried: 0, failed: 0, buckets: new Map(), sum: 0, count: 0 };
}

/** The exposition text of `stats` (every series present, zeros included). */
export function webhookMetricsText(stats: WebhookStats): string {
  const lines = [
    "# HELP jobqueue_webhook_deliveries_total Webhook delivery attempts by outcome " +
    "(delivered, retried, failed = given up), cluster-wide (from Redis).",
    "# TYPE jobqueue_webhook_deliveries_total counter",
    `jobqueue_webhook_deliveries_total{outcome="delivered"} ${stats.delivered}`,
    `jobqueue_webhook_deliveries_total{outcome="retried"} ${stats.retried}`,
    `jobqueue_webhook_deliveries_total{outcome="failed"} ${stats.failed}`,
    "# HELP jobqueue_webhook_delivery_latency_seconds Time from a job's end to its webhook's " +
    "successful delivery, cluster-wide (from Redis).",
    "# TYPE jobqueue_webhook_delivery_latency_seconds histogram",
  ];
  let cumulative = 0;
  for (const bound of LATENCY_BUCKETS) {
    cumulative += stats.buckets.get(String(bound)) ?? 0;
    lines.push(`jobqueue_webhook_delivery_latency_seconds_bucket{le="${bound}"} ${cumulative}`);
  }
  // Every delivered attempt counts once, in its bucket or above the last.
  lines.push(`jobqueue_webhook_delivery_latency_seconds_bucket{le="+Inf"} ${stats.count}`);
  lines.push(`jobqueue_webhook_delivery_latency_seconds_sum ${stats.sum}`);
  lines.push(`jobqueue_webhook_delivery_latency_seconds_count ${stats.count}`);
  return `${lines.join("\n")}\n`;
}
