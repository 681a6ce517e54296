/**
 * A histogram whose counts are kept elsewhere (in Redis, by the scripts that
 * end attempts) and exported as they are: prom-client's `Histogram` only
 * counts what this process observes, so it cannot show a cluster-wide
 * histogram that must be right from a first scrape and on every replica.
 * Each scrape replaces the series with the stored counts (which only grow,
 * so the exported counters never go down).
 *
 * @module
 */
import type { Metric, Registry } from "prom-client";

/** One labelled series: per-bucket counts (not cumulative, the last past every bound) and the sum. */
export interface StoredSeries {
  labels: Record<string, string>;
  counts: readonly number[];
  sum: number;
}

interface ExportedValue {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/** A histogram exported from stored counts; register it once, `set` it each scrape. */
export class StoredHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly #bounds: readonly number[];
  #series: StoredSeries[] = [];

  constructor(
    options: { name: string; help: string; bounds: readonly number[]; registry: Registry },
  ) {
    this.name = options.name;
    this.help = options.help;
    this.#bounds = options.bounds;
    // prom-client renders any registered object with this shape (name, help, type, get()).
    options.registry.registerMetric(this as unknown as Metric);
  }

  /** Replaces every series (a series left out is no longer exported). */
  set(series: StoredSeries[]): void {
    this.#series = series;
  }

  /** What prom-client's registry renders: cumulative buckets, then sum and count. */
  get(): Promise<
    { name: string; help: string; type: string; aggregator: string; values: ExportedValue[] }
  > {
    const values: ExportedValue[] = [];
    for (const s of this.#series) {
      let cumulative = 0;
      this.#bounds.forEach((le, i) => {
        cumulative += s.counts[i] ?? 0;
        values.push({
          metricName: `${this.name}_bucket`,
          labels: { le, ...s.labels },
          value: cumulative,
        });
      });
      cumulative += s.counts[this.#bounds.length] ?? 0;
      values.push({
        metricName: `${this.name}_bucket`,
        labels: { le: "+Inf", ...s.labels },
        value: cumulative,
      });
      values.push({ metricName: `${this.name}_sum`, labels: { ...s.labels }, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...s.labels }, value: cumulative });
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    });
  }

  /** For registry.resetMetrics(): nothing to reset, the counts live elsewhere. */
  reset(): void {}
}
