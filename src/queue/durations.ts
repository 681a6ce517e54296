/**
 * Reading the attempt-duration histogram the finishing scripts keep in each
 * queue's durations HASH (`QueueKeys.durations`; written by `tallyDuration`
 * in _lib.lua, whose bounds are `DURATION_BUCKETS` in ms).
 *
 * @module
 */
import type { DurationSeries } from "./job.ts";
import { DURATION_BUCKETS } from "../metrics/prometheus.ts";

/** Buckets per series: one per bound, and one past the last. */
export const DURATION_BUCKET_COUNT = DURATION_BUCKETS.length + 1;

/**
 * Adds one durations HASH (`<status>|<bucket>|<type>` and `<status>|s|<type>`)
 * into `series`, keyed by status and type. Fields of another shape, or a
 * bucket out of range, are ignored (a newer release may add some).
 */
export function addDurations(
  series: Map<string, DurationSeries>,
  raw: Record<string, string>,
): void {
  for (const [field, value] of Object.entries(raw)) {
    const first = field.indexOf("|");
    const second = first < 0 ? -1 : field.indexOf("|", first + 1);
    if (second < 0) continue;
    const status = field.slice(0, first);
    const bucket = field.slice(first + 1, second);
    const type = field.slice(second + 1);
    const n = Number(value) || 0;
    const key = `${status}|${type}`;
    let s = series.get(key);
    if (!s) {
      s = { type, status, counts: new Array(DURATION_BUCKET_COUNT).fill(0), sum_ms: 0 };
      series.set(key, s);
    }
    if (bucket === "s") {
      s.sum_ms += n;
      continue;
    }
    const index = Number(bucket) - 1;
    if (Number.isInteger(index) && index >= 0 && index < DURATION_BUCKET_COUNT) {
      s.counts[index] += n;
    }
  }
}
