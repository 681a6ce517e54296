/**
 * Traces end to end through the real process tree (`deno task start`: the
 * API in one process, a supervised worker in another, its handlers in
 * restricted Web Workers), exporting over OTLP/HTTP to a receiver started
 * here that decodes every request with the official OTLP definitions.
 */
import assert from "node:assert/strict";
import { startService, waitFor } from "./start_service.ts";
import { type ReceivedSpan, startOtlpReceiver } from "../helpers/otlp_receiver.ts";

const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;
const STATUS_ERROR = 2;

const CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN = "00f067aa0ba902b7";
const TRACEPARENT = `00-${CALLER_TRACE}-${CALLER_SPAN}-01`;

async function submit(origin: string, path: string, body: unknown, headers: HeadersInit = {}) {
  const res = await fetch(`${origin}/api/v1${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  assert.ok(res.status === 201 || res.status === 207, `${res.status} ${await res.clone().text()}`);
  return await res.json();
}

async function finished(origin: string, id: string, status: string) {
  return await waitFor(`job ${id} ${status}`, 20_000, async () => {
    const job = await (await fetch(`${origin}/api/v1/jobs/${id}`)).json();
    return job.status === status ? job : null;
  });
}

const byName = (spans: ReceivedSpan[], name: string) => spans.filter((s) => s.name === name);
const attemptOf = (spans: ReceivedSpan[], id: string) =>
  spans.filter((s) => s.kind === CONSUMER && s.attributes["job.id"] === id)
    .sort((a, b) => Number(a.attributes["job.attempt"]) - Number(b.attributes["job.attempt"]));

/** The JSON log lines in `output` about job `id`. */
function jobLines(output: string, id: string): Array<Record<string, unknown>> {
  return output.split("\n").filter((l) => l.startsWith("{")).map((l) => {
    try {
      return JSON.parse(l);
    } catch {
      return {};
    }
  }).filter((l) => l.job_id === id);
}

Deno.test("tracing: submit, attempt and handler spans form one trace across processes", async () => {
  const hooks: Array<{ traceparent: string | null }> = [];
  const otlp = startOtlpReceiver((req) => {
    hooks.push({ traceparent: req.headers.get("traceparent") });
    return new Response("ok");
  });
  const service = await startService({
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_BSP_SCHEDULE_DELAY: "200",
    JOB_MODULES: "test/e2e/fixtures/traced_jobs.ts",
    OUTBOUND_ALLOW: "127.0.0.1",
    LOG_LEVEL: "debug",
  }, { capture: true });
  let stopped = false;
  try {
    const { origin } = service;
    // 1. A caller's traceparent is continued.
    const one = (await submit(origin, "/jobs", { type: "traced", payload: { label: "a" } }, {
      traceparent: TRACEPARENT,
      tracestate: "vendor=x1",
    })).job_id as string;
    // 2. No traceparent: a new trace; every attempt fails.
    const failing = (await submit(origin, "/jobs", {
      type: "always_fails",
      payload: {},
      max_attempts: 2,
    })).job_id as string;
    // 3. A batch: one span for the request, one child per job.
    const batch = await submit(origin, "/jobs/batch", {
      jobs: [{ type: "traced", payload: { label: "b1" } }, { type: "traced", payload: {} }],
    });
    const [b1, b2] = batch.results.map((r: { job_id: string }) => r.job_id);
    // 4. The webhook type sends a traceparent of its own client span.
    const hook = (await submit(origin, "/jobs", {
      type: "webhook",
      payload: { url: `${otlp.url}/hook`, body: { hi: 1 } },
    })).job_id as string;

    // 5. A caller's sampled-out trace: continued, and recorded nowhere.
    const unsampled = (await submit(origin, "/jobs", { type: "traced", payload: {} }, {
      traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-00`,
    })).job_id as string;

    const doc = await finished(origin, one, "completed");
    assert.strictEqual((await finished(origin, unsampled, "completed")).trace_id, CALLER_TRACE);
    assert.strictEqual(doc.trace_id, CALLER_TRACE, "the status document names the trace");
    await finished(origin, failing, "failed");
    await finished(origin, b1, "completed");
    await finished(origin, b2, "completed");
    await finished(origin, hook, "completed");
    // A graceful stop flushes both processes' spans.
    assert.strictEqual(await service.stop(), 0);
    stopped = true;
    await otlp.waitFor(
      "every span",
      10_000,
      (spans) =>
        attemptOf(spans, hook).length === 1 && attemptOf(spans, failing).length === 2 &&
        byName(spans, "step").length === 3 && byName(spans, "POST").length === 1,
    );
    const spans = otlp.spans;

    // 1: the caller's trace, parents across the three places spans are made.
    const submitSpan = spans.find((s) => s.kind === SERVER && s.attributes["job.id"] === one)!;
    assert.ok(submitSpan, "the API's submit span");
    assert.strictEqual(submitSpan.service, "jobqueue-api");
    assert.strictEqual(submitSpan.name, "POST /api/v1/jobs");
    assert.strictEqual(submitSpan.traceId, CALLER_TRACE);
    assert.strictEqual(submitSpan.parentSpanId, CALLER_SPAN);
    assert.strictEqual(submitSpan.traceState, "vendor=x1");
    assert.strictEqual(submitSpan.attributes["job.type"], "traced");
    assert.strictEqual(submitSpan.attributes["job.queue"], "default");
    const [attempt] = attemptOf(spans, one);
    assert.strictEqual(attempt.service, "jobqueue-worker");
    assert.strictEqual(attempt.traceId, CALLER_TRACE);
    assert.strictEqual(attempt.parentSpanId, submitSpan.spanId);
    assert.deepStrictEqual(
      [
        attempt.attributes["job.id"],
        attempt.attributes["job.type"],
        attempt.attributes["job.queue"],
        attempt.attributes["job.attempt"],
        attempt.attributes["job.outcome"],
      ],
      [one, "traced", "default", 1, "completed"],
    );
    assert.notStrictEqual(attempt.status.code, STATUS_ERROR);
    const step = byName(spans, "step").find((s) => s.attributes["step.label"] === "a")!;
    assert.strictEqual(step.service, "jobqueue-worker", "exported by the worker process");
    assert.strictEqual(step.traceId, CALLER_TRACE);
    assert.strictEqual(
      step.parentSpanId,
      attempt.spanId,
      "the handler's span nests under the attempt",
    );
    const inner = byName(spans, "inner step").find((s) => s.parentSpanId === step.spanId);
    assert.ok(inner, "a span started inside the active span nests under it");

    // 2: a new trace; the failed attempts are errors with an exception event.
    const failSubmit = spans.find((s) => s.kind === SERVER && s.attributes["job.id"] === failing)!;
    assert.strictEqual(failSubmit.parentSpanId, "", "no traceparent: a root span");
    assert.notStrictEqual(failSubmit.traceId, CALLER_TRACE);
    const attempts = attemptOf(spans, failing);
    assert.deepStrictEqual(attempts.map((a) => a.attributes["job.outcome"]), ["retried", "failed"]);
    for (const a of attempts) {
      assert.strictEqual(a.traceId, failSubmit.traceId);
      assert.strictEqual(a.parentSpanId, failSubmit.spanId);
      assert.strictEqual(a.status.code, STATUS_ERROR);
      assert.strictEqual(a.status.message, "this job always fails");
      const exception = a.events.find((e) => e.name === "exception");
      assert.strictEqual(exception?.attributes["exception.message"], "this job always fails");
    }

    // 3: the batch's request span, and each job's own producer span under it.
    const batchSpan = spans.find((s) => s.name === "POST /api/v1/jobs/batch")!;
    assert.strictEqual(batchSpan.kind, SERVER);
    for (const id of [b1, b2]) {
      const item = spans.find((s) => s.kind === PRODUCER && s.attributes["job.id"] === id)!;
      assert.strictEqual(item.name, "enqueue traced");
      assert.strictEqual(item.parentSpanId, batchSpan.spanId);
      assert.strictEqual(attemptOf(spans, id)[0].parentSpanId, item.spanId);
    }

    // 4: the webhook's request carried the traceparent of its client span.
    const client = spans.find((s) => s.kind === CLIENT && s.name === "POST")!;
    const hookAttempt = attemptOf(spans, hook)[0];
    assert.strictEqual(client.parentSpanId, hookAttempt.spanId);
    assert.strictEqual(client.attributes["http.response.status_code"], 200);
    assert.strictEqual(hooks.length, 1);
    assert.strictEqual(hooks[0].traceparent, `00-${client.traceId}-${client.spanId}-01`);

    assert.deepStrictEqual(spans.filter((s) => s.attributes["job.id"] === unsampled), []);
    assert.strictEqual(byName(spans, "step").length, 3, "and not its handler's span");

    // Logs: the job's lines carry the attempt span's ids.
    const lines = jobLines(service.output(), one);
    const handlerLine = lines.find((l) => l.msg === "traced step done");
    assert.ok(handlerLine, "the handler's ctx.log line");
    const completed = lines.find((l) => l.msg === "job completed" && l.role === "worker");
    const started = lines.find((l) => l.msg === "job started" && l.role === "worker");
    for (const line of [handlerLine, completed, started]) {
      assert.ok(line, JSON.stringify(lines));
      assert.strictEqual(line.trace_id, CALLER_TRACE, JSON.stringify(line));
      assert.strictEqual(line.span_id, attempt.spanId, JSON.stringify(line));
    }
  } finally {
    if (!stopped) await service.stop();
    await otlp.close();
  }
});

Deno.test("tracing off: nothing is exported, a caller's traceparent is still stored and logged", async () => {
  const otlp = startOtlpReceiver();
  // An endpoint, but the SDK disabled: the switch the spec gives operators.
  const service = await startService({
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_SDK_DISABLED: "true",
    JOB_MODULES: "test/e2e/fixtures/traced_jobs.ts",
    LOG_LEVEL: "debug",
  }, { capture: true });
  let stopped = false;
  try {
    const { origin } = service;
    const carried = (await submit(origin, "/jobs", { type: "traced", payload: {} }, {
      traceparent: TRACEPARENT,
    })).job_id as string;
    const plain = (await submit(origin, "/jobs", { type: "traced", payload: {} })).job_id as string;
    const bad = (await submit(origin, "/jobs", { type: "traced", payload: {} }, {
      traceparent: "00-zz-not-valid",
    })).job_id as string;
    assert.strictEqual((await finished(origin, carried, "completed")).trace_id, CALLER_TRACE);
    assert.strictEqual((await finished(origin, plain, "completed")).trace_id, null);
    assert.strictEqual((await finished(origin, bad, "completed")).trace_id, null, "ignored");
    assert.strictEqual(await service.stop(), 0);
    stopped = true;
    const output = service.output();
    assert.ok(!output.includes("tracing on"), "no process started tracing");
    assert.strictEqual(otlp.requests, 0);
    // The stored context still correlates the logs: the submit span's (the caller's) ids.
    const line = jobLines(output, carried).find((l) => l.msg === "traced step done");
    assert.strictEqual(line?.trace_id, CALLER_TRACE);
    assert.strictEqual(line?.span_id, CALLER_SPAN);
    assert.strictEqual(
      jobLines(output, plain).find((l) => l.msg === "traced step done")?.trace_id,
      undefined,
    );
  } finally {
    if (!stopped) await service.stop();
    await otlp.close();
  }
});
