/**
 * A process's tracing against a real OTLP/HTTP receiver: off (null) unless an
 * endpoint is configured; on, its spans (and a thread's, through the wire
 * form) arrive decoded by the official OTLP definitions, under the service
 * name the standard variables give.
 */
import assert from "node:assert/strict";
import { startTracing } from "../../src/tracing/process_tracing.ts";
import { tracesEndpoint } from "../../src/tracing/settings.ts";
import { toWire } from "../../src/tracing/span_wire.ts";
import { createLogger } from "../../src/log.ts";
import { startOtlpReceiver } from "../helpers/otlp_receiver.ts";
import {
  AlwaysOnSampler,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";

const log = createLogger({ level: "silent" });

Deno.test("tracing is off without an endpoint, with OTEL_SDK_DISABLED and with OTEL_TRACES_EXPORTER=none", async () => {
  assert.strictEqual(tracesEndpoint({}), null);
  assert.strictEqual(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: " " }), null);
  const url = "http://127.0.0.1:4318";
  assert.strictEqual(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: url }), url);
  assert.strictEqual(tracesEndpoint({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url }), url);
  assert.strictEqual(
    tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: url, OTEL_SDK_DISABLED: "TRUE" }),
    null,
  );
  assert.strictEqual(
    tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: url, OTEL_TRACES_EXPORTER: "none" }),
    null,
  );
  assert.strictEqual(await startTracing({ service: "t", env: {}, log }), null);
});

Deno.test("spans of the process and of a thread reach an OTLP receiver, decoded", async () => {
  const otlp = startOtlpReceiver();
  // The exporter and the resource read the real environment, as the spec says.
  const env = {
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_SERVICE_NAME: "svc-from-env",
    OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=test",
  };
  for (const [k, v] of Object.entries(env)) Deno.env.set(k, v);
  try {
    const tracing = await startTracing({ service: "jobqueue-test", env, log });
    assert.ok(tracing);
    const span = tracing.tracer.startSpan("outer", { attributes: { "job.id": "j1" } });
    const parent = span.spanContext();
    span.end();
    // A "thread" span: made by an env-free provider, carried as data, exported here.
    const memory = new InMemorySpanExporter();
    const threadProvider = new TracerProvider({
      sampler: new AlwaysOnSampler(),
      spanProcessors: [new SimpleSpanProcessor({ exporter: memory })],
    });
    const { trace, ROOT_CONTEXT } = await import("@opentelemetry/api");
    threadProvider.getTracer("jobqueue").startSpan(
      "inner",
      { attributes: { n: 3 } },
      trace.setSpanContext(ROOT_CONTEXT, { ...parent, isRemote: true }),
    ).end();
    const wire = memory.getFinishedSpans().map(toWire);
    tracing.exportSpans([...structuredClone(wire), { name: "junk" }, null]);
    await tracing.shutdown();
    await otlp.waitFor("both spans", 10_000, (s) => s.length >= 2);
    const outer = otlp.spans.find((s) => s.name === "outer")!;
    const inner = otlp.spans.find((s) => s.name === "inner")!;
    assert.strictEqual(outer.service, "svc-from-env");
    assert.strictEqual(outer.attributes["job.id"], "j1");
    assert.strictEqual(
      inner.service,
      "svc-from-env",
      "a thread span goes out under the process's resource",
    );
    assert.strictEqual(inner.traceId, outer.traceId);
    assert.strictEqual(inner.parentSpanId, outer.spanId);
    assert.strictEqual(inner.attributes.n, 3);
    assert.strictEqual(otlp.spans.length, 2, "the junk entries were dropped");
  } finally {
    for (const k of Object.keys(env)) Deno.env.delete(k);
    await otlp.close();
  }
});

Deno.test("a collector that is down holds a shutdown up for at most SHUTDOWN_FLUSH_MS", async () => {
  const { freePort } = await import("../helpers/redis_server.ts");
  const { SHUTDOWN_FLUSH_MS } = await import("../../src/tracing/process_tracing.ts");
  const lines: string[] = [];
  const quiet = createLogger({ level: "warn", sink: (line) => void lines.push(line) });
  const env = { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${freePort()}` };
  Deno.env.set("OTEL_EXPORTER_OTLP_ENDPOINT", env.OTEL_EXPORTER_OTLP_ENDPOINT);
  try {
    const tracing = await startTracing({ service: "t", env, log: quiet });
    tracing!.tracer.startSpan("lost").end();
    const t0 = Date.now();
    await tracing!.shutdown();
    assert.ok(Date.now() - t0 < SHUTDOWN_FLUSH_MS + 1_000, `took ${Date.now() - t0} ms`);
    assert.ok(lines.some((l) => l.includes("not exported")), lines.join("\n"));
  } finally {
    Deno.env.delete("OTEL_EXPORTER_OTLP_ENDPOINT");
  }
});
