/**
 * `promtool check metrics` (Prometheus' own linter) finds nothing to say
 * about either `/metrics`: the API's (cluster-wide series from Redis, HTTP
 * series) and a worker's (per-process series), each with data in it.
 */
import assert from "node:assert/strict";
import { EventBus } from "../../src/events/bus.ts";
import { WorkerMetrics } from "../../src/metrics/worker_metrics.ts";
import { buildApiApp } from "../../src/roles/api_app.ts";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { Redis } from "ioredis";
import { queueKeys } from "../../src/queue/keys.ts";
import { WebhookStore } from "../../src/webhooks/store.ts";
import { TestRedis } from "../helpers/redis_server.ts";

function promtoolBinary(): string | null {
  for (const path of ["/usr/bin/promtool", "/usr/local/bin/promtool"]) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not there
    }
  }
  return null;
}

const PROMTOOL = promtoolBinary();
if (!PROMTOOL) console.log("skipping promtool test: no promtool binary installed");

/** promtool's findings on `text` (empty: clean). */
async function lint(text: string): Promise<string> {
  const child = new Deno.Command(PROMTOOL!, {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  const said = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return out.success ? said.trim() : `exit ${out.code}: ${said}`;
}

Deno.test({
  name: "promtool check metrics is clean on the API's and a worker's /metrics",
  ignore: !PROMTOOL,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const redis = await TestRedis.start();
    const broker = new RedisBroker({ url: redis.url, queue: `lint${Date.now()}` });
    const client = new Redis(redis.url);
    // Webhook series too, with a delivered and a retried attempt counted (as webhook_done.lua does).
    await client.hset(queueKeys(broker.defaultQueue).webhookStats, {
      delivered: 1,
      retried: 1,
      "lat:0.05": 1,
      "lat:count": 1,
      "lat:sum": 0.02,
    });
    await client.hset("jq:{#}:queues", broker.defaultQueue, Date.now());
    const api = buildApiApp({
      broker,
      webhooks: new WebhookStore({ client, homeQueue: () => broker.homeQueue() }),
      registry: await loadRegistry(),
      log: createLogger({ level: "silent" }),
    });
    try {
      for (let i = 0; i < 3; i++) await broker.enqueue({ type: "email", payload: { n: i } });
      const [job] = await broker.claim(1);
      await broker.complete(job.id, job.token, { ok: true });
      await (await api.app.request("/api/v1/stats")).body?.cancel();
      const apiText = await (await api.app.request("/metrics")).text();
      assert.match(apiText, /jobqueue_jobs_completed_total/);
      assert.match(
        apiText,
        /jobqueue_job_duration_seconds_bucket\{le="\+Inf",job_type="email",status="completed"\} 1/,
      );
      assert.match(apiText, /jobqueue_webhook_delivery_latency_seconds_bucket\{le="0.05"\} 1/);
      assert.strictEqual(await lint(apiText), "", "the API's /metrics");

      const worker = new WorkerMetrics();
      const bus = new EventBus();
      bus.subscribe(worker.observer);
      const base = { job_id: "j1", type: "email", at: Date.now() };
      bus.emit({ ...base, kind: "started", attempt: 1, queued_ms: 20 });
      bus.emit({ ...base, kind: "completed", attempt: 1, duration_ms: 20 });
      const workerText = await worker.text();
      assert.match(workerText, /jobqueue_worker_jobs_completed_total/);
      assert.strictEqual(await lint(workerText), "", "a worker's /metrics");
    } finally {
      await api.close();
      client.disconnect();
      await broker.close();
      await redis.close();
    }
  },
});
