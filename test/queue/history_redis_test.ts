/**
 * The per-minute history's storage on a real Redis: where the keys live, that
 * they expire, that a busy minute stays a few fields, and what a queue's
 * full 24 h costs (`MEMORY USAGE`; the README states the figure).
 */
import assert from "node:assert/strict";
import { historyKey, queueKeys } from "../../src/queue/keys.ts";
import { HISTORY_MAX_MINUTES, HISTORY_TTL_S } from "../../src/queue/history.ts";
import { redisTest } from "./redis_harness.ts";

redisTest(
  "history: one HASH per minute in the queue's hash tag, expiring after 25 h",
  async (h) => {
    const b = await h.makeRedis();
    for (let i = 0; i < 50; i++) await b.enqueue({ type: "t", payload: i });
    for (;;) {
      const jobs = await b.claim(7);
      if (jobs.length === 0) break;
      await b.completeMany(jobs.map((j) => ({ id: j.id, token: j.token, result: null })));
    }
    const keys = (await h.keys()).filter((k) => k.includes(":hist:"));
    assert.ok(keys.length >= 1 && keys.length <= 2, `one minute (two if it turned): ${keys}`);
    const minute = Number(keys[0].split(":").at(-1));
    assert.strictEqual(keys[0], historyKey(queueKeys(h.queue), minute));
    assert.ok(keys[0].startsWith(`jq:{${h.queue}}:`), "the queue's hash tag: its Cluster slot");
    for (const key of keys) {
      const ttl = await h.redis.ttl(key);
      assert.ok(ttl > HISTORY_TTL_S - 60 && ttl <= HISTORY_TTL_S, `TTL ${ttl}`);
    }
    // Per batch, one field per count and bucket touched: a few fields, not one per job.
    const fields = (await Promise.all(keys.map((k) => h.redis.hkeys(k)))).flat();
    assert.ok(new Set(fields).size <= 6, `fields ${fields}`);
    const total = (await Promise.all(keys.map((k) => h.redis.hget(k, "c"))))
      .reduce((n, c) => n + Number(c ?? 0), 0);
    assert.strictEqual(total, 50);
  },
);

redisTest(
  "history: a queue's full 24 h of minutes costs under 256 KB (MEMORY USAGE; under 512 KB of used_memory)",
  async (h) => {
    const keys = queueKeys(h.queue);
    const now = Math.floor(Date.now() / 60_000);
    const usedMemory = async () =>
      Number(/used_memory:(\d+)/.exec(await h.redis.info("memory"))?.[1]);
    const before = await usedMemory();
    const pipe = h.redis.pipeline();
    for (let m = now - HISTORY_MAX_MINUTES + 1; m <= now; m++) {
      // A busy minute: thousands done, some failures and retries, latencies
      // spread over four buckets, their sum in the millions of ms.
      pipe.hset(historyKey(keys, m), {
        c: 3000 + (m % 997),
        f: 12 + (m % 7),
        r: 40 + (m % 13),
        "l|3": 1500,
        "l|4": 900 + (m % 50),
        "l|6": 500,
        "l|9": 120,
        "l|s": 1_234_567 + m % 1000,
      });
      pipe.expire(historyKey(keys, m), HISTORY_TTL_S);
    }
    await pipe.exec();
    const grown = await usedMemory() - before;
    let bytes = 0;
    for (let m = now - HISTORY_MAX_MINUTES + 1; m <= now; m++) {
      bytes += Number(await h.redis.call("MEMORY", "USAGE", historyKey(keys, m), "SAMPLES", "0"));
    }
    console.log(
      `24 h of one queue's history: ${HISTORY_MAX_MINUTES} keys, MEMORY USAGE ${bytes} bytes, ` +
        `used_memory grew ${grown} bytes (with the expiry entries)`,
    );
    assert.ok(bytes > 0 && bytes < 256_000, `${bytes} bytes`);
    // used_memory also counts the keyspace and expiry tables growing (and client buffers): looser.
    assert.ok(grown < 512_000, `used_memory grew ${grown} bytes`);
  },
);
