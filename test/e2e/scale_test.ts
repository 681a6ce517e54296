/**
 * Scale-out, as a user runs it: `deno task cluster --workers 4` (one API and
 * four supervised worker processes) against a real redis-server with AOF.
 * 5,000 jobs go in over HTTP with bounded concurrency; every one is completed
 * and acknowledged exactly once, and every worker process did a share.
 */
import { queueKeys } from "../../src/queue/keys.ts";
import assert from "node:assert/strict";
import { freePort, TestRedis } from "../helpers/redis_server.ts";
import {
  alive,
  CHAOS_JOBS,
  commandLine,
  descendantsOf,
  type EchoResult,
  EventTail,
  freePortRange,
  listCompleted,
  Proc,
  ROOT,
  say,
  scrape,
  sleep,
  Submitter,
  waitAllCompleted,
  waitFor,
} from "./chaos_helpers.ts";
import { Redis } from "ioredis";
import { RedisBroker } from "../../src/queue/redis_broker.ts";

const JOBS = 5000;
const WORKERS = 4;
/** Set on every process; finished jobs expire RETENTION_MS + 1 h slack after completion. */
const RETENTION_MS = 600_000;

Deno.test({
  name: "scale: `deno task cluster --workers 4` runs 5,000 jobs, each acked once, by all 4 workers",
  ignore: Deno.env.get("REDIS_URL") !== undefined, // needs its own redis-server
  async fn() {
    const redis = await TestRedis.start({ aof: true });
    const queue = `scale-${crypto.randomUUID().slice(0, 8)}`;
    const broker = new RedisBroker({ url: redis.url, queue });
    const apiPort = freePort();
    const metricsBase = freePortRange(WORKERS);
    const logDir = await Deno.makeTempDir({ prefix: "jq-scale-logs-" });
    const cluster = new Proc(
      "cluster",
      ["task", "cluster", "--workers", String(WORKERS)],
      {
        REDIS_URL: redis.url,
        QUEUE: queue,
        JOB_MODULES: CHAOS_JOBS,
        HOST: "127.0.0.1",
        PORT: String(apiPort),
        WORKER_METRICS_PORT: String(metricsBase),
        WORKER_THREADS: "1",
        WORKER_CONCURRENCY: "25",
        RETENTION_MS: String(RETENTION_MS),
        LOG_LEVEL: "info",
        LOG_FORMAT: "json",
      },
      `${logDir}/cluster.log`,
      ROOT,
    );
    const base = `http://127.0.0.1:${apiPort}`;
    const metricsUrls = Array.from(
      { length: WORKERS },
      (_, i) => `http://127.0.0.1:${metricsBase + i}/metrics`,
    );
    const tail = new EventTail(broker);
    try {
      await waitFor("api /ready", 60_000, async () => {
        const res = await fetch(`${base}/ready`);
        await res.body?.cancel();
        return res.ok;
      });
      for (const url of metricsUrls) {
        await waitFor(`${url} health`, 60_000, async () => {
          const res = await fetch(url.replace("/metrics", "/health"));
          await res.body?.cancel();
          return res.ok;
        });
      }
      const workerPids = descendantsOf(cluster.pid)
        .filter((pid) => commandLine(pid).includes("worker_main.ts"));
      assert.strictEqual(workerPids.length, WORKERS, "four worker processes run");
      say(`cluster pid ${cluster.pid}: api on ${apiPort}, worker pids ${workerPids.join(", ")}`);

      const started = Date.now();
      const submitter = new Submitter(() => base, {
        concurrency: 32,
        target: JOBS,
        sleepMs: 20,
      });
      await submitter.done;
      const submitMs = Date.now() - started;
      assert.deepStrictEqual(
        submitter.statusCounts(),
        { 201: JOBS },
        "every submission answered 201",
      );
      assert.strictEqual(new Set(submitter.acked).size, JOBS, "5,000 distinct job ids");
      say(`submitted ${JOBS} jobs over HTTP (32 concurrent) in ${submitMs} ms`);

      let stats = await waitAllCompleted(broker, JOBS, 60_000);
      const doneMs = Date.now() - started;
      await sleep(1500); // a late duplicate ack would show up in the counters now
      stats = await broker.stats();
      say(`all completed ${doneMs} ms after the first submission; stats: ${JSON.stringify(stats)}`);
      assert.strictEqual(
        stats.completed,
        JOBS,
        "completed counter is exactly 5,000: no double ack",
      );
      assert.strictEqual(stats.failed, 0);
      assert.strictEqual(stats.total, JOBS);

      await waitFor("events tail caught up", 10_000, () => tail.count("completed") >= JOBS);
      await sleep(500);
      const perJob = [...tail.completedPerJob.values()];
      say(
        `events stream: ${tail.count("enqueued")} enqueued, ${tail.count("started")} started, ` +
          `${tail.count("completed")} completed events for ${perJob.length} distinct jobs`,
      );
      assert.strictEqual(tail.count("completed"), JOBS);
      assert.ok(perJob.every((n) => n === 1), "exactly one completed event per job");

      const jobs = await listCompleted(broker);
      assert.strictEqual(jobs.length, JOBS);
      const acked = new Set(submitter.acked);
      const byPid = new Map<number, number>();
      for (const job of jobs) {
        assert.ok(acked.has(job.id), "only submitted jobs completed");
        const result = job.result as EchoResult;
        assert.strictEqual(result.job_id, job.id);
        assert.strictEqual(job.attempts, 1, "no crash here: one attempt each");
        byPid.set(result.pid, (byPid.get(result.pid) ?? 0) + 1);
      }
      say(
        `share per worker pid (from job results): ${
          [...byPid].map(([pid, n]) => `${pid}: ${n}`).join(", ")
        }`,
      );
      assert.deepStrictEqual(
        [...byPid.keys()].sort(),
        [...workerPids].sort(),
        "the 4 workers ran them",
      );
      for (const [pid, n] of byPid) assert.ok(n > 0, `worker ${pid} completed a share`);

      // The workers write completions, so they must apply RETENTION_MS (they once ignored it).
      const raw = new Redis(redis.url);
      const key = queueKeys(queue).jobPrefix + jobs[0].id;
      const ttl = await raw.pttl(key).finally(() => raw.disconnect());
      say(`a completed job's record expires in ${ttl} ms (RETENTION_MS ${RETENTION_MS} + 1 h)`);
      assert.ok(ttl > 0 && ttl <= RETENTION_MS + 3600_000, "workers honour RETENTION_MS");

      const perPort = await Promise.all(
        metricsUrls.map((url) => scrape(url, "jobqueue_worker_jobs_completed_total")),
      );
      say(`jobqueue_worker_jobs_completed_total per worker /metrics: ${perPort.join(", ")}`);
      assert.strictEqual(perPort.reduce((a, b) => (a ?? 0) + (b ?? 0), 0), JOBS);
      assert.deepStrictEqual(
        perPort.map(Number).sort((a, b) => a - b),
        [...byPid.values()].sort((a, b) => a - b),
        "metrics agree with the results",
      );
    } finally {
      await tail.stop();
      // Ctrl-C: the cluster stops its children (workers drain) and exits 0.
      const tree = descendantsOf(cluster.pid);
      cluster.kill("SIGINT");
      const timer = setTimeout(() => cluster.kill("SIGKILL"), 30_000);
      const status = await cluster.status;
      clearTimeout(timer);
      await waitFor("every cluster process gone", 15_000, () => tree.every((p) => !alive(p)))
        .catch((error) => {
          for (const pid of tree.filter(alive)) Deno.kill(pid, "SIGKILL");
          throw error;
        });
      say(`SIGINT: cluster exited with code ${status.code}; ${tree.length} processes gone`);
      await broker.close();
      await redis.close();
      assert.strictEqual(status.code, 0);
    }
  },
});
