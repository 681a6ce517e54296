/**
 * The API's submit spans through `app.request()` and a real redis-server,
 * with the spans kept in memory: a caller's traceparent continued, the span
 * the job stores, the batch's per-item spans, refusals as the client's
 * errors (not the server's); and without a tracer, the caller's context
 * stored as it came.
 */
import assert from "node:assert/strict";
import {
  AlwaysOnSampler,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { postJson, SPEC_EMAIL, startApi } from "../api/helpers.ts";
import { decodeTrace } from "../../src/tracing/trace_context.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";
const TP = `00-${TRACE}-${SPAN}-01`;
const SERVER = 1;
const PRODUCER = 3;
const ERROR = 2;

function memoryTracer() {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  return { tracer: provider.getTracer("test"), spans: () => exporter.getFinishedSpans() };
}

Deno.test("submit spans: a traceparent is continued and the job stores the submit span", async () => {
  const memory = memoryTracer();
  const api = await startApi({ tracer: memory.tracer });
  try {
    const res = await postJson(api.app, "/api/v1/jobs", SPEC_EMAIL, {
      traceparent: TP,
      tracestate: "k=v",
    });
    assert.strictEqual(res.status, 201);
    const { job_id } = await res.json();
    const [span] = memory.spans();
    assert.strictEqual(span.name, "POST /api/v1/jobs");
    assert.strictEqual(span.kind, SERVER);
    assert.strictEqual(span.spanContext().traceId, TRACE);
    assert.strictEqual(span.parentSpanContext?.spanId, SPAN);
    assert.strictEqual(span.attributes["job.id"], job_id);
    assert.strictEqual(span.attributes["job.type"], "email");
    assert.strictEqual(span.attributes["job.queue"], api.broker.defaultQueue);
    assert.strictEqual(span.attributes["http.response.status_code"], 201);
    const [claimed] = await api.broker.claim(1, { leaseMs: 30_000 });
    const stored = decodeTrace(claimed.trace);
    assert.strictEqual(
      stored?.span_id,
      span.spanContext().spanId,
      "the submit span, not the caller's",
    );
    assert.strictEqual(stored?.trace_id, TRACE);
    assert.strictEqual(stored?.tracestate, "k=v");
    const doc = await (await api.app.request(`/api/v1/jobs/${job_id}`)).json();
    assert.strictEqual(doc.trace_id, TRACE);

    // No traceparent (or a malformed one): a new trace, a root span.
    const fresh = await postJson(api.app, "/api/v1/jobs", SPEC_EMAIL, {
      traceparent: "00-nonsense",
    });
    assert.strictEqual(fresh.status, 201);
    const root = memory.spans()[1];
    assert.strictEqual(root.parentSpanContext, undefined);
    assert.notStrictEqual(root.spanContext().traceId, TRACE);
    const freshDoc = await (await api.app.request(`/api/v1/jobs/${(await fresh.json()).job_id}`))
      .json();
    assert.strictEqual(freshDoc.trace_id, root.spanContext().traceId);

    // A refusal is the client's error: the span says 422, its status is not ERROR.
    const bad = await postJson(api.app, "/api/v1/jobs", { type: "email", payload: {} });
    assert.strictEqual(bad.status, 422);
    const refused = memory.spans()[2];
    assert.strictEqual(refused.attributes["http.response.status_code"], 422);
    assert.notStrictEqual(refused.status.code, ERROR);

    // An idempotent replay says so.
    const headers = { "idempotency-key": "k1" };
    const body = SPEC_EMAIL;
    await postJson(api.app, "/api/v1/jobs", body, headers);
    assert.strictEqual((await postJson(api.app, "/api/v1/jobs", body, headers)).status, 200);
    assert.strictEqual(memory.spans()[4].attributes["job.replayed"], "true");
  } finally {
    await api.close();
  }
});

Deno.test("submit spans: a batch is one request span with a producer span per valid item", async () => {
  const memory = memoryTracer();
  const api = await startApi({ tracer: memory.tracer });
  try {
    const res = await postJson(api.app, "/api/v1/jobs/batch", {
      jobs: [
        SPEC_EMAIL,
        { type: "email", payload: {} },
        SPEC_EMAIL,
      ],
    }, { traceparent: TP });
    assert.strictEqual(res.status, 207);
    const { results } = await res.json();
    const spans = memory.spans();
    const request = spans.find((s) => s.kind === SERVER)!;
    assert.strictEqual(request.name, "POST /api/v1/jobs/batch");
    assert.strictEqual(request.parentSpanContext?.spanId, SPAN);
    const items = spans.filter((s) => s.kind === PRODUCER);
    assert.deepStrictEqual(
      items.map((s) => s.attributes["job.id"]).sort(),
      [results[0].job_id, results[2].job_id].sort(),
    );
    const claimed = await api.broker.claim(2, { leaseMs: 30_000 });
    for (const item of items) {
      assert.strictEqual(item.name, "enqueue email");
      assert.strictEqual(item.parentSpanContext?.spanId, request.spanContext().spanId);
      const job = claimed.find((j) => j.id === item.attributes["job.id"])!;
      assert.strictEqual(decodeTrace(job.trace)?.span_id, item.spanContext().spanId);
    }
  } finally {
    await api.close();
  }
});

Deno.test("no tracer: the caller's context is stored as it came; without one, nothing", async () => {
  const api = await startApi();
  try {
    const res = await postJson(api.app, "/api/v1/jobs", SPEC_EMAIL, {
      traceparent: TP,
      tracestate: "k=v",
    });
    const plain = await postJson(api.app, "/api/v1/jobs", SPEC_EMAIL);
    assert.strictEqual(res.status, 201);
    const ids = [(await res.json()).job_id, (await plain.json()).job_id];
    const claimed = await api.broker.claim(2, { leaseMs: 30_000 });
    assert.strictEqual(claimed.find((j) => j.id === ids[0])?.trace, `${TP}k=v`);
    assert.strictEqual(claimed.find((j) => j.id === ids[1])?.trace, null);
  } finally {
    await api.close();
  }
});

Deno.test("submit spans: a flow is one span, stored by each of its jobs", async () => {
  const memory = memoryTracer();
  const api = await startApi({ tracer: memory.tracer });
  try {
    const res = await postJson(api.app, "/api/v1/flows", {
      jobs: [
        { ref: "a", type: "email", payload: SPEC_EMAIL.payload },
        { ref: "b", type: "email", payload: SPEC_EMAIL.payload, depends_on: ["a"] },
      ],
    }, { traceparent: TP });
    assert.strictEqual(res.status, 201, await res.clone().text());
    const { jobs } = await res.json();
    const [span] = memory.spans();
    assert.strictEqual(span.name, "POST /api/v1/flows");
    assert.strictEqual(span.parentSpanContext?.spanId, SPAN);
    assert.strictEqual(span.attributes["job.count"], 2);
    for (const id of [jobs.a, jobs.b]) {
      assert.strictEqual((await api.broker.get(id))?.trace_id, TRACE);
    }
    const [claimed] = await api.broker.claim(1, { leaseMs: 30_000 });
    assert.strictEqual(decodeTrace(claimed.trace)?.span_id, span.spanContext().spanId);
  } finally {
    await api.close();
  }
});
