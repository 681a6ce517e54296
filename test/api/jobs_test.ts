import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { assertError, postJson, SPEC_DATA, SPEC_EMAIL, startApi } from "./helpers.ts";

/** A bodiless POST still says JSON: without it (or a key) it is refused as cross-site. */
const JSON_TYPE = { "content-type": "application/json" };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

Deno.test("POST /jobs: the spec's examples are accepted", async () => {
  const api = await startApi();
  try {
    for (const example of [SPEC_EMAIL, SPEC_DATA]) {
      const res = await postJson(api.app, "/api/v1/jobs", example);
      assert.strictEqual(res.status, 201);
      const body = await res.json();
      assert.deepStrictEqual(Object.keys(body), ["job_id"]);
      assert.match(body.job_id, UUID);
      assert.strictEqual(res.headers.get("location"), `/api/v1/jobs/${body.job_id}`);
      const job = await api.broker.get(body.job_id);
      assert.strictEqual(job?.type, example.type);
      assert.strictEqual(job?.priority, example.priority);
      assert.strictEqual(job?.max_attempts, example.max_attempts);
    }
    assert.deepStrictEqual((await api.eventsSoFar()).map((e) => [e.kind, e.type]), [
      ["enqueued", "email"],
      ["enqueued", "data_process"],
    ]);
  } finally {
    await api.close();
  }
});

Deno.test("POST /jobs: type defaults apply when the request omits fields", async () => {
  const api = await startApi();
  try {
    const res = await postJson(api.app, "/api/v1/jobs", {
      type: "compute",
      payload: { duration_ms: 5 },
    });
    const { job_id } = await res.json();
    const job = await api.broker.get(job_id);
    assert.strictEqual(job?.max_attempts, 1); // compute's own default
    assert.deepStrictEqual(job?.payload, { duration_ms: 5, mode: "sleep" });
    assert.strictEqual(job?.priority, 0);
  } finally {
    await api.close();
  }
});

Deno.test("POST /jobs: delay_ms and run_at schedule the job", async () => {
  const api = await startApi();
  try {
    const a = await (await postJson(api.app, "/api/v1/jobs", {
      type: "compute",
      payload: { duration_ms: 1 },
      delay_ms: 60_000,
    })).json();
    const runAt = new Date(Date.now() + 3_600_000).toISOString();
    const b = await (await postJson(api.app, "/api/v1/jobs", {
      type: "compute",
      payload: { duration_ms: 1 },
      run_at: runAt,
    })).json();
    const res = await api.app.request(`/api/v1/jobs/${b.job_id}`);
    const job = await res.json();
    assert.strictEqual(job.status, "scheduled");
    assert.strictEqual(job.scheduled_for, runAt);
    assert.strictEqual((await api.broker.get(a.job_id))?.status, "scheduled");
    await assertError(
      await postJson(api.app, "/api/v1/jobs", {
        type: "compute",
        payload: { duration_ms: 1 },
        delay_ms: 5,
        run_at: runAt,
      }),
      422,
      "validation_error",
    );
  } finally {
    await api.close();
  }
});

Deno.test("POST /jobs: Idempotency-Key returns the same job id with 200", async () => {
  const api = await startApi();
  try {
    const headers = { "idempotency-key": "signup-42" };
    const first = await postJson(api.app, "/api/v1/jobs", SPEC_EMAIL, headers);
    assert.strictEqual(first.status, 201);
    const second = await postJson(api.app, "/api/v1/jobs", SPEC_EMAIL, headers);
    assert.strictEqual(second.status, 200);
    assert.strictEqual(second.headers.get("idempotent-replayed"), "true");
    assert.deepStrictEqual(await second.json(), await first.json());
    assert.strictEqual((await api.eventsSoFar()).length, 1);
    await assertError(
      await postJson(api.app, "/api/v1/jobs", SPEC_EMAIL, { "idempotency-key": "x".repeat(300) }),
      400,
      "invalid_header",
    );
  } finally {
    await api.close();
  }
});

Deno.test("POST /jobs: validation errors", async () => {
  const api = await startApi();
  try {
    const unknown = await assertError(
      await postJson(api.app, "/api/v1/jobs", { type: "nope", payload: {} }),
      422,
      "unknown_job_type",
    );
    assert.deepStrictEqual(unknown.details, {
      known_types: ["compute", "data_process", "email", "webhook"],
    });
    const bad = await assertError(
      await postJson(api.app, "/api/v1/jobs", {
        type: "email",
        payload: { ...SPEC_EMAIL.payload, to: "not-an-email" },
      }),
      422,
      "invalid_payload",
    );
    assert.deepStrictEqual(
      (bad.details as { issues: { path: string }[] }).issues.map((i) => i.path),
      ["payload.to"],
    );
    for (
      const field of [
        { priority: 101 },
        { priority: -1 },
        { priority: 1.5 },
        { max_attempts: 0 },
        {
          max_attempts: 1000,
        },
        { timeout_ms: 0 },
        { timeout_ms: 1e12 },
        { delay_ms: -1 },
        { run_at: "tomorrow" },
        {
          surprise: true,
        },
      ]
    ) {
      const err = await assertError(
        await postJson(api.app, "/api/v1/jobs", { ...SPEC_EMAIL, ...field }),
        422,
        "validation_error",
      );
      const issues = (err.details as { issues: { path: string }[] }).issues;
      assert.ok(issues.length > 0);
    }
    await assertError(await postJson(api.app, "/api/v1/jobs", "{not json"), 400, "invalid_json");
    await assertError(
      await api.app.request("/api/v1/jobs", { method: "POST", body: JSON.stringify(SPEC_EMAIL) }),
      415,
      "unsupported_media_type",
    );
    await assertError(
      await api.app.request("/api/v1/jobs", {
        method: "POST",
        headers: { "content-type": "text/plain" },
        body: JSON.stringify(SPEC_EMAIL),
      }),
      415,
    );
  } finally {
    await api.close();
  }
});

Deno.test("POST /jobs: bodies over 1 MB get 413 without being read whole", async () => {
  const api = await startApi();
  try {
    const big = JSON.stringify({
      type: "email",
      payload: { ...SPEC_EMAIL.payload, body: "x".repeat(1024 * 1024) },
    });
    await assertError(await postJson(api.app, "/api/v1/jobs", big), 413, "payload_too_large");
    // A stream with no Content-Length that never ends: the limit must cut it off.
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 65536;
        controller.enqueue(new Uint8Array(65536).fill(0x20));
      },
    });
    const res = await api.app.request("/api/v1/jobs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: endless,
    });
    await assertError(res, 413, "payload_too_large");
    assert.ok(pulled < 2 * 1024 * 1024, `read ${pulled} bytes`);
    // Content-Length alone is enough to refuse.
    await assertError(
      await api.app.request("/api/v1/jobs", {
        method: "POST",
        headers: { "content-type": "application/json", "content-length": String(50 * 1024 * 1024) },
        body: "{}",
      }),
      413,
    );
  } finally {
    await api.close();
  }
});

Deno.test("GET /jobs/:id returns the spec's fields; 400 for bad ids, 404 for unknown", async () => {
  const api = await startApi();
  try {
    const { job_id } = await (await postJson(api.app, "/api/v1/jobs", SPEC_EMAIL)).json();
    const res = await api.app.request(`/api/v1/jobs/${job_id}`);
    assert.strictEqual(res.status, 200);
    const job = await res.json();
    assert.deepStrictEqual(Object.keys(job).slice(0, 5), [
      "job_id",
      "status",
      "started_at",
      "completed_at",
      "attempts",
    ]);
    assert.strictEqual(job.job_id, job_id);
    assert.strictEqual(job.status, "pending");
    assert.strictEqual(job.attempts, 0);
    assert.strictEqual(job.started_at, null);
    assert.deepStrictEqual(job.payload, SPEC_EMAIL.payload);
    for (
      const key of [
        "type",
        "priority",
        "max_attempts",
        "created_at",
        "scheduled_for",
        "result",
        "error",
        "error_history",
        "progress",
        "timeout_ms",
      ]
    ) {
      assert.ok(key in job, key);
    }
    await assertError(await api.app.request("/api/v1/jobs/not-a-uuid"), 400, "invalid_job_id");
    await assertError(
      await api.app.request(`/api/v1/jobs/${crypto.randomUUID()}`),
      404,
      "not_found",
    );
  } finally {
    await api.close();
  }
});

Deno.test("a job runs to completed and the API shows started_at/completed_at/result", async () => {
  const api = await startApi();
  try {
    const { job_id } = await (await postJson(api.app, "/api/v1/jobs", SPEC_EMAIL)).json();
    const [claimed] = await api.broker.claim(1);
    assert.strictEqual(claimed.id, job_id);
    await api.broker.complete(claimed.id, claimed.token, { message_id: "m1" });
    const job = await (await api.app.request(`/api/v1/jobs/${job_id}`)).json();
    assert.strictEqual(job.status, "completed");
    assert.strictEqual(job.attempts, 1);
    assert.match(job.started_at, /^\d{4}-\d\d-\d\dT/);
    assert.match(job.completed_at, /^\d{4}-\d\d-\d\dT/);
    assert.deepStrictEqual(job.result, { message_id: "m1" });
  } finally {
    await api.close();
  }
});

Deno.test("GET /jobs lists by status with pagination", async () => {
  const api = await startApi();
  try {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(
        (await (await postJson(api.app, "/api/v1/jobs", {
          type: "compute",
          payload: { duration_ms: i },
        })).json()).job_id,
      );
    }
    await postJson(api.app, "/api/v1/jobs", SPEC_EMAIL);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/api/v1/jobs?status=pending&type=compute&limit=2${
        cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""
      }`;
      const page = await (await api.app.request(q)).json();
      assert.ok(page.jobs.length <= 2);
      seen.push(...page.jobs.map((j: { job_id: string }) => j.job_id));
      cursor = page.next_cursor;
    } while (cursor);
    assert.deepStrictEqual(seen.sort(), [...ids].sort());
    const all = await (await api.app.request("/api/v1/jobs")).json(); // default: pending
    assert.strictEqual(all.jobs.length, 6);
    await assertError(await api.app.request("/api/v1/jobs?limit=0"), 400, "invalid_query");
    await assertError(await api.app.request("/api/v1/jobs?limit=501"), 400, "invalid_query");
    await assertError(await api.app.request("/api/v1/jobs?status=bogus"), 400, "invalid_query");
  } finally {
    await api.close();
  }
});

Deno.test("DELETE /jobs/:id cancels; retry requeues; 409 on wrong states", async () => {
  const api = await startApi();
  try {
    const { job_id } = await (await postJson(api.app, "/api/v1/jobs", SPEC_EMAIL)).json();
    await assertError(
      await api.app.request(`/api/v1/jobs/${job_id}/retry`, { method: "POST", headers: JSON_TYPE }),
      409,
      "invalid_state",
    );
    const cancel = await api.app.request(`/api/v1/jobs/${job_id}`, { method: "DELETE" });
    assert.strictEqual(cancel.status, 200);
    assert.deepStrictEqual(await cancel.json(), { job_id, status: "cancelled" });
    await assertError(
      await api.app.request(`/api/v1/jobs/${job_id}`, { method: "DELETE" }),
      409,
      "invalid_state",
    );
    const retry = await api.app.request(`/api/v1/jobs/${job_id}/retry`, {
      method: "POST",
      headers: JSON_TYPE,
    });
    assert.strictEqual(retry.status, 200);
    assert.deepStrictEqual(await retry.json(), { job_id, status: "pending" });
    assert.strictEqual((await api.broker.get(job_id))?.status, "pending");

    // A running job: cancel is requested (202).
    const [claimed] = await api.broker.claim(1);
    const running = await api.app.request(`/api/v1/jobs/${claimed.id}`, { method: "DELETE" });
    assert.strictEqual(running.status, 202);
    assert.deepStrictEqual(await running.json(), { job_id, status: "cancel_requested" });
    await assertError(
      await api.app.request(`/api/v1/jobs/${crypto.randomUUID()}`, { method: "DELETE" }),
      404,
    );
    await assertError(
      await api.app.request(`/api/v1/jobs/..%2F..%2Fetc%2Fpasswd`, { method: "DELETE" }),
      400,
    );
  } finally {
    await api.close();
  }
});

Deno.test("DELETE /jobs?status=failed purges the dead set", async () => {
  const api = await startApi();
  try {
    const { job_id } =
      await (await postJson(api.app, "/api/v1/jobs", { ...SPEC_EMAIL, max_attempts: 1 })).json();
    const [claimed] = await api.broker.claim(1);
    await api.broker.fail(claimed.id, claimed.token, {
      message: "boom",
      retryable: false,
      retry_delay_ms: 0,
    });
    assert.strictEqual((await api.broker.get(job_id))?.status, "failed");
    const res = await api.app.request("/api/v1/jobs?status=failed", { method: "DELETE" });
    assert.strictEqual(res.status, 200);
    assert.deepStrictEqual(await res.json(), { status: "failed", purged: 1 });
    await assertError(
      await api.app.request("/api/v1/jobs?status=pending", { method: "DELETE" }),
      400,
    );
    await assertError(await api.app.request("/api/v1/jobs", { method: "DELETE" }), 400);
  } finally {
    await api.close();
  }
});

Deno.test("POST /jobs/batch writes valid items and reports invalid ones (207)", async () => {
  const api = await startApi();
  try {
    const res = await postJson(api.app, "/api/v1/jobs/batch", {
      jobs: [
        SPEC_EMAIL,
        { type: "nope", payload: {} },
        { type: "compute", payload: { duration_ms: 1 } },
        { type: "email", payload: { to: "x" } },
      ],
    });
    assert.strictEqual(res.status, 207);
    const body = await res.json();
    assert.strictEqual(body.created, 2);
    assert.strictEqual(body.rejected, 2);
    assert.match(body.results[0].job_id, UUID);
    assert.strictEqual(body.results[1].error.code, "unknown_job_type");
    assert.match(body.results[2].job_id, UUID);
    assert.strictEqual(body.results[3].error.code, "invalid_payload");
    assert.ok(
      body.results[3].error.details.issues.every((i: { path: string }) =>
        i.path.startsWith("jobs.3.payload.")
      ),
    );
    assert.strictEqual((await api.broker.get(body.results[2].job_id))?.type, "compute");

    const ok = await postJson(api.app, "/api/v1/jobs/batch", { jobs: [SPEC_EMAIL, SPEC_DATA] });
    assert.strictEqual(ok.status, 201);
    assert.strictEqual((await ok.json()).created, 2);

    await assertError(
      await postJson(api.app, "/api/v1/jobs/batch", { jobs: [{ type: "x" }] }),
      422,
    );
    await assertError(await postJson(api.app, "/api/v1/jobs/batch", { jobs: [] }), 422);
    await assertError(await postJson(api.app, "/api/v1/jobs/batch", [1, 2]), 422);
  } finally {
    await api.close();
  }
});

Deno.test("a queue in another storage format: 503 storage_format, no internals, nothing stored", async () => {
  const api = await startApi();
  const redis = new Redis(api.redis.url);
  try {
    await redis.hset(api.broker.keys.meta, "format", "999");
    const res = await postJson(api.app, "/api/v1/jobs", SPEC_EMAIL);
    const error = await assertError(res, 503, "storage_format");
    assert.doesNotMatch(error.message, /jq:|999|\{/);
    assert.deepStrictEqual(await redis.keys(`${api.broker.keys.jobPrefix}*`), []);
  } finally {
    redis.disconnect();
    await api.close();
  }
});
