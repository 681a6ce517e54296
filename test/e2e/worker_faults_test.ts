/**
 * Worker faults with real processes (`main.ts worker`: a supervisor and its
 * worker child) and the default 30 s lease:
 *
 * - a worker child frozen with SIGSTOP stops receiving jobs within ~2 s
 *   (its claims need a recent heartbeat), its leases are taken back once it
 *   has been silent 3 s, and after SIGCONT its stale acks are refused;
 * - a worker child killed with SIGKILL: its supervisor takes its 20 leases
 *   back at once, and they run again within 3 s, not after the lease;
 * - a supervisor killed together with its child: the other worker's
 *   maintenance takes the leases back within the liveness expiry plus one
 *   maintenance pass (5 s).
 */
import assert from "node:assert/strict";
import {
  CHAOS_JOBS,
  childrenOf,
  type EchoResult,
  EventTail,
  grepLog,
  MAIN,
  Proc,
  say,
  sleep,
  waitFor,
} from "./chaos_helpers.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import type { Job } from "../../src/queue/job.ts";
import { TestRedis } from "../helpers/redis_server.ts";

/** A `main.ts worker` process (supervisor + child) on `queue`. */
function startWorker(
  name: string,
  redisUrl: string,
  queue: string,
  logDir: string,
  concurrency: number,
): Proc {
  return new Proc(name, ["run", "-A", MAIN, "worker"], {
    REDIS_URL: redisUrl,
    QUEUE: queue,
    JOB_MODULES: CHAOS_JOBS,
    WORKER_THREADS: "1",
    WORKER_CONCURRENCY: String(concurrency),
    WORKER_METRICS_PORT: "0",
    LOG_LEVEL: "info",
    LOG_FORMAT: "json",
  }, `${logDir}/${name}.log`);
}

/** The pid of the worker child a supervisor started after `notPid`, once it claims. */
async function childOf(supervisor: Proc, notPid = -1): Promise<number> {
  return await waitFor(`${supervisor.name}'s worker child`, 30_000, async () => {
    const pid = childrenOf(supervisor.pid)[0];
    if (pid === undefined || pid === notPid) return null;
    const started = await grepLog(supervisor.logFile, '"worker started"');
    return started.some((line) => line.includes(`"pid":${pid}`)) ? pid : null;
  });
}

interface Setup {
  redis: TestRedis;
  broker: RedisBroker;
  tail: EventTail;
  queue: string;
  logDir: string;
  procs: Proc[];
}

async function withWorkers(fn: (s: Setup) => Promise<void>): Promise<void> {
  const redis = await TestRedis.start();
  const queue = `faults-${crypto.randomUUID().slice(0, 8)}`;
  const broker = new RedisBroker({ url: redis.url, queue });
  const tail = new EventTail(broker);
  const logDir = await Deno.makeTempDir({ prefix: "jq-faults-" });
  const setup: Setup = { redis, broker, tail, queue, logDir, procs: [] };
  try {
    await fn(setup);
  } finally {
    // A stopped child must run again to drain; one that does not is killed.
    // (Its pipes are the supervisor's: a stray child would keep them open.)
    const children = setup.procs.flatMap((p) => childrenOf(p.pid));
    const signal = (pid: number, sig: Deno.Signal) => {
      try {
        Deno.kill(pid, sig);
      } catch {
        // gone
      }
    };
    for (const pid of children) signal(pid, "SIGCONT");
    const stopped = Promise.all(setup.procs.map((p) => p.stop(5000)));
    const killer = setTimeout(() => children.forEach((pid) => signal(pid, "SIGKILL")), 6000);
    await stopped;
    clearTimeout(killer);
    await tail.stop();
    await broker.close();
    await redis.close();
  }
}

async function jobs(broker: RedisBroker, ids: string[]): Promise<Job[]> {
  return (await Promise.all(ids.map((id) => broker.get(id)))).filter((j): j is Job => j !== null);
}

/** 20 jobs that run `sleepMs` each, all running on worker A (started alone). */
async function twentyOnA(
  s: Setup,
  sleepMs: number,
): Promise<{ a: Proc; aChild: number; ids: string[] }> {
  const a = startWorker("worker-a", s.redis.url, s.queue, s.logDir, 40);
  s.procs.push(a);
  const aChild = await childOf(a);
  const made = await s.broker.enqueueBatch(
    Array.from(
      { length: 20 },
      (_, n) => ({ type: "chaos_echo", payload: { sleep_ms: sleepMs, n } }),
    ),
  );
  const ids = made.map((m) => m.id);
  await waitFor("20 running on A", 20_000, async () => (await s.broker.stats()).running === 20);
  return { a, aChild, ids };
}

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  ...opts,
  name:
    "a frozen worker (SIGSTOP) gets no new jobs, its leases come back in seconds, its late acks are refused",
  fn: () =>
    withWorkers(async (s) => {
      const { a, aChild, ids: held } = await twentyOnA(s, 4000);
      const b = startWorker("worker-b", s.redis.url, s.queue, s.logDir, 40);
      s.procs.push(b);
      const bChild = await childOf(b);
      Deno.kill(aChild, "SIGSTOP");
      const frozenAt = Date.now();
      say(`SIGSTOP worker A's child ${aChild}; worker B's child is ${bChild}`);

      // Its claims stop within ~2 s: from then on every new job goes to B.
      await sleep(2200);
      const submittedAt = Date.now();
      const fresh = (await s.broker.enqueueBatch(
        Array.from({ length: 20 }, (_, n) => ({
          type: "chaos_echo",
          payload: { sleep_ms: 50, n: 100 + n },
        })),
      )).map((m) => m.id);
      await waitFor("the 20 new jobs completed", 10_000, async () =>
        (await jobs(s.broker, fresh)).every((j) =>
          j.status === "completed"
        ));
      const freshJobs = await jobs(s.broker, fresh);
      const startDelays = freshJobs.map((j) => Date.parse(j.started_at!) - submittedAt);
      say(
        `new jobs started ${Math.min(...startDelays)}..${Math.max(...startDelays)} ms after submit`,
      );
      assert.ok(Math.max(...startDelays) < 3000, "all 20 started within 3 s");
      for (const j of freshJobs) {
        assert.strictEqual((j.result as EchoResult).pid, bChild, "ran on the live worker");
        assert.strictEqual(j.attempts, 1, "never handed to the frozen one");
      }

      // The frozen worker's 20 leases come back once it was silent 3 s, not after 30 s.
      await waitFor("A's jobs running again on B", 10_000, async () =>
        (await jobs(s.broker, held)).every((j) =>
          j.attempts === 2
        ));
      const retakenMs = Date.now() - frozenAt;
      say(`the frozen worker's 20 jobs were running again ${retakenMs} ms after the SIGSTOP`);
      assert.ok(retakenMs < 6000, `taken back in ${retakenMs} ms`);

      // Thawed at 8 s: its handlers finish, and every ack of theirs is refused.
      await sleep(Math.max(0, frozenAt + 8000 - Date.now()));
      Deno.kill(aChild, "SIGCONT");
      await waitFor("all 40 completed", 30_000, async () => {
        const st = await s.broker.stats();
        return st.completed === 40 && st.running === 0 && st.pending === 0;
      });
      await sleep(1500); // a late second ack would land now
      const stats = await s.broker.stats();
      assert.strictEqual(stats.completed, 40, "nothing completed twice");
      for (const j of await jobs(s.broker, held)) {
        assert.strictEqual((j.result as EchoResult).pid, bChild, "completed by B");
      }
      await waitFor("tail caught up", 10_000, () =>
        s.tail.count("completed") >= 40);
      assert.ok(
        [...s.tail.completedPerJob.values()].every((n) => n === 1),
        "one completed event each",
      );
      const refused = await grepLog(a.logFile, "lease lost");
      say(`the thawed worker logged ${refused.length} lost-lease lines`);
      assert.ok(refused.length > 0, "the thawed worker's stale leases were refused");
    }),
});

Deno.test({
  ...opts,
  name:
    "kill -9 of a worker child holding 20 jobs: its supervisor takes them back; they run again within 3 s",
  fn: () =>
    withWorkers(async (s) => {
      const { a, aChild, ids } = await twentyOnA(s, 10_000);
      const b = startWorker("worker-b", s.redis.url, s.queue, s.logDir, 40);
      s.procs.push(b);
      await childOf(b);
      Deno.kill(aChild, "SIGKILL");
      const killedAt = Date.now();
      await waitFor("the 20 jobs started again", 10_000, async () =>
        (await jobs(s.broker, ids)).every((j) =>
          j.attempts === 2 && j.status === "running"
        ));
      const again = await jobs(s.broker, ids);
      const restartMs = Math.max(...again.map((j) =>
        Date.parse(j.started_at!)
      )) - killedAt;
      say(`all 20 started again ${restartMs} ms after the kill`);
      assert.ok(restartMs < 3000, `restarted after ${restartMs} ms`);
      assert.ok(
        again.every((j) =>
          j.error_history.some((e) => /worker process died \(signal SIGKILL\)/.test(e.message))
        ),
        "taken back by the supervisor",
      );
      const took = await grepLog(a.logFile, "took back the dead worker's jobs");
      assert.strictEqual(took.length, 1);
      assert.match(took[0], /"jobs":20/);
    }),
});

Deno.test({
  ...opts,
  name:
    "kill -9 of a supervisor and its child together: the other worker takes the leases back within 5 s",
  fn: () =>
    withWorkers(async (s) => {
      const { a, aChild, ids } = await twentyOnA(s, 10_000);
      const b = startWorker("worker-b", s.redis.url, s.queue, s.logDir, 40);
      s.procs.push(b);
      await childOf(b);
      a.kill("SIGKILL");
      Deno.kill(aChild, "SIGKILL");
      const killedAt = Date.now();
      await waitFor("the 20 jobs started again", 15_000, async () =>
        (await jobs(s.broker, ids)).every((j) =>
          j.attempts === 2 && j.status === "running"
        ));
      const again = await jobs(s.broker, ids);
      const restartMs = Math.max(...again.map((j) =>
        Date.parse(j.started_at!)
      )) - killedAt;
      say(`all 20 started again ${restartMs} ms after the kill`);
      assert.ok(restartMs <= 5000, `restarted after ${restartMs} ms`);
      assert.ok(
        again.every((j) => j.error_history.some((e) => /stopped heartbeating/.test(e.message))),
        "taken back by a maintenance pass",
      );
    }),
});
