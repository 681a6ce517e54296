/**
 * Requests a browser can send from another site without a preflight are
 * refused by every state-changing POST (auth off, as on a laptop), and JSON
 * answers carry nosniff and no-store.
 */
import assert from "node:assert/strict";
import { TestRedis } from "../helpers/redis_server.ts";
import { assertError, postJson, startApi } from "./helpers.ts";
import { authApp } from "./auth_helpers.ts";

const COMPUTE = { type: "compute", payload: { duration_ms: 1 } };

Deno.test("cross-site: form posts and bodiless POSTs without JSON type or Authorization are 415", async () => {
  const api = await startApi();
  try {
    const cancelled = (await api.broker.enqueue(COMPUTE)).id;
    await api.broker.cancel(cancelled);
    const queue = api.broker.defaultQueue;
    const before = await api.broker.stats();
    const forms: Array<[string, Record<string, string>, BodyInit | undefined]> = [
      ["/api/v1/jobs", { "content-type": "application/x-www-form-urlencoded" }, "type=compute"],
      ["/api/v1/jobs", { "content-type": "text/plain" }, JSON.stringify(COMPUTE)],
      ["/api/v1/jobs/batch", { "content-type": "multipart/form-data; boundary=x" }, "--x--"],
      [`/api/v1/jobs/${cancelled}/retry`, {}, undefined],
      [`/api/v1/jobs/${cancelled}/retry`, { "content-type": "text/plain" }, ""],
      [`/api/v1/queues/${queue}/pause`, {}, undefined],
      [
        `/api/v1/queues/${queue}/pause`,
        { "content-type": "application/x-www-form-urlencoded" },
        "",
      ],
      ["/api/v1/keys", { "content-type": "text/plain" }, "{}"],
    ];
    for (const [path, headers, body] of forms) {
      const error = await assertError(
        await api.app.request(path, { method: "POST", headers, body }),
        415,
        "unsupported_media_type",
      );
      assert.match(error.message, /Content-Type: application\/json or an Authorization header/);
    }
    assert.deepStrictEqual(await api.broker.stats(), before);
    assert.strictEqual((await api.broker.get(cancelled))?.status, "cancelled");
    assert.strictEqual((await api.broker.queueInfo(queue))?.paused, false);

    // What a same-origin page (or curl) sends passes: a JSON type, or an Authorization header.
    const retried = await api.app.request(`/api/v1/jobs/${cancelled}/retry`, {
      method: "POST",
      headers: { "content-type": "application/json" },
    });
    assert.strictEqual(retried.status, 200);
    await retried.body?.cancel();
    const paused = await api.app.request(`/api/v1/queues/${queue}/pause`, {
      method: "POST",
      headers: { authorization: "Bearer anything" },
    });
    assert.strictEqual(paused.status, 200);
    await paused.body?.cancel();
    // Unknown routes stay 404 whatever they are sent.
    await assertError(await api.app.request("/api/v1/nope", { method: "POST" }), 404, "not_found");
  } finally {
    await api.close();
  }
});

Deno.test("headers: JSON answers carry nosniff and no-store (success, errors, 401, SSE refusal)", async () => {
  const api = await startApi();
  const redis = await TestRedis.start();
  const authed = await authApp(redis, { maxSseClients: 0 });
  try {
    const answers = [
      await postJson(api.app, "/api/v1/jobs", COMPUTE),
      await api.app.request("/api/v1/stats"),
      await api.app.request("/api/v1/jobs/not-a-uuid"),
      await api.app.request("/api/v1/nothing"),
      await api.app.request("/api/v1/openapi.json"),
      await api.app.request("/health"),
      await authed.app.request("/api/v1/stats"),
      await authed.app.request("/api/v1/auth"),
      await authed.app.request("/api/v1/events", {
        headers: {
          authorization: `Bearer ${
            (await authed.store.create({ name: "sse", scopes: ["read"] })).key
          }`,
        },
      }),
    ];
    for (const res of answers) {
      await res.body?.cancel();
      assert.match(res.headers.get("content-type") ?? "", /json/, `${res.url} ${res.status}`);
      assert.strictEqual(res.headers.get("x-content-type-options"), "nosniff", `${res.status}`);
      assert.strictEqual(res.headers.get("cache-control"), "no-store", `${res.status}`);
    }
    assert.deepStrictEqual(answers.map((r) => r.status), [
      201,
      200,
      400,
      404,
      200,
      200,
      401,
      200,
      503,
    ]);
  } finally {
    await api.close();
    await authed.close();
    await redis.close();
  }
});
