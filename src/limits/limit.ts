/**
 * A flow-control limit, as `defineJob({ limits })` declares it, the API takes
 * and shows it, and the claim script reads it (`encodeLimit`): a **rate**
 * (at most `max` job starts in any window of `per_ms`, cluster-wide) and/or a
 * **concurrency** (at most N running at once, cluster-wide), at the scope of
 * a job type or of a queue.
 *
 * @module
 */
import { z } from "zod";

/** The scopes a limit applies to. */
export const LIMIT_SCOPES = ["type", "queue"] as const;

/** A limit's scope. */
export type LimitScope = typeof LIMIT_SCOPES[number];

/** Longest rate window: a day. */
export const MAX_LIMIT_WINDOW_MS = 24 * 60 * 60 * 1000;
/** Most starts per window: the rate's log holds at most one entry per start. */
export const MAX_LIMIT_RATE = 1_000_000;
/** Highest concurrency cap. */
export const MAX_LIMIT_CONCURRENCY = 1_000_000;

/** What `PUT /limits/:scope/:name` takes (and `defineJob({ limits })`). */
export const limitSchema = z.object({
  rate: z.object({
    max: z.int().min(1).max(MAX_LIMIT_RATE).describe("Most job starts in any window"),
    per_ms: z.int().min(1).max(MAX_LIMIT_WINDOW_MS).describe("The window, in ms"),
  }).strict().nullable().default(null)
    .describe(
      "At most max job starts in any window of per_ms, over every worker (a sliding log " +
        "kept in Redis; bursts of up to max). null: no rate limit",
    ),
  concurrency: z.int().min(1).max(MAX_LIMIT_CONCURRENCY).nullable().default(null)
    .describe("Most jobs running at once, over every worker. null: no cap"),
  circuit: z.object({
    failure_rate: z.number().gt(0).max(1).describe(
      "Opens when at least this share of the calls in the window failed (0 < x <= 1)",
    ),
    window_ms: z.int().min(1).max(MAX_LIMIT_WINDOW_MS).describe("The sliding window, in ms"),
    min_calls: z.int().min(1).max(1_000_000).describe("Fewer calls in the window never open it"),
    cooldown_ms: z.int().min(1).max(MAX_LIMIT_WINDOW_MS).describe("How long it stays open"),
    probes: z.int().min(1).max(1000).default(1)
      .describe("Jobs let through half-open; all must succeed to close it"),
  }).strict().optional().describe(
    "A job type's circuit breaker: while open its jobs are not claimed (they wait, no " +
      "attempt charged); after the cooldown a few probes run, and it closes when they succeed",
  ),
  per_group: z.boolean().optional().describe(
    "A job type's limit only: applies to each group (the submit's `group`) apart, and claims " +
      "rotate fairly between the groups with ready work",
  ),
}).strict().refine((l) => l.rate !== null || l.concurrency !== null || l.circuit !== undefined, {
  message: "a limit needs a rate, a concurrency or a circuit (DELETE removes one)",
  path: ["rate"],
});

/** A limit. */
export type Limit = z.output<typeof limitSchema>;

/** What `defineJob({ limits })` accepts: the type's own limit, fields optional. */
export type LimitInput = z.input<typeof limitSchema>;

/**
 * The form the claim script parses (`_limits.lua`'s parseLimit):
 * `"max,per_ms,concurrency"`, 0 where a part is absent, then `",g"` for a
 * per-group limit.
 */
export function encodeLimit(limit: Limit): string {
  const base = `${limit.rate?.max ?? 0},${limit.rate?.per_ms ?? 0},${limit.concurrency ?? 0}`;
  return limit.per_group ? `${base},g` : base;
}

/**
 * A circuit breaker as circuit.lua and claim.lua read it (field `c:t:<type>`):
 * `"permille,window_ms,min_calls,cooldown_ms,probes"`.
 */
export function encodeCircuit(circuit: NonNullable<Limit["circuit"]>): string {
  return [
    Math.round(circuit.failure_rate * 1000),
    circuit.window_ms,
    circuit.min_calls,
    circuit.cooldown_ms,
    circuit.probes,
  ].join(",");
}

/** The field of a scope in a queue's limits HASH (`QueueKeys.limits`). */
export function limitField(scope: LimitScope, name: string): string {
  return scope === "queue" ? "q" : `t:${name}`;
}
