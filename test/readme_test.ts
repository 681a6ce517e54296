/**
 * The README must stay true: its configuration table lists every setting, and
 * its job-type authoring example is a module that loads and runs.
 */
import assert from "node:assert/strict";
import { SETTINGS } from "../src/config.ts";
import { loadRegistry } from "../src/jobs/registry.ts";
import type { JobContext } from "../src/jobs/definition.ts";
import { trace } from "@opentelemetry/api";

const ROOT = new URL("../", import.meta.url);
const readme = await Deno.readTextFile(new URL("README.md", ROOT));

/** The block after a `<!-- readme-test: name -->` marker. */
function section(name: string, fence: boolean): string {
  const at = readme.indexOf(`<!-- readme-test: ${name} -->`);
  assert.ok(at >= 0, `README has the ${name} marker`);
  const rest = readme.slice(at);
  if (!fence) return rest.split("\n\n")[1];
  const match = /```ts\n([\s\S]*?)```/.exec(rest);
  assert.ok(match, `README has a ts block after ${name}`);
  return match[1];
}

Deno.test("README: the configuration table lists every setting and nothing else", () => {
  const table = section("config-table", false);
  const names = [...table.matchAll(/^\| `([A-Z_]+)`/gm)].map((m) => m[1]);
  assert.deepStrictEqual(names.sort(), Object.keys(SETTINGS).sort());
});

Deno.test("README: the job-type authoring example loads through JOB_MODULES and runs", async () => {
  const source = section("job-module", true);
  // Written at the repo root, where the example says it lives, so its imports resolve.
  const file = new URL(`.readme_example_${crypto.randomUUID()}.ts`, ROOT);
  await Deno.writeTextFile(file, source);
  try {
    const registry = await loadRegistry([file.href]);
    const greet = registry.get("greet");
    assert.ok(greet, "the example's type is registered");
    const checked = registry.validate("greet", { name: "Ada" });
    assert.ok(checked.ok);
    const progress: number[] = [];
    const ctx: JobContext = {
      jobId: crypto.randomUUID(),
      type: "greet",
      attempt: 2,
      maxAttempts: 5,
      signal: new AbortController().signal,
      log: { debug() {}, info() {}, warn() {}, error() {} },
      progress: (n) => void progress.push(n),
      dependencies: [],
      resultsOf: () => [],
      tracer: trace.getTracer("readme"),
    };
    const result = await greet.handler(ctx, checked.payload);
    assert.deepStrictEqual(result, { greeting: "hello, Ada", attempt: 2 });
    assert.deepStrictEqual(progress, [50]);
    await assert.rejects(() => greet.handler(ctx, { name: "nobody", shout: false }), {
      name: "NonRetryableError",
    });
    assert.strictEqual(registry.validate("greet", { name: "" }).ok, false);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("README: the typed client example type-checks and enqueues", async () => {
  const { TestRedis } = await import("./helpers/redis_server.ts");
  const { RedisBroker } = await import("../src/queue/redis_broker.ts");
  const redis = await TestRedis.start();
  const source = section("client", true).replace("redis://127.0.0.1:6379", redis.url);
  const file = new URL(`.readme_client_${crypto.randomUUID()}.ts`, ROOT);
  await Deno.writeTextFile(file, source);
  const broker = new RedisBroker({ url: redis.url });
  try {
    const check = await new Deno.Command(Deno.execPath(), {
      args: ["check", file.pathname],
      cwd: ROOT.pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(check.success, new TextDecoder().decode(check.stderr));
    await import(file.href);
    const stats = await broker.stats();
    assert.strictEqual(stats.by_type.email?.pending, 1);
  } finally {
    await broker.close();
    await Deno.remove(file);
    await redis.close();
  }
});

/** The fenced block of `lang` after a `<!-- readme-test: name -->` marker. */
function block(name: string, lang: string): string {
  const at = readme.indexOf(`<!-- readme-test: ${name} -->`);
  assert.ok(at >= 0, `README has the ${name} marker`);
  const match = new RegExp("```" + lang + "\\n([\\s\\S]*?)```").exec(readme.slice(at));
  assert.ok(match, `README has a ${lang} block after ${name}`);
  return match[1];
}

Deno.test("README: the flow module's typed results work as written", async () => {
  const file = new URL(`.readme_flow_${crypto.randomUUID()}.ts`, ROOT);
  await Deno.writeTextFile(file, block("flow-module", "ts"));
  try {
    const registry = await loadRegistry([file.href]);
    const report = registry.get("report");
    assert.ok(report && registry.get("fetch_page"));
    const dependencies = [
      { id: "a", type: "fetch_page", status: "completed" as const, result: { url: "u", words: 3 } },
      { id: "b", type: "fetch_page", status: "completed" as const, result: { url: "v", words: 4 } },
      { id: "c", type: "other", status: "completed" as const, result: { words: 100 } },
    ];
    const ctx: JobContext = {
      jobId: crypto.randomUUID(),
      type: "report",
      attempt: 1,
      maxAttempts: 1,
      signal: new AbortController().signal,
      log: { debug() {}, info() {}, warn() {}, error() {} },
      progress: () => {},
      dependencies,
      resultsOf: <R>(def: { readonly type: string }) =>
        dependencies.filter((d) => d.type === def.type).map((d) => d.result as R),
      tracer: trace.getTracer("readme"),
    };
    assert.deepStrictEqual(await report.handler(ctx, {}), { pages: 2, words: 7 });
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("README: the flow request is accepted as written", async () => {
  const { startApi, postJson } = await import("./api/helpers.ts");
  const api = await startApi();
  try {
    const res = await postJson(api.app, "/api/v1/flows", block("flow-request", "json"));
    assert.strictEqual(res.status, 201, await res.clone().text());
    const { jobs } = await res.json();
    assert.deepStrictEqual(Object.keys(jobs).sort(), ["fetch", "other", "report"]);
    assert.match(jobs.other, /^side:/);
    assert.strictEqual((await api.broker.get(jobs.report))?.status, "waiting");
  } finally {
    await api.close();
  }
});

Deno.test("README: the webhook receiver verifies a signed delivery and refuses a forged one", async () => {
  const { Webhook } = await import("standardwebhooks");
  const secret = `whsec_${btoa("r".repeat(32))}`;
  const dir = await Deno.makeTempDir({ prefix: "jq-readme-" });
  const file = `${dir}/receiver.ts`;
  await Deno.writeTextFile(file, block("webhook-receiver", "ts"));
  const before = Deno.env.get("WEBHOOK_SECRET");
  Deno.env.set("WEBHOOK_SECRET", secret);
  const logged: unknown[][] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => void logged.push(args);
  try {
    const { handle } = await import(new URL(`file://${file}`).href) as {
      handle(request: Request): Promise<Response>;
    };
    const body = JSON.stringify({
      type: "job.completed",
      timestamp: new Date().toISOString(),
      data: { job_id: "j1", status: "completed" },
    });
    const signed = (text: string) => {
      const at = new Date();
      return new Request("http://x/", {
        method: "POST",
        body: text,
        headers: {
          "webhook-id": "j1~1",
          "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
          "webhook-signature": new Webhook(secret).sign("j1~1", at, body),
        },
      });
    };
    assert.strictEqual((await handle(signed(body))).status, 204);
    assert.strictEqual((await handle(signed(body))).status, 204, "a repeat is acknowledged");
    assert.deepStrictEqual(logged, [["job.completed", "j1", "completed"]], "handled once");
    assert.strictEqual((await handle(signed(body.replace("j1", "j2")))).status, 400);
  } finally {
    console.log = log;
    if (before === undefined) Deno.env.delete("WEBHOOK_SECRET");
    else Deno.env.set("WEBHOOK_SECRET", before);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("README: the tracing example's span nests under the attempt's", async () => {
  const { TracerProvider, InMemorySpanExporter, SimpleSpanProcessor, AlwaysOnSampler } =
    await import("@opentelemetry/sdk-trace");
  const { startThreadTracing } = await import("../src/tracing/thread_tracing.ts");
  const file = new URL(`.readme_tracing_${crypto.randomUUID()}.ts`, ROOT);
  await Deno.writeTextFile(file, section("tracing-module", true));
  try {
    const registry = await loadRegistry([file.href]);
    const resize = registry.get("resize");
    assert.ok(resize, "the example's type is registered");
    // The tracing a job thread has: its spans handed on, the attempt's context active.
    const posted: Array<{ name: string; parent?: { spanId: string }; attributes: unknown }> = [];
    const tracing = startThreadTracing((span) => posted.push(span), {});
    const attempt = new TracerProvider({
      sampler: new AlwaysOnSampler(),
      spanProcessors: [new SimpleSpanProcessor({ exporter: new InMemorySpanExporter() })],
    }).getTracer("t").startSpan("run resize");
    const c = attempt.spanContext();
    const field = `00-${c.traceId}-${c.spanId}-01`;
    const ctx: JobContext = {
      jobId: crypto.randomUUID(),
      type: "resize",
      attempt: 1,
      maxAttempts: 1,
      signal: new AbortController().signal,
      log: { debug() {}, info() {}, warn() {}, error() {} },
      progress: () => {},
      dependencies: [],
      resultsOf: () => [],
      tracer: tracing.tracer,
    };
    const checked = registry.validate("resize", { width: 640 });
    assert.ok(checked.ok);
    const result = await tracing.run(field, () => resize.handler(ctx, checked.payload));
    assert.deepStrictEqual(result, { width: 640 });
    assert.strictEqual(posted.length, 1);
    assert.strictEqual(posted[0].name, "resize image");
    assert.strictEqual(posted[0].parent?.spanId, c.spanId);
    assert.deepStrictEqual(posted[0].attributes, { "image.width": 640 });
  } finally {
    await Deno.remove(file);
  }
});
