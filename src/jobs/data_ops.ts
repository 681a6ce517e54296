/**
 * The pure record operations behind `data_process`: filter, transform and
 * aggregate over an array of JSON objects. No I/O, so they are tested alone.
 *
 * Field names may be dotted paths into nested objects (`"user.country"`).
 *
 * @module
 */

/** A JSON object record. */
export type DataRecord = Record<string, unknown>;

/** One aggregate to compute per group. */
export interface Metric {
  op: "count" | "sum" | "avg" | "min" | "max";
  /** Required for every op but `count`. */
  field?: string;
  /** Output column name; defaults to `count` or `<op>_<field>`. */
  as?: string;
}

/** The value at a dotted path, or undefined. */
export function getPath(record: unknown, path: string): unknown {
  let value: unknown = record;
  for (const part of path.split(".")) {
    if (typeof value !== "object" || value === null || !Object.hasOwn(value, part)) {
      return undefined;
    }
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** JSON equality: primitives by value, arrays and objects by content. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    Object.hasOwn(b, k) &&
    jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
  );
}

/** Keeps records whose every `filters` path equals the given value. Empty filters keep all. */
export function filterRecords(
  records: DataRecord[],
  filters: Record<string, unknown>,
): DataRecord[] {
  const entries = Object.entries(filters);
  if (entries.length === 0) return records;
  return records.filter((r) => entries.every(([path, want]) => jsonEqual(getPath(r, path), want)));
}

/**
 * Projects each record to `fields` (output keys are the paths as written;
 * missing values are left out) and then renames keys per `rename`. With
 * neither, records pass through unchanged.
 */
export function transformRecords(
  records: DataRecord[],
  fields?: string[],
  rename?: Record<string, string>,
): DataRecord[] {
  return records.map((record) => {
    let out: DataRecord = record;
    if (fields) {
      out = {};
      for (const f of fields) {
        const v = getPath(record, f);
        if (v !== undefined) out[f] = v;
      }
    }
    if (rename && Object.keys(rename).length > 0) {
      const renamed: DataRecord = {};
      for (const [k, v] of Object.entries(out)) {
        renamed[Object.hasOwn(rename, k) ? rename[k] : k] = v;
      }
      out = renamed;
    }
    return out;
  });
}

/** Output column name of a metric. */
export function metricName(metric: Metric): string {
  return metric.as ?? (metric.op === "count" ? "count" : `${metric.op}_${metric.field}`);
}

/** One group of an aggregation: its key value and one column per metric. */
export type AggregateRow = { key: unknown } & Record<string, unknown>;

/**
 * Groups records by `groupBy` (one group keyed `null` when absent; records
 * missing the field fall in the `null` group) and computes `metrics` per
 * group. sum/avg/min/max consider finite numbers only; avg/min/max are null
 * when a group has none. Groups come out in first-seen order.
 */
export function aggregateRecords(
  records: DataRecord[],
  groupBy: string | undefined,
  metrics: Metric[],
): AggregateRow[] {
  const groups = new Map<string, { key: unknown; rows: DataRecord[] }>();
  for (const record of records) {
    const key = groupBy === undefined ? null : getPath(record, groupBy) ?? null;
    // JSON text as the map key so 1 and "1" stay apart and objects group by content.
    const id = JSON.stringify(key);
    let group = groups.get(id);
    if (!group) groups.set(id, group = { key, rows: [] });
    group.rows.push(record);
  }
  return [...groups.values()].map(({ key, rows }) => {
    const row: AggregateRow = { key };
    for (const metric of metrics) row[metricName(metric)] = computeMetric(rows, metric);
    return row;
  });
}

function computeMetric(rows: DataRecord[], metric: Metric): number | null {
  if (metric.op === "count") {
    return metric.field === undefined
      ? rows.length
      : rows.filter((r) => getPath(r, metric.field!) !== undefined).length;
  }
  const numbers = rows.map((r) => getPath(r, metric.field!))
    .filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  if (metric.op === "sum") return numbers.reduce((a, b) => a + b, 0);
  if (numbers.length === 0) return null;
  if (metric.op === "avg") return numbers.reduce((a, b) => a + b, 0) / numbers.length;
  // reduce, not Math.min(...xs): spreading 100k+ values overflows the stack.
  return metric.op === "min"
    ? numbers.reduce((a, b) => (b < a ? b : a))
    : numbers.reduce((a, b) => (b > a ? b : a));
}
