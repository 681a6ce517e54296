/**
 * Reading the Prometheus text format in the metrics tests.
 *
 * @module
 */

/** The value of `series` (name and labels exactly as exposed), or null when absent. */
export function value(text: string, series: string): number | null {
  for (const line of text.split("\n")) {
    if (line.startsWith(series + " ")) return Number(line.slice(series.length + 1));
  }
  return null;
}
