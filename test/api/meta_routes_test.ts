import assert from "node:assert/strict";
import { z } from "zod";
import { assertError, postJson, SPEC_EMAIL, startApi } from "./helpers.ts";

Deno.test("GET /api/v1/stats has the spec's fields and counts jobs", async () => {
  const api = await startApi();
  try {
    await postJson(api.app, "/api/v1/jobs", SPEC_EMAIL);
    await postJson(api.app, "/api/v1/jobs", { type: "compute", payload: { duration_ms: 1 } });
    const res = await api.app.request("/api/v1/stats");
    assert.strictEqual(res.status, 200);
    const stats = await res.json();
    for (
      const key of [
        "pending",
        "running",
        "completed",
        "failed",
        "total",
        "scheduled",
        "cancelled",
        "retried",
        "by_type",
      ]
    ) {
      assert.ok(key in stats, key);
    }
    assert.strictEqual(stats.pending, 2);
    assert.strictEqual(stats.total, 2);
    assert.strictEqual(stats.by_type.email.pending, 1);
  } finally {
    await api.close();
  }
});

Deno.test("health and readiness", async () => {
  const api = await startApi();
  try {
    for (const path of ["/health", "/api/v1/health"]) {
      const res = await api.app.request(path);
      assert.strictEqual(res.status, 200);
      assert.deepStrictEqual(await res.json(), { status: "ok" });
    }
    for (const path of ["/ready", "/api/v1/ready"]) {
      const res = await api.app.request(path);
      assert.strictEqual(res.status, 200);
      assert.deepStrictEqual(await res.json(), { status: "ready" });
    }
  } finally {
    await api.close();
  }
});

Deno.test("GET /job-types lists every type with a JSON Schema and defaults", async () => {
  const api = await startApi();
  try {
    const { job_types } = await (await api.app.request("/api/v1/job-types")).json();
    assert.deepStrictEqual(job_types.map((t: { type: string }) => t.type), [
      "compute",
      "data_process",
      "email",
      "webhook",
    ]);
    const email = job_types.find((t: { type: string }) => t.type === "email");
    assert.strictEqual(email.payload_schema.type, "object");
    assert.deepStrictEqual([...email.payload_schema.required].sort(), [
      "body",
      "from",
      "subject",
      "to",
    ]);
    assert.strictEqual(email.defaults.max_attempts, 5);
    assert.strictEqual(typeof email.description, "string");
  } finally {
    await api.close();
  }
});

Deno.test("GET /openapi.json documents routes and every payload schema", async () => {
  const api = await startApi();
  try {
    const doc = await (await api.app.request("/api/v1/openapi.json")).json();
    assert.strictEqual(doc.openapi, "3.1.0");
    for (
      const path of [
        "/api/v1/jobs",
        "/api/v1/jobs/{id}",
        "/api/v1/jobs/batch",
        "/api/v1/stats",
        "/api/v1/job-types",
      ]
    ) {
      assert.ok(doc.paths[path], path);
    }
    for (const type of ["email", "data_process", "webhook", "compute"]) {
      assert.strictEqual(doc.components.schemas[`Payload_${type}`].type, "object", type);
    }
    const submit = doc.components.schemas.SubmitJob;
    assert.deepStrictEqual(submit.properties.priority.maximum, 100);
    // The published schema is real JSON Schema: zod can read it back.
    assert.ok(z.fromJSONSchema(doc.components.schemas.Payload_email));
  } finally {
    await api.close();
  }
});

Deno.test("unknown routes answer 404 in the JSON error shape", async () => {
  const api = await startApi();
  try {
    await assertError(await api.app.request("/api/v1/nothing"), 404, "not_found");
    await assertError(await api.app.request("/api/v1/stats", { method: "POST" }), 404, "not_found");
  } finally {
    await api.close();
  }
});
