/**
 * The webhook delivery counters as Redis keeps them (each queue's
 * `webhookStats` HASH, incremented by webhook_done.lua) and their sum over
 * queues; `src/metrics/webhook_metrics.ts` renders them for `/metrics`.
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
  /** Deliveries forgotten unsent: their subscription was deleted (or the record unreadable). */
  dropped: number;
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
  into.dropped += n(hash.dropped);
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
  return { delivered: 0, retried: 0, failed: 0, dropped: 0, buckets: new Map(), sum: 0, count: 0 };
}
