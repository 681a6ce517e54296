/**
 * `msgpack.ts` against the real thing: Redis' built-in `cmsgpack` in a
 * throwaway redis-server. What we write cmsgpack reads and, for everything a
 * record holds, packs back to the very same bytes; what cmsgpack writes we
 * read to the values Lua had.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Redis } from "ioredis";
import { Embedded, pack, type Packed, unpack } from "../../src/queue/msgpack.ts";
import { newRecord } from "../../src/queue/record.ts";
import { TestRedis } from "../helpers/redis_server.ts";

async function withRedis(fn: (redis: Redis) => Promise<void>): Promise<void> {
  const server = await TestRedis.start();
  const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  try {
    await fn(redis);
  } finally {
    redis.disconnect();
    await server.stop();
    if (!server.external) await Deno.remove(server.dir, { recursive: true });
  }
}

/** `cmsgpack.pack(cmsgpack.unpack(data))`. */
async function throughLua(redis: Redis, data: Uint8Array): Promise<Uint8Array> {
  return await redis.callBuffer(
    "EVAL",
    "return cmsgpack.pack(cmsgpack.unpack(ARGV[1]))",
    0,
    Buffer.from(data),
  ) as Buffer;
}

const hex = (data: Uint8Array) => Buffer.from(data).toString("hex");

const record = {
  type: "email",
  payload: JSON.stringify({ to: "user@example.com", subject: "Welcome, é漢😀", body: "x" }),
  priority: 5,
  maxAttempts: 3,
  timeoutMs: 300_000,
  createdAt: 1_800_000_000_000,
  dueAt: 0,
  backoff: "",
  idempotencyKey: "",
};

Deno.test("cmsgpack packs what we pack back to the same bytes, for all a record holds", async () => {
  await withRedis(async (redis) => {
    const values: Packed[] = [
      null,
      true,
      false,
      0,
      127,
      128,
      255,
      256,
      65535,
      65536,
      2 ** 32 - 1,
      2 ** 32,
      1_800_000_000_000,
      Number.MAX_SAFE_INTEGER,
      -1,
      -32,
      "",
      "a".repeat(31),
      "b".repeat(32),
      "c".repeat(255),
      "d".repeat(256),
      "e".repeat(65536),
      "é漢😀",
      [],
      Array.from({ length: 16 }, (_, i) => i),
      Array.from({ length: 70000 }, () => 1),
      { a: [true, false, "x"] },
      newRecord(record),
      newRecord({ ...record, dueAt: 1_800_000_001_000 }),
      newRecord({ ...record, backoff: '{"kind":"polynomial"}', idempotencyKey: "k" }),
    ];
    for (const value of values) {
      const ours = pack(value);
      assert.strictEqual(
        hex(await throughLua(redis, ours)),
        hex(ours),
        `bytes of ${JSON.stringify(value)?.slice(0, 40)}`,
      );
    }
  });
});

Deno.test("cmsgpack reads every value we pack to the same value, where its bytes differ too", async () => {
  await withRedis(async (redis) => {
    // cmsgpack writes float32 where it is exact and int8/int16 for small
    // negatives (we write float64 and int32): other bytes, the same values.
    const values: Packed[] = [
      -33,
      -(2 ** 31),
      -(2 ** 31) - 1,
      0.5,
      -1.25,
      0.1,
      2 ** 64,
      { a: 1, b: "two", c: [3] },
      Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])),
    ];
    for (const value of values) {
      assert.deepStrictEqual(unpack(await throughLua(redis, pack(value))), value);
    }
    assert.notStrictEqual(hex(await throughLua(redis, pack(0.5))), hex(pack(0.5)), "float32");
    assert.notStrictEqual(hex(await throughLua(redis, pack(-33))), hex(pack(-33)), "int8");
  });
});

Deno.test("an Embedded record reaches Lua as exactly the record packed on its own", async () => {
  await withRedis(async (redis) => {
    const inner = newRecord(record);
    const batch = pack([["id-1", "email", 5, 0, "", false, new Embedded(inner)]]);
    const stored = await redis.callBuffer(
      "EVAL",
      "return cmsgpack.unpack(ARGV[1])[1][7]",
      0,
      Buffer.from(batch),
    ) as Buffer;
    assert.strictEqual(hex(stored), hex(pack(inner)));
    assert.deepStrictEqual(unpack(stored), inner);
  });
});

Deno.test("we read what cmsgpack writes: widths, float32, negatives, tables with holes", async () => {
  await withRedis(async (redis) => {
    const lua = async (body: string) =>
      unpack(await redis.callBuffer("EVAL", `return cmsgpack.pack(${body})`, 0) as Buffer);
    assert.deepStrictEqual(
      await lua(
        '{"email", 12.5, -1, -100, -40000, -3000000000, 1800000000000, 65536, true, false, ' +
          '{{1, "e", 5}}}',
      ),
      ["email", 12.5, -1, -100, -40000, -3000000000, 1800000000000, 65536, true, false, [[
        1,
        "e",
        5,
      ]]],
    );
    assert.strictEqual(await lua("0.1"), 0.1);
    assert.strictEqual(await lua(`string.rep("x", 70000)`), "x".repeat(70000));
    // A table with holes is packed as a map with integer keys (unpackRecord reads both).
    assert.deepStrictEqual(await lua('{[1] = "t", [3] = 2, [14] = 99}'), {
      "1": "t",
      "3": 2,
      "14": 99,
    });
    assert.deepStrictEqual(await lua("{}"), []);
  });
});
