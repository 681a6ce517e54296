/** How `deno task start` finds a Redis: REDIS_URL, a local one, a managed one, or a clear error. */
import assert from "node:assert/strict";
import { findOrStartRedis, NoRedisError, redisAnswers } from "../../src/local_redis.ts";
import { freePort, TestRedis } from "../helpers/redis_server.ts";

Deno.test("findOrStartRedis: REDIS_URL wins; else a Redis answering on the local port", async () => {
  const given = await findOrStartRedis("redis://example:1", "/nonexistent");
  assert.deepStrictEqual([given.url, given.managed], ["redis://example:1", false]);
  const local = await TestRedis.start();
  try {
    const found = await findOrStartRedis(undefined, "/nonexistent", {
      localPort: local.port,
      canStart: () => assert.fail("must not start one"),
    });
    assert.deepStrictEqual([found.url, found.managed], [`redis://127.0.0.1:${local.port}`, false]);
  } finally {
    await local.close();
  }
});

Deno.test("findOrStartRedis: no Redis and no redis-server gives the how-to message", async () => {
  const error = await findOrStartRedis(undefined, "/nonexistent", {
    localPort: freePort(),
    canStart: () => false,
  }).then(() => null, (e) => e);
  assert.ok(error instanceof NoRedisError);
  assert.match(error.message, /apt-get install redis-server/);
  assert.match(error.message, /docker compose up -d redis/);
});

Deno.test("findOrStartRedis: starts a managed redis-server with AOF in DATA_DIR/redis, stops it", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "jq-managed-" });
  const port = freePort();
  try {
    const redis = await findOrStartRedis(undefined, dataDir, {
      localPort: freePort(),
      managedPort: port,
    });
    assert.deepStrictEqual([redis.url, redis.managed], [`redis://127.0.0.1:${port}`, true]);
    assert.ok(await redisAnswers("127.0.0.1", port));
    const files = [...Deno.readDirSync(`${dataDir}/redis`)].map((e) => e.name);
    assert.ok(
      files.some((f) => f.startsWith("appendonly")),
      `AOF files in ${files.join(", ")}`,
    );
    await redis.stop();
    assert.strictEqual(await redisAnswers("127.0.0.1", port), false, "stopped on exit");
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
