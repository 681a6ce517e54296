import assert from "node:assert/strict";
import {
  aggregateRecords,
  filterRecords,
  getPath,
  transformRecords,
} from "../../src/jobs/data_ops.ts";
import {
  dataProcessJob,
  type DataProcessPayload,
  type DataProcessResult,
  dataProcessSchema,
} from "../../src/jobs/data_process.ts";
import type { JobContext } from "../../src/jobs/definition.ts";
import { NonRetryableError } from "../../src/jobs/definition.ts";
import { fakeContext, localServer } from "./helpers.ts";
import { configureJobSettings, jobSettingsFromEnv } from "../../src/jobs/job_settings.ts";

// These tests are about the handler, with its sources on loopback and its
// files in a temp folder: the operator allows both (the guard and the
// confinement have their own tests in outbound_guard_test.ts and
// data_process_confinement_test.ts).
const OUTPUT_DIR = await Deno.realPath(await Deno.makeTempDir({ prefix: "jq-dp-unit-" }));
configureJobSettings({
  ...jobSettingsFromEnv(),
  outboundAllow: ["127.0.0.1"],
  dataProcessOutputDir: OUTPUT_DIR,
});

const RECORDS = [
  { id: 1, status: "active", country: "FR", amount: 10, user: { tier: "gold" } },
  { id: 2, status: "inactive", country: "FR", amount: 5, user: { tier: "free" } },
  { id: 3, status: "active", country: "DE", amount: 7, user: { tier: "gold" } },
  { id: 4, status: "active", country: "FR", amount: "n/a", user: { tier: "free" } },
];

const run = (ctx: JobContext, p: DataProcessPayload) =>
  dataProcessJob.handler(ctx, p) as Promise<DataProcessResult>;

Deno.test("data ops: filter by equality on dotted paths", () => {
  assert.deepStrictEqual(filterRecords(RECORDS, { status: "active" }).map((r) => r.id), [1, 3, 4]);
  assert.deepStrictEqual(
    filterRecords(RECORDS, { status: "active", "user.tier": "gold" }).map((r) => r.id),
    [1, 3],
  );
  assert.deepStrictEqual(filterRecords(RECORDS, {}).length, 4);
  assert.deepStrictEqual(filterRecords(RECORDS, { user: { tier: "free" } }).map((r) => r.id), [
    2,
    4,
  ]);
  assert.strictEqual(getPath({ a: { b: 1 } }, "a.b"), 1);
  assert.strictEqual(getPath({ a: 1 }, "a.toString"), undefined);
});

Deno.test("data ops: transform projects and renames", () => {
  assert.deepStrictEqual(
    transformRecords(RECORDS.slice(0, 2), ["id", "user.tier"], { "user.tier": "tier" }),
    [{ id: 1, tier: "gold" }, { id: 2, tier: "free" }],
  );
  assert.deepStrictEqual(transformRecords(RECORDS.slice(0, 1), undefined, { id: "key" }), [
    { key: 1, status: "active", country: "FR", amount: 10, user: { tier: "gold" } },
  ]);
});

Deno.test("data ops: aggregate count/sum/avg/min/max by group", () => {
  const rows = aggregateRecords(RECORDS, "country", [
    { op: "count" },
    { op: "sum", field: "amount" },
    { op: "avg", field: "amount" },
    { op: "min", field: "amount" },
    { op: "max", field: "amount", as: "top" },
  ]);
  assert.deepStrictEqual(rows, [
    { key: "FR", count: 3, sum_amount: 15, avg_amount: 7.5, min_amount: 5, top: 10 },
    { key: "DE", count: 1, sum_amount: 7, avg_amount: 7, min_amount: 7, top: 7 },
  ]);
  assert.deepStrictEqual(aggregateRecords([], undefined, [{ op: "count" }]), []);
  assert.deepStrictEqual(aggregateRecords(RECORDS, undefined, [{ op: "avg", field: "nope" }]), [
    { key: null, avg_nope: null },
  ]);
  const many = Array.from({ length: 200_000 }, (_, i) => ({ v: i }));
  assert.deepStrictEqual(aggregateRecords(many, undefined, [{ op: "max", field: "v" }]), [
    { key: null, max_v: 199_999 },
  ]);
});

Deno.test("data_process schema: the spec's example (s3 destination) is valid", () => {
  const parsed = dataProcessSchema.parse({
    source_url: "https://api.example.com/data",
    operation: "transform",
    filters: { status: "active" },
    destination: "s3://bucket/output",
  });
  assert.strictEqual(parsed.destination, "s3://bucket/output");
  assert.strictEqual(
    dataProcessSchema.safeParse({ source_url: "file:///etc/passwd", operation: "filter" }).success,
    false,
  );
  assert.strictEqual(
    dataProcessSchema.safeParse({ source_url: "http://x.io", operation: "sort" }).success,
    false,
  );
  assert.strictEqual(
    dataProcessSchema.safeParse({
      source_url: "http://x.io",
      operation: "aggregate",
      metrics: [{ op: "sum" }],
    }).success,
    false,
  );
  assert.strictEqual(
    dataProcessSchema.safeParse({
      source_url: "http://x.io",
      operation: "filter",
      destination: "nope",
    }).success,
    false,
  );
});

Deno.test("data_process: fetches, transforms and returns the result inline for s3://", async () => {
  const server = localServer(() => Response.json(RECORDS));
  try {
    const result = await run(
      fakeContext().ctx,
      dataProcessSchema.parse({
        source_url: `${server.url}/data`,
        operation: "transform",
        filters: { status: "active" },
        fields: ["id", "country"],
        destination: "s3://bucket/output",
      }),
    );
    assert.strictEqual(result.destination_written, false);
    assert.match(result.note ?? "", /only file:\/\//);
    assert.deepStrictEqual(result.data, [
      { id: 1, country: "FR" },
      { id: 3, country: "DE" },
      { id: 4, country: "FR" },
    ]);
    assert.strictEqual(result.input_records, 4);
    assert.strictEqual(result.output_records, 3);
  } finally {
    await server.close();
  }
});

Deno.test("data_process: writes a file:// destination", async () => {
  const server = localServer(() => Response.json(RECORDS));
  const dir = await Deno.makeTempDir({ dir: OUTPUT_DIR });
  try {
    const path = `${dir}/nested/out.json`;
    const result = await run(
      fakeContext().ctx,
      dataProcessSchema.parse({
        source_url: server.url,
        operation: "aggregate",
        group_by: "status",
        metrics: [{ op: "count" }, { op: "sum", field: "amount" }],
        destination: `file://${path}`,
      }),
    );
    assert.strictEqual(result.destination_written, true);
    assert.strictEqual(result.data, undefined);
    assert.deepStrictEqual(JSON.parse(await Deno.readTextFile(path)), [
      { key: "active", count: 3, sum_amount: 17 },
      { key: "inactive", count: 1, sum_amount: 5 },
    ]);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("data_process: source errors are classified", async () => {
  let answer: () => Response = () => new Response("[1,2]");
  const server = localServer(() => answer());
  const payload = dataProcessSchema.parse({ source_url: server.url, operation: "filter" });
  const isFatal = (e: unknown) => e instanceof NonRetryableError;
  const isRetryable = (e: unknown) => e instanceof Error && !(e instanceof NonRetryableError);
  try {
    await assert.rejects(run(fakeContext().ctx, payload), isFatal); // not objects
    answer = () => new Response("{oops");
    await assert.rejects(run(fakeContext().ctx, payload), isFatal);
    answer = () => new Response("gone", { status: 404 });
    await assert.rejects(run(fakeContext().ctx, payload), isFatal);
    answer = () => new Response("busy", { status: 503 });
    await assert.rejects(run(fakeContext().ctx, payload), isRetryable);
    answer = () => new Response(new Uint8Array(11 * 1024 * 1024).fill(0x20));
    await assert.rejects(run(fakeContext().ctx, payload), /larger than/);
  } finally {
    await server.close();
  }
});

Deno.test("data_process: honours ctx.signal while fetching", async () => {
  const release = Promise.withResolvers<void>();
  const server = localServer(async () => {
    await release.promise;
    return Response.json([]);
  });
  try {
    const { ctx, controller } = fakeContext();
    const reason = new DOMException("cancelled", "AbortError");
    const running = run(
      ctx,
      dataProcessSchema.parse({ source_url: server.url, operation: "filter" }),
    );
    setTimeout(() => controller.abort(reason), 20);
    await assert.rejects(running, (e: unknown) => e === reason);
  } finally {
    release.resolve();
    await server.close();
  }
});
