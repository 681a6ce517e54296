/**
 * Worker crashes: 1 API + 4 worker role processes (supervisor + worker child
 * each). While 5,000 HTTP-submitted jobs run, a random worker CHILD is killed
 * with SIGKILL 20 times; its supervisor takes the dead process's leases back
 * at once and starts a new one (LEASE_MS=2000 is the backstop). The jobs run
 * again: nothing is lost and nothing is acknowledged twice.
 */
import assert from "node:assert/strict";
import {
  type EchoResult,
  grepLog,
  listCompleted,
  say,
  sleep,
  Submitter,
  waitAllCompleted,
  waitFor,
  withChaosStack,
} from "./chaos_helpers.ts";

const JOBS = 5000;
const KILLS = 20;

Deno.test({
  name: "worker crashes: 20 × kill -9 of a worker child during 5,000 jobs: 0 lost, 0 double acks",
  ignore: Deno.env.get("REDIS_URL") !== undefined,
  fn: () =>
    withChaosStack({
      workers: 4,
      env: { LEASE_MS: "2000", WORKER_CONCURRENCY: "10", DRAIN_TIMEOUT_MS: "5000" },
    }, async ({ stack, broker, tail }) => {
      const started = Date.now();
      const submitter = new Submitter(() => stack.baseUrl, {
        concurrency: 16,
        target: JOBS,
        sleepMs: 150,
      });

      const kills: Array<{ worker: number; pid: number; inFlight: number }> = [];
      while (kills.length < KILLS) {
        await sleep(500 + Math.random() * 500);
        const up: typeof stack.workers = [];
        for (const slot of stack.workers) {
          if (stack.workerPid(slot) !== null && await stack.workerHealthy(slot)) up.push(slot);
        }
        if (up.length === 0) continue;
        const slot = up[Math.floor(Math.random() * up.length)];
        const pid = stack.workerPid(slot);
        const inFlight = await stack.workerMetric(slot, "jobqueue_worker_jobs_in_flight");
        if (pid === null || pid !== stack.workerPid(slot)) continue;
        Deno.kill(pid, "SIGKILL");
        const completed = (await broker.stats()).completed;
        kills.push({ worker: slot.index, pid, inFlight: inFlight ?? 0 });
        say(
          `kill #${kills.length}: SIGKILL worker-${slot.index}'s child pid ${pid} ` +
            `(${inFlight ?? "?"} jobs in flight; ${completed}/${JOBS} completed so far)`,
        );
      }
      const completedAtLastKill = (await broker.stats()).completed;
      assert.ok(completedAtLastKill < JOBS, "all 20 kills happened while jobs were outstanding");

      await submitter.done;
      assert.deepStrictEqual(submitter.statusCounts(), { 201: JOBS }, "the API took every job");
      let stats = await waitAllCompleted(broker, JOBS, 90_000);
      const doneMs = Date.now() - started;
      await sleep(1500); // a late second ack would show now
      stats = await broker.stats();
      say(`all completed after ${doneMs} ms; stats: ${JSON.stringify(stats)}`);
      assert.strictEqual(
        stats.completed,
        JOBS,
        "completed counter is exactly 5,000: no double ack",
      );
      assert.strictEqual(stats.failed, 0, "no job ran out of attempts");
      assert.strictEqual(stats.total, JOBS);

      // Every killed worker was replaced by its supervisor and serves again.
      for (const slot of stack.workers) {
        await waitFor(`worker-${slot.index} back`, 30_000, () => stack.workerHealthy(slot));
      }
      const killed = new Set(kills.map((k) => k.pid));
      const now = stack.workers.map((w) => stack.workerPid(w));
      assert.ok(now.every((pid) => pid !== null && !killed.has(pid)), "new worker children run");
      let spawned = 0;
      for (const slot of stack.workers) {
        spawned += (await grepLog(slot.supervisor.logFile, '"worker process started"')).length;
      }
      say(`supervisors started ${spawned} worker children (4 at start + ${spawned - 4} restarts)`);
      assert.strictEqual(spawned, 4 + KILLS);

      const jobs = await listCompleted(broker);
      const acked = new Set(submitter.acked);
      assert.strictEqual(jobs.length, JOBS);
      assert.ok(jobs.every((j) => acked.has(j.id)), "the completed jobs are the 5,000 submitted");
      const retried = jobs.filter((j) => j.attempts > 1);
      for (const job of jobs) assert.strictEqual((job.result as EchoResult).attempt, job.attempts);
      await waitFor("events tail caught up", 10_000, () => tail.count("completed") >= JOBS);
      await sleep(500);
      const perJob = [...tail.completedPerJob.values()];
      const inFlightAtKills = kills.reduce((a, k) => a + k.inFlight, 0);
      say(
        `${inFlightAtKills} jobs were in flight in the killed processes; ` +
          `${tail.count("recovered")} were taken back; ${retried.length} jobs needed > 1 attempt ` +
          `(max ${Math.max(...jobs.map((j) => j.attempts))}); ` +
          `${tail.count("completed")} completed events for ${perJob.length} jobs`,
      );
      assert.ok(tail.count("recovered") > 0, "in-flight jobs were taken back");
      assert.ok(retried.length > 0);
      assert.strictEqual(tail.count("completed"), JOBS);
      assert.ok(perJob.every((n) => n === 1), "exactly one completed event per job");
    }),
});
