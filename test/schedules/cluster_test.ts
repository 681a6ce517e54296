/**
 * Schedules on a local three-master Redis Cluster: every schedule script
 * touches only the deployment's slot (`{#}`), the tick's job goes to its
 * queue's slot through the broker, and two loops still make one job per tick;
 * a pause is heard by both (pub/sub in a script on Cluster).
 */
import assert from "node:assert/strict";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { startSchedules } from "../../src/schedules/runtime.ts";
import { clusterTestsEnabled, TestRedisCluster } from "../helpers/redis_cluster.ts";
import { contiguous, QUICK, wait } from "./helpers.ts";

Deno.test({
  name: "cluster: two loops on every_ms 1000 make one job per tick; pause holds",
  ignore: !clusterTestsEnabled(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const cluster = await TestRedisCluster.start();
    const broker = new RedisBroker({ url: cluster.url, queue: "sched" });
    const registry = await loadRegistry();
    const log = createLogger({ level: "silent" });
    const runtimes = await Promise.all([
      startSchedules({ url: cluster.url, broker, registry, log, tick: false }),
      startSchedules({ url: cluster.url, broker, registry, log }),
      startSchedules({ url: cluster.url, broker, registry, log }),
    ]);
    const { service } = runtimes[0];
    const ticks = async () =>
      (await service.producers(await service.jobIds("c", 0, 100)))
        .map((p) => Date.parse(p!.tick)).sort((a, b) => a - b);
    try {
      // In another queue than the broker's default: its keys are on another slot than `{#}`.
      await service.save({ name: "c", every_ms: 1000, queue: "elsewhere", ...QUICK }, {
        create: true,
      });
      await wait(3500);
      await service.setPaused("c", true);
      const made = await ticks();
      assert.ok(made.length >= 3 && made.length <= 4, `3 or 4 ticks: ${made.length}`);
      assert.ok(contiguous(made, 1000), String(made));
      assert.strictEqual((await broker.stats("elsewhere")).pending, made.length);
      await wait(1500);
      assert.strictEqual((await ticks()).length, made.length, "paused");
    } finally {
      await Promise.all(runtimes.map((r) => r.close()));
      await broker.close();
      cluster.killSync();
    }
  },
});
