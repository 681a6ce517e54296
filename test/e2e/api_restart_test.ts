/**
 * API restart: the API process is killed with SIGKILL while a client is
 * submitting, then started again on the same port. The client retries failed
 * submissions with the same Idempotency-Key (the documented recipe), so a job
 * stored just before the kill is not submitted twice. Every accepted job
 * completes; nothing is lost and nothing is duplicated.
 */
import assert from "node:assert/strict";
import {
  jobsByIds,
  say,
  sleep,
  Submitter,
  waitAllCompleted,
  waitFor,
  withChaosStack,
} from "./chaos_helpers.ts";

const TARGET = 3000;

Deno.test({
  name: "api restart: kill -9 of the API mid-submission loses no accepted job",
  ignore: Deno.env.get("REDIS_URL") !== undefined,
  fn: () =>
    withChaosStack({
      workers: 2,
      env: { WORKER_CONCURRENCY: "20", DRAIN_TIMEOUT_MS: "5000" },
    }, async ({ stack, broker, tail }) => {
      const submitter = new Submitter(() => stack.baseUrl, {
        concurrency: 8,
        target: TARGET,
        sleepMs: 20,
        idempotent: true,
      });
      await waitFor("1000 jobs accepted", 30_000, () => submitter.acked.length >= 1000);
      const old = stack.api;
      const killedAt = Date.now();
      old.kill("SIGKILL");
      const status = await old.status;
      assert.strictEqual(status.signal, "SIGKILL");
      say(`SIGKILL api pid ${old.pid} after ${submitter.acked.length} jobs accepted`);
      await sleep(1000);
      const fresh = stack.startApi();
      const readyMs = await waitFor(
        "new api /ready",
        30_000,
        async () => (await stack.ready()) === 200 ? Date.now() - killedAt : null,
      );
      const backAt = Date.now();
      say(`started api again (pid ${fresh.pid}, same port); ready ${readyMs} ms after the kill`);

      await submitter.done;
      const during = submitter.statusCounts(killedAt, backAt);
      say(
        `submissions sent while the API was down: ${JSON.stringify(during)} (0 = no answer); ` +
          `all: ${JSON.stringify(submitter.statusCounts())}; ` +
          `${submitter.replays} retries were answered 200 Idempotent-Replayed ` +
          `(stored before the kill, answer lost)`,
      );
      assert.ok((during[0] ?? 0) > 0, "the client really saw the API go away");

      const acked = [...new Set(submitter.acked)];
      assert.strictEqual(acked.length, TARGET, "every job accepted once, under one id");
      const stats = await waitAllCompleted(broker, TARGET, 60_000);
      await sleep(1000);
      const final = await broker.stats();
      const jobs = await jobsByIds(broker, acked);
      const notDone = acked.filter((id) => jobs.get(id)?.status !== "completed");
      const perJob = [...tail.completedPerJob.values()];
      say(
        `final: ${acked.length} accepted, ${notDone.length} not completed; stats ${
          JSON.stringify({ ...final, by_type: undefined })
        }; completed events ${tail.count("completed")} (max per job ${Math.max(...perJob)})`,
      );
      assert.strictEqual(notDone.length, 0, "every accepted job completed");
      assert.strictEqual(stats.failed, 0);
      assert.strictEqual(final.total, TARGET, "no duplicate job from the retried submissions");
      assert.strictEqual(final.completed, TARGET, "completed counter exact: no double ack");
      assert.ok(perJob.every((n) => n === 1));
    }),
});
