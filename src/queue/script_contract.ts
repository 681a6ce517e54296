/**
 * The contract of every Lua script in `scripts/`, written once: the names of
 * its KEYS and of its ARGV in order, from which `scripts.ts` builds each
 * call's arrays (and ioredis its `numberOfKeys`). Each script's header and
 * the locals it names them by (`local runningKey = KEYS[2]`) must say the
 * same; `test/queue/script_contract_test.ts` parses them and fails on any
 * drift, as it does for the record layout and state codes in `_lib.lua`.
 *
 * ARGV starts with the queue's constants (`QUEUE_CONSTANTS`, the same for
 * every script), then the script's own `args`, then, for batch scripts, `rest`:
 * a tuple repeated once per job.
 *
 * @module
 */
import { type QueueKeys, queueKeys } from "./keys.ts";

/** Constants every script receives first, in this order (`_lib.lua` names them). */
export const QUEUE_CONSTANTS = [
  "jobPrefix",
  "pendingPrefix",
  "idempotencyPrefix",
  "eventsMaxLen",
  "returnEvents",
  "finishedTtlMs",
  "errorHistory",
  "retentionMs",
] as const;

/** A queue constant's name. */
export type QueueConstant = typeof QUEUE_CONSTANTS[number];

/** Keys that are fields of `QueueKeys` (the rest are resolved per call). */
type QueueKeyName = Exclude<
  keyof QueueKeys,
  "jobPrefix" | "pendingPrefix" | "idempotencyPrefix" | "limitPrefix" | "historyPrefix"
>;

/** One script's contract. */
export interface ScriptSpec {
  /** KEYS in order: a `QueueKeys` field, or a per-call key (e.g. `job`, one job's record). */
  readonly keys: readonly string[];
  /** The script's own ARGV after the constants, in order. */
  readonly args: readonly string[];
  /** A tuple repeated after `args`, once per job of a batch (or per queue, below). */
  readonly rest?: readonly string[];
  /**
   * Group scripts (several queues in one call, where their keys share a
   * slot): these `QueueKeys` fields follow `keys` once per queue, and `rest`
   * is the per-queue tuple of arguments, in the same order. Their number of
   * keys varies, so it is sent with each call.
   */
  readonly queueKeys?: readonly string[];
}

/** Every script's contract. */
export const SCRIPTS = {
  enqueue: {
    keys: [
      "priorities",
      "scheduled",
      "stats",
      "wake",
      "events",
      "meta",
      "waiting",
      "failed",
      "cancelled",
      "outbox",
      "dues",
      "webhookSubs",
      "webhookDeliveries",
      "webhookDue",
      "webhookWake",
    ],
    args: ["now", "strict", "jobs"],
  },
  claim: {
    keys: ["owners"],
    queueKeys: ["priorities", "running", "stats", "wake", "events", "meta", "heldTypes", "limits"],
    args: ["max", "now", "leaseMs", "tokenBase", "clockOffsetMs", "owner", "freshMs"],
    rest: ["jobPrefix", "pendingPrefix", "limitPrefix", "historyPrefix"],
  },
  complete: {
    keys: [
      "running",
      "completed",
      "stats",
      "events",
      "waiting",
      "priorities",
      "scheduled",
      "wake",
      "outbox",
      "durations",
      "webhookSubs",
      "webhookDeliveries",
      "webhookDue",
      "webhookWake",
    ],
    args: ["now", "historyPrefix"],
    rest: ["id", "token", "resultJson"],
  },
  fail: {
    keys: [
      "running",
      "scheduled",
      "failed",
      "cancelled",
      "stats",
      "events",
      "job",
      "outbox",
      "durations",
      "dues",
      "webhookSubs",
      "webhookDeliveries",
      "webhookDue",
      "webhookWake",
    ],
    args: [
      "id",
      "token",
      "now",
      "message",
      "retryable",
      "retryDelayMs",
      "timedOut",
      "historyPrefix",
    ],
  },
  renew: {
    keys: ["running"],
    args: ["now", "leaseMs"],
    rest: ["id", "token"],
  },
  release: {
    keys: [
      "running",
      "priorities",
      "failed",
      "stats",
      "wake",
      "events",
      "outbox",
      "webhookSubs",
      "webhookDeliveries",
      "webhookDue",
      "webhookWake",
    ],
    args: ["now", "restoreAttempt", "reason"],
    rest: ["id", "token"],
  },
  progress: {
    keys: ["job", "events"],
    args: ["id", "token", "now", "percent"],
  },
  maintain: {
    keys: ["owners"],
    queueKeys: [
      "priorities",
      "scheduled",
      "running",
      "completed",
      "failed",
      "cancelled",
      "stats",
      "wake",
      "events",
      "outbox",
      "webhookSubs",
      "webhookDeliveries",
      "webhookDue",
      "webhookWake",
    ],
    args: ["now", "limit", "owner", "streakFrom", "deadAfterMs", "judged"],
    rest: ["jobPrefix", "pendingPrefix", "idempotencyPrefix", "trim", "historyPrefix"],
  },
  reap_owner: {
    keys: [
      "priorities",
      "running",
      "failed",
      "cancelled",
      "stats",
      "wake",
      "events",
      "owners",
      "outbox",
      "webhookSubs",
      "webhookDeliveries",
      "webhookDue",
      "webhookWake",
    ],
    args: ["now", "owner", "reason", "historyPrefix"],
  },
  cancel: {
    keys: [
      "priorities",
      "scheduled",
      "cancelled",
      "stats",
      "events",
      "job",
      "waiting",
      "outbox",
      "webhookSubs",
      "webhookDeliveries",
      "webhookDue",
      "webhookWake",
    ],
    args: ["id", "now", "cancelChannel"],
  },
  requeue: {
    keys: ["priorities", "failed", "cancelled", "stats", "wake", "events", "job", "outbox"],
    args: ["id", "now", "revive"],
  },
  run_now: {
    keys: ["priorities", "scheduled", "stats", "wake", "job"],
    args: ["id"],
  },
  purge: {
    keys: ["finished", "stats", "outbox"],
    args: ["state", "limit"],
  },
  delete: {
    keys: ["completed", "failed", "cancelled", "stats", "outbox", "job"],
    args: ["id", "now"],
  },
  // Flows (`_flow.lua`): the outbox's deliveries, run in the receiving queue's slot.
  resolve: {
    keys: [
      "waiting",
      "priorities",
      "scheduled",
      "failed",
      "cancelled",
      "stats",
      "wake",
      "events",
      "outbox",
      "webhookSubs",
      "webhookDeliveries",
      "webhookDue",
      "webhookWake",
    ],
    args: ["now", "dependency", "outcome", "dependencyType", "value"],
    rest: ["dependent"],
  },
  link: {
    keys: ["outbox"],
    args: ["dependent", "mode"],
    rest: ["dependency"],
  },
  outbox_done: {
    keys: ["outbox"],
    args: [],
    rest: ["member", "score"],
  },
  pause: {
    keys: ["meta", "priorities", "wake"],
    args: ["paused"],
  },
  inspect: {
    keys: ["meta", "priorities"],
    args: [],
  },
  // Flow control (`src/limits/`).
  wake: {
    keys: ["wake"],
    args: [],
  },
  defer: {
    keys: ["running", "scheduled", "stats", "events", "job", "limits", "meta", "dues"],
    args: ["id", "token", "now", "delayMs", "pauseField"],
  },
  circuit: {
    keys: ["limits", "wake"],
    args: ["now", "limitPrefix"],
    rest: ["jobType", "succeeded", "failed"],
  },
  limits_sync: {
    keys: ["limits", "meta", "heldTypes", "wake"],
    args: ["version"],
    rest: ["field", "limit"],
  },
  // Completion webhooks (`src/webhooks/`): the dispatcher's side, in the queue's slot.
  webhook_claim: {
    keys: ["webhookDeliveries", "webhookDue"],
    args: ["now", "max", "leaseMs", "token"],
  },
  webhook_done: {
    keys: ["webhookDeliveries", "webhookDue", "webhookFailed", "webhookStats"],
    args: [
      "now",
      "delivery",
      "token",
      "outcome",
      "retryAt",
      "lastError",
      "status",
      "keepFailedMs",
      "maxFailed",
      "buckets",
    ],
  },
  webhook_redeliver: {
    keys: ["webhookDeliveries", "webhookDue", "webhookFailed", "webhookWake"],
    args: ["now", "delivery"],
  },
  // The schedules' scripts touch only the deployment's keys (`GlobalKeys`, passed as
  // per-call keys); they take the queue constants like every script, and ignore them.
  schedule_save: {
    keys: ["schedules", "scheduleState", "scheduleDue"],
    args: ["now", "name", "definition", "cadence", "firstTick", "create", "channel"],
  },
  schedule_remove: {
    keys: ["schedules", "scheduleState", "scheduleDue", "scheduleJobs", "jobsOfSchedule"],
    args: ["name", "channel"],
  },
  schedule_pause: {
    keys: ["schedules", "scheduleState", "scheduleDue"],
    args: ["now", "name", "paused", "channel"],
  },
  schedule_due: {
    keys: ["scheduleDue", "schedules", "scheduleState"],
    args: ["now", "limit"],
  },
  // The worker registry's scripts touch only the deployment's keys, like the schedules'.
  worker_drain: {
    keys: ["worker", "workerDrain"],
    args: ["now"],
  },
  worker_prune: {
    keys: ["workers", "worker"],
    args: ["owner"],
  },
  tenant_rate: {
    keys: ["rate"],
    args: ["now", "interval", "window", "cost"],
  },
  schedule_cas: {
    keys: ["scheduleState", "scheduleDue", "scheduleJobs"],
    args: ["now", "kept", "jobsPrefix"],
    rest: ["name", "version", "state", "due", "jobs"],
  },
} as const satisfies Record<string, ScriptSpec>;

/** A script's name (its file is `scripts/<name>.lua`). */
export type ScriptName = keyof typeof SCRIPTS;

/** Every script's name. */
export const SCRIPT_NAMES = Object.keys(SCRIPTS) as ScriptName[];

/** A value passed to a script. */
export type Arg = string | number | Uint8Array;

type SpecOf<N extends ScriptName> = typeof SCRIPTS[N];

/** The named arguments of one call of script `N`. */
export type ArgsOf<N extends ScriptName> = { readonly [A in SpecOf<N>["args"][number]]: Arg };

/** The per-call keys of script `N` (those that are not `QueueKeys` fields). */
export type CallKeysOf<N extends ScriptName> = {
  readonly [K in Exclude<SpecOf<N>["keys"][number], QueueKeyName>]: string;
};

/** The values of the queue constants, in `QUEUE_CONSTANTS` order. */
export type QueueConstants = { readonly [C in QueueConstant]: Arg };

/**
 * Builds one call's KEYS followed by its ARGV, in the contract's order.
 * `rest` is the flattened repeated tuples (a multiple of `rest.length`).
 */
export function buildCall<N extends ScriptName>(
  name: N,
  queueKeys: QueueKeys,
  constants: readonly Arg[],
  args: ArgsOf<N>,
  callKeys: CallKeysOf<N>,
  rest: readonly Arg[] = [],
): Arg[] {
  const spec: ScriptSpec = SCRIPTS[name];
  const out: Arg[] = [];
  for (const key of spec.keys) {
    const value = (callKeys as Record<string, string>)[key] ??
      (queueKeys as unknown as Record<string, string>)[key];
    if (typeof value !== "string") throw new Error(`${name}.lua: no key "${key}"`);
    out.push(value);
  }
  out.push(...constants);
  for (const arg of spec.args) {
    const value = (args as Record<string, Arg>)[arg];
    if (value === undefined) throw new Error(`${name}.lua: missing argument "${arg}"`);
    out.push(value);
  }
  if (rest.length % (spec.rest?.length ?? 1) !== 0 || (rest.length > 0 && !spec.rest)) {
    throw new Error(`${name}.lua: repeated arguments do not fit ${spec.rest ?? "none"}`);
  }
  for (const value of rest) out.push(value);
  return out;
}

/** Group script names (those with `queueKeys`). */
export type GroupScriptName = {
  [N in ScriptName]: SpecOf<N> extends { queueKeys: readonly string[] } ? N : never;
}[ScriptName];

/** The shared keys of group script `N` (its `keys`), by name. */
export type SharedKeysOf<N extends GroupScriptName> = {
  readonly [K in SpecOf<N>["keys"][number]]: string;
};

/**
 * Builds one call of a group script: the number of keys, the shared keys,
 * each queue's keys, the constants, the arguments, then each queue's tuple
 * (`rest` values, one array per queue, in the order of `queues`).
 */
export function buildGroupCall<N extends GroupScriptName>(
  name: N,
  shared: SharedKeysOf<N>,
  queues: ReadonlyArray<{ keys: QueueKeys; rest: readonly Arg[] }>,
  constants: readonly Arg[],
  args: ArgsOf<N>,
): Arg[] {
  const spec: ScriptSpec = SCRIPTS[name];
  const keys: Arg[] = spec.keys.map((key) => {
    const value = (shared as Record<string, string>)[key];
    if (typeof value !== "string") throw new Error(`${name}.lua: no key "${key}"`);
    return value;
  });
  const tuple = spec.rest?.length ?? 0;
  const rest: Arg[] = [];
  for (const q of queues) {
    for (const field of spec.queueKeys ?? []) {
      const value = (q.keys as unknown as Record<string, string>)[field];
      if (typeof value !== "string") throw new Error(`${name}.lua: no key "${field}"`);
      keys.push(value);
    }
    if (q.rest.length !== tuple) {
      throw new Error(`${name}.lua: a queue's tuple is not ${spec.rest}`);
    }
    rest.push(...q.rest);
  }
  const out: Arg[] = [keys.length, ...keys, ...constants];
  for (const arg of spec.args) {
    const value = (args as Record<string, Arg>)[arg];
    if (value === undefined) throw new Error(`${name}.lua: missing argument "${arg}"`);
    out.push(value);
  }
  out.push(...rest);
  return out;
}

/** The constants' values in contract order. */
export function constantsArgv(constants: QueueConstants): Arg[] {
  return QUEUE_CONSTANTS.map((name) => constants[name]);
}

/**
 * The constants of a script that touches no queue key (the deployment's
 * `{#}` scripts: schedules, tenants' rates): every script takes them, these
 * read at most `retentionMs`.
 */
export function globalConstantsArgv(prefix: string, retentionMs: number): Arg[] {
  const q = queueKeys("default", prefix);
  return constantsArgv({
    jobPrefix: q.jobPrefix,
    pendingPrefix: q.pendingPrefix,
    idempotencyPrefix: q.idempotencyPrefix,
    eventsMaxLen: 0,
    returnEvents: "0",
    finishedTtlMs: 0,
    errorHistory: 0,
    retentionMs,
  });
}
