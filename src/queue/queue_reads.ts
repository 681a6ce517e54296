/**
 * Reads that summarise queues for `RedisBroker`: counters (`stats`), the
 * queue list with pause flags and latency (`queues`), and the lifecycle
 * events of every queue merged into one feed (`events`). Read-only.
 *
 * Events live in one stream per queue (a script can only write its own
 * slot), so a feed over all queues keeps one position per stream: its
 * cursor is `<base>` (a stream id every queue starts after) followed by
 * `|<queue>=<id>` for each queue read past it. On standalone Redis one XREAD
 * blocks on every stream; on Cluster, where one XREAD cannot span slots, the
 * streams are read one by one and an empty round sleeps `blockMs` (the feed
 * only runs while dashboards watch).
 *
 * @module
 */
import type { RedisClient } from "./connect.ts";
import { addDurations } from "./durations.ts";
import { type HistoryMinute, readHistory } from "./history.ts";
import { toQueueError } from "./connect.ts";
import type { BlockingPool } from "./blocking.ts";
import { InvalidInputError, QueueNotFoundError } from "./errors.ts";
import {
  type DurationSeries,
  JOB_STATES,
  type QueueInfo,
  type StateCounts,
  type Stats,
  type StatsCounts,
} from "./job.ts";
import { isValidQueueName, type QueueKeys } from "./keys.ts";
import type { QueueScripts } from "./scripts.ts";
import { KNOWN_QUEUES_TTL_MS, type QueueRegistry } from "./queue_registry.ts";
import type { StoredEvent } from "../events/lifecycle.ts";
import { decodeEntry, type WireValue } from "../events/wire.ts";

/** What the reads need of one queue. */
export interface ReadableQueue {
  readonly name: string;
  readonly keys: QueueKeys;
  readonly scripts: Promise<QueueScripts>;
}

/** What the reads need from their broker. */
export interface QueueReadsOptions {
  registry: QueueRegistry;
  /** A known queue's state, or null. */
  state(queue: string): Promise<ReadableQueue | null>;
  cmd<T>(run: (client: RedisClient) => Promise<T>): Promise<T>;
  blocking(): BlockingPool;
  cluster: boolean;
  clock: () => number;
}

/** Most queues one events read covers (the known queues, in name order). */
const MAX_EVENT_STREAMS = 1000;

function emptyCounts(): StatsCounts {
  return {
    pending: 0,
    scheduled: 0,
    running: 0,
    completed: 0,
    failed: 0,
    cancelled: 0,
    waiting: 0,
    total: 0,
    started_total: 0,
    completed_total: 0,
    failed_total: 0,
    cancelled_total: 0,
  };
}

function total(c: StateCounts): number {
  return c.pending + c.scheduled + c.running + c.completed + c.failed + c.cancelled + c.waiting;
}

/** The stats field counting attempts started (claim.lua). */
const STARTED = "started";

/** The finished states: their counters count arrivals, `<state>_gone` counts departures. */
const FINISHED = ["completed", "failed", "cancelled"] as const;

/** Adds `from`'s counts into `into`. */
function addCounts(into: StatsCounts, from: StatsCounts): void {
  for (const state of JOB_STATES) into[state] += from[state];
  for (const state of FINISHED) into[`${state}_total`] += from[`${state}_total`];
  into.started_total += from.started_total;
  into.total = total(into);
}

/**
 * A stats HASH as counts. Its fields: `<state>` and `<state>|<type>` (for
 * the live states, what is there now; for a finished state, every arrival,
 * so its lifetime total), `<state>_gone` and `<state>_gone|<type>` (a
 * finished state's departures: retention, purge, retry), and `retried`. A
 * finished state holds now its arrivals minus its departures.
 */
function parseStats(raw: Record<string, string>): Omit<Stats, "by_queue"> {
  const retried = Number(raw.retried ?? 0);
  const stats = { ...emptyCounts(), retried, retried_total: retried, by_type: {} } as Omit<
    Stats,
    "by_queue"
  >;
  const gone = { top: emptyCounts(), byType: new Map<string, StatsCounts>() };
  for (const [field, value] of Object.entries(raw)) {
    const bar = field.indexOf("|");
    const name = bar < 0 ? field : field.slice(0, bar);
    if (name === STARTED) {
      const into = bar < 0 ? stats : stats.by_type[field.slice(bar + 1)] ??= emptyCounts();
      into.started_total = Number(value) || 0;
      continue;
    }
    const departed = name.endsWith("_gone");
    const state = (departed ? name.slice(0, -5) : name) as keyof StateCounts;
    if (!JOB_STATES.includes(state as typeof JOB_STATES[number])) continue;
    const n = Number(value) || 0;
    const type = bar < 0 ? null : field.slice(bar + 1);
    let into: StatsCounts;
    if (type === null) into = departed ? gone.top : stats;
    else if (!departed) into = stats.by_type[type] ??= emptyCounts();
    else {
      into = gone.byType.get(type) ?? emptyCounts();
      gone.byType.set(type, into);
    }
    into[state] = n;
  }
  const settle = (counts: StatsCounts, departures: StatsCounts | undefined) => {
    for (const state of FINISHED) {
      counts[`${state}_total`] = counts[state];
      counts[state] = Math.max(0, counts[state] - (departures?.[state] ?? 0));
    }
    counts.total = total(counts);
  };
  settle(stats, gone.top);
  for (const [type, counts] of Object.entries(stats.by_type)) settle(counts, gone.byType.get(type));
  return stats;
}

/** An events cursor: the base position, and each queue's own where it moved past it. */
interface FeedCursor {
  base: string;
  queues: Map<string, string>;
}

const STREAM_ID = /^(\d+)(?:-(\d+))?$/;

function parseCursor(text: string): FeedCursor {
  const [base, ...parts] = String(text).split("|");
  if (!STREAM_ID.test(base)) throw new InvalidInputError("invalid events cursor", "cursor");
  const queues = new Map<string, string>();
  for (const part of parts) {
    const eq = part.lastIndexOf("=");
    const queue = part.slice(0, eq);
    const id = part.slice(eq + 1);
    if (eq < 0 || !isValidQueueName(queue) || !STREAM_ID.test(id)) {
      throw new InvalidInputError("invalid events cursor", "cursor");
    }
    queues.set(queue, id);
  }
  return { base, queues };
}

function formatCursor(cursor: FeedCursor): string {
  let out = cursor.base;
  for (const [queue, id] of cursor.queues) out += `|${queue}=${id}`;
  return out;
}

/** Orders stream ids `<ms>-<seq>`. */
function compareIds(a: string, b: string): number {
  const [am, as = "0"] = a.split("-");
  const [bm, bs = "0"] = b.split("-");
  return Number(am) - Number(bm) || Number(as) - Number(bs);
}

/** Summaries of queues, over a broker's connection. */
export class QueueReads {
  readonly #o: QueueReadsOptions;

  constructor(options: QueueReadsOptions) {
    this.#o = options;
  }

  async #stateOrThrow(queue: string): Promise<ReadableQueue> {
    const state = isValidQueueName(queue) ? await this.#o.state(queue) : null;
    if (!state) throw new QueueNotFoundError(queue);
    return state;
  }

  /** Every known queue's state, by name. */
  async #all(): Promise<ReadableQueue[]> {
    const out: ReadableQueue[] = [];
    for (const name of await this.#o.registry.list()) {
      const state = await this.#o.state(name);
      if (state) out.push(state);
    }
    return out;
  }

  /** Counts over every queue (those `only` accepts; with `by_queue`), or of one queue. */
  async stats(queue?: string, only?: (queue: string) => boolean): Promise<Stats> {
    const states = queue === undefined
      ? (await this.#all()).filter((s) => only?.(s.name) ?? true)
      : [await this.#stateOrThrow(queue)];
    const raws = await this.#o.cmd((c) => Promise.all(states.map((s) => c.hgetall(s.keys.stats))));
    const out: Stats = {
      ...emptyCounts(),
      retried: 0,
      retried_total: 0,
      by_type: {},
      by_queue: {},
    };
    raws.forEach((raw, i) => {
      const one = parseStats(raw);
      const { retried: _retried, retried_total: _total, by_type: _byType, ...counts } = one;
      out.by_queue[states[i].name] = counts;
      addCounts(out, one);
      out.retried += one.retried;
      out.retried_total += one.retried;
      for (const [type, counts] of Object.entries(one.by_type)) {
        addCounts(out.by_type[type] ??= emptyCounts(), counts);
      }
    });
    return out;
  }

  /**
   * The attempt-duration histogram over every queue (those `only` accepts):
   * each queue's durations HASH, summed per type and status.
   */
  async durations(only?: (queue: string) => boolean): Promise<DurationSeries[]> {
    const states = (await this.#all()).filter((s) => only?.(s.name) ?? true);
    const raws = await this.#o.cmd((c) =>
      Promise.all(states.map((s) => c.hgetall(s.keys.durations)))
    );
    const series = new Map<string, DurationSeries>();
    for (const raw of raws) addDurations(series, raw);
    return [...series.values()];
  }

  /** Minutes `from`..`to` of a queue's history (`history.ts`), or null for an unknown queue. */
  async history(name: string, from: number, to: number): Promise<HistoryMinute[] | null> {
    const state = isValidQueueName(name) ? await this.#o.state(name) : null;
    if (!state) return null;
    return await this.#o.cmd((c) => readHistory(c, state.keys, from, to));
  }

  async #info(state: ReadableQueue): Promise<QueueInfo> {
    const [raw, inspected] = await Promise.all([
      this.#o.cmd((c) => c.hgetall(state.keys.stats)),
      state.scripts.then((s) => s.inspect()).catch((error) => {
        throw toQueueError(error);
      }),
    ]);
    const counts = parseStats(raw);
    const now = this.#o.clock();
    return {
      name: state.name,
      paused: inspected.paused,
      pending: counts.pending,
      scheduled: counts.scheduled,
      running: counts.running,
      completed: counts.completed,
      failed: counts.failed,
      cancelled: counts.cancelled,
      waiting: counts.waiting,
      latency_ms: inspected.oldestReadyAt === null ? 0 : Math.max(0, now - inspected.oldestReadyAt),
    };
  }

  /** Every known queue's summary, by name. */
  async queues(): Promise<QueueInfo[]> {
    return await Promise.all((await this.#all()).map((state) => this.#info(state)));
  }

  /** One queue's summary, or null when unknown. */
  async queue(name: string): Promise<QueueInfo | null> {
    const state = isValidQueueName(name) ? await this.#o.state(name) : null;
    return state ? await this.#info(state) : null;
  }

  /** Events of every queue after `cursor` (see the module doc), oldest first. */
  async events(cursorText: string, blockMs: number, count: number): Promise<StoredEvent[]> {
    const cursor = parseCursor(cursorText);
    const n = Math.max(1, Math.floor(count));
    const names = (await this.#o.registry.list(KNOWN_QUEUES_TTL_MS)).slice(0, MAX_EVENT_STREAMS);
    if (names.length === 0) return [];
    const states = (await Promise.all(names.map((name) => this.#o.state(name))))
      .filter((s): s is ReadableQueue => s !== null);
    const streams = states.map((s) => s.keys.events);
    const queueOf = new Map(states.map((s) => [s.keys.events, s.name]));
    const positions = states.map((s) => cursor.queues.get(s.name) ?? cursor.base);
    let replies: unknown[] = [];
    if (!this.#o.cluster) {
      const keys = [...streams, ...positions];
      if (blockMs > 0) {
        const result = await this.#o.blocking().run(
          (c) => c.xread("COUNT", n, "BLOCK", blockMs, "STREAMS", ...keys),
          blockMs,
        );
        if (result.kind === "error") throw toQueueError(result.error);
        if (result.kind === "reply") replies = [result.value];
      } else {
        replies = [await this.#o.cmd((c) => c.xread("COUNT", n, "STREAMS", ...keys))];
      }
    } else {
      replies = await this.#o.cmd((c) =>
        Promise.all(streams.map((key, i) => c.xread("COUNT", n, "STREAMS", key, positions[i])))
      );
      if (replies.every((r) => r === null) && blockMs > 0) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(blockMs, 1000)));
      }
    }
    const entries: Array<{ queue: string; id: string; fields: WireValue[] }> = [];
    for (const reply of replies) {
      if (!Array.isArray(reply)) continue;
      for (const stream of reply) {
        if (!Array.isArray(stream) || !Array.isArray(stream[1])) continue;
        const queue = queueOf.get(String(stream[0]));
        if (queue === undefined) continue;
        for (const entry of stream[1]) {
          if (!Array.isArray(entry) || typeof entry[0] !== "string" || !Array.isArray(entry[1])) {
            continue;
          }
          entries.push({ queue, id: entry[0], fields: entry[1] as WireValue[] });
        }
      }
    }
    entries.sort((a, b) => compareIds(a.id, b.id));
    const out: StoredEvent[] = [];
    for (const entry of entries.slice(0, n)) {
      cursor.queues.set(entry.queue, entry.id);
      const position = formatCursor(cursor);
      for (const event of decodeEntry(entry.fields)) out.push({ cursor: position, event });
    }
    return out;
  }
}
