/**
 * Named queues on a real three-master Redis Cluster: two queues whose hash
 * tags land on different masters, one broker serving both. One BLPOP cannot
 * span slots, so its waits listen to the wakes the scripts publish; pause
 * works there too.
 */
import assert from "node:assert/strict";
import { Cluster } from "ioredis";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import {
  clusterTestsEnabled,
  queuesOnTwoMasters,
  TestRedisCluster,
} from "../helpers/redis_cluster.ts";
import type { ClaimedJob } from "../../src/queue/job.ts";
import { createLogger } from "../../src/log.ts";
import { Runner } from "../../src/worker/runner.ts";

const enabled = clusterTestsEnabled();

Deno.test({
  name: "cluster: one broker serves two queues on different masters; both drain; pause holds",
  ignore: !enabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await TestRedisCluster.start();
    const admin = new Cluster(cluster.ports.map((port) => ({ host: "127.0.0.1", port })));
    admin.on("error", () => {});
    const prefix = `jq${crypto.randomUUID().slice(0, 6)}`;
    const [a, b] = await queuesOnTwoMasters(admin, prefix);
    const api = new RedisBroker({ url: cluster.url, prefix, queue: a });
    const worker = new RedisBroker({
      url: cluster.url,
      prefix,
      queue: a,
      serve: { queues: [{ name: a, weight: 1 }, { name: b, weight: 1 }], order: "weighted" },
    });
    const queueOf = (id: string) => id.includes(":") ? id.slice(0, id.indexOf(":")) : a;
    const drain = async (until: (seen: string[]) => boolean) => {
      const seen: string[] = [];
      const deadline = Date.now() + 15_000;
      while (!until(seen) && Date.now() < deadline) {
        const jobs: ClaimedJob[] = await worker.claim(20, { waitMs: 500 });
        for (const j of jobs) seen.push(queueOf(j.id));
        if (jobs.length) {
          await worker.completeMany(jobs.map((j) => ({ id: j.id, token: j.token, result: 1 })));
        }
      }
      return seen;
    };
    try {
      // A wait on both queues (one connection each) ends with the job of either.
      const waiting = worker.claim(5, { waitMs: 10_000 });
      await new Promise((r) => setTimeout(r, 300));
      const started = performance.now();
      const { id } = await api.enqueue({ type: "t", payload: 0, queue: b });
      const woken = await waiting;
      assert.deepStrictEqual(woken.map((j) => j.id), [id]);
      assert.ok(performance.now() - started < 1000, "woken at once");
      await worker.completeMany(woken.map((j) => ({ id: j.id, token: j.token, result: 1 })));

      const jobs = (queue: string) =>
        Array.from({ length: 50 }, (_, i) => ({ type: "t", payload: i, queue }));
      await api.enqueueBatch(jobs(a));
      await api.enqueueBatch(jobs(b));
      // Both drain through the one broker.
      const both = await drain((seen) => seen.length >= 100);
      assert.strictEqual(both.filter((q) => q === a).length, 50);
      assert.strictEqual(both.filter((q) => q === b).length, 50);
      // Its waits block no connection (they listen to the published wakes,
      // on one subscription), so none is left blocked behind a claim.
      let blocking = 0;
      let listening = 0;
      for (const node of admin.nodes("master")) {
        const list = String(await node.call("CLIENT", "LIST")).split("\n");
        blocking += list.filter((line) => / name=jq:block /.test(line) && / cmd=blpop /.test(line))
          .length;
        listening += list.filter((line) => / name=jq:signals /.test(line)).length;
      }
      console.log(`after the drain: ${blocking} blocked, ${listening} listening`);
      assert.strictEqual(blocking, 0);
      assert.strictEqual(listening, 1);
      // Once both queues were found empty, a claim that tries only woken
      // queues sends nothing; one that tries every queue sends a call each.
      assert.deepStrictEqual(await worker.claim(5, { onlyWoken: true }), []);
      const scriptCalls = async () => {
        let total = 0;
        for (const node of admin.nodes("master")) {
          const info = String(await node.info("commandstats"));
          total += Number(/^cmdstat_evalsha:calls=(\d+)/m.exec(info)?.[1] ?? 0);
        }
        return total;
      };
      let before = await scriptCalls();
      assert.deepStrictEqual(await worker.claim(5, { onlyWoken: true }), []);
      assert.strictEqual(await scriptCalls() - before, 0);
      before = await scriptCalls();
      assert.deepStrictEqual(await worker.claim(5), []);
      assert.strictEqual(await scriptCalls() - before, 2);

      // Pause a: b drains, a keeps every job pending; resume: a drains too.
      await api.enqueueBatch(jobs(a));
      await api.enqueueBatch(jobs(b));
      assert.strictEqual((await api.setPaused(a, true)).paused, true);
      const whilePaused = await drain((seen) => seen.length >= 50);
      assert.deepStrictEqual(new Set(whilePaused), new Set([b]));
      assert.strictEqual(whilePaused.length, 50);
      assert.deepStrictEqual(await worker.claim(20, { waitMs: 1000 }), []);
      assert.strictEqual((await api.queueInfo(a))?.pending, 50);
      await api.setPaused(a, false);
      const resumed = await drain((seen) => seen.length >= 50);
      assert.deepStrictEqual(new Set(resumed), new Set([a]));
      const stats = await api.stats();
      assert.strictEqual(stats.by_queue[a].completed, 100);
      assert.strictEqual(stats.by_queue[b].completed, 101);
    } finally {
      await worker.close();
      await api.close();
      admin.disconnect();
      cluster.killSync();
    }
  },
});

Deno.test({
  name:
    "cluster: an idle worker serving every queue takes back a silent owner's jobs within seconds",
  ignore: !enabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await TestRedisCluster.start();
    const prefix = `jq${crypto.randomUUID().slice(0, 6)}`;
    const names = Array.from({ length: 10 }, (_, i) => `q${i}`);
    const known = {
      queues: names.map((name) => ({ name, weight: 1 })),
      order: "weighted" as const,
    };
    const setup = new RedisBroker({ url: cluster.url, prefix, queue: names[0], serve: known });
    await setup.heartbeat(); // the ten queues are known
    await setup.close();
    // As a process that exited cleanly.
    const admin = new Cluster(cluster.ports.map((port) => ({ host: "127.0.0.1", port })));
    admin.on("error", () => {});
    await admin.zrem(`${prefix}:{#}:owners`, setup.owner);
    // A queue the peer does not serve yet (it picks up new ones within ~5 s),
    // so the silent owner's claim surely wins.
    const fresh = "late";
    const frozen = new RedisBroker({
      url: cluster.url,
      prefix,
      queue: names[0],
      serve: { queues: [{ name: fresh, weight: 1 }], order: "strict" },
    });
    const peer = new RedisBroker({
      url: cluster.url,
      prefix,
      queue: names[0],
      serve: { queues: "all", order: "weighted" },
    });
    const taken: string[] = [];
    const runner = new Runner({
      broker: peer,
      log: createLogger({ level: "silent" }),
      pool: () => ({
        dispatch(job) {
          taken.push(job.id);
        },
        flush() {},
        abort() {},
        threadmates: (id) => [id],
        stats: () => ({ threads: 1, busy: 0, inFlight: 0 }),
        close() {},
      }),
      definitionOf: () => undefined,
      concurrency: 5,
      drainMs: 100,
    });
    const exit = runner.run();
    try {
      // The peer settles into idling: first visits done, long waits.
      await new Promise((r) => setTimeout(r, 6000));
      await frozen.heartbeat(); // makes the queue known
      const { id } = await frozen.enqueue({ type: "t", payload: 0, queue: fresh });
      const [job] = await frozen.claim(1, { leaseMs: 60_000 });
      const claimedAt = Date.now();
      assert.strictEqual(job?.id, id);
      // frozen now goes silent: no heartbeat, no renewals (a SIGSTOPped process).
      const deadline = Date.now() + 15_000;
      while (!taken.includes(id) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const after = Date.now() - claimedAt;
      console.log(`silent owner's job running again after ${after} ms`);
      assert.ok(taken.includes(id), "the peer took the job back");
      // Silence is judged after 3.5 s, and the peer lists new queues within
      // ~5 s and visits a queue it never saw at its next maintenance round.
      assert.ok(after < 10_000, `took ${after} ms`);
      const back = await peer.get(id);
      assert.strictEqual(back?.attempts, 2, "run again, as a second attempt");
    } finally {
      runner.stop();
      await exit;
      await frozen.close();
      await peer.close();
      admin.disconnect();
      cluster.killSync();
    }
  },
});
