/**
 * The scheduler loop: any number of processes run it at once (the API and
 * the workers by default), and each tick still makes exactly one job. A loop
 * wakes at the earliest due time in Redis (never later than `maxSleepMs`, and
 * at once when a schedule changes: every save, pause and delete publishes on
 * `scheduleChannel`), reads what is due in one script call, decides the due
 * ticks by compare-and-set on each schedule's state (one call for all of
 * them: of the loops that read the same state one wins), enqueues the
 * winner's jobs through the broker with an idempotency key per tick (one
 * script call per queue: the broker joins concurrent enqueues), and confirms
 * them (one call). Idle, a loop costs one Redis command per due time or per
 * `maxSleepMs`.
 *
 * @module
 */
import type { Broker } from "../queue/broker.ts";
import { duplicate, type RedisClient, whenReady } from "../queue/connect.ts";
import type { EnqueueInput } from "../queue/job.ts";
import type { JobRegistry } from "../jobs/registry.ts";
import { prepareEnqueue } from "../jobs/prepare.ts";
import type { Logger } from "../log.ts";
import { sleep } from "../timing/sleep.ts";
import { cadenceOf } from "./cadence.ts";
import type { JobTemplate } from "./schedule.ts";
import {
  confirmedState,
  decide,
  decidedState,
  dueScore,
  RESCUE_MS,
  type ScheduleState,
  type SkipReason,
  tickKey,
} from "./state.ts";
import type { ScheduleStore, StateWrite } from "./store.ts";

/** Longest a loop sleeps without reading Redis (a missed publish costs at most this). */
export const MAX_SLEEP_MS = 30_000;
/** Most schedules one pass handles; a pass that gets as many runs again at once. */
const PASS_LIMIT = 1000;

/** Receives what a loop did (the process's metrics). */
export interface TickObserver {
  /** A tick's job was enqueued, `lagMs` after the tick's time. */
  onTick?(schedule: string, lagMs: number): void;
  /** `count` ticks got no job, for `reason`. */
  onSkip?(schedule: string, reason: SkipReason | "invalid", count: number): void;
}

/** Options of a `ScheduleTicker`. */
export interface TickerOptions {
  store: ScheduleStore;
  broker: Broker;
  registry: JobRegistry;
  log: Logger;
  clock?: () => number;
  observer?: TickObserver;
  maxSleepMs?: number;
}

/** The enqueue input of a tick's job. */
export function tickInput(
  registry: JobRegistry,
  template: JobTemplate,
  idempotencyKey: string | undefined,
): EnqueueInput | string {
  const prepared = prepareEnqueue(registry, {
    ...template,
    ...(idempotencyKey ? { idempotency_key: idempotencyKey } : {}),
  });
  return prepared.ok ? prepared.input : prepared.message;
}

/** One process's scheduler loop. */
export class ScheduleTicker {
  readonly #o: TickerOptions;
  readonly #clock: () => number;
  readonly #maxSleepMs: number;
  #stop = new AbortController();
  #wake = new AbortController();
  /** A change was published while a pass ran: the next sleep is skipped. */
  #changed = false;
  #loop: Promise<void> | null = null;
  #subscriber: RedisClient | null = null;

  constructor(options: TickerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? Date.now;
    this.#maxSleepMs = options.maxSleepMs ?? MAX_SLEEP_MS;
  }

  /** Subscribes to changes and starts the loop. */
  async start(): Promise<void> {
    if (this.#loop) return;
    const sub = duplicate(this.#o.store.client, { connectionName: "jq:schedules" });
    this.#subscriber = sub;
    const channel = this.#o.store.keys.scheduleChannel;
    sub.on("message", () => this.#poke());
    sub.on("error", () => {});
    // Each (re)connection subscribes again (a repeated SUBSCRIBE is harmless) and reads
    // again, since changes published while it was away were missed.
    sub.on("ready", () => {
      sub.subscribe(channel).catch(() => {});
      this.#poke();
    });
    try {
      await whenReady(sub);
      await sub.subscribe(channel);
    } catch (error) {
      // Redis is down: the loop reads every maxSleepMs, and subscribes once it is back.
      this.#o.log.warn("schedule subscription failed", { error });
    }
    this.#loop = this.#run();
  }

  /** Stops the loop (a pass in flight finishes) and unsubscribes. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#wake.abort();
    await this.#loop;
    this.#loop = null;
    this.#subscriber?.disconnect();
    this.#subscriber = null;
  }

  #poke(): void {
    this.#changed = true;
    this.#wake.abort();
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      this.#changed = false;
      let wait: number;
      try {
        const r = await this.tickOnce();
        failures = 0;
        if (r.more) continue;
        wait = r.earliest === null
          ? this.#maxSleepMs
          : Math.min(this.#maxSleepMs, Math.max(0, r.earliest - this.#clock()));
      } catch (error) {
        if (failures++ === 0) this.#o.log.warn("schedule pass failed", { error });
        wait = Math.min(this.#maxSleepMs, 250 * 2 ** Math.min(failures, 5));
      }
      if (this.#changed) continue;
      if (this.#wake.signal.aborted) this.#wake = new AbortController();
      await sleep(wait, this.#wake.signal);
    }
  }

  /**
   * One pass: handles what is due now. `more`: it did something (or hit the
   * limit), so the caller should read again at once; else `earliest` is when
   * the next schedule is due (null: none is waiting).
   */
  async tickOnce(): Promise<{ more: boolean; earliest: number | null }> {
    const { store, broker } = this.#o;
    const now = this.#clock();
    const read = await store.due(now, PASS_LIMIT);
    if (read.broken.length > 0) {
      this.#o.log.warn("unreadable schedules skipped", { schedules: read.broken.slice(0, 10) });
    }
    if (read.due.length === 0) return { more: false, earliest: read.earliest };

    const writes: Array<StateWrite & { template: JobTemplate }> = [];
    const rescues: Array<{ name: string; state: ScheduleState; template: JobTemplate }> = [];
    const repairs: StateWrite[] = [];
    const candidates = read.due.filter((s) => {
      if (s.state.pend && now >= s.state.pend.at + RESCUE_MS && !s.state.paused) {
        rescues.push({ name: s.name, state: s.state, template: s.definition.job });
        return false;
      }
      if (!s.state.pend && !s.state.paused && s.state.next > 0 && s.state.next <= now) {
        return true;
      }
      // Due with nothing to do (should not happen): put its score right, so no loop spins on it.
      const state = { ...s.state, v: s.state.v + 1 };
      const due = dueScore(state);
      repairs.push({
        name: s.name,
        version: s.state.v,
        state,
        due: due < 0 ? -1 : Math.max(due, now + RESCUE_MS),
      });
      return false;
    });
    const active = await Promise.all(candidates.map(async (s) => {
      if (s.definition.overlap !== "skip" || !s.state.last_job_id) return false;
      const job = await broker.get(s.state.last_job_id);
      return job !== null && ["pending", "scheduled", "running"].includes(job.status);
    }));
    const skips: Array<{ name: string; skipped: Partial<Record<SkipReason, number>> }> = [];
    candidates.forEach((s, i) => {
      const decision = decide(s.definition, cadenceOf(s.definition), s.state, now, active[i]);
      const state = decidedState(s.state, decision, now, crypto.randomUUID());
      writes.push({
        name: s.name,
        version: s.state.v,
        state,
        due: dueScore(state),
        template: s.definition.job,
      });
      skips.push({ name: s.name, skipped: decision.skipped });
    });
    const won = await store.cas([...writes, ...repairs], now);

    const work: Array<{ name: string; state: ScheduleState; template: JobTemplate }> = [...rescues];
    writes.forEach((w, i) => {
      if (!won[i]) return;
      for (const [reason, n] of Object.entries(skips[i].skipped)) {
        this.#o.observer?.onSkip?.(w.name, reason as SkipReason, n);
      }
      if (w.state.pend) work.push({ name: w.name, state: w.state, template: w.template });
    });
    if (work.length > 0) await this.#enqueue(work);
    return { more: true, earliest: null };
  }

  /** Enqueues the pending ticks of `work` (idempotently) and confirms them. */
  async #enqueue(
    work: Array<{ name: string; state: ScheduleState; template: JobTemplate }>,
  ): Promise<void> {
    const { registry, broker, log, observer } = this.#o;
    // Every enqueue starts in the same turn, so the broker sends one call per queue.
    const results = work.map((w) =>
      Promise.all((w.state.pend?.ticks ?? []).map(async (tick) => {
        const input = tickInput(registry, w.template, tickKey(w.name, tick));
        if (typeof input === "string") {
          log.warn("schedule tick refused", { schedule: w.name, reason: input });
          observer?.onSkip?.(w.name, "invalid", 1);
          return null;
        }
        const r = await broker.enqueue(input);
        if (r.created) observer?.onTick?.(w.name, this.#clock() - tick);
        return { tick, id: r.id };
      }))
    );
    const settled = await Promise.allSettled(results);
    const confirms: Array<{ name: string; state: ScheduleState; jobs: Array<[string, number]> }> =
      [];
    settled.forEach((s, i) => {
      const w = work[i];
      if (s.status === "rejected") {
        // Left pending: a loop enqueues it again (same keys) after RESCUE_MS.
        log.warn("schedule enqueue failed", { schedule: w.name, error: s.reason });
        return;
      }
      const jobs = s.value.filter((j) => j !== null).map((j) => [j.id, j.tick] as [string, number]);
      confirms.push({ name: w.name, state: w.state, jobs });
    });
    await this.confirm(confirms);
  }

  /**
   * Records enqueued jobs in the schedules' states (clearing the pending
   * ticks they came from) and job indexes, re-reading a state that changed
   * meanwhile (a pause, a save) up to a few times. `trigger`: the jobs came
   * from a trigger, not from decided ticks (no pending tick is cleared).
   */
  async confirm(
    items: Array<{ name: string; state: ScheduleState; jobs: Array<[string, number]> }>,
    options: { trigger?: boolean } = {},
  ): Promise<void> {
    const trigger = options.trigger === true;
    const { store } = this.#o;
    let todo = items;
    for (let attempt = 0; attempt < 4 && todo.length > 0; attempt++) {
      const now = this.#clock();
      const writes: StateWrite[] = todo.map((item) => {
        const newest = item.jobs.at(-1);
        const tok = trigger ? null : item.state.pend?.token ?? null;
        const state = newest
          ? confirmedState(item.state, tok, { tick: newest[1], jobId: newest[0] }, now)
          : { ...item.state, v: item.state.v + 1 };
        if (!newest && tok !== null && state.pend?.token === tok) delete state.pend;
        return {
          name: item.name,
          version: item.state.v,
          state,
          due: dueScore(state),
          jobs: item.jobs,
        };
      });
      const won = await store.cas(writes, now);
      const retry: typeof todo = [];
      for (let i = 0; i < todo.length; i++) {
        if (won[i]) continue;
        const fresh = await store.get(todo[i].name);
        if (!fresh) continue;
        // Someone else confirmed these ticks: nothing left to record (the index has them).
        const tok = todo[i].state.pend?.token;
        if (!trigger && tok !== undefined && fresh.state.pend?.token !== tok) continue;
        retry.push({ ...todo[i], state: fresh.state });
      }
      todo = retry;
    }
  }
}
