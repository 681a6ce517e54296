/**
 * The API's job metrics are right from the first scrape, as a new user
 * meets them: `deno task start`, jobs submitted and run before anyone
 * scrapes, then a second API process started afterwards (and restarted)
 * reads the same started counts and duration histogram as the first. The
 * started counter counts attempts: a webhook answered 500 three times has
 * four starts.
 */
import assert from "node:assert/strict";
import { freePort } from "../helpers/redis_server.ts";
import { startService, waitFor } from "./start_service.ts";
import { value } from "../metrics/exposition.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** `deno task api` on a free port against `redisUrl`; resolves once ready. */
async function startApi(redisUrl: string): Promise<{ origin: string; stop(): Promise<void> }> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "src/main.ts", "api"],
    cwd: ROOT,
    env: { REDIS_URL: redisUrl, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "warn" },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const origin = `http://127.0.0.1:${port}`;
  const stop = async () => {
    child.kill("SIGTERM");
    await child.status;
  };
  await waitFor("the second API's /ready", 30_000, async () => {
    const res = await fetch(`${origin}/ready`);
    await res.body?.cancel();
    return res.ok ? true : null;
  }).catch(async (error) => {
    await stop();
    throw error;
  });
  return { origin, stop };
}

async function scrape(origin: string): Promise<string> {
  const res = await fetch(`${origin}/metrics`);
  assert.strictEqual(res.status, 200);
  return await res.text();
}

Deno.test({
  name: "metrics: started attempts and durations are right on the first scrape of any API process",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    let calls = 0;
    const receiver = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
      calls++;
      return calls <= 3 ? new Response("down", { status: 500 }) : new Response("ok");
    });
    const service = await startService({ OUTBOUND_ALLOW: "127.0.0.1" });
    let second: { origin: string; stop(): Promise<void> } | null = null;
    try {
      const submit = async (body: unknown) => {
        const res = await fetch(`${service.origin}/api/v1/jobs`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        assert.strictEqual(res.status, 201, await res.clone().text());
        return (await res.json()).job_id as string;
      };
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        ids.push(await submit({ type: "compute", payload: { duration_ms: 10 * i } }));
      }
      ids.push(
        await submit({
          type: "webhook",
          payload: { url: `http://127.0.0.1:${receiver.addr.port}/hook`, method: "POST" },
          max_attempts: 5,
          backoff: { kind: "exponential", base_ms: 100, factor: 1, max_ms: 100, jitter: 0 },
        }),
      );
      await waitFor("every job completed", 30_000, async () => {
        for (const id of ids) {
          const res = await fetch(`${service.origin}/api/v1/jobs/${encodeURIComponent(id)}`);
          const job = await res.json();
          if (job.status !== "completed") return null;
        }
        return true;
      });
      // A second API process, started after everything ran: its first scrape already counts it.
      second = await startApi(service.redis.url);
      const check = (text: string, where: string) => {
        const v = (series: string) => value(text, series);
        assert.strictEqual(v('jobqueue_jobs_started_total{job_type="compute"}'), 5, where);
        assert.strictEqual(v('jobqueue_jobs_started_total{job_type="webhook"}'), 4, where);
        assert.strictEqual(v('jobqueue_jobs_completed_total{job_type="webhook"}'), 1, where);
        assert.strictEqual(
          v('jobqueue_job_duration_seconds_count{job_type="compute",status="completed"}'),
          5,
          where,
        );
        assert.strictEqual(
          v('jobqueue_job_duration_seconds_count{job_type="webhook",status="retry_scheduled"}'),
          3,
          where,
        );
        assert.strictEqual(
          v('jobqueue_job_duration_seconds_bucket{le="+Inf",job_type="webhook",status="completed"}'),
          1,
          where,
        );
        const sum = v('jobqueue_job_duration_seconds_sum{job_type="compute",status="completed"}');
        // 0 + 10 + 20 + 30 + 40 ms of sleeping, plus each attempt's overhead.
        assert.ok(sum !== null && sum >= 0.1 && sum < 5, `${where}: sum ${sum}`);
      };
      check(await scrape(second.origin), "the second API's first scrape");
      check(await scrape(service.origin), "the first API's first scrape");
      // Restarted: a fresh process reads the same figures.
      await second.stop();
      second = await startApi(service.redis.url);
      check(await scrape(second.origin), "the restarted API's first scrape");
    } finally {
      await second?.stop();
      await service.stop();
      await receiver.shutdown();
    }
  },
});
