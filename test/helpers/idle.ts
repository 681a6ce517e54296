/**
 * Pieces of the idle-cost tests: a job pool that never runs anything, and
 * the command count of `INFO commandstats` (script commands included).
 *
 * @module
 */
import type { JobPool } from "../../src/worker/runner.ts";

/** Calls of every command in an `INFO commandstats` reply. */
export function totalCalls(info: string): number {
  let total = 0;
  for (const match of info.matchAll(/^cmdstat_[^:]+:calls=(\d+)/gm)) total += Number(match[1]);
  return total;
}

/** A pool that takes jobs and never runs them (an idle runner's, or one that stays busy). */
export const idlePool: JobPool = {
  dispatch() {},
  flush() {},
  abort() {},
  threadmates: (id) => [id],
  stats: () => ({ threads: 1, busy: 0, inFlight: 0 }),
  close() {},
};
