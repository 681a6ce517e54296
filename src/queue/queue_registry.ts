/**
 * The deployment's known queues and its home queue, kept in Redis
 * (`GlobalKeys`). A queue is known once a job was submitted to it (or it was
 * configured); workers that serve "every queue" read the list every few
 * seconds. The home queue is the one whose job ids are plain UUIDs
 * (`job_id.ts`): chosen once, by the first process of this release to start,
 * and never changed.
 *
 * Upgrading from a single-queue release: such data has one queue's keys and
 * no registry. The first start finds that queue (a SCAN for queue meta keys,
 * once) and makes it the home queue, so its plain ids keep resolving. Data of
 * several single-queue deployments in one Redis cannot all keep plain ids:
 * the first start then refuses with `LegacyDataError`.
 *
 * @module
 */
import { Cluster } from "ioredis";
import type { RedisClient } from "./connect.ts";
import { type GlobalKeys, isValidQueueName } from "./keys.ts";
import { InvalidInputError, QueueError } from "./errors.ts";
import { mirrorNewQueue } from "./webhook_mirror.ts";

/** Most queues one deployment may hold: each costs workers serving "every queue" keys per wait. */
export const MAX_QUEUES = 1000;

/** How long a read of the known queues is reused by workers serving every queue. */
export const KNOWN_QUEUES_TTL_MS = 5000;

/** Runs a command on the broker's main connection (with its error mapping). */
export type RegistryCommand = <T>(run: (client: RedisClient) => Promise<T>) => Promise<T>;

/**
 * Data of several single-queue releases share this Redis; see the module doc.
 * Every call fails with it (HTTP 503 `storage_format`) until that is fixed
 * and the process restarted.
 */
export class LegacyDataError extends QueueError {
  constructor(readonly queues: string[]) {
    super(
      "storage_format",
      `this Redis holds the data of ${queues.length} single-queue deployments ` +
        `(queues ${queues.join(", ")}); plain job ids can name only one of them. ` +
        `Drain and purge all but one with the release that wrote them, then start again.`,
    );
    this.name = "LegacyDataError";
  }
}

/** Known queues and the home queue of one deployment. */
export class QueueRegistry {
  readonly #keys: GlobalKeys;
  readonly #prefix: string;
  readonly #defaultQueue: string;
  readonly #cmd: RegistryCommand;
  readonly #client: () => RedisClient;
  #home: Promise<string> | null = null;
  #homeName: string | null = null;
  /** Queues known to exist (only grows: queues are never removed). */
  readonly #known = new Set<string>();
  /** `ensure` calls in flight, by queue. */
  readonly #ensuring = new Map<string, Promise<void>>();
  #knownReadAt = -Infinity;
  #reading: Promise<string[]> | null = null;

  constructor(options: {
    keys: GlobalKeys;
    prefix: string;
    /** The queue of submits that name none; the home queue of a fresh deployment. */
    defaultQueue: string;
    cmd: RegistryCommand;
    client: () => RedisClient;
  }) {
    this.#keys = options.keys;
    this.#prefix = options.prefix;
    this.#defaultQueue = options.defaultQueue;
    this.#cmd = options.cmd;
    this.#client = options.client;
  }

  /** The home queue once known (after `home()` resolved), else null. */
  get homeName(): string | null {
    return this.#homeName;
  }

  /** The home queue (decided on the first call of the first process; see the module doc). */
  home(): Promise<string> {
    this.#home ??= this.#decideHome().then((name) => {
      this.#homeName = name;
      return name;
    }, (error) => {
      // A connection failure is not an answer: ask again next time. Legacy
      // data stays refused (its SCAN is not repeated per call).
      if (!(error instanceof LegacyDataError)) this.#home = null;
      throw error;
    });
    return this.#home;
  }

  async #decideHome(): Promise<string> {
    const found = await this.#cmd((c) => c.get(this.#keys.home));
    if (found !== null) return found;
    const legacy = await this.#legacyQueues();
    if (legacy.length > 1) throw new LegacyDataError(legacy);
    const home = legacy[0] ?? this.#defaultQueue;
    const now = Date.now();
    return await this.#cmd(async (c) => {
      // Every process racing here agrees: the first SET wins.
      await c.set(this.#keys.home, home, "NX");
      for (const queue of [home, ...legacy]) {
        // New to the registry: the subscriptions that cover it start here, as in #register.
        if ((await c.hsetnx(this.#keys.queues, queue, now)) === 1) {
          await mirrorNewQueue(c, this.#prefix, queue);
        }
      }
      return (await c.get(this.#keys.home)) ?? home;
    });
  }

  /** Queues that have keys but no registry entry: a single-queue release wrote them. */
  async #legacyQueues(): Promise<string[]> {
    const client = this.#client();
    const nodes = client instanceof Cluster ? client.nodes("master") : [client];
    const pattern = `${this.#prefix}:{*}:meta`;
    const names = new Set<string>();
    for (const node of nodes) {
      let cursor = "0";
      do {
        const [next, keys] = await this.#cmd(() =>
          node.scan(cursor, "MATCH", pattern, "COUNT", 1000)
        );
        cursor = next;
        for (const key of keys) {
          const name = key.slice(this.#prefix.length + 2, key.length - "}:meta".length);
          if (isValidQueueName(name)) names.add(name);
        }
      } while (cursor !== "0");
    }
    return [...names].sort();
  }

  /**
   * Every known queue, sorted: read from Redis when the last read is older
   * than `maxAgeMs` (default: always).
   */
  async list(maxAgeMs = 0): Promise<string[]> {
    if (performance.now() - this.#knownReadAt <= maxAgeMs) return [...this.#known].sort();
    this.#reading ??= this.#cmd((c) => c.hkeys(this.#keys.queues)).then((names) => {
      for (const name of names) if (isValidQueueName(name)) this.#known.add(name);
      this.#knownReadAt = performance.now();
      return [...this.#known].sort();
    }).finally(() => {
      this.#reading = null;
    });
    return await this.#reading;
  }

  /** True when `queue` is known (asks Redis when this process has not seen it yet). */
  async has(queue: string): Promise<boolean> {
    if (this.#known.has(queue)) return true;
    if (!isValidQueueName(queue)) return false;
    const exists = await this.#cmd((c) => c.hexists(this.#keys.queues, queue));
    if (exists === 1) this.#known.add(queue);
    return exists === 1;
  }

  /**
   * Makes `queue` known before a job is written to it. Refuses a new queue
   * past `MAX_QUEUES` (InvalidInputError naming `queue`).
   */
  async ensure(queue: string): Promise<void> {
    if (this.#known.has(queue)) return;
    // Concurrent first submits to one queue share one check.
    let pending = this.#ensuring.get(queue);
    if (!pending) {
      pending = this.#register(queue).finally(() => this.#ensuring.delete(queue));
      this.#ensuring.set(queue, pending);
    }
    await pending;
  }

  async #register(queue: string): Promise<void> {
    const added = await this.#cmd(async (c) => {
      if ((await c.hexists(this.#keys.queues, queue)) === 1) return true;
      if ((await c.hlen(this.#keys.queues)) >= MAX_QUEUES) return false;
      if ((await c.hsetnx(this.#keys.queues, queue, Date.now())) === 1) {
        // A new queue: the webhook subscriptions that cover it start here (webhook_mirror.ts).
        await mirrorNewQueue(c, this.#prefix, queue);
      }
      return true;
    });
    if (!added) {
      throw new InvalidInputError(
        `queue ${JSON.stringify(queue)} would be queue ${MAX_QUEUES + 1}: ` +
          `a deployment holds at most ${MAX_QUEUES} queues`,
        "queue",
      );
    }
    this.#known.add(queue);
  }
}
