/**
 * The history routes' answer: the per-minute history the scripts keep
 * (`src/queue/history.ts`) as chart points over a window, coarser steps for
 * longer windows so a day stays ~100 points, latency percentiles estimated
 * from the buckets. Pure: the routes read, this shapes.
 *
 * @module
 */
import {
  emptyMinute,
  type HistoryMinute,
  LATENCY_BUCKETS_MS,
  mergeMinute,
} from "../queue/history.ts";

/** The windows a client may ask for: minutes covered, and minutes per point. */
export const HISTORY_WINDOWS = {
  "1h": { minutes: 60, step: 1 },
  "24h": { minutes: 1440, step: 15 },
} as const;

/** A window's name. */
export type HistoryWindow = keyof typeof HISTORY_WINDOWS;

/** True when `value` names a window. */
export function isHistoryWindow(value: string): value is HistoryWindow {
  return Object.hasOwn(HISTORY_WINDOWS, value);
}

/** Enqueue-to-start latency percentiles of one point, ms. */
export interface LatencyPercentiles {
  p50: number;
  p90: number;
  p99: number;
}

/** One point of a chart: a step's counts and latency. */
export interface HistoryPoint {
  /** Start of the step (UTC, ISO 8601). */
  t: string;
  completed: number;
  failed: number;
  retried: number;
  /** Jobs started in the step whose latency was measured. */
  started: number;
  /** null when no start was measured in the step. */
  latency_ms: LatencyPercentiles | null;
}

/** The body of `GET /history` and `GET /queues/:name/history`. */
export interface HistoryBody {
  /** The queue, or null for the sum over the caller's queues. */
  queue: string | null;
  window: HistoryWindow;
  /** Seconds per point. */
  step_s: number;
  /** Oldest first; the last point is the step still running. */
  points: HistoryPoint[];
  /** The window's sums, and its percentiles over every measured start. */
  totals: Omit<HistoryPoint, "t">;
}

/** The epoch minutes a window covers at `nowMs`, aligned to its step (so points stay put between polls). */
export function windowRange(window: HistoryWindow, nowMs: number): { from: number; to: number } {
  const { minutes, step } = HISTORY_WINDOWS[window];
  const to = Math.floor(nowMs / 60_000);
  const lastStep = Math.floor(to / step) * step;
  return { from: lastStep - minutes + step, to };
}

/**
 * The `q` quantile (0..1) of a bucketed histogram, ms, by linear
 * interpolation inside the bucket that holds it (as Prometheus'
 * `histogram_quantile`, the first bucket starting at 0); past the last bound
 * it is that bound (a lower limit). null with no samples.
 */
export function quantile(counts: readonly number[], q: number): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] === 0 || seen + counts[i] < rank) {
      seen += counts[i];
      continue;
    }
    if (i >= LATENCY_BUCKETS_MS.length) break;
    const lower = i === 0 ? 0 : LATENCY_BUCKETS_MS[i - 1];
    const upper = LATENCY_BUCKETS_MS[i];
    return Math.round((lower + (upper - lower) * (rank - seen) / counts[i]) * 10) / 10;
  }
  return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1];
}

function summarise(m: HistoryMinute): Omit<HistoryPoint, "t"> {
  const started = m.latency.reduce((a, b) => a + b, 0);
  const p = (q: number) => quantile(m.latency, q) ?? 0;
  return {
    completed: m.completed,
    failed: m.failed,
    retried: m.retried,
    started,
    latency_ms: started === 0 ? null : { p50: p(0.5), p90: p(0.9), p99: p(0.99) },
  };
}

/**
 * The body for minutes `range` of `window`, from `minutes` (each queue's
 * reads, any order; several queues sum).
 */
export function historyBody(
  queue: string | null,
  window: HistoryWindow,
  range: { from: number; to: number },
  minutes: readonly HistoryMinute[],
): HistoryBody {
  const { step } = HISTORY_WINDOWS[window];
  const steps: HistoryMinute[] = [];
  for (let m = range.from; m <= range.to; m += step) steps.push(emptyMinute(m));
  const all = emptyMinute(range.from);
  for (const minute of minutes) {
    const i = Math.floor((minute.minute - range.from) / step);
    if (i < 0 || i >= steps.length) continue;
    mergeMinute(steps[i], minute);
    mergeMinute(all, minute);
  }
  return {
    queue,
    window,
    step_s: step * 60,
    points: steps.map((s) => ({ t: new Date(s.minute * 60_000).toISOString(), ...summarise(s) })),
    totals: summarise(all),
  };
}
