/**
 * Idle cost on a real three-master Redis Cluster: a real Runner serving 1 or
 * 20 queues (their hash tags spread over the masters) must cost at most 2
 * commands per second, summed over every master's `INFO commandstats` (the
 * commands a Lua script runs included), over 20 s. On Cluster one BLPOP
 * cannot span slots and each queue's maintenance is a call of its own, so
 * the worker listens to published wakes and due times instead
 * (`cluster_signals.ts`) and visits only queues with something due.
 *
 * The idle worker must still do its job: a delayed job submitted to the
 * twentieth queue while it idles is promoted and claimed.
 */
import assert from "node:assert/strict";
import { Cluster } from "ioredis";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { createLogger } from "../../src/log.ts";
import { Runner } from "../../src/worker/runner.ts";
import { idlePool, totalCalls } from "../helpers/idle.ts";
import { clusterTestsEnabled, TestRedisCluster } from "../helpers/redis_cluster.ts";

const enabled = clusterTestsEnabled();

const cluster = enabled ? await TestRedisCluster.start() : null;
globalThis.addEventListener("unload", () => cluster?.killSync());

for (const queues of [1, 20]) {
  Deno.test({
    name:
      `cluster: an idle runner serving ${queues} queue(s) costs at most 2 Redis commands per second over all masters`,
    ignore: !enabled,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const admin = new Cluster(cluster!.ports.map((port) => ({ host: "127.0.0.1", port })));
      admin.on("error", () => {});
      const prefix = `jq${crypto.randomUUID().slice(0, 6)}`;
      const names = Array.from({ length: queues }, (_, i) => `q${i}`);
      // Make the queues known (a configured queue exists from the start).
      const setup = new RedisBroker({
        url: cluster!.url,
        prefix,
        queue: names[0],
        serve: { queues: names.map((name) => ({ name, weight: 1 })), order: "strict" },
      });
      await setup.heartbeat();
      // As a process that exits cleanly: its owner entry is gone (else the
      // runner would judge it dead mid-measurement and sweep every queue once).
      await admin.zrem(`${prefix}:{#}:owners`, setup.owner);
      const masters = new Set(
        await Promise.all(names.map(async (name) => {
          const key = `${prefix}:{${name}}:probe`;
          await admin.set(key, "1");
          try {
            // A master that does not own the slot answers MOVED.
            for (const [i, node] of admin.nodes("master").entries()) {
              if ((await node.exists(key).catch(() => 0)) === 1) return i;
            }
            return -1;
          } finally {
            await admin.del(key);
          }
        })),
      );
      if (queues > 1) assert.ok(masters.size >= 2, "the queues spread over several masters");
      const broker = new RedisBroker({
        url: cluster!.url,
        prefix,
        queue: names[0],
        serve: { queues: "all", order: "weighted" },
      });
      const runner = new Runner({
        broker,
        log: createLogger({ level: "silent" }),
        pool: () => idlePool,
        definitionOf: () => undefined,
        concurrency: 10,
        drainMs: 100,
      });
      const exit = runner.run();
      const calls = async () => {
        let total = 0;
        for (const node of admin.nodes("master")) {
          total += totalCalls(String(await node.info("commandstats")));
        }
        return total;
      };
      try {
        await new Promise((r) => setTimeout(r, 2000)); // start-up: scripts, first visits
        const before = await calls();
        const seconds = 20;
        await new Promise((r) => setTimeout(r, seconds * 1000));
        // Each INFO of the first round counts once on its node.
        const rate = (await calls() - before - admin.nodes("master").length) / seconds;
        console.log(`idle runner on Cluster, ${queues} queue(s): ${rate} commands/s`);
        assert.ok(rate <= 2, `idle runner sent ${rate} commands/s`);
        const seen = Number(await admin.zscore(`${prefix}:{#}:owners`, broker.owner));
        assert.ok(Date.now() - seen < 1500, `last heartbeat ${Date.now() - seen} ms ago`);

        // Still awake: a job due in 1 s on the last queue is promoted and
        // claimed (the pool above never finishes it: it stays running).
        const last = names[names.length - 1];
        const { id } = await setup.enqueue({ type: "t", payload: 0, queue: last, delay_ms: 1000 });
        const deadline = Date.now() + 10_000;
        let job = await setup.get(id);
        while (job?.status === "scheduled" || job?.status === "pending") {
          if (Date.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 100));
          job = await setup.get(id);
        }
        assert.strictEqual(job?.status, "running", `the delayed job was claimed (${job?.status})`);
        assert.strictEqual(job?.attempts, 1);
      } finally {
        runner.stop();
        await exit;
        await broker.close();
        await setup.close();
        admin.disconnect();
      }
    },
  });
}
