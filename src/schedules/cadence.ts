/**
 * When a schedule ticks: the next tick after an instant, for a cron
 * expression in an IANA time zone (croner computes it, DST included: a time
 * that does not exist on the spring-forward day runs once at the shifted
 * time, one that exists twice on the fall-back day runs once) or for a fixed
 * interval (ticks at `start_at`, or the epoch, plus multiples of `every_ms`,
 * so every process computes the same ticks without talking to the others).
 * Both honour `start_at` and `end_at`.
 *
 * @module
 */
import { Cron } from "croner";

/** The fields of a definition that place its ticks. */
export interface CadenceSpec {
  cron: string | null;
  timezone: string;
  every_ms: number | null;
  start_at: number | null;
  end_at: number | null;
}

/** A schedule's ticks. */
export interface Cadence {
  /** Epoch ms of the first tick strictly after `t`, or null when none is left. */
  nextAfter(t: number): number | null;
}

/** Why `expression` is not a cron expression croner accepts, or null. */
export function cronProblem(expression: string): string | null {
  const fields = expression.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) return "a cron expression has 5 or 6 fields";
  try {
    new Cron(expression, { paused: true });
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Why `zone` is not an IANA time zone this runtime knows, or null. */
export function timeZoneProblem(zone: string): string | null {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return null;
  } catch {
    return `unknown time zone ${JSON.stringify(zone)}`;
  }
}

/** The cadence of `spec` (assumed validated: see `parseSchedule`). */
export function cadenceOf(spec: CadenceSpec): Cadence {
  const start = spec.start_at ?? -Infinity;
  const end = spec.end_at ?? Infinity;
  const within = (tick: number | null) => tick !== null && tick <= end ? tick : null;
  if (spec.every_ms !== null) {
    const every = spec.every_ms;
    const anchor = spec.start_at ?? 0;
    return {
      nextAfter(t) {
        if (t < anchor) return within(anchor);
        return within(anchor + (Math.floor((t - anchor) / every) + 1) * every);
      },
    };
  }
  const cron = new Cron(spec.cron ?? "", { paused: true, timezone: spec.timezone });
  return {
    nextAfter(t) {
      const from = Math.max(t, start - 1);
      // croner works in whole seconds from the instant after `from`.
      const next = cron.nextRun(new Date(Number.isFinite(from) ? from : 0));
      return within(next ? next.getTime() : null);
    },
  };
}

/** The next `n` ticks after `t` (fewer when the schedule ends). */
export function nextTicks(cadence: Cadence, t: number, n: number): number[] {
  const out: number[] = [];
  let at = t;
  while (out.length < n) {
    const next = cadence.nextAfter(at);
    if (next === null) break;
    out.push(next);
    at = next;
  }
  return out;
}
