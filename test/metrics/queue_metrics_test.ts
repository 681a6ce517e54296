/**
 * The API's per-queue series (`jobqueue_queue_*{queue}`) from `broker.queues()`,
 * and the cap on how many queues one scrape reports.
 */
import assert from "node:assert/strict";
import {
  ClusterMetrics,
  MAX_QUEUE_SERIES,
  reportedQueues,
} from "../../src/metrics/cluster_metrics.ts";
import { value } from "./exposition.ts";
import { fakeBroker, queueInfo } from "./fake_broker.ts";

/** The sample lines of one metric name (no HELP/TYPE, no other names). */
function samples(text: string, name: string): string[] {
  return text.split("\n").filter((line) =>
    line.startsWith(name + "{") || line.startsWith(name + " ")
  );
}

Deno.test("queue metrics: jobs by queue and state, latency in seconds, paused 1/0", async () => {
  const broker = fakeBroker();
  broker.queues_ = [
    queueInfo("emails", {
      pending: 7,
      scheduled: 2,
      running: 3,
      waiting: 5,
      completed: 99,
      latency_ms: 1500,
    }),
    queueInfo("reports", { paused: true, pending: 4, latency_ms: 250 }),
    queueInfo("idle"),
  ];
  const metrics = new ClusterMetrics(broker, { http: false });
  const text = await metrics.text();
  assert.strictEqual(value(text, 'jobqueue_queue_jobs{queue="emails",state="pending"}'), 7);
  assert.strictEqual(value(text, 'jobqueue_queue_jobs{queue="emails",state="scheduled"}'), 2);
  assert.strictEqual(value(text, 'jobqueue_queue_jobs{queue="emails",state="running"}'), 3);
  assert.strictEqual(value(text, 'jobqueue_queue_jobs{queue="emails",state="waiting"}'), 5);
  assert.strictEqual(value(text, 'jobqueue_queue_jobs{queue="reports",state="pending"}'), 4);
  assert.strictEqual(value(text, 'jobqueue_queue_jobs{queue="idle",state="pending"}'), 0);
  // Only the states waiting or running now: finished ones are the jobqueue_jobs_* counters.
  assert.doesNotMatch(text, /jobqueue_queue_jobs\{[^}]*state="(completed|failed|cancelled)"/);
  assert.strictEqual(samples(text, "jobqueue_queue_jobs").length, 12);

  assert.strictEqual(value(text, 'jobqueue_queue_latency_seconds{queue="emails"}'), 1.5);
  assert.strictEqual(value(text, 'jobqueue_queue_latency_seconds{queue="reports"}'), 0.25);
  assert.strictEqual(value(text, 'jobqueue_queue_latency_seconds{queue="idle"}'), 0);
  assert.strictEqual(value(text, 'jobqueue_queue_paused{queue="reports"}'), 1);
  assert.strictEqual(value(text, 'jobqueue_queue_paused{queue="emails"}'), 0);
  assert.strictEqual(value(text, 'jobqueue_queue_paused{queue="idle"}'), 0);
  assert.match(text, /^# TYPE jobqueue_queue_latency_seconds gauge$/m);
  assert.match(text, /^# TYPE jobqueue_queue_paused gauge$/m);
  assert.match(text, /^# TYPE jobqueue_queues gauge$/m);
  assert.match(text, /^# TYPE jobqueue_queues_reported gauge$/m);

  assert.strictEqual(value(text, "jobqueue_queues"), 3);
  assert.strictEqual(value(text, "jobqueue_queues_reported"), 3);
  // One round of reads per scrape: one stats() and one queues(), nothing per queue.
  assert.strictEqual(broker.statsCalls, 1);
  assert.strictEqual(broker.queuesCalls, 1);

  // Resumed, drained, and a queue gone: the series follow, the gone queue's disappear.
  broker.queues_ = [queueInfo("emails"), queueInfo("reports", { paused: false })];
  const next = await metrics.text();
  assert.strictEqual(value(next, 'jobqueue_queue_jobs{queue="emails",state="pending"}'), 0);
  assert.strictEqual(value(next, 'jobqueue_queue_latency_seconds{queue="emails"}'), 0);
  assert.strictEqual(value(next, 'jobqueue_queue_paused{queue="reports"}'), 0);
  assert.doesNotMatch(next, /queue="idle"/);
  assert.strictEqual(value(next, "jobqueue_queues"), 2);
  assert.strictEqual(broker.queuesCalls, 2);
  await metrics.close();
});

Deno.test("queue metrics: a scrape reports at most MAX_QUEUE_SERIES queues, the most pending", async () => {
  assert.strictEqual(MAX_QUEUE_SERIES, 100);
  const broker = fakeBroker();
  // q000 .. q149 with pending = index: q050 .. q149 have the most.
  broker.queues_ = Array.from(
    { length: 150 },
    (_, i) => queueInfo(`q${String(i).padStart(3, "0")}`, { pending: i, latency_ms: i }),
  );
  const metrics = new ClusterMetrics(broker, { http: false });
  const text = await metrics.text();
  assert.strictEqual(value(text, "jobqueue_queues"), 150);
  assert.strictEqual(value(text, "jobqueue_queues_reported"), 100);
  assert.strictEqual(samples(text, "jobqueue_queue_jobs").length, 400);
  assert.strictEqual(samples(text, "jobqueue_queue_latency_seconds").length, 100);
  assert.strictEqual(samples(text, "jobqueue_queue_paused").length, 100);
  assert.strictEqual(value(text, 'jobqueue_queue_jobs{queue="q149",state="pending"}'), 149);
  assert.strictEqual(value(text, 'jobqueue_queue_jobs{queue="q050",state="pending"}'), 50);
  assert.strictEqual(value(text, 'jobqueue_queue_jobs{queue="q049",state="pending"}'), null);
  assert.strictEqual(value(text, 'jobqueue_queue_paused{queue="q000"}'), null);
  const reported = new Set(
    samples(text, "jobqueue_queue_paused").map((line) => line.match(/queue="([^"]+)"/)![1]),
  );
  assert.deepStrictEqual(
    [...reported].sort(),
    Array.from({ length: 100 }, (_, i) => `q${String(i + 50).padStart(3, "0")}`),
  );

  // A queue that falls out of the top 100 loses its series at the next scrape.
  broker.queues_ = broker.queues_.map((q) => q.name === "q050" ? { ...q, pending: 0 } : q);
  broker.queues_.find((q) => q.name === "q049")!.pending = 1000;
  const next = await metrics.text();
  assert.strictEqual(value(next, 'jobqueue_queue_jobs{queue="q049",state="pending"}'), 1000);
  assert.strictEqual(value(next, 'jobqueue_queue_jobs{queue="q050",state="pending"}'), null);
  assert.strictEqual(value(next, "jobqueue_queues_reported"), 100);
  await metrics.close();
});

Deno.test("reportedQueues: most pending first, ties by name, deterministic whatever the input order", () => {
  const qs = [
    queueInfo("b", { pending: 5 }),
    queueInfo("a", { pending: 5 }),
    queueInfo("c", { pending: 9 }),
    queueInfo("d", { pending: 1 }),
    queueInfo("B", { pending: 5 }),
  ];
  const names = (max: number, input = qs) => reportedQueues(input, max).map((q) => q.name);
  // Ties on 5 pending: "B" < "a" < "b" by code unit, whatever the locale.
  assert.deepStrictEqual(names(2), ["B", "c"]);
  assert.deepStrictEqual(names(3), ["B", "a", "c"]);
  assert.deepStrictEqual(names(3, [...qs].reverse()), ["B", "a", "c"]);
  assert.deepStrictEqual(names(10), ["B", "a", "b", "c", "d"]);
  assert.deepStrictEqual(names(0), []);
  assert.strictEqual(reportedQueues(qs).length, 5);
});

Deno.test("queue metrics: queues() failing reads as Redis down and keeps the last queue series", async () => {
  const broker = fakeBroker();
  broker.queues_ = [queueInfo("emails", { pending: 3 })];
  const metrics = new ClusterMetrics(broker, { http: false });
  let text = await metrics.text();
  assert.strictEqual(value(text, "jobqueue_redis_up"), 1);
  broker.queues = () => Promise.reject(new Error("down"));
  const res = await metrics.routes().request("/metrics");
  assert.strictEqual(res.status, 200);
  text = await res.text();
  assert.strictEqual(value(text, "jobqueue_redis_up"), 0);
  assert.strictEqual(value(text, 'jobqueue_queue_jobs{queue="emails",state="pending"}'), 3);
  await metrics.close();
});
