/**
 * `/api/v1/limits` through the app (real Redis): bad input is 422 naming the
 * field with nothing written; a limit set over HTTP is listed, obeyed by the
 * next claim, replaced, and removed.
 */
import assert from "node:assert/strict";
import { assertError, startApi } from "./helpers.ts";

const L = "/api/v1/limits";

function put(
  app: { request: (p: string, i: RequestInit) => Response | Promise<Response> },
  path: string,
  body: unknown,
) {
  return app.request(`${L}/${path}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

Deno.test("bad limits are 422 naming the field, and nothing is written", async () => {
  const api = await startApi();
  try {
    const q = api.broker.defaultQueue;
    await api.broker.enqueue({ type: "compute", payload: { duration_ms: 1 } }); // the queue exists
    const cases: Array<[string, unknown, string]> = [
      ["type/compute", { rate: { max: 0, per_ms: 1000 } }, "rate.max"],
      ["type/compute", { rate: { max: 5, per_ms: 0 } }, "rate.per_ms"],
      ["type/compute", { concurrency: 0 }, "concurrency"],
      ["type/compute", { concurrency: 1.5 }, "concurrency"],
      ["type/compute", { concurrency: 2, burst: 3 }, ""],
      ["type/compute", {}, "rate"],
      [`queue/${q}`, { rate: { max: 5 } }, "rate.per_ms"],
    ];
    for (const [path, body, field] of cases) {
      const error = await assertError(await put(api.app, path, body), 422, "validation_error");
      const issues = (error.details as { issues: Array<{ path: string }> }).issues;
      assert.ok(
        issues.some((i) => i.path === field),
        `${JSON.stringify(body)}: ${JSON.stringify(issues)}`,
      );
    }
    const names: Array<[string, string]> = [
      ["tenant/x", "scope"],
      ["type/fax", "name"],
      ["queue/nosuch", "name"],
      ["queue/bad%20name", "name"],
    ];
    for (const [path, field] of names) {
      const error = await assertError(
        await put(api.app, path, { concurrency: 1 }),
        422,
        "validation_error",
      );
      assert.match(error.message, new RegExp(`^${field}: `), error.message);
    }
    const listed = await (await api.app.request(L)).json();
    assert.deepStrictEqual(listed, { limits: [] });
  } finally {
    await api.close();
  }
});

Deno.test("a limit set over HTTP is listed, obeyed by the next claim, replaced and removed", async () => {
  const api = await startApi();
  try {
    const q = api.broker.defaultQueue;
    await api.broker.enqueueBatch(
      Array.from({ length: 5 }, () => ({ type: "compute", payload: { duration_ms: 1 } })),
    );
    let res = await put(api.app, `queue/${q}`, { concurrency: 2 });
    assert.strictEqual(res.status, 201);
    assert.deepStrictEqual(await res.json(), {
      scope: "queue",
      name: q,
      limit: { rate: null, concurrency: 2 },
    });
    assert.strictEqual((await api.broker.claim(10)).length, 2);
    res = await put(api.app, `queue/${q}`, { concurrency: 3, rate: { max: 100, per_ms: 1000 } });
    assert.strictEqual(res.status, 200);
    await res.body?.cancel();
    assert.strictEqual((await api.broker.claim(10)).length, 1);
    const listed = await (await api.app.request(L)).json();
    assert.deepStrictEqual(listed.limits, [{
      scope: "queue",
      name: q,
      limit: { rate: { max: 100, per_ms: 1000 }, concurrency: 3 },
      source: "api",
      declared: null,
      held: {
        jobs: null,
        claims: { rate: 0, concurrency: 2, paused: 0, circuit: 0 },
        circuit: null,
      },
    }]);
    res = await api.app.request(`${L}/queue/${q}`, { method: "DELETE" });
    assert.deepStrictEqual(await res.json(), { scope: "queue", name: q, deleted: true });
    assert.strictEqual((await api.broker.claim(10)).length, 2);
    await assertError(
      await api.app.request(`${L}/queue/${q}`, { method: "DELETE" }),
      404,
      "not_found",
    );
  } finally {
    await api.close();
  }
});

Deno.test("a group over 256 bytes is 422 naming it; per_group is a type's limit only", async () => {
  const api = await startApi();
  try {
    const submit = (group: string) =>
      api.app.request("/api/v1/jobs", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ type: "compute", payload: { duration_ms: 1 }, group }),
      });
    const error = await assertError(await submit("g".repeat(257)), 422, "validation_error");
    assert.ok(JSON.stringify(error.details).includes('"group"'), JSON.stringify(error));
    const ok = await submit("g".repeat(256));
    assert.strictEqual(ok.status, 201);
    const { job_id } = await ok.json();
    const job = await (await api.app.request(`/api/v1/jobs/${job_id}`)).json();
    assert.strictEqual(job.group, "g".repeat(256));
    const q = api.broker.defaultQueue;
    const refused = await assertError(
      await put(api.app, `queue/${q}`, { concurrency: 2, per_group: true }),
      422,
      "validation_error",
    );
    assert.match(refused.message, /^per_group: /);
    assert.strictEqual(
      (await put(api.app, "type/compute", { concurrency: 2, per_group: true })).status,
      201,
    );
  } finally {
    await api.close();
  }
});
