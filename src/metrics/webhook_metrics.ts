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
import { LATENCY_BUCKETS, type WebhookStats } from "../webhooks/stats.ts";

export {
  addWebhookStats,
  emptyWebhookStats,
  LATENCY_BUCKETS,
  type WebhookStats,
} from "../webhooks/stats.ts";

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
