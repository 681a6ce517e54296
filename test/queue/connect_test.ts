/** connect.ts: Redis URLs to cluster node lists; waiting for a (re)connection. */
import assert from "node:assert/strict";
import process from "node:process";
import type { Redis } from "ioredis";
import { clusterNodes, connect, whenReady } from "../../src/queue/connect.ts";
import { freePort, TestRedis } from "../helpers/redis_server.ts";

Deno.test("clusterNodes parses cluster URLs and comma lists, null for one server", () => {
  assert.strictEqual(clusterNodes("redis://localhost:6379"), null);
  assert.deepStrictEqual(clusterNodes("redis-cluster://a:7000,b:7001"), [
    { host: "a", port: 7000 },
    { host: "b", port: 7001 },
  ]);
  assert.deepStrictEqual(clusterNodes("redis://u:p@a:7000/0, b"), [
    { host: "a", port: 7000 },
    { host: "b", port: 6379 },
  ]);
});

Deno.test({
  name: "whenReady: concurrent waits while Redis is away share one listener, then all resolve",
  ignore: Deno.env.get("REDIS_URL") !== undefined, // stops its own server
  async fn() {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => void warnings.push(`${warning.name}: ${warning.message}`);
    process.on("warning", onWarning);
    const redis = await TestRedis.start();
    const client = connect(redis.url) as Redis;
    try {
      await whenReady(client);
      assert.strictEqual(await client.ping(), "PONG");
      await redis.stop("SIGKILL");
      while (client.status === "ready") await new Promise((r) => setTimeout(r, 10));
      const before = client.listenerCount("ready");
      // Far more than ioredis' listener limit (10), all within one outage.
      const waits = Array.from({ length: 200 }, () => whenReady(client, 10_000));
      assert.strictEqual(client.listenerCount("ready"), before + 1);
      assert.strictEqual(client.listenerCount("end"), 1);
      // Waits started later in the same outage join the same listener.
      await new Promise((r) => setTimeout(r, 50));
      const later = Array.from({ length: 50 }, () => whenReady(client, 10_000));
      assert.ok(client.listenerCount("ready") <= before + 1, "one waiting listener");
      const t0 = performance.now();
      await redis.restart();
      await Promise.all([...waits, ...later]);
      assert.strictEqual(client.status, "ready", "resolved by the reconnect, not the timeout");
      assert.ok(performance.now() - t0 < 9000);
      // Nothing of ours is left listening once the client is ready again.
      assert.strictEqual(client.listenerCount("end"), 0);
      assert.ok(client.listenerCount("ready") <= before);
      await new Promise((r) => setTimeout(r, 0)); // warnings are emitted on the next tick
      assert.deepStrictEqual(warnings.filter((w) => /MaxListeners/.test(w)), []);
      // Ended for good: resolves at once, adds nothing.
      client.disconnect();
      while (client.status !== "end") await new Promise((r) => setTimeout(r, 10));
      await whenReady(client, 10_000);
      assert.strictEqual(client.listenerCount("end"), 0);
    } finally {
      process.off("warning", onWarning);
      client.disconnect();
      await redis.close();
    }
  },
});

Deno.test("whenReady: waits for a server that never answers end at their timeout", async () => {
  const client = connect(`redis://127.0.0.1:${freePort()}`, { connectTimeoutMs: 200 }) as Redis;
  try {
    const before = client.listenerCount("ready");
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 100 }, () => whenReady(client, 100)));
    assert.ok(performance.now() - t0 < 2000, "bounded by the timeout");
    assert.ok(client.listenerCount("ready") <= before + 1);
  } finally {
    client.disconnect();
  }
});
