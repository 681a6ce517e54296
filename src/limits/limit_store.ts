/**
 * Where limits live (`limit.ts`): the deployment's two HASHes under `{#}`
 * (set at runtime, which win, and declared in code by `defineJob`), a version
 * counter, and each queue's mirror, which claim.lua reads inside the claim
 * (`limits_sync.lua`). A change writes the deployment's HASH and version in
 * one MULTI, then mirrors the new state into every known queue: on
 * standalone Redis each mirror is at once; on Cluster queues live on other
 * slots, so the mirrors are separate calls (each atomic, ordered by the
 * version, so a racing older writer never wins). A process that dies between
 * the two steps leaves the mirrors one change behind until the next change,
 * a worker's start, or a process's first use of the queue re-mirrors.
 *
 * @module
 */
import type { RedisClient } from "../queue/connect.ts";
import type { GlobalKeys, QueueKeys } from "../queue/keys.ts";
import {
  encodeCircuit,
  encodeLimit,
  type Limit,
  limitField,
  limitSchema,
  type LimitScope,
} from "./limit.ts";

/** One limit as `GET /limits` shows it. */
export interface LimitEntry {
  scope: LimitScope;
  name: string;
  /** The limit in force: the runtime one, else the code's. */
  limit: Limit;
  /** Where `limit` comes from. */
  source: "api" | "code";
  /** What `defineJob` declares (type scope), shown also while overridden. */
  declared: Limit | null;
  /** What it holds back, summed over the queues it applies in. */
  held: HeldBack;
}

/** Work a limit holds back. */
export interface HeldBack {
  /**
   * Ready jobs of the type parked now, waiting for room (type scope); null
   * for a queue's limit, whose jobs wait in the pending lists.
   */
  jobs: number | null;
  /** Claims that found ready work held back by it, by reason, since the queue began. */
  claims: { rate: number; concurrency: number; paused: number; circuit: number };
  /**
   * A type's circuit breaker (null: none): the worst state over its queues,
   * and how many transitions it made.
   */
  circuit: { state: "closed" | "open" | "half_open"; transitions: number } | null;
}

/** What the store needs of its broker. */
export interface LimitStoreDeps {
  /** Runs a command on the main connection, mapping failures to queue errors. */
  run<T>(command: (client: RedisClient) => Promise<T>): Promise<T>;
  keys: GlobalKeys;
  /** Every known queue. */
  queues(): Promise<string[]>;
  /** A queue's keys. */
  queueKeys(queue: string): QueueKeys;
  /**
   * Mirrors `limits` (field -> encoded) at `version` into `queue`;
   * `formatChecked`: the caller is the queue's format check itself.
   */
  mirror(
    queue: string,
    version: number,
    limits: Array<[string, string]>,
    formatChecked: boolean,
  ): Promise<void>;
}

/** Most groups of a type whose parked jobs `GET /limits` counts (a read, not a claim). */
const MAX_GROUPS_READ = 1000;

/** Placeholder until `list` reads what is held back. */
const NOTHING_HELD: HeldBack = {
  jobs: null,
  claims: { rate: 0, concurrency: 0, paused: 0, circuit: 0 },
  circuit: null,
};

/** The deployment's limits, read in one go. */
interface Snapshot {
  version: number;
  entries: LimitEntry[];
}

function parse(text: string): Limit | null {
  try {
    const parsed = limitSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

function splitField(field: string): { scope: LimitScope; name: string } | null {
  const at = field.indexOf(":");
  const scope = field.slice(0, at);
  if (scope !== "type" && scope !== "queue") return null;
  return { scope, name: field.slice(at + 1) };
}

function pairs(flat: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i], flat[i + 1]);
  return out;
}

/** The limits store of one deployment. */
export class LimitStore {
  readonly #d: LimitStoreDeps;

  constructor(deps: LimitStoreDeps) {
    this.#d = deps;
  }

  /** Every limit in force, sorted by scope and name, with what each holds back. */
  async list(): Promise<LimitEntry[]> {
    const { entries } = await this.#snapshot();
    if (entries.length === 0) return entries;
    const queues = await this.#d.queues();
    await Promise.all(entries.map(async (entry) => {
      entry.held = await this.#held(entry, queues);
    }));
    return entries;
  }

  /** A per-group type's parked jobs, over the first `MAX_GROUPS_READ` groups of its ring. */
  async #parkedInGroups(limitPrefix: string, type: string): Promise<number> {
    const groups = await this.#d.run((c) =>
      c.lrange(`${limitPrefix}ring:${type}`, 0, MAX_GROUPS_READ - 1)
    );
    if (groups.length === 0) return 0;
    const lengths = await this.#d.run((c) =>
      Promise.all(groups.map((g) => c.llen(`${limitPrefix}h:${type}|${g}`)))
    );
    return lengths.reduce((a, b) => a + b, 0);
  }

  async #held(entry: LimitEntry, queues: string[]): Promise<HeldBack> {
    const field = limitField(entry.scope, entry.name);
    const where = entry.scope === "queue" ? queues.filter((q) => q === entry.name) : queues;
    const breaker = entry.scope === "type" && entry.limit.circuit !== undefined;
    const held: HeldBack = {
      jobs: entry.scope === "type" ? 0 : null,
      claims: { rate: 0, concurrency: 0, paused: 0, circuit: 0 },
      circuit: breaker ? { state: "closed", transitions: 0 } : null,
    };
    const rank = { closed: 0, half_open: 1, open: 2 } as const;
    await Promise.all(where.map(async (queue) => {
      const { limitPrefix, limits } = this.#d.queueKeys(queue);
      const [parked, counts, state] = await this.#d.run((c) =>
        Promise.all([
          entry.scope === "type" ? c.llen(`${limitPrefix}h:${entry.name}`) : Promise.resolve(0),
          c.hmget(
            `${limitPrefix}n`,
            `${field}|rate`,
            `${field}|concurrency`,
            `${field}|paused`,
            `${field}|circuit`,
            `${field}|transitions`,
          ),
          breaker ? c.hget(limits, `o:${field}`) : Promise.resolve(null),
        ])
      );
      if (held.jobs !== null) {
        held.jobs += parked + await this.#parkedInGroups(limitPrefix, entry.name);
      }
      held.claims.rate += Number(counts[0] ?? 0);
      held.claims.concurrency += Number(counts[1] ?? 0);
      held.claims.paused += Number(counts[2] ?? 0);
      held.claims.circuit += Number(counts[3] ?? 0);
      if (held.circuit) {
        held.circuit.transitions += Number(counts[4] ?? 0);
        const now = state?.startsWith("open:")
          ? "open"
          : state?.startsWith("half:")
          ? "half_open"
          : "closed";
        if (rank[now] > rank[held.circuit.state]) held.circuit.state = now;
      }
    }));
    return held;
  }

  /** Sets the runtime limit of `scope`/`name`; true when there was none. */
  async set(scope: LimitScope, name: string, limit: Limit): Promise<boolean> {
    const field = `${scope}:${name}`;
    const { keys } = this.#d;
    const reply = await this.#d.run((c) =>
      c.multi().hset(keys.limits, field, JSON.stringify(limit)).incr(keys.limitsVersion).exec()
    );
    await this.syncAll();
    return Number(reply?.[0]?.[1] ?? 0) === 1;
  }

  /** Removes the runtime limit of `scope`/`name` (a declared one applies again); false when none. */
  async remove(scope: LimitScope, name: string): Promise<boolean> {
    const field = `${scope}:${name}`;
    const { keys } = this.#d;
    const reply = await this.#d.run((c) =>
      c.multi().hdel(keys.limits, field).incr(keys.limitsVersion).exec()
    );
    await this.syncAll();
    return Number(reply?.[0]?.[1] ?? 0) === 1;
  }

  /**
   * Records what `defineJob({ limits })` declares for each type (null: none),
   * as a worker starts: the code of the newest start is what counts.
   */
  async declare(declared: ReadonlyArray<{ type: string; limit: Limit | null }>): Promise<void> {
    if (declared.length === 0) return;
    const { keys } = this.#d;
    const current = pairs(await this.#d.run((c) => c.hgetall(keys.limitsCode)).then(flatten));
    const changed = declared.filter(({ type, limit }) => {
      const was = current.get(`type:${type}`) ?? null;
      return (limit === null ? null : JSON.stringify(limit)) !== was;
    });
    if (changed.length > 0) {
      await this.#d.run((c) => {
        const m = c.multi();
        for (const { type, limit } of changed) {
          if (limit === null) m.hdel(keys.limitsCode, `type:${type}`);
          else m.hset(keys.limitsCode, `type:${type}`, JSON.stringify(limit));
        }
        return m.incr(keys.limitsVersion).exec();
      });
    }
    await this.syncAll();
  }

  /** Mirrors the limits into every known queue. */
  async syncAll(): Promise<void> {
    const snapshot = await this.#snapshot();
    const queues = await this.#d.queues();
    await Promise.all(queues.map((queue) => this.#mirror(queue, snapshot, false)));
  }

  /**
   * Mirrors the limits into `queue` from its format check (its first use by
   * this process); nothing when no limit was ever set.
   */
  async syncQueue(queue: string): Promise<void> {
    const snapshot = await this.#snapshot();
    if (snapshot.version === 0) return;
    await this.#mirror(queue, snapshot, true);
  }

  async #mirror(queue: string, snapshot: Snapshot, formatChecked: boolean): Promise<void> {
    const here: Array<[string, string]> = [];
    for (const entry of snapshot.entries) {
      if (entry.scope === "queue" && entry.name !== queue) continue;
      const { circuit } = entry.limit;
      if (entry.limit.rate !== null || entry.limit.concurrency !== null) {
        here.push([limitField(entry.scope, entry.name), encodeLimit(entry.limit)]);
      }
      if (circuit && entry.scope === "type") {
        here.push([`c:t:${entry.name}`, encodeCircuit(circuit)]);
      }
    }
    await this.#d.mirror(queue, snapshot.version, here, formatChecked);
  }

  async #snapshot(): Promise<Snapshot> {
    const { keys } = this.#d;
    const reply = await this.#d.run((c) =>
      c.multi().hgetall(keys.limits).hgetall(keys.limitsCode).get(keys.limitsVersion).exec()
    );
    const api = pairs(flatten(reply?.[0]?.[1]));
    const code = pairs(flatten(reply?.[1]?.[1]));
    const version = Number(reply?.[2]?.[1] ?? 0) || 0;
    const entries: LimitEntry[] = [];
    for (const field of new Set([...api.keys(), ...code.keys()])) {
      const where = splitField(field);
      if (!where) continue;
      const set = api.has(field) ? parse(api.get(field)!) : null;
      const declared = code.has(field) ? parse(code.get(field)!) : null;
      const limit = set ?? declared;
      if (!limit) continue;
      entries.push({ ...where, limit, source: set ? "api" : "code", declared, held: NOTHING_HELD });
    }
    entries.sort((a, b) =>
      a.scope === b.scope
        ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
        : a.scope < b.scope
        ? 1
        : -1
    );
    return { version, entries };
  }
}

/** HGETALL's reply as ioredis gives it (an object) flattened to [field, value, ...]. */
function flatten(value: unknown): string[] {
  if (!value || typeof value !== "object") return [];
  return Object.entries(value as Record<string, string>).flat();
}
