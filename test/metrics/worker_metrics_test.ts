import assert from "node:assert/strict";
import { EventBus } from "../../src/events/bus.ts";
import { serveWorkerMetrics, WorkerMetrics } from "../../src/metrics/worker_metrics.ts";
import { freePort } from "../helpers/redis_server.ts";

const at = Date.now();

Deno.test("MetricsObserver turns lifecycle events into jobqueue_worker_* series", async () => {
  const metrics = new WorkerMetrics();
  const bus = new EventBus();
  bus.subscribe(metrics.observer);
  const base = { job_id: "j1", type: "email", at };
  bus.emit({ ...base, kind: "enqueued", priority: 0 });
  bus.emit({ ...base, kind: "started", attempt: 1, queued_ms: 20 });
  bus.emit({ ...base, kind: "completed", attempt: 1, duration_ms: 2000 });
  bus.emit({ ...base, kind: "started", attempt: 1, queued_ms: 5 });
  bus.emit({ ...base, kind: "timed_out", attempt: 1, duration_ms: 3000, hard: false });
  bus.emit({
    ...base,
    kind: "retry_scheduled",
    attempt: 1,
    duration_ms: 3000,
    error: "x",
    retry_in_ms: 1,
  });
  bus.emit({ ...base, kind: "started", attempt: 2, queued_ms: 5 });
  bus.emit({ ...base, kind: "failed", attempt: 2, duration_ms: 10, error: "x" });
  // A reaped lease: recovered, then failed without a duration (no attempt reported one).
  bus.emit({ ...base, kind: "recovered", attempt: 1, outcome: "failed" });
  bus.emit({ ...base, kind: "failed", attempt: 1, error: "lease expired" });

  const text = await metrics.text();
  assert.match(text, /^jobqueue_worker_jobs_started_total\{job_type="email"\} 3$/m);
  assert.match(text, /^jobqueue_worker_jobs_completed_total\{job_type="email"\} 1$/m);
  // "failed" means the dead set; a failed attempt that runs again is a retry.
  assert.match(text, /^jobqueue_worker_jobs_retried_total\{job_type="email"\} 1$/m);
  assert.match(text, /^jobqueue_worker_jobs_failed_total\{job_type="email"\} 2$/m);
  assert.match(text, /^jobqueue_worker_jobs_recovered_total\{job_type="email"\} 1$/m);
  assert.doesNotMatch(text, /_dead_total/);
  assert.match(text, /^jobqueue_worker_jobs_timed_out_total\{job_type="email"\} 1$/m);
  // The spec's bucket: a 2 s completion is within le="2.5".
  assert.match(
    text,
    /^jobqueue_worker_job_duration_seconds_bucket\{le="2.5",job_type="email",status="completed"\} 1$/m,
  );
  assert.match(
    text,
    /^jobqueue_worker_job_duration_seconds_count\{job_type="email",status="retry_scheduled"\} 1$/m,
  );
  assert.match(
    text,
    /^jobqueue_worker_job_duration_seconds_count\{job_type="email",status="failed"\} 1$/m,
  );
  // timed_out is not a second observation of the same attempt.
  assert.doesNotMatch(text, /status="timed_out"/);
  // No series shares a name with the API's cluster-wide ones.
  for (const line of text.split("\n")) {
    if (line && !line.startsWith("#")) assert.match(line, /^jobqueue_worker_/);
  }
});

Deno.test("pool gauges read the callback at scrape time; a throwing callback does not break it", async () => {
  let snap = { threads: 4, busy_threads: 1, in_flight: 3, concurrency: 16, recycles: 2 };
  let broken = false;
  const metrics = new WorkerMetrics({
    pool: () => {
      if (broken) throw new Error("boom");
      return snap;
    },
  });
  let text = await metrics.text();
  assert.match(text, /^jobqueue_worker_threads 4$/m);
  assert.match(text, /^jobqueue_worker_threads_busy 1$/m);
  assert.match(text, /^jobqueue_worker_jobs_in_flight 3$/m);
  assert.match(text, /^jobqueue_worker_concurrency 16$/m);
  assert.match(text, /^jobqueue_worker_recycles_total 2$/m);
  await new Promise((r) => setTimeout(r, 60));
  snap = { ...snap, in_flight: 7, recycles: 5 };
  text = await metrics.text();
  assert.match(text, /^jobqueue_worker_jobs_in_flight 7$/m);
  assert.match(text, /^jobqueue_worker_recycles_total 5$/m);
  await new Promise((r) => setTimeout(r, 60));
  broken = true;
  text = await metrics.text();
  assert.match(text, /jobqueue_worker_jobs_started_total/);
});

Deno.test("serveWorkerMetrics serves /metrics and /health, 404s elsewhere, and port 0 disables it", async () => {
  assert.strictEqual(serveWorkerMetrics(0, new WorkerMetrics().registry), null);
  const metrics = new WorkerMetrics();
  metrics.observer.onEvent({
    kind: "started",
    job_id: "a",
    type: "t",
    at,
    attempt: 1,
    queued_ms: 1,
  });
  const port = freePort();
  const server = serveWorkerMetrics(port, metrics.registry, { hostname: "127.0.0.1" });
  assert.ok(server);
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    assert.strictEqual(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/plain/);
    assert.match(await res.text(), /jobqueue_worker_jobs_started_total\{job_type="t"\} 1/);
    // The container HEALTHCHECK (src/healthcheck.ts) probes a worker here.
    const health = await fetch(`http://127.0.0.1:${server.port}/health`);
    assert.strictEqual(health.status, 200);
    assert.deepStrictEqual(await health.json(), { status: "ok" });
    const missing = await fetch(`http://127.0.0.1:${server.port}/other`);
    assert.strictEqual(missing.status, 404);
    await missing.body?.cancel();
  } finally {
    await server.shutdown();
  }
});
