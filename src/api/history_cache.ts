/**
 * The history routes' read of Redis, without re-reading what cannot change:
 * the scripts write only the minute of their own `now`, so once a step (a
 * minute, or a quarter hour for 24 h) is over, with `SETTLE_MINUTES` of slack
 * for clocks that disagree, its sums are final. They are kept here, per
 * queue and window, so a dashboard's poll reads the open steps only (a few
 * HGETALLs instead of 1,440 for a day: that read costs ~30 ms of this
 * process and ~3 ms of Redis per queue).
 *
 * Bounded: at most `MAX_ENTRIES` (queue, window) entries, least recently
 * read dropped first, each at most one window of steps (~100 small objects).
 *
 * @module
 */
import type { Broker } from "../queue/broker.ts";
import { emptyMinute, type HistoryMinute, mergeMinute } from "../queue/history.ts";
import { HISTORY_WINDOWS, type HistoryWindow, windowRange } from "./history_points.ts";

/** Minutes after its end before a step is taken as final. */
export const SETTLE_MINUTES = 2;

/** Most (queue, window) entries kept. */
export const MAX_ENTRIES = 256;

interface Entry {
  /** Closed steps by start minute, contiguous up to `closedUntil` (exclusive). */
  steps: Map<number, HistoryMinute>;
  closedUntil: number;
}

/** Step sums of queues' histories over a window, the closed ones read once. */
export class HistoryCache {
  readonly #broker: Broker;
  readonly #entries = new Map<string, Entry>();

  constructor(broker: Broker) {
    this.#broker = broker;
  }

  /**
   * The steps of `window` at `nowMs` for `queue` (each a `HistoryMinute`
   * whose `minute` is the step's start), or null for an unknown queue.
   */
  async read(queue: string, window: HistoryWindow, nowMs: number): Promise<HistoryMinute[] | null> {
    const { step } = HISTORY_WINDOWS[window];
    const range = windowRange(window, nowMs);
    const key = `${window}|${queue}`;
    const entry = this.#entries.get(key);
    const from = entry && entry.closedUntil > range.from ? entry.closedUntil : range.from;
    const minutes = await this.#broker.history(queue, from, range.to);
    if (minutes === null) {
      this.#entries.delete(key);
      return null;
    }
    const fresh = new Map<number, HistoryMinute>();
    for (const m of minutes) {
      const start = m.minute - ((m.minute - range.from) % step);
      let s = fresh.get(start);
      if (!s) fresh.set(start, s = emptyMinute(start));
      mergeMinute(s, m);
    }
    const kept: Entry = entry ?? { steps: new Map(), closedUntil: range.from };
    for (const start of kept.steps.keys()) if (start < range.from) kept.steps.delete(start);
    // Steps wholly over (with the slack) join the kept ones, in order.
    for (let s = from; s + step - 1 <= range.to - SETTLE_MINUTES; s += step) {
      kept.steps.set(s, fresh.get(s) ?? emptyMinute(s));
      kept.closedUntil = s + step;
    }
    this.#entries.delete(key); // re-inserted last: least recently read goes first
    this.#entries.set(key, kept);
    if (this.#entries.size > MAX_ENTRIES) {
      this.#entries.delete(this.#entries.keys().next().value as string);
    }
    const out: HistoryMinute[] = [];
    for (let s = range.from; s <= range.to; s += step) {
      out.push(kept.steps.get(s) ?? fresh.get(s) ?? emptyMinute(s));
    }
    return out;
  }
}
