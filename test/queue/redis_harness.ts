/**
 * `SuiteHarness` for `RedisBroker`: one throwaway redis-server per test (or
 * REDIS_URL with a unique queue name), and a keyspace dump as the snapshot.
 *
 * @module
 */
import { queueKeyPattern } from "../../src/queue/keys.ts";
import { Redis } from "ioredis";
import { RedisBroker, type RedisBrokerOptions } from "../../src/queue/redis_broker.ts";
import { TestRedis } from "../helpers/redis_server.ts";
import { scanKeys } from "../helpers/scan.ts";
import type { MakeOptions, SuiteHarness } from "./broker_suite.ts";

/** A harness plus direct access to its server for Redis-specific assertions. */
export interface RedisHarness extends SuiteHarness {
  redis: Redis;
  server: TestRedis;
  queue: string;
  makeRedis(options?: MakeOptions & Partial<RedisBrokerOptions>): Promise<RedisBroker>;
  /** Every key of this test's queue. */
  keys(): Promise<string[]>;
}

/** Starts a server (or adopts REDIS_URL) and returns a harness bound to a fresh queue. */
export async function redisHarness(options: { aof?: boolean } = {}): Promise<RedisHarness> {
  const server = await TestRedis.start({ aof: options.aof });
  const queue = `t${crypto.randomUUID().slice(0, 8)}`;
  const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  redis.on("error", () => {});
  const brokers: RedisBroker[] = [];
  const keys = () => scanKeys(redis, queueKeyPattern(queue));
  const makeRedis = (o: MakeOptions & Partial<RedisBrokerOptions> = {}) => {
    const broker = new RedisBroker({ url: server.url, queue, ...o });
    brokers.push(broker);
    return Promise.resolve(broker);
  };
  return {
    redis,
    server,
    queue,
    keys,
    makeRedis,
    make: makeRedis,
    async snapshot() {
      const parts: string[] = [];
      for (const key of await keys()) {
        const dump = await redis.dumpBuffer(key);
        // DUMP embeds no timestamps; the stream's content and the TTLs are what we compare.
        parts.push(`${key}=${dump ? btoa(String.fromCharCode(...dump.subarray(0, 4096))) : ""}`);
        parts.push(`${key}:ttl=${(await redis.pttl(key)) > 0 ? "set" : "none"}`);
      }
      return parts.join("\n");
    },
    async cleanup() {
      await Promise.all(brokers.map((b) => b.close()));
      if (server.external) {
        const all = await keys();
        if (all.length) await redis.del(...all);
      }
      redis.disconnect();
      await server.close();
    },
  };
}

/**
 * A `Deno.test` with its own harness, cleaned up however the test ends.
 *
 * @example
 * ```ts
 * redisTest("stats survive", async (h) => {
 *   const b = await h.makeRedis();
 * });
 * ```
 */
export function redisTest(
  name: string,
  fn: (h: RedisHarness) => Promise<void>,
  options: { aof?: boolean } = {},
): void {
  Deno.test({
    name,
    // Brokers keep reconnect timers and blocking connections until cleanup.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const h = await redisHarness(options);
      try {
        await fn(h);
      } finally {
        await h.cleanup();
      }
    },
  });
}
