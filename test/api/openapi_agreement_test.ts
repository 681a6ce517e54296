/**
 * The published OpenAPI document and the server agree on what they accept:
 * seeded requests around every boundary are judged by the document (a real
 * JSON Schema validator) and sent to the app over a real Redis. A request the
 * document calls valid is not refused; one it calls invalid gets a 4xx; and
 * every answer is one the document lists for the operation (status, schema,
 * error code).
 */
import assert from "node:assert/strict";
import type { Hono } from "hono";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { LIMITS } from "../../src/queue/job.ts";
import { startApi } from "./helpers.ts";
import {
  batchBody,
  idempotencyKeyHeader,
  listQuery,
  purgeQuery,
  Rng,
  submitBody,
} from "./openapi_cases.ts";
import { type Json, SpecValidator } from "./openapi_validator.ts";
import { configureJobSettings, jobSettingsFromEnv } from "../../src/jobs/job_settings.ts";

// The document describes the schemas; the operator's policy (outbound
// addresses, the data_process output folder) is configuration on top, which
// this deployment sets to allow the generated values (a loopback URL, a file
// under /tmp). Policy refusals have their own tests (test/jobs, test/e2e).
configureJobSettings({
  ...jobSettingsFromEnv(),
  outboundAllow: ["127.0.0.1"],
  dataProcessOutputDir: "/tmp",
});

const SEED = 20_240_601;
const SUBMITS = 1500;
const BATCHES = 250;
const LISTS = 400;
const PURGES = 100;

interface Answer {
  status: number;
  body: unknown;
  headers: Headers;
}

async function send(app: Hono, path: string, init: RequestInit = {}): Promise<Answer> {
  const res = await app.request(path, init);
  const text = await res.text();
  const isJson = /json/.test(res.headers.get("content-type") ?? "");
  return { status: res.status, body: isJson ? JSON.parse(text) : text, headers: res.headers };
}

function post(app: Hono, path: string, text: string, headers: Headers): Promise<Answer> {
  headers.set("content-type", "application/json");
  return send(app, path, { method: "POST", headers, body: text });
}

function describe(request: unknown, answer: Answer): string {
  return `request ${JSON.stringify(request).slice(0, 400)}\nanswer ${answer.status} ${
    JSON.stringify(answer.body).slice(0, 400)
  }`;
}

/** The answer is one the document lists; throws with both sides when not. */
function assertDocumented(
  spec: SpecValidator,
  path: string,
  method: string,
  request: unknown,
  answer: Answer,
) {
  const problem = spec.answerProblem(path, method, answer.status, answer.body);
  assert.strictEqual(problem, null, `${problem}\n${describe(request, answer)}`);
}

const utf8 = new TextEncoder();

/** Headers as HTTP would deliver them (Headers trims surrounding whitespace, as servers do). */
function headersWith(key: string | undefined): Headers {
  const headers = new Headers();
  if (key !== undefined) headers.set("idempotency-key", key);
  return headers;
}

/** Counts of generated cases, printed at the end. */
type Counts = Record<string, number>;
const bump = (counts: Counts, key: string) => void (counts[key] = (counts[key] ?? 0) + 1);

async function checkSubmits(app: Hono, spec: SpecValidator, rng: Rng, counts: Counts) {
  const path = "/api/v1/jobs";
  for (let i = 0; i < SUBMITS; i++) {
    const body = submitBody(rng);
    const headers = headersWith(idempotencyKeyHeader(rng));
    const text = JSON.stringify(body);
    const valid =
      spec.headerValid(path, "POST", "Idempotency-Key", headers.get("idempotency-key")) &&
      spec.bodyValid(path, "POST", body, utf8.encode(text).length);
    const answer = await post(app, path, text, headers);
    const request = { body, key: headers.get("idempotency-key") };
    assertDocumented(spec, path, "POST", request, answer);
    if (valid) {
      assert.ok(
        answer.status === 201 || answer.status === 200,
        `spec-valid submit refused\n${describe(request, answer)}`,
      );
    } else {
      assert.ok(
        answer.status >= 400 && answer.status < 500,
        `spec-invalid submit accepted\n${describe(request, answer)}`,
      );
    }
    bump(counts, valid ? "submit valid" : "submit invalid");
  }
}

async function checkBatches(app: Hono, spec: SpecValidator, rng: Rng, counts: Counts) {
  const path = "/api/v1/jobs/batch";
  const doc = spec.doc as {
    components: { schemas: { SubmitBatch: { properties: { jobs: Json } } } };
  };
  // SubmitBatch without its items' schema: what the 207 answer calls "the body apart from its items".
  const envelope = structuredClone(doc.components.schemas.SubmitBatch);
  delete envelope.properties.jobs.items;
  for (let i = 0; i < BATCHES; i++) {
    const body = batchBody(rng);
    const text = JSON.stringify(body);
    const bytes = utf8.encode(text).length;
    const answer = await post(app, path, text, new Headers());
    assertDocumented(spec, path, "POST", body, answer);
    const whole = spec.bodyValid(path, "POST", body, bytes);
    const shell = spec.bodyLimitsOk(path, "POST", body, bytes) &&
      spec.matchesSchema("batch envelope", envelope, body);
    if (!shell) {
      assert.ok(
        answer.status >= 400 && answer.status < 500,
        `spec-invalid batch accepted\n${describe(body, answer)}`,
      );
      bump(counts, "batch invalid body");
      continue;
    }
    const jobs = (body as { jobs: unknown[] }).jobs;
    const itemValid = jobs.map((item) => spec.matches("SubmitJobRequest", item));
    for (const ok of itemValid) bump(counts, ok ? "batch item valid" : "batch item invalid");
    const rejected = itemValid.flatMap((ok, index) => ok ? [] : [index]);
    assert.strictEqual(whole, rejected.length === 0);
    if (rejected.length === jobs.length) {
      assert.strictEqual(answer.status, 422, `batch of invalid items\n${describe(body, answer)}`);
      bump(counts, "batch no valid item");
      continue;
    }
    const expected = rejected.length ? 207 : 201;
    assert.strictEqual(answer.status, expected, describe(body, answer));
    const results = (answer.body as { results: Array<Record<string, unknown>> }).results;
    const refused = results.flatMap((r, index) => "error" in r ? [index] : []);
    assert.deepStrictEqual(refused, rejected, describe(body, answer));
    bump(counts, rejected.length ? "batch some items invalid" : "batch all valid");
  }
}

/** Cursors the server hands out, per status, so queries can carry real ones. */
async function issuedCursors(app: Hono, broker: RedisBroker): Promise<Map<string, string[]>> {
  // A few finished and running jobs, so those states have pages too.
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await broker.enqueue({ type: "compute", payload: { duration_ms: 1 } });
    ids.push(r.id);
  }
  for (const id of ids.slice(0, 3)) await broker.cancel(id);
  await broker.claim(3);
  const cursors = new Map<string, string[]>();
  for (const status of ["pending", "scheduled", "running", "completed", "failed", "cancelled"]) {
    const found: string[] = [];
    for (const limit of [1, 2]) {
      const answer = await send(app, `/api/v1/jobs?status=${status}&limit=${limit}`);
      const next = (answer.body as { next_cursor: string | null }).next_cursor;
      if (next) found.push(next);
    }
    cursors.set(status, found);
  }
  return cursors;
}

/** A group some job can have: 1..LIMITS.maxGroupBytes bytes of UTF-8. */
function groupFits(group: string): boolean {
  const bytes = new TextEncoder().encode(group).length;
  return bytes > 0 && bytes <= LIMITS.maxGroupBytes;
}

async function checkQueries(
  app: Hono,
  broker: RedisBroker,
  spec: SpecValidator,
  rng: Rng,
  counts: Counts,
) {
  const path = "/api/v1/jobs";
  const cursors = await issuedCursors(app, broker);
  const issued = new Set([...cursors.values()].flat());
  for (let i = 0; i < LISTS + PURGES; i++) {
    const method = i < LISTS ? "GET" : "DELETE";
    const query = method === "GET" ? listQuery(rng, cursors) : purgeQuery(rng);
    const answer = await send(app, `${path}?${query}`, { method });
    const request = `${method} ?${query}`;
    assertDocumented(spec, path, method, request, answer);
    const valid = spec.queryValid(path, method, query);
    const cursor = query.get("cursor");
    const group = query.get("group");
    if (group !== null && !groupFits(group)) {
      // A group's rule is in bytes (JSON Schema counts characters): the documented 422, first.
      assert.strictEqual(answer.status, 422, describe(request, answer));
      assert.strictEqual(
        (answer.body as { error: { code: string } }).error.code,
        "validation_error",
      );
      bump(counts, `${method} group breaks the rule`);
    } else if (valid && cursor !== null && !issued.has(cursor)) {
      // A well-formed cursor the server never handed out: the documented 422.
      assert.strictEqual(answer.status, 422, describe(request, answer));
      assert.strictEqual((answer.body as { error: { code: string } }).error.code, "invalid_input");
      bump(counts, `${method} valid, cursor not issued`);
    } else if (valid) {
      assert.strictEqual(
        answer.status,
        200,
        `spec-valid query refused\n${describe(request, answer)}`,
      );
      bump(counts, `${method} valid`);
    } else {
      assert.strictEqual(answer.status, 400, `spec-invalid query\n${describe(request, answer)}`);
      bump(counts, `${method} invalid`);
    }
  }
}

Deno.test("OpenAPI document and server agree on generated submits, batches and queries", async () => {
  const api = await startApi();
  try {
    const doc = await (await api.app.request("/api/v1/openapi.json")).json() as Json;
    const spec = new SpecValidator(doc);
    const rng = new Rng(SEED);
    const counts: Counts = {};
    await checkSubmits(api.app, spec, rng, counts);
    await checkBatches(api.app, spec, rng, counts);
    await checkQueries(api.app, api.broker, spec, rng, counts);
    console.log("generated cases:", JSON.stringify(counts));
    // Each side of each check was exercised.
    for (
      const key of [
        "submit valid",
        "submit invalid",
        "batch all valid",
        "batch some items invalid",
        "batch no valid item",
        "batch invalid body",
        "GET valid",
        "GET invalid",
        "GET valid, cursor not issued",
        "DELETE valid",
        "DELETE invalid",
      ]
    ) {
      assert.ok((counts[key] ?? 0) > 0, `no case of "${key}": ${JSON.stringify(counts)}`);
    }
  } finally {
    await api.close();
  }
});
