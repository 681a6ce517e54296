/**
 * The worker registry in Redis (`worker_presence.ts`, `worker_registry.ts`):
 * a beat is one command and writes a record that expires; the listing drops
 * index entries whose record expired; a drain request reaches the worker in
 * its next beat's reply; a stopped or reaped worker is removed at once.
 */
import assert from "node:assert/strict";
import { redisHarness } from "./redis_harness.ts";
import { globalKeys, workerKey } from "../../src/queue/keys.ts";
import {
  isStale,
  PRESENCE,
  type WorkerRecord,
  type WorkerReport,
} from "../../src/queue/worker_presence.ts";
import { WorkerRegistry } from "../../src/queue/worker_registry.ts";
import type { RedisClient } from "../../src/queue/connect.ts";
import { totalCalls } from "../helpers/idle.ts";
import { JobNotFoundError } from "../../src/queue/errors.ts";
import { ClusterMetrics } from "../../src/metrics/cluster_metrics.ts";

const G = globalKeys();

function report(partial: Partial<WorkerReport> = {}): WorkerReport {
  return {
    host: "h1",
    pid: 4242,
    concurrency: 8,
    threads: 2,
    in_flight: 3,
    rss_bytes: 50_000_000,
    started_at: Date.now() - 60_000,
    version: "9.9.9",
    draining: false,
    drain_requested_at: null,
    ...partial,
  };
}

Deno.test("a beat writes an expiring record and the index; later beats are one command", async () => {
  const h = await redisHarness();
  try {
    const broker = await h.makeRedis({
      serve: {
        queues: [{ name: "critical", weight: 6 }, { name: "low", weight: 1 }],
        order: "weighted",
      },
    });
    assert.strictEqual(await broker.beatWorker(report()), null);
    const ttl = await h.redis.pttl(workerKey(G, broker.owner));
    assert.ok(ttl > PRESENCE.ttlMs - 2_000 && ttl <= PRESENCE.ttlMs, `ttl ${ttl}`);
    assert.ok((await h.redis.zscore(G.workers, broker.owner)) !== null);
    const [w] = await broker.workers();
    assert.strictEqual(w.id, broker.owner);
    assert.deepStrictEqual(w.queues, [{ name: "critical", weight: 6 }, { name: "low", weight: 1 }]);
    assert.strictEqual(w.queue_order, "weighted");
    assert.strictEqual(w.host, "h1");
    assert.strictEqual(w.pid, 4242);
    assert.strictEqual(w.concurrency, 8);
    assert.strictEqual(w.in_flight, 3);
    assert.strictEqual(w.version, "9.9.9");
    assert.ok(!isStale(w, Date.now()));

    // Steady state: one command per beat (the budget of an idle worker is 2 a second).
    const before = totalCalls(await h.redis.info("commandstats"));
    await broker.beatWorker(report({ in_flight: 1 }));
    const after = totalCalls(await h.redis.info("commandstats"));
    assert.strictEqual(after - before - 1, 1, "one command (INFO itself counts once)");
    assert.strictEqual((await broker.workers())[0].in_flight, 1);
  } finally {
    await h.cleanup();
  }
});

Deno.test("a record older than two beats is stale; an expired one leaves the index", async () => {
  const h = await redisHarness();
  try {
    const old = await h.makeRedis({ clock: () => Date.now() - PRESENCE.staleAfterMs - 1_000 });
    const live = await h.makeRedis();
    await old.beatWorker(report());
    await live.beatWorker(report());
    const now = Date.now();
    const byId = new Map((await live.workers()).map((w) => [w.id, w]));
    assert.strictEqual(isStale(byId.get(old.owner)!, now), true);
    assert.strictEqual(isStale(byId.get(live.owner)!, now), false);

    // Expiry (as after a kill -9): gone from the listing and then from the index.
    await h.redis.del(workerKey(G, old.owner));
    assert.deepStrictEqual((await live.workers()).map((w) => w.id), [live.owner]);
    assert.strictEqual(await h.redis.zscore(G.workers, old.owner), null);
    // Its next beat (it was only cut off) registers it again.
    await old.beatWorker(report());
    assert.strictEqual((await live.workers()).length, 2);
  } finally {
    await h.cleanup();
  }
});

Deno.test("a drain request reaches the worker in its next beat's reply, once", async () => {
  const h = await redisHarness();
  try {
    const worker = await h.makeRedis();
    const api = await h.makeRedis();
    await worker.beatWorker(report());
    const ttlBefore = await h.redis.pttl(workerKey(G, worker.owner));
    assert.strictEqual(await api.drainWorker(worker.owner), true);
    assert.strictEqual(await api.drainWorker(worker.owner), false, "already asked");
    // The request kept the record's expiry.
    const ttlAfter = await h.redis.pttl(workerKey(G, worker.owner));
    assert.ok(ttlAfter > 0 && ttlAfter <= ttlBefore, `${ttlBefore} -> ${ttlAfter}`);
    const requested = await worker.beatWorker(report());
    assert.ok(requested !== null && Math.abs(requested - Date.now()) < 5_000);
    // The worker then reports it (and draining) itself.
    await worker.beatWorker(report({ draining: true, drain_requested_at: requested }));
    const [w] = await api.workers();
    assert.strictEqual(w.draining, true);
    assert.strictEqual(w.drain_requested_at, requested);

    await assert.rejects(api.drainWorker("nosuch"), JobNotFoundError);
    await assert.rejects(api.drainWorker("bad id!"), JobNotFoundError);
  } finally {
    await h.cleanup();
  }
});

Deno.test("a drain request outlives a beat whose reply was lost: the next beat reads it", async () => {
  const h = await redisHarness();
  try {
    const api = await h.makeRedis();
    // A registry whose next command runs in Redis and then fails, as a
    // command does when its reply is lost (a timeout, a dropped connection).
    let loseReply = false;
    const registry = new WorkerRegistry({
      prefix: "jq",
      clock: Date.now,
      raw: async (run) => {
        const result = await run(h.redis as RedisClient);
        if (loseReply) {
          loseReply = false;
          throw new Error("reply lost");
        }
        return result;
      },
    });
    const record = (in_flight: number): WorkerRecord => ({
      ...report({ in_flight }),
      id: "r_lost",
      queues: "all",
      queue_order: "weighted",
      beat_at: Date.now(),
    });
    assert.strictEqual(await registry.beat(record(3)), null);
    assert.strictEqual(await api.drainWorker("r_lost"), true);
    loseReply = true;
    await assert.rejects(registry.beat(record(2)), /reply lost/);
    // That beat's write ran: the record no longer says it, the request's copy does.
    assert.strictEqual((await api.workers())[0].drain_requested_at, null);
    const requested = await registry.beat(record(1));
    assert.ok(requested !== null && Math.abs(requested - Date.now()) < 5_000, `${requested}`);
    // Beats after a good one are one command again; the copy is not needed.
    const before = totalCalls(await h.redis.info("commandstats"));
    await registry.beat(record(1));
    const after = totalCalls(await h.redis.info("commandstats"));
    assert.strictEqual(after - before - 1, 1, "one command (INFO itself counts once)");
  } finally {
    await h.cleanup();
  }
});

Deno.test("a reaped owner (stopped, or seen dead by its supervisor) leaves the registry at once", async () => {
  const h = await redisHarness();
  try {
    const worker = await h.makeRedis();
    const supervisor = await h.makeRedis();
    await worker.beatWorker(report());
    assert.strictEqual((await supervisor.workers()).length, 1);
    await supervisor.reapOwner(worker.owner, "worker process died (signal SIGKILL)");
    assert.deepStrictEqual(await supervisor.workers(), []);
    assert.strictEqual(await h.redis.exists(workerKey(G, worker.owner)), 0);
    assert.strictEqual(await h.redis.zcard(G.workers), 0);
  } finally {
    await h.cleanup();
  }
});

Deno.test("jobqueue_workers counts the registered workers that are not stale, cluster-wide", async () => {
  const h = await redisHarness();
  const metrics = new ClusterMetrics(await h.makeRedis(), { http: false });
  try {
    const scrape = async () => /^jobqueue_workers (\d+)$/m.exec(await metrics.text())?.[1];
    assert.strictEqual(await scrape(), "0");
    await (await h.makeRedis()).beatWorker(report());
    await (await h.makeRedis()).beatWorker(report());
    const stale = await h.makeRedis({ clock: () => Date.now() - PRESENCE.staleAfterMs - 1_000 });
    await stale.beatWorker(report());
    assert.strictEqual(await scrape(), "2");
  } finally {
    await metrics.close();
    await h.cleanup();
  }
});
