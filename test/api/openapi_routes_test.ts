/** The OpenAPI document's paths are exactly the routes the API process serves. */
import assert from "node:assert/strict";
import { buildApiApp } from "../../src/roles/api_app.ts";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { TestRedis } from "../helpers/redis_server.ts";
import { Validator } from "@seriousme/openapi-schema-validator";
import { startApi } from "./helpers.ts";
import { type Json, SpecValidator } from "./openapi_validator.ts";

Deno.test("OpenAPI paths x methods equal the composed app's routes, both ways", async () => {
  const redis = await TestRedis.start();
  const broker = new RedisBroker({ url: redis.url, queue: `oar${Date.now()}` });
  const http = buildApiApp({
    broker,
    registry: await loadRegistry(),
    log: createLogger({ level: "silent" }),
  });
  try {
    const served = http.app.routes
      // Middleware (method ALL) and the dashboard's static-file catch-all are not API routes.
      .filter((r) => r.method !== "ALL" && r.path !== "/*")
      .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z_]+)/g, "{$1}")}`);
    const doc = await (await http.app.request("/api/v1/openapi.json")).json() as Json;
    const documented = new SpecValidator(doc).operations().map((o) => `${o.method} ${o.path}`);
    assert.deepStrictEqual([...new Set(served)].sort(), served.sort(), "a route is mounted twice");
    assert.deepStrictEqual(documented.sort(), served.sort());
    // Spot checks of what used to be missing.
    for (
      const route of [
        "GET /api/v1/events",
        "GET /api/v1/openapi.json",
        "GET /metrics",
        "GET /health",
        "GET /ready",
      ]
    ) {
      assert.ok(documented.includes(route), route);
    }
  } finally {
    await http.close();
    await broker.close();
    await redis.close();
  }
});

Deno.test("the document is valid OpenAPI 3.1 (the specification's own JSON Schema)", async () => {
  const api = await startApi();
  try {
    const doc = await (await api.app.request("/api/v1/openapi.json")).json();
    const result = await new Validator().validate(doc);
    assert.deepStrictEqual(result, { valid: true });
  } finally {
    await api.close();
  }
});
