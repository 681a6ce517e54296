/**
 * The worker registry end to end: a real supervised worker process registers
 * itself (seen through the API's `GET /workers`), is asked to drain through
 * `POST /workers/:id/drain`, finishes its running job, claims nothing more
 * and exits 0 without being restarted; a worker killed with SIGKILL leaves the
 * list at once, taken out by its supervisor.
 */
import assert from "node:assert/strict";
import { TestRedis } from "../helpers/redis_server.ts";
import { jobsById, testBroker, waitFor, WORKER_MAIN, workerEnv } from "./helpers.ts";
import { superviseWorker } from "../../src/worker/supervisor.ts";
import { ownerReaper } from "../../src/worker/owner_reaper.ts";
import { createApp } from "../../src/api/app.ts";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import { VERSION } from "../../src/version.ts";

interface Listed {
  id: string;
  pid: number;
  host: string;
  queues: unknown;
  concurrency: number;
  in_flight: number;
  rss_bytes: number;
  version: string;
  stale: boolean;
  draining: boolean;
}

const log = createLogger({ level: "silent" });
const sleepJob = (ms: number) => ({ type: "compute", payload: { duration_ms: ms, mode: "sleep" } });

Deno.test({
  name: "a supervised worker registers, drains on request (running job done, exit 0) and leaves",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const redis = await TestRedis.start();
    const broker = testBroker(redis.url, "registry");
    const app = createApp({ broker, registry: await loadRegistry(), log });
    const reaper = ownerReaper(redis.url, broker.defaultQueue);
    const stop = new AbortController();
    const pids: number[] = [];
    const exits: number[] = [];
    const list = async () =>
      ((await (await app.request("/api/v1/workers")).json()) as { workers: Listed[] }).workers;
    const supervised = superviseWorker({
      args: [WORKER_MAIN, "--queue", broker.defaultQueue, "--concurrency", "4", "--threads", "1"],
      env: workerEnv(redis.url, { WORKER_QUEUES: `${broker.defaultQueue}:3` }),
      log,
      handleSignals: false,
      signal: stop.signal,
      stdio: "null",
      reapOwner: reaper.reapOwner,
      onSpawn: (pid) => pids.push(pid),
      onExit: (_pid, status) => exits.push(status.code),
    });
    try {
      const [w] = await waitFor("the worker registered", async () => {
        const l = await list();
        return l.length === 1 ? l : null;
      });
      assert.strictEqual(w.pid, pids[0]);
      assert.strictEqual(w.host, Deno.hostname());
      assert.deepStrictEqual(w.queues, [{ name: broker.defaultQueue, weight: 3 }]);
      assert.strictEqual(w.concurrency, 4);
      assert.strictEqual(w.version, VERSION);
      assert.ok(w.rss_bytes > 10_000_000, `rss ${w.rss_bytes}`);
      assert.strictEqual(w.stale, false);
      assert.strictEqual(w.draining, false);

      const { id: running } = await broker.enqueue(sleepJob(5_000));
      await waitFor("the job running", async () => (await broker.stats()).running === 1);
      const res = await app.request(`/api/v1/workers/${w.id}/drain`, {
        method: "POST",
        headers: { "content-type": "application/json" },
      });
      assert.strictEqual(res.status, 202);
      assert.deepStrictEqual(await res.json(), { id: w.id, already_requested: false });
      const askedAt = Date.now();
      // Within one beat (2 s: it holds a job) it says it is draining, and claims nothing more.
      await waitFor("draining", async () => (await list())[0]?.draining === true, 8_000);
      const { id: later } = await broker.enqueue(sleepJob(10));
      const code = await supervised;
      assert.strictEqual(code, 0, "the supervisor ends with the worker's clean exit");
      assert.deepStrictEqual(exits, [0]);
      assert.strictEqual(pids.length, 1, "not restarted");
      assert.ok(Date.now() - askedAt < 12_000, `drained in ${Date.now() - askedAt} ms`);
      const [done, waiting] = await jobsById(broker, [running, later]);
      assert.strictEqual(done.status, "completed", "the running job finished");
      assert.strictEqual(waiting.status, "pending", "nothing claimed after the drain");
      assert.deepStrictEqual(await list(), [], "gone from the registry as it stopped");
      // An unknown (or gone) worker is a 404.
      const gone = await app.request(`/api/v1/workers/${w.id}/drain`, {
        method: "POST",
        headers: { "content-type": "application/json" },
      });
      assert.strictEqual(gone.status, 404);
    } finally {
      stop.abort();
      for (const pid of pids) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // exited
        }
      }
      await supervised.catch(() => {});
      await reaper.close();
      await broker.close();
      await redis.close();
    }
  },
});

Deno.test({
  name: "a worker killed with SIGKILL leaves the list at once (its supervisor takes it out)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const redis = await TestRedis.start();
    const broker = testBroker(redis.url, "registry-kill");
    const app = createApp({ broker, registry: await loadRegistry(), log });
    const reaper = ownerReaper(redis.url, broker.defaultQueue);
    const stop = new AbortController();
    const pids: number[] = [];
    const list = async () =>
      ((await (await app.request("/api/v1/workers")).json()) as { workers: Listed[] }).workers;
    const supervised = superviseWorker({
      args: [WORKER_MAIN, "--queue", broker.defaultQueue, "--threads", "1"],
      env: workerEnv(redis.url),
      log,
      handleSignals: false,
      signal: stop.signal,
      stdio: "null",
      reapOwner: reaper.reapOwner,
      initialBackoffMs: 60_000,
      onSpawn: (pid) => pids.push(pid),
    });
    try {
      const [first] = await waitFor("registered", async () => {
        const l = await list();
        return l.length === 1 ? l : null;
      });
      Deno.kill(first.pid, "SIGKILL");
      // The supervisor reaps it at once (and waits out its backoff before a restart).
      await waitFor("taken out", async () => (await list()).length === 0, 3_000);
    } finally {
      stop.abort();
      for (const pid of pids) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // exited
        }
      }
      await supervised.catch(() => {});
      await reaper.close();
      await broker.close();
      await redis.close();
    }
  },
});
