/**
 * A schedule's tick state (stored as JSON beside its definition) and the pure
 * rules that move it: which due ticks get a job after downtime (`catch_up`)
 * or while the previous job is still active (`overlap`), what the next tick
 * is, and what a confirmed job records. No Redis and no clock here: the loop
 * passes `now`, so the rules are tested with any instant (DST days included).
 *
 * Exactly once: a loop decides a tick by writing the new state only if the
 * version it read is still current (schedule_cas.lua), so one loop decides
 * each tick. The decision is written before the job is enqueued (as `pend`)
 * and its job's idempotency key is derived from the schedule and the tick,
 * so if the deciding process dies before enqueueing, another loop enqueues
 * the same job (`RESCUE_MS` later) and never a second one.
 *
 * @module
 */
import { type Cadence } from "./cadence.ts";
import { MAX_CATCH_UP, type ScheduleDefinition } from "./schedule.ts";

/** A due tick this much older than now is missed, even when no later tick is due yet. */
export const MISFIRE_MS = 60_000;
/** A decided tick whose job is not confirmed this long after is enqueued by any loop. */
export const RESCUE_MS = 1000;
/** Most due ticks one decision walks through (a long outage of a fast cron). */
const WALK_LIMIT = 10_000;

/** The stored tick state of one schedule. */
export interface ScheduleState {
  /** Version: every write bumps it; a decision is written only over the version it read. */
  v: number;
  created_at: number;
  /** The cadence the ticks were placed by (`cadenceText`). */
  cadence: string;
  /** Epoch ms of the next tick not decided yet; 0 when the schedule has ended. */
  next: number;
  paused?: boolean;
  /** When it was last resumed: a tick before it fell in the pause, so it is missed. */
  resumed_at?: number;
  /** Ticks decided whose jobs are not confirmed yet (see the module doc). */
  pend?: { ticks: number[]; at: number; token: string };
  last_tick?: number;
  last_job_id?: string;
  last_run_at?: number;
}

/** Why a tick got no job (the `reason` label of `jobqueue_schedule_skipped_total`). */
export type SkipReason = "missed" | "catch_up_limit" | "overlap";

/** What a loop decided for one schedule's due ticks. */
export interface Decision {
  /** Ticks that get a job, oldest first. */
  ticks: number[];
  skipped: Partial<Record<SkipReason, number>>;
  /** The next tick after the due ones; 0 when none is left. */
  next: number;
}

/** Reads a stored state; null when unreadable. */
export function readState(json: string | null | false): ScheduleState | null {
  if (!json) return null;
  try {
    const s = JSON.parse(json) as ScheduleState;
    if (typeof s?.v !== "number" || typeof s.next !== "number") return null;
    // Lua's cjson writes an empty table as {}: no tick list is ever empty, so {} means none.
    if (s.pend && !Array.isArray(s.pend.ticks)) delete s.pend;
    return s;
  } catch {
    return null;
  }
}

/**
 * The decision for the ticks due by `now` (those from `state.next` on).
 * `previousActive`: the schedule's last job is still pending, scheduled or
 * running (read only when `overlap` is `skip`).
 */
export function decide(
  definition: ScheduleDefinition,
  cadence: Cadence,
  state: ScheduleState,
  now: number,
  previousActive: boolean,
): Decision {
  const due: number[] = [];
  let tick: number | null = state.next > 0 ? state.next : null;
  let walked = 0;
  let next = 0;
  while (tick !== null && tick <= now) {
    if (++walked > WALK_LIMIT) {
      // Too many to walk: the rest count as missed, the ticks restart after now.
      tick = cadence.nextAfter(now);
      break;
    }
    due.push(tick);
    tick = cadence.nextAfter(tick);
  }
  next = tick ?? 0;
  const skipped: Decision["skipped"] = {};
  const skip = (reason: SkipReason, n: number) => {
    if (n > 0) skipped[reason] = (skipped[reason] ?? 0) + n;
  };
  if (walked > WALK_LIMIT) skip("missed", walked - due.length);
  const last = due.at(-1);
  // The newest due tick is on time unless it is stale or fell in a pause; every older one
  // was overtaken.
  const onTime = last !== undefined && now - last <= MISFIRE_MS &&
      last >= (state.resumed_at ?? -Infinity)
    ? last
    : null;
  const missed = onTime === null ? due : due.slice(0, -1);
  let ticks: number[] = [];
  if (definition.catch_up === "none") {
    skip("missed", missed.length);
  } else if (definition.catch_up === "one") {
    if (missed.length > 0) ticks.push(missed[missed.length - 1]);
    skip("missed", Math.max(0, missed.length - 1));
  } else {
    ticks = missed.slice(-MAX_CATCH_UP);
    skip("catch_up_limit", missed.length - ticks.length);
  }
  if (onTime !== null) ticks.push(onTime);
  if (definition.overlap === "skip" && ticks.length > 0) {
    // One job at a time: the newest due tick, and only once the previous job is done.
    const run = previousActive ? [] : [ticks[ticks.length - 1]];
    skip("overlap", ticks.length - run.length);
    ticks = run;
  }
  return { ticks, skipped, next };
}

/** The state after `decision`, with the decided ticks pending under `token`. */
export function decidedState(
  state: ScheduleState,
  decision: Decision,
  now: number,
  token: string,
): ScheduleState {
  const out: ScheduleState = { ...state, v: state.v + 1, next: decision.next };
  delete out.pend;
  if (decision.ticks.length > 0) out.pend = { ticks: decision.ticks, at: now, token };
  return out;
}

/** The state once jobs were enqueued: `token`'s pending ticks cleared (if still there). */
export function confirmedState(
  state: ScheduleState,
  token: string | null,
  last: { tick: number; jobId: string },
  now: number,
): ScheduleState {
  const out: ScheduleState = { ...state, v: state.v + 1 };
  if (token !== null && out.pend?.token === token) delete out.pend;
  if (out.last_tick === undefined || last.tick >= out.last_tick || token === null) {
    out.last_tick = last.tick;
    out.last_job_id = last.jobId;
    out.last_run_at = now;
  }
  return out;
}

/** The due score of `state`: when a loop next has something to do; -1 for never. */
export function dueScore(state: ScheduleState): number {
  if (state.paused) return -1;
  if (state.pend) return state.pend.at + RESCUE_MS;
  return state.next > 0 ? state.next : -1;
}

/** The idempotency key of a tick's job: the same for every loop, so a race makes one job. */
export function tickKey(name: string, tick: number): string {
  return `schedule:${name}:${tick}`;
}
