/**
 * Plain-text tables for the terminal: a header row, left-aligned columns
 * sized to their widest cell, two spaces apart; cells are one line each.
 *
 * @module
 */

/**
 * Renders `rows` under `headers`; "(none)" when there are no rows.
 *
 * @example
 * ```ts
 * table(["NAME", "PAUSED"], [["default", "no"]]);
 * // "NAME     PAUSED\ndefault  no"
 * ```
 */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return "(none)";
  const clean = rows.map((r) => r.map((cell) => cell.replace(/[\r\n\t]+/g, " ")));
  const widths = headers.map((h, i) =>
    Math.max(h.length, ...clean.map((r) => (r[i] ?? "").length))
  );
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(headers), ...clean.map(line)].join("\n");
}

/** `key: value` lines, keys aligned. */
export function fields(pairs: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${v}`).join("\n");
}

/** A byte count as B, KiB, MiB or GiB. */
export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/** A duration in ms as `850ms`, `12s`, `5m3s`, `2h4m`, `3d2h`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h`;
}
