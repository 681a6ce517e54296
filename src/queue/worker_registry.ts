/**
 * The Redis side of the worker registry (records: `worker_presence.ts`): a
 * worker's beat, the listing, a drain request, and forgetting a worker. The
 * broker delegates to it; every key is the deployment's (`{#}`), so on
 * Cluster every command here touches one slot.
 *
 * @module
 */
import type { RedisClient } from "./connect.ts";
import { type GlobalKeys, globalKeys, workerDrainKey, workerKey } from "./keys.ts";
import { drainWorkerScript, pruneWorkerScript } from "./scripts.ts";
import {
  MAX_LISTED_WORKERS,
  parseWorkerRecord,
  PRESENCE,
  type WorkerRecord,
} from "./worker_presence.ts";

/** What the registry needs from its broker. */
export interface WorkerRegistryOptions {
  prefix: string;
  clock: () => number;
  /** Runs a command on the broker's client, its failures typed (`RedisBroker.#raw`). */
  raw<T>(run: (client: RedisClient) => Promise<T>): Promise<T>;
}

/** Worker records in Redis. */
export class WorkerRegistry {
  readonly #o: WorkerRegistryOptions;
  readonly #keys: GlobalKeys;
  /** This broker's owner is in the index (a failed ZADD is retried at the next beat). */
  #indexed = false;
  /**
   * The last beat failed: its write may have run and cleared a drain request
   * from the record with its reply lost, so the next beat also reads the
   * request's copy (one command more, only then).
   */
  #lastBeatFailed = false;

  constructor(options: WorkerRegistryOptions) {
    this.#o = options;
    this.#keys = globalKeys(options.prefix);
  }

  /**
   * Writes `record` (one command), and indexes it when it was absent (or the
   * last indexing failed).
   * Returns the drain request the previous record carried, if any.
   */
  async beat(record: WorkerRecord): Promise<number | null> {
    const key = workerKey(this.#keys, record.id);
    let kept: string | null = null;
    let previous: string | null;
    try {
      if (this.#lastBeatFailed) {
        kept = await this.#o.raw((c) => c.get(workerDrainKey(this.#keys, record.id)));
      }
      previous = await this.#o.raw((c) =>
        c.set(key, JSON.stringify(record), "PX", PRESENCE.ttlMs, "GET")
      );
      this.#lastBeatFailed = false;
    } catch (error) {
      this.#lastBeatFailed = true;
      throw error;
    }
    // Absent before: a first beat, or one after the record expired (a reader may have
    // dropped the index entry since).
    if (previous === null || !this.#indexed) {
      this.#indexed = false;
      await this.#o.raw((c) => c.zadd(this.#keys.workers, record.beat_at, record.id));
      this.#indexed = true;
    }
    const asked = parseWorkerRecord(previous)?.drain_requested_at ?? null;
    return asked ?? (kept !== null && Number(kept) > 0 ? Number(kept) : null);
  }

  /** Every registered worker with a record; index entries of expired ones are dropped. */
  async list(): Promise<WorkerRecord[]> {
    const ids = await this.#o.raw((c) => c.zrange(this.#keys.workers, 0, MAX_LISTED_WORKERS - 1));
    if (ids.length === 0) return [];
    const raws = await this.#o.raw((c) => c.mget(...ids.map((id) => workerKey(this.#keys, id))));
    const out: WorkerRecord[] = [];
    const gone: string[] = [];
    ids.forEach((id, i) => {
      const record = parseWorkerRecord(raws[i] ?? null);
      if (record) out.push(record);
      else if (raws[i] === null) gone.push(id);
    });
    // Rare (a worker died without a word, once): one small script each.
    await Promise.all(
      gone.map((id) =>
        this.#o.raw((c) => pruneWorkerScript(c, this.#keys, this.#o.prefix, id)).catch(() => false)
      ),
    );
    return out;
  }

  /** Writes a drain request into worker `owner`'s record (see `worker_drain.lua`). */
  drain(owner: string): Promise<boolean> {
    return this.#o.raw((c) =>
      drainWorkerScript(c, this.#keys, this.#o.prefix, owner, this.#o.clock())
    );
  }

  /** Removes worker `owner` at once (it stopped, or its supervisor saw it die). */
  async forget(owner: string): Promise<void> {
    await this.#o.raw((c) =>
      c.multi().del(workerKey(this.#keys, owner)).zrem(this.#keys.workers, owner).exec()
    );
  }
}
