/**
 * The API's cluster-wide `/metrics`: the spec's names from `broker.stats()`,
 * counters that never go down, durations kept in Redis, and a real
 * Prometheus scraping them.
 */
import assert from "node:assert/strict";
import { DURATION_BUCKETS } from "../../src/metrics/prometheus.ts";
import { Hono } from "hono";
import { ClusterMetrics } from "../../src/metrics/cluster_metrics.ts";
import { HttpMetrics } from "../../src/metrics/http_metrics.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { freePort, TestRedis } from "../helpers/redis_server.ts";
import { value } from "./exposition.ts";
import { counts, fakeBroker, queueInfo } from "./fake_broker.ts";
import { metricsGuard } from "../../src/api/auth/metrics_guard.ts";
import { installErrorHandlers } from "../../src/api/app.ts";
import { createLogger } from "../../src/log.ts";

/** The alert rules compose mounts as /etc/prometheus/alerts.yml. */
const ALERTS_FILE = new URL("../../deploy/prometheus/alerts.yml", import.meta.url).pathname;

Deno.test("cluster metrics: spec names from broker.stats(), counters never go down", async () => {
  const broker = fakeBroker();
  const metrics = new ClusterMetrics(broker, { http: false });
  broker.stats_ = counts({
    pending: 2,
    running: 1,
    completed: 40,
    failed: 3,
    retried: 5,
    by_type: { email: counts({ pending: 2, running: 1, completed: 40, failed: 3 }) },
  });
  broker.queues_ = [queueInfo("default", { pending: 2, running: 1, completed: 40, failed: 3 })];
  let text = await metrics.text();
  assert.strictEqual(value(text, 'jobqueue_jobs_completed_total{job_type="email"}'), 40);
  assert.strictEqual(value(text, 'jobqueue_jobs_failed_total{job_type="email"}'), 3);
  assert.strictEqual(value(text, 'jobqueue_jobs_started_total{job_type="email"}'), 44);
  assert.strictEqual(value(text, 'jobqueue_jobs_enqueued_total{job_type="email"}'), 46);
  assert.strictEqual(value(text, 'jobqueue_queue_jobs{queue="default",state="pending"}'), 2);
  assert.strictEqual(value(text, 'jobqueue_queue_jobs{queue="default",state="running"}'), 1);
  assert.strictEqual(value(text, "jobqueue_jobs_retried_total"), 5);
  assert.strictEqual(value(text, "jobqueue_redis_up"), 1);

  // Purge the dead set (failed 3 -> 0) and complete 2 more: failed must not drop.
  broker.stats_ = counts({
    completed: 42,
    failed: 0,
    retried: 5,
    by_type: { email: counts({ completed: 42, failed: 0, running: 1 }) },
  });
  broker.queues_ = [queueInfo("default", { running: 1, completed: 42 })];
  text = await metrics.text();
  assert.strictEqual(value(text, 'jobqueue_jobs_completed_total{job_type="email"}'), 42);
  assert.strictEqual(value(text, 'jobqueue_jobs_failed_total{job_type="email"}'), 3);
  assert.strictEqual(value(text, 'jobqueue_queue_jobs{queue="default",state="pending"}'), 0);
  await metrics.close();
});

Deno.test("cluster metrics: the finished counters are the lifetime totals, right from a first scrape after a purge", async () => {
  const broker = fakeBroker();
  const metrics = new ClusterMetrics(broker, { http: false });
  // A fresh API process after the dead set was purged: nothing there now, 3 ever.
  broker.stats_ = counts({
    failed: 0,
    failed_total: 3,
    completed: 1,
    completed_total: 7,
    by_type: {
      email: counts({ failed: 0, failed_total: 3, completed: 1, completed_total: 7 }),
    },
  });
  broker.queues_ = [queueInfo("default")];
  const text = await metrics.text();
  assert.strictEqual(value(text, 'jobqueue_jobs_failed_total{job_type="email"}'), 3);
  assert.strictEqual(value(text, 'jobqueue_jobs_completed_total{job_type="email"}'), 7);
  assert.strictEqual(value(text, 'jobqueue_jobs_enqueued_total{job_type="email"}'), 10);
  await metrics.close();
});

Deno.test("cluster metrics: Redis down answers 200 with jobqueue_redis_up 0", async () => {
  const broker = fakeBroker();
  broker.stats = () => Promise.reject(new Error("down"));
  const metrics = new ClusterMetrics(broker, { http: false });
  const res = await metrics.routes().request("/metrics");
  assert.strictEqual(res.status, 200);
  assert.strictEqual(value(await res.text(), "jobqueue_redis_up"), 0);
  await metrics.close();
});

Deno.test("duration histogram: the stored per-bucket counts, exported cumulative with sum and count", async () => {
  const broker = fakeBroker();
  const metrics = new ClusterMetrics(broker, { http: false });
  const counts = new Array(DURATION_BUCKETS.length + 1).fill(0);
  // 2 s and 4 s completed attempts: buckets le=2.5 (index 8) and le=5 (index 9); one past 300 s.
  counts[DURATION_BUCKETS.indexOf(2.5)] = 1;
  counts[DURATION_BUCKETS.indexOf(5)] = 1;
  counts[DURATION_BUCKETS.length] = 1;
  broker.durations_ = [
    { type: "email", status: "completed", counts, sum_ms: 2000 + 4000 + 400_000 },
    {
      type: "email",
      status: "retry_scheduled",
      counts: counts.map((_, i) => i === 0 ? 1 : 0),
      sum_ms: 5,
    },
  ];
  const text = await metrics.text();
  const completed = 'job_type="email",status="completed"';
  assert.strictEqual(value(text, `jobqueue_job_duration_seconds_bucket{le="1",${completed}}`), 0);
  assert.strictEqual(value(text, `jobqueue_job_duration_seconds_bucket{le="2.5",${completed}}`), 1);
  assert.strictEqual(value(text, `jobqueue_job_duration_seconds_bucket{le="5",${completed}}`), 2);
  assert.strictEqual(value(text, `jobqueue_job_duration_seconds_bucket{le="300",${completed}}`), 2);
  assert.strictEqual(
    value(text, `jobqueue_job_duration_seconds_bucket{le="+Inf",${completed}}`),
    3,
  );
  assert.strictEqual(value(text, `jobqueue_job_duration_seconds_count{${completed}}`), 3);
  assert.strictEqual(value(text, `jobqueue_job_duration_seconds_sum{${completed}}`), 406);
  assert.strictEqual(
    value(text, 'jobqueue_job_duration_seconds_count{job_type="email",status="retry_scheduled"}'),
    1,
  );
  assert.match(text, /# TYPE jobqueue_job_duration_seconds histogram/);
  await metrics.close();
});

Deno.test({
  name: "per-queue series from a real Redis: two queues, one pending job each",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const redis = await TestRedis.start();
    // Own key prefix: with REDIS_URL set the server is shared, and other tests' queues must not count.
    const broker = new RedisBroker({ url: redis.url, queue: "a", prefix: `mq${Date.now()}` });
    const metrics = new ClusterMetrics(broker, { http: false });
    try {
      await broker.enqueue({ type: "email", payload: { n: 1 } });
      await broker.enqueue({ type: "email", payload: { n: 2 }, queue: "b" });
      const text = await metrics.text();
      for (const queue of ["a", "b"]) {
        assert.strictEqual(value(text, `jobqueue_queue_jobs{queue="${queue}",state="pending"}`), 1);
        assert.strictEqual(
          value(text, `jobqueue_queue_jobs{queue="${queue}",state="running"}`),
          0,
        );
        assert.strictEqual(value(text, `jobqueue_queue_paused{queue="${queue}"}`), 0);
        const latency = value(text, `jobqueue_queue_latency_seconds{queue="${queue}"}`);
        assert.ok(latency !== null && latency >= 0 && latency < 60, `latency ${latency}`);
      }
      assert.strictEqual(value(text, "jobqueue_queues"), 2);
      assert.strictEqual(value(text, "jobqueue_queues_reported"), 2);
      assert.strictEqual(value(text, 'jobqueue_jobs_enqueued_total{job_type="email"}'), 2);
      assert.strictEqual(value(text, "jobqueue_redis_up"), 1);

      await broker.setPaused("b", true);
      const paused = await metrics.text();
      assert.strictEqual(value(paused, 'jobqueue_queue_paused{queue="b"}'), 1);
      assert.strictEqual(value(paused, 'jobqueue_queue_paused{queue="a"}'), 0);
    } finally {
      await metrics.close();
      await broker.close();
      await redis.close();
    }
  },
});

/** Polls Prometheus's query API until `check` accepts the first sample's value. */
async function waitForQuery(
  base: string,
  query: string,
  check: (v: number) => boolean,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(query)}`);
      const body = await res.json();
      last = body;
      const sample = body?.data?.result?.[0]?.value;
      if (sample && check(Number(sample[1]))) return Number(sample[1]);
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`prometheus query ${query} did not satisfy check: ${JSON.stringify(last)}`);
}

function prometheusBinary(): string | null {
  for (const path of ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not there
    }
  }
  return null;
}

const PROMETHEUS = prometheusBinary();
if (!PROMETHEUS) console.log("skipping prometheus scrape test: no prometheus binary installed");

/** A Prometheus on `config` (a prometheus.yml's text) in a temp dir; `stop` removes it all. */
async function startPrometheus(
  config: (dir: string) => string | Promise<string>,
): Promise<{ base: string; stop(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "jq-prom-" });
  await Deno.writeTextFile(`${dir}/prometheus.yml`, await config(dir));
  const port = freePort();
  const prom = new Deno.Command(PROMETHEUS!, {
    args: [
      `--config.file=${dir}/prometheus.yml`,
      `--storage.tsdb.path=${dir}/data`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=error",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  return {
    base: `http://127.0.0.1:${port}`,
    async stop() {
      try {
        prom.kill("SIGTERM");
      } catch {
        // already gone
      }
      await prom.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

Deno.test({
  name: "a real Prometheus scrapes cluster-wide counters backed by Redis",
  ignore: !PROMETHEUS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const redis = await TestRedis.start();
    const broker = new RedisBroker({ url: redis.url, queue: `prom${Date.now()}` });
    const metrics = new ClusterMetrics(broker, { http: new HttpMetrics() });
    const app = new Hono();
    app.route("/", metrics.routes());
    const ac = new AbortController();
    const server = Deno.serve(
      { port: 0, hostname: "127.0.0.1", signal: ac.signal, onListen: () => {} },
      app.fetch,
    );
    const prom = await startPrometheus(() =>
      [
        "global:",
        "  scrape_interval: 1s",
        "  evaluation_interval: 1s",
        "scrape_configs:",
        "  - job_name: jobqueue_api",
        "    scrape_interval: 1s",
        "    scrape_timeout: 900ms",
        "    static_configs:",
        `      - targets: ["127.0.0.1:${server.addr.port}"]`,
        "",
      ].join("\n")
    );
    try {
      const base = prom.base;

      // Before any job: the target is up and reports the queue.
      await waitForQuery(base, 'up{job="jobqueue_api"}', (v) => v === 1, 30_000);

      // Simulate a worker with the broker: enqueue, claim, complete.
      for (let i = 0; i < 3; i++) {
        await broker.enqueue({ type: "email", payload: { n: i } });
      }
      const claimed = await broker.claim(3);
      assert.strictEqual(claimed.length, 3);
      for (const job of claimed) await broker.complete(job.id, job.token, { ok: true });

      const completed = await waitForQuery(
        base,
        'jobqueue_jobs_completed_total{job_type="email"}',
        (v) => v >= 3,
        30_000,
      );
      assert.strictEqual(completed, 3);
      const started = await waitForQuery(
        base,
        'jobqueue_jobs_started_total{job_type="email"}',
        (v) => v >= 3,
        10_000,
      );
      assert.strictEqual(started, 3);
      // The durations were counted in Redis by complete.lua.
      await waitForQuery(
        base,
        'sum(jobqueue_job_duration_seconds_count{job_type="email",status="completed"})',
        (v) => v >= 3,
        10_000,
      );
    } finally {
      await prom.stop();
      ac.abort();
      await server.finished;
      await metrics.close();
      await broker.close();
      await redis.close();
    }
  },
});

Deno.test({
  name: "the compose Prometheus config (deploy/prometheus.yml) scrapes /metrics with METRICS_TOKEN",
  ignore: !PROMETHEUS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const redis = await TestRedis.start();
    const broker = new RedisBroker({ url: redis.url, queue: `promtoken${Date.now()}` });
    const metrics = new ClusterMetrics(broker, { http: new HttpMetrics() });
    const token = "compose-metrics-token-0123456789abcdef";
    let refused = 0;
    const app = new Hono();
    app.use("/metrics", async (c, next) => {
      await next();
      if (c.res.status === 401) refused++;
    });
    app.use("/metrics", metricsGuard(token));
    app.route("/", metrics.routes());
    installErrorHandlers(app, createLogger({ level: "silent" }));
    const ac = new AbortController();
    const server = Deno.serve(
      { port: 0, hostname: "127.0.0.1", signal: ac.signal, onListen: () => {} },
      app.fetch,
    );
    // The shipped file, with only the container paths and names pointed here.
    const shipped = await Deno.readTextFile(
      new URL("../../deploy/prometheus.yml", import.meta.url),
    );
    assert.ok(shipped.includes("credentials_file: /tmp/metrics_token"));
    const prom = await startPrometheus(async (dir) => {
      await Deno.writeTextFile(`${dir}/metrics_token`, token);
      return shipped.replaceAll("/tmp/metrics_token", `${dir}/metrics_token`)
        // The alerts compose mounts there: the repo's file.
        .replace("/etc/prometheus/alerts.yml", ALERTS_FILE)
        .replace('"api:8080"', `"127.0.0.1:${server.addr.port}"`)
        .replace("scrape_interval: 5s", "scrape_interval: 1s");
    });
    try {
      const base = prom.base;
      await waitForQuery(base, 'up{job="jobqueue-api"}', (v) => v === 1, 30_000);
      assert.strictEqual(
        await waitForQuery(base, 'jobqueue_redis_up{job="jobqueue-api"}', (v) => v === 1, 10_000),
        1,
      );
      assert.strictEqual(refused, 0, "every scrape carried the token");
      // The shipped alert rules loaded (deploy/prometheus/alerts.yml, via rule_files).
      const rules = await (await fetch(`${base}/api/v1/rules`)).json() as {
        data: { groups: Array<{ name: string; rules: Array<{ name: string; health: string }> }> };
      };
      const group = rules.data.groups.find((g) => g.name === "jobqueue");
      assert.ok(group, JSON.stringify(rules));
      assert.strictEqual(group.rules.length, 6);
      const anonymous = await fetch(`http://127.0.0.1:${server.addr.port}/metrics`);
      assert.strictEqual(anonymous.status, 401, "and the endpoint does ask for it");
      await anonymous.body?.cancel();
    } finally {
      await prom.stop();
      ac.abort();
      await server.finished;
      await metrics.close();
      await broker.close();
      await redis.close();
    }
  },
});
