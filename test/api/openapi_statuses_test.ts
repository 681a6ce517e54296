/**
 * Every status (and error code) the OpenAPI document lists for an operation
 * is one the server really answers, and every answer below is documented
 * with its schema, media type and headers. Only 500 internal_error, which
 * no correct request can provoke, is not triggered.
 */
import type { WorkerReport } from "../../src/queue/worker_presence.ts";
import assert from "node:assert/strict";
import type { Hono } from "hono";
import { createApp } from "../../src/api/app.ts";
import { type ApiApp, buildApiApp } from "../../src/roles/api_app.ts";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import type { Broker } from "../../src/queue/broker.ts";
import {
  OutcomeUnknownError,
  QueueUnavailableError,
  StorageFormatError,
} from "../../src/queue/errors.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { TestRedis } from "../helpers/redis_server.ts";
import { type Json, SpecValidator } from "./openapi_validator.ts";
import { ROUTE_ACCESS } from "../../src/api/auth/access.ts";
import { Authenticator } from "../../src/auth/authenticator.ts";
import { KeyStore } from "../../src/auth/key_store.ts";
import { connect, type RedisClient } from "../../src/queue/connect.ts";
import { freePort } from "../helpers/redis_server.ts";
import { startSchedules } from "../../src/schedules/runtime.ts";
import { QuotaStore } from "../../src/tenants/quota_store.ts";
import { MAX_SUBSCRIPTIONS, WebhookStore } from "../../src/webhooks/store.ts";
import { queueKeys } from "../../src/queue/keys.ts";

const log = createLogger({ level: "silent" });
const COMPUTE = { type: "compute", payload: { duration_ms: 1 } };

/** A broker whose every call fails with `error()`: the 503 answers without stopping Redis. */
function failingBroker(error: () => Error): Broker {
  return new Proxy({}, {
    get(_target, name) {
      if (name === "then") return undefined; // not a thenable
      if (name === "close") return () => Promise.resolve();
      return () => Promise.reject(error());
    },
  }) as Broker;
}

/** One request and the answer the document promises for it. */
interface Case {
  /** Operation as in the document: `METHOD /path/{id}`. */
  op: string;
  status: number;
  code?: string;
  /** Response headers the answer carries and the document lists. */
  headers?: string[];
  send: () => Promise<Response>;
}

async function request(
  app: Hono,
  method: string,
  path: string,
  body?: string,
  type = "application/json",
): Promise<Response> {
  return await app.request(path, {
    method,
    headers: body === undefined ? {} : { "content-type": type },
    body,
  });
}

const json = (value: unknown) => JSON.stringify(value);

Deno.test("every documented status is answered, and every answer is documented", async () => {
  const registry = await loadRegistry();
  const redis = await TestRedis.start();
  const broker = new RedisBroker({ url: redis.url, queue: `oas${Date.now()}` });
  const apps: ApiApp[] = [];
  const clients: RedisClient[] = [];
  const closers: Array<() => Promise<void>> = [];
  const composed = (options: Partial<Parameters<typeof buildApiApp>[0]> = {}) => {
    const http = buildApiApp({ broker, registry, log, ...options });
    apps.push(http);
    return http.app;
  };
  try {
    const app = composed();
    const full = composed({ maxSseClients: 0 });
    const tight = composed({ bodyBudgetBytes: 1 });
    const down = createApp({
      broker: failingBroker(() => new QueueUnavailableError("x")),
      registry,
      log,
    });
    const unanswered = createApp({
      broker: failingBroker(() => new OutcomeUnknownError("x")),
      registry,
      log,
    });
    const otherFormat = createApp({
      broker: failingBroker(() => new StorageFormatError("q", "9", "1")),
      registry,
      log,
    });
    const doc = await (await app.request("/api/v1/openapi.json")).json() as Json;
    const spec = new SpecValidator(doc);

    const enqueue = async () => (await broker.enqueue(COMPUTE)).id;
    const cancelled = async () => {
      const id = await enqueue();
      await broker.cancel(id);
      return id;
    };
    const running = async () => {
      await broker.purge("cancelled");
      const id = await enqueue();
      const claimed = await broker.claim(100);
      assert.ok(claimed.some((j) => j.id === id));
      return id;
    };
    const uuid = () => crypto.randomUUID();
    const callerId = async () =>
      (await broker.enqueue({ ...COMPUTE, id: uuid().replace(/^(.{14})./, "$10") })).id;
    const key = `k-${Date.now()}`;

    const J = "/api/v1/jobs";
    const B = "/api/v1/jobs/batch";
    const F = "/api/v1/flows";
    const flowJob = (ref: string, dependsOn?: string[]) => ({
      ...COMPUTE,
      ref,
      ...(dependsOn ? { depends_on: dependsOn } : {}),
    });
    const get = (target: Hono, path: string) => () => request(target, "GET", path);
    const post = (target: Hono, path: string, body: string, type?: string) => () =>
      request(target, "POST", path, body, type);
    const del = (path: string) => () => request(app, "DELETE", path);
    const submitWithKey = (idempotencyKey: string) => () =>
      app.request(J, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": idempotencyKey },
        body: json(COMPUTE),
      });
    const twice = (send: () => Response | Promise<Response>) => async () => {
      await (await send()).body?.cancel();
      return await send();
    };
    const after =
      (id: () => Promise<string>, send: (id: string) => Promise<Response>) => async () =>
        send(await id());
    /** A case: `op`, the status (and code) it must answer, how to send it. */
    const at = (
      op: string,
      status: number,
      code: string | undefined,
      send: () => Response | Promise<Response>,
      headers?: string[],
    ): Case => ({ op, status, code, headers, send: async () => await send() });
    const big = (bytes: number) => ({ type: "email", payload: { body: "x".repeat(bytes) } });

    const cases: Case[] = [
      at(`POST ${J}`, 201, undefined, post(app, J, json(COMPUTE)), ["Location"]),
      at(`POST ${J}`, 200, undefined, twice(submitWithKey(key)), ["Idempotent-Replayed"]),
      at(`POST ${J}`, 400, "invalid_json", post(app, J, "{")),
      at(`POST ${J}`, 400, "invalid_header", submitWithKey("a b")),
      at(`POST ${J}`, 413, "payload_too_large", post(app, J, json(big(1_100_000)))),
      at(`POST ${J}`, 415, "unsupported_media_type", post(app, J, json(COMPUTE), "text/plain")),
      at(`POST ${J}`, 422, "validation_error", post(app, J, json({ ...COMPUTE, priority: 101 }))),
      at(`POST ${J}`, 422, "unknown_job_type", post(app, J, json({ type: "fax", payload: {} }))),
      at(
        `POST ${J}`,
        422,
        "invalid_payload",
        post(app, J, json({ type: "compute", payload: { duration_ms: -1 } })),
      ),
      at(`POST ${J}`, 503, "overloaded", post(tight, J, json(COMPUTE)), ["Retry-After"]),
      at(`POST ${B}`, 201, undefined, post(app, B, json({ jobs: [COMPUTE] }))),
      at(`POST ${B}`, 207, undefined, post(app, B, json({ jobs: [COMPUTE, { type: "fax" }] }))),
      at(`POST ${B}`, 400, "invalid_json", post(app, B, "[")),
      at(
        `POST ${B}`,
        413,
        "payload_too_large",
        post(app, B, json({ jobs: [big(17 * 1024 * 1024)] })),
      ),
      at(`POST ${B}`, 415, "unsupported_media_type", post(app, B, "{}", "application/xml")),
      at(`POST ${B}`, 422, "validation_error", post(app, B, json({ jobs: [] }))),
      at(`POST ${B}`, 503, "overloaded", post(tight, B, json({ jobs: [COMPUTE] })), [
        "Retry-After",
      ]),
      at(`GET ${J}`, 200, undefined, get(app, `${J}?status=pending&limit=2`)),
      at(`GET ${J}`, 400, "invalid_query", get(app, `${J}?limit=0`)),
      at(`GET ${J}`, 400, "invalid_query", get(app, `${J}?cursor=${"c".repeat(513)}`)),
      at(`GET ${J}`, 422, "invalid_input", get(app, `${J}?cursor=garbage`)),
      at(`GET ${J}`, 422, "invalid_input", get(app, `${J}?status=failed&cursor=garbage`)),
      at(`GET ${J}`, 422, "validation_error", get(app, `${J}?queue=a%20b`)),
      at(`DELETE ${J}`, 200, undefined, del(`${J}?status=failed`)),
      at(`DELETE ${J}`, 400, "invalid_query", del(`${J}?status=pending`)),
      at(`DELETE ${J}`, 404, "not_found", del(`${J}?status=failed&queue=nosuch`)),
      at(`DELETE ${J}`, 422, "validation_error", del(`${J}?status=failed&queue=a{b}`)),
      at(`GET ${J}/{id}`, 200, undefined, after(enqueue, (id) => get(app, `${J}/${id}`)())),
      // A caller-chosen id (typed client) need not be an RFC 9562 UUID: version digit 0 here.
      at(`GET ${J}/{id}`, 200, undefined, after(callerId, (id) => get(app, `${J}/${id}`)())),
      at(`GET ${J}/{id}`, 400, "invalid_job_id", get(app, `${J}/not-a-uuid`)),
      at(`GET ${J}/{id}`, 404, "not_found", get(app, `${J}/${uuid()}`)),
      at(`DELETE ${J}/{id}`, 200, undefined, after(enqueue, (id) => del(`${J}/${id}`)())),
      at(`DELETE ${J}/{id}`, 202, undefined, after(running, (id) => del(`${J}/${id}`)())),
      at(`DELETE ${J}/{id}`, 400, "invalid_job_id", del(`${J}/not-a-uuid`)),
      at(`DELETE ${J}/{id}`, 404, "not_found", del(`${J}/${uuid()}`)),
      at(`DELETE ${J}/{id}`, 409, "invalid_state", after(cancelled, (id) => del(`${J}/${id}`)())),
      at(
        `POST ${J}/{id}/retry`,
        200,
        undefined,
        after(cancelled, (id) => post(app, `${J}/${id}/retry`, "")()),
      ),
      at(`POST ${J}/{id}/retry`, 400, "invalid_job_id", post(app, `${J}/not-a-uuid/retry`, "")),
      at(
        `POST ${J}/{id}/retry`,
        200,
        undefined,
        after(
          cancelled,
          (id) => post(app, `${J}/${id}/retry`, json({ revive_dependents: true }))(),
        ),
      ),
      at(`POST ${J}/{id}/retry`, 400, "invalid_json", post(app, `${J}/${uuid()}/retry`, "{")),
      at(
        `POST ${J}/{id}/retry`,
        413,
        "payload_too_large",
        post(app, `${J}/${uuid()}/retry`, json({ x: "y".repeat(2000) })),
      ),
      at(
        `POST ${J}/{id}/retry`,
        422,
        "validation_error",
        post(app, `${J}/${uuid()}/retry`, json({ revive_dependents: "yes" })),
      ),
      at(`POST ${J}/{id}/retry`, 404, "not_found", post(app, `${J}/${uuid()}/retry`, "")),
      at(
        `POST ${J}/{id}/retry`,
        409,
        "invalid_state",
        after(enqueue, (id) => post(app, `${J}/${id}/retry`, "")()),
      ),
      at(
        `POST ${J}/{id}/run`,
        200,
        undefined,
        after(
          async () => (await broker.enqueue({ ...COMPUTE, delay_ms: 3_600_000 })).id,
          (id) => post(app, `${J}/${id}/run`, "")(),
        ),
      ),
      at(`POST ${J}/{id}/run`, 400, "invalid_job_id", post(app, `${J}/not-a-uuid/run`, "")),
      at(`POST ${J}/{id}/run`, 404, "not_found", post(app, `${J}/${uuid()}/run`, "")),
      at(
        `POST ${J}/{id}/run`,
        409,
        "invalid_state",
        after(enqueue, (id) => post(app, `${J}/${id}/run`, "")()),
      ),
      at(`POST ${J}/retry`, 200, undefined, post(app, `${J}/retry`, json({ status: "failed" }))),
      at(`POST ${J}/retry`, 400, "invalid_json", post(app, `${J}/retry`, "{")),
      at(
        `POST ${J}/retry`,
        413,
        "payload_too_large",
        post(app, `${J}/retry`, json({ status: "failed", x: "y".repeat(300_000) })),
      ),
      at(
        `POST ${J}/retry`,
        415,
        "unsupported_media_type",
        post(app, `${J}/retry`, "{}", "text/plain"),
      ),
      at(
        `POST ${J}/retry`,
        422,
        "validation_error",
        post(app, `${J}/retry`, json({ status: "x" })),
      ),
      at(
        `POST ${J}/cancel`,
        200,
        undefined,
        after(enqueue, (id) => post(app, `${J}/cancel`, json({ ids: [id] }))()),
      ),
      at(`POST ${J}/cancel`, 207, undefined, post(app, `${J}/cancel`, json({ ids: [uuid()] }))),
      at(`POST ${J}/cancel`, 400, "invalid_json", post(app, `${J}/cancel`, "{")),
      at(
        `POST ${J}/cancel`,
        413,
        "payload_too_large",
        post(app, `${J}/cancel`, json({ ids: [], x: "y".repeat(300_000) })),
      ),
      at(
        `POST ${J}/cancel`,
        415,
        "unsupported_media_type",
        post(app, `${J}/cancel`, "{}", "text/plain"),
      ),
      at(`POST ${J}/cancel`, 422, "validation_error", post(app, `${J}/cancel`, json({ ids: [] }))),
      at(
        `POST ${J}/delete`,
        200,
        undefined,
        after(cancelled, (id) => post(app, `${J}/delete`, json({ ids: [id] }))()),
      ),
      at(`POST ${J}/delete`, 207, undefined, post(app, `${J}/delete`, json({ ids: [uuid()] }))),
      at(`POST ${J}/delete`, 400, "invalid_json", post(app, `${J}/delete`, "{")),
      at(
        `POST ${J}/delete`,
        413,
        "payload_too_large",
        post(app, `${J}/delete`, json({ ids: [], x: "y".repeat(300_000) })),
      ),
      at(
        `POST ${J}/delete`,
        415,
        "unsupported_media_type",
        post(app, `${J}/delete`, "{}", "text/plain"),
      ),
      at(`POST ${J}/delete`, 422, "validation_error", post(app, `${J}/delete`, json({ ids: [] }))),
      at(`GET ${J}/{id}`, 400, "invalid_query", get(app, `${J}/${uuid()}?dependents_cursor=x`)),
      at(
        `POST ${J}`,
        422,
        "unknown_dependency",
        post(app, J, json({ ...COMPUTE, depends_on: [uuid()] })),
      ),
      at(
        `POST ${B}`,
        422,
        "unknown_dependency",
        post(app, B, json({ jobs: [{ ...COMPUTE, depends_on: [uuid()] }] })),
      ),
      at(`POST ${F}`, 201, undefined, post(app, F, json({ jobs: [flowJob("a")] }))),
      at(`POST ${F}`, 400, "invalid_json", post(app, F, "{")),
      at(
        `POST ${F}`,
        413,
        "payload_too_large",
        post(app, F, json({ jobs: [big(17 * 1024 * 1024)] })),
      ),
      at(`POST ${F}`, 415, "unsupported_media_type", post(app, F, "{}", "text/plain")),
      at(`POST ${F}`, 422, "validation_error", post(app, F, json({ jobs: [] }))),
      at(
        `POST ${F}`,
        422,
        "unknown_job_type",
        post(app, F, json({ jobs: [{ ...flowJob("a"), type: "fax" }] })),
      ),
      at(
        `POST ${F}`,
        422,
        "invalid_payload",
        post(app, F, json({ jobs: [{ ...flowJob("a"), payload: { duration_ms: -1 } }] })),
      ),
      at(
        `POST ${F}`,
        422,
        "duplicate_ref",
        post(app, F, json({ jobs: [flowJob("a"), flowJob("a")] })),
      ),
      at(`POST ${F}`, 422, "unknown_ref", post(app, F, json({ jobs: [flowJob("a", ["b"])] }))),
      at(`POST ${F}`, 422, "cycle", post(app, F, json({ jobs: [flowJob("a", ["a"])] }))),
      at(
        `POST ${F}`,
        422,
        "unknown_dependency",
        post(app, F, json({ jobs: [flowJob("a", [uuid()])] })),
      ),
      at(`POST ${F}`, 503, "overloaded", post(tight, F, json({ jobs: [flowJob("a")] })), [
        "Retry-After",
      ]),
      at(`GET ${F}/{id}`, 200, undefined, after(enqueue, (id) => get(app, `${F}/${id}`)())),
      at(`GET ${F}/{id}`, 400, "invalid_job_id", get(app, `${F}/not-a-uuid`)),
      at(`GET ${F}/{id}`, 404, "not_found", get(app, `${F}/${uuid()}`)),
      at("GET /api/v1/stats", 200, undefined, get(app, "/api/v1/stats")),
      at("GET /api/v1/stats", 400, "invalid_query", get(app, "/api/v1/stats?queues=x")),
      at("GET /api/v1/stats", 404, "not_found", get(app, "/api/v1/stats?queue=nosuch")),
      at("GET /api/v1/stats", 422, "validation_error", get(app, "/api/v1/stats?queue=%7B")),
      at("GET /api/v1/queues", 200, undefined, get(app, "/api/v1/queues")),
      at(
        "GET /api/v1/queues/{name}",
        200,
        undefined,
        get(app, `/api/v1/queues/${broker.defaultQueue}`),
      ),
      at("GET /api/v1/queues/{name}", 404, "not_found", get(app, "/api/v1/queues/nosuch")),
      at(
        "GET /api/v1/queues/{name}/history",
        200,
        undefined,
        get(app, `/api/v1/queues/${broker.defaultQueue}/history?window=24h`),
      ),
      at(
        "GET /api/v1/queues/{name}/history",
        404,
        "not_found",
        get(app, "/api/v1/queues/nosuch/history"),
      ),
      at(
        "GET /api/v1/queues/{name}/history",
        422,
        "validation_error",
        get(app, `/api/v1/queues/${broker.defaultQueue}/history?window=2h`),
      ),
      at("GET /api/v1/history", 200, undefined, get(app, "/api/v1/history")),
      at("GET /api/v1/history", 422, "validation_error", get(app, "/api/v1/history?window=x")),
      at("GET /api/v1/queues/{name}", 422, "validation_error", get(app, "/api/v1/queues/a%20b")),
      ...(["pause", "resume"] as const).flatMap((action) => [
        at(
          `POST /api/v1/queues/{name}/${action}`,
          200,
          undefined,
          post(app, `/api/v1/queues/${broker.defaultQueue}/${action}`, ""),
        ),
        at(
          `POST /api/v1/queues/{name}/${action}`,
          404,
          "not_found",
          post(app, `/api/v1/queues/nosuch/${action}`, ""),
        ),
        at(
          `POST /api/v1/queues/{name}/${action}`,
          422,
          "validation_error",
          post(app, `/api/v1/queues/a%20b/${action}`, ""),
        ),
      ]),
      at("GET /api/v1/job-types", 200, undefined, get(app, "/api/v1/job-types")),
      at("GET /api/v1/openapi.json", 200, undefined, get(app, "/api/v1/openapi.json")),
      at("GET /api/v1/events", 200, undefined, get(app, "/api/v1/events")),
      at("GET /api/v1/events", 503, "too_many_clients", get(full, "/api/v1/events"), [
        "Retry-After",
      ]),
      at("GET /metrics", 200, undefined, get(app, "/metrics")),
      ...["/health", "/api/v1/health"].map((path) =>
        at(`GET ${path}`, 200, undefined, get(app, path))
      ),
      ...["/ready", "/api/v1/ready"].flatMap((path) => [
        at(`GET ${path}`, 200, undefined, get(app, path)),
        at(`GET ${path}`, 503, "unavailable", get(down, path)),
      ]),
    ];
    // Redis failing: every route that uses the broker answers 503, with either code.
    const brokerRoutes: Array<[string, string, string?]> = [
      ["POST /api/v1/jobs", "/api/v1/jobs", json(COMPUTE)],
      ["POST /api/v1/jobs/batch", "/api/v1/jobs/batch", json({ jobs: [COMPUTE] })],
      ["POST /api/v1/flows", "/api/v1/flows", json({ jobs: [{ ...COMPUTE, ref: "a" }] })],
      ["GET /api/v1/flows/{id}", `/api/v1/flows/${uuid()}`],
      ["GET /api/v1/jobs", "/api/v1/jobs"],
      ["DELETE /api/v1/jobs", "/api/v1/jobs?status=failed"],
      ["GET /api/v1/jobs/{id}", `/api/v1/jobs/${uuid()}`],
      ["DELETE /api/v1/jobs/{id}", `/api/v1/jobs/${uuid()}`],
      ["POST /api/v1/jobs/{id}/retry", `/api/v1/jobs/${uuid()}/retry`, ""],
      ["POST /api/v1/jobs/{id}/run", `/api/v1/jobs/${uuid()}/run`, ""],
      ["POST /api/v1/jobs/retry", "/api/v1/jobs/retry", json({ status: "failed" })],
      ["GET /api/v1/stats", "/api/v1/stats"],
      ["GET /api/v1/queues", "/api/v1/queues"],
      ["GET /api/v1/queues/{name}", "/api/v1/queues/default"],
      ["GET /api/v1/queues/{name}/history", "/api/v1/queues/default/history"],
      ["GET /api/v1/history", "/api/v1/history"],
      ["POST /api/v1/queues/{name}/pause", "/api/v1/queues/default/pause", ""],
      ["POST /api/v1/queues/{name}/resume", "/api/v1/queues/default/resume", ""],
    ];
    for (const [op, path, body] of brokerRoutes) {
      const method = op.split(" ")[0];
      cases.push(
        at(op, 503, "unavailable", () => request(down, method, path, body)),
        at(op, 503, "storage_format", () => request(otherFormat, method, path, body)),
      );
      // A write sent to Redis that got no answer: every route that writes says so.
      if (method !== "GET") {
        cases.push(
          at(op, 503, "outcome_unknown", () => request(unanswered, method, path, body), [
            "Retry-After",
          ]),
        );
      }
    }

    // Authentication: the same routes with keys checked (the access table says which need what).
    const keyClient = connect(redis.url, { commandTimeoutMs: 1000 });
    const deadClient = connect(`redis://127.0.0.1:${freePort()}`, {
      commandTimeoutMs: 200,
      connectTimeoutMs: 200,
    });
    clients.push(keyClient, deadClient);
    const store = new KeyStore(keyClient);
    const keyed = composed({
      auth: new Authenticator({ mode: "on", store }),
      metricsToken: "metrics-token-0123456789",
    });
    const keyless = composed({
      auth: new Authenticator({ mode: "first_key", store: new KeyStore(deadClient) }),
    });
    const limited = composed({
      auth: new Authenticator({ mode: "on", store, failures: { max: 1 } }),
    });
    const keysDown = createApp({
      broker,
      registry,
      log,
      auth: new Authenticator({ mode: "off", store: new KeyStore(deadClient) }),
    });
    const admin = (await store.create({ name: "statuses", scopes: ["admin"] })).key;
    const reader = (await store.create({ name: "statuses", scopes: ["read"] })).key;
    const wrongKey = `jq_0123456789abcdef_${"A".repeat(43)}`;
    const send = (
      target: Hono,
      method: string,
      path: string,
      headers: Record<string, string>,
      body?: string,
      env?: Json,
    ) =>
    async () => await target.request(path, { method, headers, body }, env);
    const JT = { "content-type": "application/json" };
    const jobId = (await broker.enqueue(COMPUTE)).id;
    const concrete = (path: string) =>
      path.replace("{id}", path.includes("/keys/") ? "0123456789abcdef" : jobId)
        .replace("{name}", broker.defaultQueue);
    for (const { method, path: honoPath, access } of ROUTE_ACCESS) {
      const path = honoPath.replace(/:([A-Za-z_]+)/g, "{$1}");
      const op = `${method} ${path}`;
      const url = concrete(path);
      if (access === "public") continue;
      if (access === "metrics") {
        cases.push(at(op, 401, "unauthorized", send(keyed, method, url, {})));
        continue;
      }
      if (access !== "optional") {
        cases.push(at(op, 401, "unauthorized", send(keyed, method, url, JT)));
        const lacking = access === "read" ? admin : reader;
        cases.push(
          at(
            op,
            403,
            "forbidden",
            send(keyed, method, url, { ...JT, authorization: `Bearer ${lacking}` }),
          ),
        );
      } else {
        cases.push(
          at(
            op,
            401,
            "unauthorized",
            send(keyed, method, url, { authorization: `Bearer ${wrongKey}` }),
          ),
        );
      }
      // No key yet (loopback only): a request naming another host is a rebinding attempt.
      cases.push(
        at(op, 403, "forbidden_host", send(keyless, method, `http://rebound.example${url}`, JT)),
      );
      // One failure from an address, then that address is limited.
      const address = {
        remoteAddr: { hostname: `10.9.${cases.length % 250}.${cases.length % 7}` },
      };
      const guess = send(
        limited,
        method,
        url,
        { ...JT, authorization: `Bearer ${wrongKey}` },
        undefined,
        address,
      );
      cases.push(at(op, 429, "rate_limited", twice(guess), ["Retry-After"]));
    }
    // Bodiless POSTs a browser could send from another site.
    for (
      const [op, path] of [
        ["POST /api/v1/jobs/{id}/retry", `${J}/${jobId}/retry`],
        ["POST /api/v1/jobs/{id}/run", `${J}/${jobId}/run`],
        ["POST /api/v1/queues/{name}/pause", `/api/v1/queues/${broker.defaultQueue}/pause`],
        ["POST /api/v1/queues/{name}/resume", `/api/v1/queues/${broker.defaultQueue}/resume`],
        [
          "POST /api/v1/webhooks/deliveries/{id}/redeliver",
          "/api/v1/webhooks/deliveries/x~1/redeliver",
        ],
      ]
    ) {
      cases.push(at(op, 415, "unsupported_media_type", send(app, "POST", path, {})));
    }
    // Key management and whoami.
    const K = "/api/v1/keys";
    const asAdmin = { ...JT, authorization: `Bearer ${admin}` };
    const newKey = json({ name: "made by the statuses test", scopes: ["read"] });
    const revocable = async () =>
      (await store.create({ name: "revocable", scopes: ["read"] })).record.id;
    cases.push(
      at(`POST ${K}`, 201, undefined, send(keyed, "POST", K, asAdmin, newKey), ["Location"]),
      at(`POST ${K}`, 400, "invalid_json", send(keyed, "POST", K, asAdmin, "{")),
      at(`POST ${K}`, 404, "not_found", send(app, "POST", K, JT, newKey)),
      at(
        `POST ${K}`,
        413,
        "payload_too_large",
        send(keyed, "POST", K, asAdmin, json({ name: "x".repeat(20_000) })),
      ),
      at(
        `POST ${K}`,
        415,
        "unsupported_media_type",
        send(keyed, "POST", K, { authorization: `Bearer ${admin}` }, newKey),
      ),
      at(
        `POST ${K}`,
        422,
        "validation_error",
        send(keyed, "POST", K, asAdmin, json({ name: "x", scopes: ["root"] })),
      ),
      at(`POST ${K}`, 503, "unavailable", send(keysDown, "POST", K, JT, newKey)),
      at(`GET ${K}`, 200, undefined, send(keyed, "GET", K, asAdmin)),
      at(`GET ${K}`, 404, "not_found", send(app, "GET", K, {})),
      at(`GET ${K}`, 503, "unavailable", send(keysDown, "GET", K, {})),
      at(
        `DELETE ${K}/{id}`,
        200,
        undefined,
        after(revocable, (id) => send(keyed, "DELETE", `${K}/${id}`, asAdmin)()),
      ),
      at(
        `DELETE ${K}/{id}`,
        404,
        "not_found",
        send(keyed, "DELETE", `${K}/0123456789abcdef`, asAdmin),
      ),
      at(
        `DELETE ${K}/{id}`,
        503,
        "unavailable",
        send(keysDown, "DELETE", `${K}/0123456789abcdef`, {}),
      ),
      at("GET /api/v1/auth", 200, undefined, send(keyed, "GET", "/api/v1/auth", asAdmin)),
    );

    // Schedules: an app with them (no loop), and one whose schedules' Redis is unreachable.
    const scheduling = await startSchedules({ url: redis.url, broker, registry, log, tick: false });
    const schedulingDown = await startSchedules({
      url: `redis://127.0.0.1:${freePort()}`,
      broker,
      registry,
      log,
      tick: false,
      commandTimeoutMs: 200,
    });
    closers.push(scheduling.close, schedulingDown.close);
    const sched = composed({ schedules: scheduling.service });
    const schedDown = createApp({ broker, registry, log, schedules: schedulingDown.service });
    const S = "/api/v1/schedules";
    const every = (name: string, extra: Json = {}) =>
      json({ name, every_ms: 60_000, ...COMPUTE, ...extra });
    const bigSchedule = json({
      name: "big",
      every_ms: 60_000,
      type: "email",
      payload: { body: "x".repeat(1_100_000) },
    });
    const put = (target: Hono, path: string, body: string, type?: string) => () =>
      request(target, "PUT", path, body, type);
    const schedDel = (target: Hono, path: string) => () => request(target, "DELETE", path);
    await (await post(sched, S, every("kept"))()).body?.cancel();
    cases.push(
      at(`POST ${S}`, 201, undefined, post(sched, S, every("created")), ["Location"]),
      at(`POST ${S}`, 400, "invalid_json", post(sched, S, "{")),
      at(`POST ${S}`, 409, "conflict", twice(post(sched, S, every("twice")))),
      at(`POST ${S}`, 413, "payload_too_large", post(sched, S, bigSchedule)),
      at(`POST ${S}`, 415, "unsupported_media_type", post(sched, S, every("t"), "text/plain")),
      at(`POST ${S}`, 422, "validation_error", post(sched, S, every("bad", { cron: "nope" }))),
      at(`POST ${S}`, 503, "unavailable", post(schedDown, S, every("down"))),
      at(`GET ${S}`, 200, undefined, get(sched, S)),
      at(`GET ${S}`, 503, "unavailable", get(schedDown, S)),
      at(`PUT ${S}/{name}`, 201, undefined, put(sched, `${S}/put1`, every("put1")), ["Location"]),
      at(`PUT ${S}/{name}`, 200, undefined, twice(put(sched, `${S}/put2`, every("put2")))),
      at(`PUT ${S}/{name}`, 400, "invalid_json", put(sched, `${S}/p`, "[")),
      at(`PUT ${S}/{name}`, 413, "payload_too_large", put(sched, `${S}/big`, bigSchedule)),
      at(
        `PUT ${S}/{name}`,
        415,
        "unsupported_media_type",
        put(sched, `${S}/p`, every("p"), "text/plain"),
      ),
      at(
        `PUT ${S}/{name}`,
        422,
        "validation_error",
        put(sched, `${S}/p`, every("p", { every_ms: 10 })),
      ),
      at(`PUT ${S}/{name}`, 503, "unavailable", put(schedDown, `${S}/p`, every("p"))),
      at(`GET ${S}/{name}`, 200, undefined, get(sched, `${S}/kept`)),
      at(`GET ${S}/{name}`, 404, "not_found", get(sched, `${S}/nosuch`)),
      at(`GET ${S}/{name}`, 422, "validation_error", get(sched, `${S}/a%20b`)),
      at(`GET ${S}/{name}`, 503, "unavailable", get(schedDown, `${S}/kept`)),
      at(
        `DELETE ${S}/{name}`,
        200,
        undefined,
        after(
          async () => {
            await (await post(sched, S, every("gone"))()).body?.cancel();
            return "gone";
          },
          (name) => schedDel(sched, `${S}/${name}`)(),
        ),
      ),
      at(`DELETE ${S}/{name}`, 404, "not_found", schedDel(sched, `${S}/nosuch`)),
      at(`DELETE ${S}/{name}`, 422, "validation_error", schedDel(sched, `${S}/a%20b`)),
      at(`DELETE ${S}/{name}`, 503, "unavailable", schedDel(schedDown, `${S}/kept`)),
      at(`GET ${J}`, 200, undefined, get(sched, `${J}?schedule=kept`)),
      at(`GET ${J}`, 404, "not_found", get(sched, `${J}?schedule=nosuch`)),
    );
    for (const action of ["pause", "resume", "trigger"] as const) {
      const op = `POST ${S}/{name}/${action}`;
      const status = action === "trigger" ? 201 : 200;
      cases.push(
        at(
          op,
          status,
          undefined,
          post(sched, `${S}/kept/${action}`, ""),
          action === "trigger" ? ["Location"] : [],
        ),
        at(op, 404, "not_found", post(sched, `${S}/nosuch/${action}`, "")),
        at(op, 415, "unsupported_media_type", send(sched, "POST", `${S}/kept/${action}`, {})),
        at(op, 422, "validation_error", post(sched, `${S}/a%20b/${action}`, "")),
        at(op, 503, "unavailable", post(schedDown, `${S}/kept/${action}`, "")),
      );
    }

    // Tenants' quotas, a tenant key's submits past them, and the 408 of a stalled body.
    const quotas = new QuotaStore(keyClient);
    const withQuotas = composed({ quotas });
    const tenanted = composed({ auth: new Authenticator({ mode: "on", store }), quotas });
    const tenantsDown = createApp({ broker, registry, log, quotas: new QuotaStore(deadClient) });
    const T = "/api/v1/tenants";
    const tenantKey = async (tenant: string) => ({
      ...JT,
      authorization: `Bearer ${
        (await store.create({ name: tenant, scopes: ["submit", "read", "admin"], tenant })).key
      }`,
    });
    await quotas.set("full", { max_pending: 0, submit_rate: null });
    await quotas.set("slow", { max_pending: null, submit_rate: { max: 1, per_ms: 3_600_000 } });
    const asFull = await tenantKey("full");
    const asSlow = await tenantKey("slow");
    const quota = json({ max_pending: 10 });
    const tenantPut = (target: Hono, name: string, body: string, headers: Json = JT) =>
      send(target, "PUT", `${T}/${name}`, headers as Record<string, string>, body);
    cases.push(
      at(`POST ${J}`, 429, "quota_exceeded", send(tenanted, "POST", J, asFull, json(COMPUTE))),
      at(
        `POST ${J}`,
        429,
        "quota_exceeded",
        twice(send(tenanted, "POST", J, asSlow, json(COMPUTE))),
        ["Retry-After"],
      ),
      at(
        `POST ${B}`,
        429,
        "quota_exceeded",
        send(tenanted, "POST", B, asFull, json({ jobs: [COMPUTE] })),
      ),
      at(`GET ${T}`, 200, undefined, get(withQuotas, T)),
      at(`GET ${T}`, 404, "not_found", get(app, T)),
      at(`GET ${T}`, 503, "unavailable", get(tenantsDown, T)),
      at(`GET ${T}/{name}`, 200, undefined, get(withQuotas, `${T}/full`)),
      at(`GET ${T}/{name}`, 404, "not_found", send(tenanted, "GET", `${T}/slow`, asFull)),
      at(
        `POST ${J}/retry`,
        404,
        "not_found",
        send(tenanted, "POST", `${J}/retry`, asFull, json({ status: "failed", queue: "slow/x" })),
      ),
      at(`GET ${T}/{name}`, 422, "validation_error", get(withQuotas, `${T}/-x`)),
      at(`GET ${T}/{name}`, 503, "unavailable", get(tenantsDown, `${T}/full`)),
      at(`PUT ${T}/{name}`, 201, undefined, tenantPut(withQuotas, "new1", quota)),
      at(`PUT ${T}/{name}`, 200, undefined, twice(tenantPut(withQuotas, "new2", quota))),
      at(`PUT ${T}/{name}`, 400, "invalid_json", tenantPut(withQuotas, "p", "{")),
      at(`PUT ${T}/{name}`, 403, "forbidden", tenantPut(tenanted, "full", quota, asFull)),
      at(`PUT ${T}/{name}`, 404, "not_found", tenantPut(tenanted, "slow", quota, asFull)),
      at(
        `PUT ${T}/{name}`,
        413,
        "payload_too_large",
        tenantPut(withQuotas, "p", json({ max_pending: 1, x: "x".repeat(5000) })),
      ),
      at(
        `PUT ${T}/{name}`,
        415,
        "unsupported_media_type",
        tenantPut(withQuotas, "p", quota, { "content-type": "text/plain" }),
      ),
      at(
        `PUT ${T}/{name}`,
        422,
        "validation_error",
        tenantPut(withQuotas, "p", json({ max_pending: -1 })),
      ),
      at(`PUT ${T}/{name}`, 503, "unavailable", tenantPut(tenantsDown, "p", quota)),
      at(
        `DELETE ${T}/{name}`,
        200,
        undefined,
        after(async () => {
          await quotas.set("gone", { max_pending: 1, submit_rate: null });
          return "gone";
        }, (name) => request(withQuotas, "DELETE", `${T}/${name}`)),
      ),
      at(`DELETE ${T}/{name}`, 403, "forbidden", send(tenanted, "DELETE", `${T}/full`, asFull)),
      at(`DELETE ${T}/{name}`, 404, "not_found", () => request(withQuotas, "DELETE", `${T}/none`)),
      at(
        `DELETE ${T}/{name}`,
        422,
        "validation_error",
        () => request(withQuotas, "DELETE", `${T}/-x`),
      ),
      at(`DELETE ${T}/{name}`, 503, "unavailable", () => request(tenantsDown, "DELETE", `${T}/p`)),
    );
    // Flow control's limits (a generous cap: other cases here claim compute jobs).
    const L = "/api/v1/limits";
    const cap = json({ concurrency: 1000 });
    const limitPut = (target: Hono, path: string, body: string, headers: Json = JT) =>
      send(target, "PUT", `${L}/${path}`, headers as Record<string, string>, body);
    cases.push(
      at(`GET ${L}`, 200, undefined, get(app, L)),
      at(`GET ${L}`, 403, "forbidden", send(tenanted, "GET", L, asFull)),
      at(`GET ${L}`, 503, "unavailable", get(down, L)),
      at(`PUT ${L}/{scope}/{name}`, 201, undefined, limitPut(app, "type/email", cap)),
      at(`PUT ${L}/{scope}/{name}`, 200, undefined, twice(limitPut(app, "type/webhook", cap))),
      at(`PUT ${L}/{scope}/{name}`, 400, "invalid_json", limitPut(app, "type/compute", "{")),
      at(
        `PUT ${L}/{scope}/{name}`,
        403,
        "forbidden",
        limitPut(tenanted, "type/compute", cap, asFull),
      ),
      at(
        `PUT ${L}/{scope}/{name}`,
        413,
        "payload_too_large",
        limitPut(app, "type/compute", json({ concurrency: 1, x: "x".repeat(5000) })),
      ),
      at(
        `PUT ${L}/{scope}/{name}`,
        415,
        "unsupported_media_type",
        limitPut(app, "type/compute", cap, { "content-type": "text/plain" }),
      ),
      at(
        `PUT ${L}/{scope}/{name}`,
        422,
        "validation_error",
        limitPut(app, "type/compute", json({ concurrency: 0 })),
      ),
      at(`PUT ${L}/{scope}/{name}`, 503, "unavailable", limitPut(down, "type/compute", cap)),
      at(
        `DELETE ${L}/{scope}/{name}`,
        200,
        undefined,
        after(async () => {
          await broker.setLimit("type", "data_process", { rate: null, concurrency: 1000 });
          return "type/data_process";
        }, (path) => request(app, "DELETE", `${L}/${path}`)),
      ),
      at(
        `DELETE ${L}/{scope}/{name}`,
        403,
        "forbidden",
        send(tenanted, "DELETE", `${L}/type/email`, asFull),
      ),
      at(
        `DELETE ${L}/{scope}/{name}`,
        404,
        "not_found",
        () => request(app, "DELETE", `${L}/type/compute`),
      ),
      at(
        `DELETE ${L}/{scope}/{name}`,
        422,
        "validation_error",
        () => request(app, "DELETE", `${L}/bogus/x`),
      ),
      at(
        `DELETE ${L}/{scope}/{name}`,
        503,
        "unavailable",
        () => request(down, "DELETE", `${L}/type/email`),
      ),
    );
    // The worker registry: this broker registers as a worker, and is asked to drain.
    const WK = "/api/v1/workers";
    await broker.beatWorker(testReport());
    const drain = `${WK}/${broker.owner}/drain`;
    cases.push(
      at(`GET ${WK}`, 200, undefined, get(app, WK)),
      at(`GET ${WK}`, 403, "forbidden", send(tenanted, "GET", WK, asFull)),
      at(`GET ${WK}`, 503, "unavailable", get(down, WK)),
      at(`POST ${WK}/{id}/drain`, 202, undefined, post(app, drain, "")),
      at(`POST ${WK}/{id}/drain`, 403, "forbidden", send(tenanted, "POST", drain, asFull)),
      at(`POST ${WK}/{id}/drain`, 404, "not_found", post(app, `${WK}/nosuch/drain`, "")),
      at(`POST ${WK}/{id}/drain`, 415, "unsupported_media_type", send(app, "POST", drain, {})),
      at(`POST ${WK}/{id}/drain`, 503, "unavailable", post(down, drain, "")),
      at(`POST ${WK}/{id}/drain`, 503, "outcome_unknown", post(unanswered, drain, ""), [
        "Retry-After",
      ]),
    );
    // The Redis view: figures, a tenant's key refused, Redis down.
    const RD = "/api/v1/redis";
    cases.push(
      at(`GET ${RD}`, 200, undefined, get(app, RD)),
      at(`GET ${RD}`, 403, "forbidden", send(tenanted, "GET", RD, asFull)),
      at(`GET ${RD}`, 503, "unavailable", get(down, RD)),
    );
    // Completion webhooks: a store on the test's Redis, one on a dead one, none (503).
    const webhooks = new WebhookStore({ client: keyClient, homeQueue: () => broker.homeQueue() });
    const hooked = composed({ webhooks });
    const hookedKeyed = composed({ webhooks, auth: new Authenticator({ mode: "on", store }) });
    const hooksDown = createApp({
      broker,
      registry,
      log,
      webhooks: new WebhookStore({ client: deadClient, homeQueue: () => broker.homeQueue() }),
    });
    const W = "/api/v1/webhooks";
    const hook = json({ url: "https://hooks.example.com/x" });
    const hookPost = (target: Hono, body: string, headers: Json = JT) =>
      send(target, "POST", W, headers as Record<string, string>, body);
    const asHookTenant = await tenantKey("hooks");
    const made = async () =>
      (await (await hooked.request(W, { method: "POST", headers: JT, body: hook })).json()).id;
    // A given-up delivery of a job's callback, to redeliver.
    const failedDelivery = async () => {
      const { id } = await broker.enqueue({ ...COMPUTE, callback_url: "https://h.example.com/" });
      await broker.cancel(id);
      const keys = queueKeys(broker.defaultQueue);
      const [delivery] = await keyClient.zrange(keys.webhookDue, 0, 0);
      await keyClient.zrem(keys.webhookDue, delivery);
      await keyClient.zadd(keys.webhookFailed, Date.now(), delivery);
      return encodeURIComponent(delivery);
    };
    const tooMany = async () => {
      const filler: string[] = [];
      for (let i = 0; i < MAX_SUBSCRIPTIONS; i++) filler.push(`fill${i}`, "{}");
      await keyClient.hset("jq:{#}:webhooks", ...filler);
      const res = await hooked.request(W, { method: "POST", headers: JT, body: hook });
      await keyClient.hdel("jq:{#}:webhooks", ...filler.filter((_, i) => i % 2 === 0));
      return res;
    };
    cases.push(
      at(`POST ${W}`, 201, undefined, hookPost(hooked, hook), ["Location"]),
      at(`POST ${W}`, 400, "invalid_json", hookPost(hooked, "{")),
      at(`POST ${W}`, 409, "conflict", tooMany),
      at(
        `POST ${W}`,
        413,
        "payload_too_large",
        hookPost(hooked, json({ url: `https://h.example.com/${"x".repeat(9000)}` })),
      ),
      at(
        `POST ${W}`,
        415,
        "unsupported_media_type",
        hookPost(hooked, hook, { "content-type": "text/plain" }),
      ),
      at(`POST ${W}`, 422, "validation_error", hookPost(hooked, json({ url: "http://10.0.0.1/" }))),
      at(`POST ${W}`, 503, "unavailable", hookPost(app, hook)),
      at(`POST ${W}`, 503, "unavailable", hookPost(hooksDown, hook)),
      at(`GET ${W}`, 200, undefined, get(hooked, W)),
      at(`GET ${W}`, 503, "unavailable", get(hooksDown, W)),
      at(`GET ${W}/secret`, 200, undefined, get(hooked, `${W}/secret`)),
      at(
        `GET ${W}/secret`,
        403,
        "forbidden",
        send(hookedKeyed, "GET", `${W}/secret`, asHookTenant),
      ),
      at(`GET ${W}/secret`, 503, "unavailable", get(hooksDown, `${W}/secret`)),
      at(`GET ${W}/deliveries`, 200, undefined, get(hooked, `${W}/deliveries?status=pending`)),
      at(
        `GET ${W}/deliveries`,
        404,
        "not_found",
        send(hookedKeyed, "GET", `${W}/deliveries?queue=other%2Fdefault`, asHookTenant),
      ),
      at(`GET ${W}/deliveries`, 422, "validation_error", get(hooked, `${W}/deliveries?limit=0`)),
      at(`GET ${W}/deliveries`, 503, "unavailable", get(hooksDown, `${W}/deliveries`)),
      at(
        `POST ${W}/deliveries/{id}/redeliver`,
        202,
        undefined,
        after(
          failedDelivery,
          (id) => request(hooked, "POST", `${W}/deliveries/${id}/redeliver`, "{}"),
        ),
      ),
      at(
        `POST ${W}/deliveries/{id}/redeliver`,
        404,
        "not_found",
        post(hooked, `${W}/deliveries/nope~1/redeliver`, "{}"),
      ),
      at(
        `POST ${W}/deliveries/{id}/redeliver`,
        503,
        "unavailable",
        post(hooksDown, `${W}/deliveries/${crypto.randomUUID()}~1/redeliver`, "{}"),
      ),
      at(
        `GET ${W}/{id}`,
        200,
        undefined,
        after(made, (id) => request(hooked, "GET", `${W}/${id}`)),
      ),
      at(`GET ${W}/{id}`, 404, "not_found", get(hooked, `${W}/whsub_none`)),
      at(`GET ${W}/{id}`, 503, "unavailable", get(hooksDown, `${W}/whsub_none`)),
      at(
        `DELETE ${W}/{id}`,
        200,
        undefined,
        after(made, (id) => request(hooked, "DELETE", `${W}/${id}`)),
      ),
      at(`DELETE ${W}/{id}`, 404, "not_found", () => request(hooked, "DELETE", `${W}/whsub_none`)),
      at(
        `DELETE ${W}/{id}`,
        503,
        "unavailable",
        () => request(hooksDown, "DELETE", `${W}/whsub_none`),
      ),
    );
    // A body that stops after one byte: 408 once it falls behind the (here tiny) pace.
    const slowOptions = { bodyGraceMs: 50, bodyMinBytesPerS: 1_000_000 };
    const slowApp = composed({ ...slowOptions, quotas, schedules: scheduling.service });
    const slowKeyed = composed({ ...slowOptions, auth: new Authenticator({ mode: "on", store }) });
    const stalled = (target: Hono, method: string, path: string, headers: Json = JT) => () =>
      target.request(path, {
        method,
        headers: headers as Record<string, string>,
        body: new ReadableStream<Uint8Array>({
          start: (c) => c.enqueue(new TextEncoder().encode("{")),
        }),
      });
    for (
      const [op, target, method, path, headers] of [
        [`POST ${J}`, slowApp, "POST", J, JT],
        [`POST ${B}`, slowApp, "POST", B, JT],
        [`POST ${J}/retry`, slowApp, "POST", `${J}/retry`, JT],
        [`POST ${J}/cancel`, slowApp, "POST", `${J}/cancel`, JT],
        [`POST ${J}/delete`, slowApp, "POST", `${J}/delete`, JT],
        [`POST ${S}`, slowApp, "POST", S, JT],
        [`PUT ${S}/{name}`, slowApp, "PUT", `${S}/slow`, JT],
        [`PUT ${T}/{name}`, slowApp, "PUT", `${T}/slow`, JT],
        [`POST ${K}`, slowKeyed, "POST", K, asAdmin],
        ["POST /api/v1/flows", slowApp, "POST", "/api/v1/flows", JT],
        [`PUT ${L}/{scope}/{name}`, slowApp, "PUT", `${L}/type/compute`, JT],
        [`POST ${W}`, composed({ ...slowOptions, webhooks }), "POST", W, JT],
      ] as const
    ) {
      cases.push(at(op, 408, "request_timeout", stalled(target, method, path, headers)));
    }

    const covered = new Set<string>();
    for (const c of cases) {
      const [method, path] = c.op.split(" ");
      const res = await c.send();
      const media = (res.headers.get("content-type") ?? "").split(";")[0].trim();
      // The event stream never ends: its status and headers are the answer.
      const body = media === "text/event-stream"
        ? (await res.body?.cancel(), "")
        : media === "application/json"
        ? await res.json()
        : await res.text();
      const where = `${c.op} -> ${res.status} ${JSON.stringify(body).slice(0, 200)}`;
      assert.strictEqual(res.status, c.status, where);
      if (c.code) {
        assert.strictEqual((body as { error: { code: string } }).error.code, c.code, where);
      }
      assert.strictEqual(spec.answerProblem(path, method, res.status, body), null, where);
      const documented = spec.documented(path, method).find((d) => d.status === String(c.status))!;
      assert.ok(documented.media.includes(media), `${where}: media ${media} not documented`);
      if (c.code) assert.ok(documented.codes.includes(c.code), `${where}: code not documented`);
      const response = spec.responses(path, method).get(String(c.status))!;
      for (const header of c.headers ?? []) {
        assert.ok(res.headers.get(header), `${where}: no ${header} header`);
        assert.ok(
          (response.headers as Json | undefined)?.[header],
          `${where}: ${header} not documented`,
        );
      }
      covered.add(`${c.op} ${c.status} ${c.code ?? ""}`);
    }

    // The other direction: each documented status and code was answered above.
    const missing: string[] = [];
    for (const { path, method } of spec.operations()) {
      for (const d of spec.documented(path, method)) {
        if (d.status === "500") continue; // internal_error: a bug, not a request
        const keys = d.codes.length ? d.codes.map((c) => `${d.status} ${c}`) : [`${d.status} `];
        for (const k of keys) {
          if (!covered.has(`${method} ${path} ${k}`)) missing.push(`${method} ${path} ${k}`);
        }
      }
    }
    assert.deepStrictEqual(missing, []);
    // Every operation documents the 500 of an unexpected error, except the liveness probes.
    for (const { path, method } of spec.operations()) {
      if (path.endsWith("/health")) continue;
      assert.deepStrictEqual(spec.documented(path, method).find((d) => d.status === "500")?.codes, [
        "internal_error",
      ], `${method} ${path}`);
    }
  } finally {
    for (const http of apps) await http.close();
    for (const close of closers) await close();
    for (const client of clients) client.disconnect();
    await broker.close();
    await redis.close();
  }
});

/** A worker's beat as a test process reports it. */
function testReport(): WorkerReport {
  return {
    host: "test",
    pid: Deno.pid,
    concurrency: 1,
    threads: 1,
    in_flight: 0,
    rss_bytes: 1,
    started_at: Date.now(),
    version: "test",
    draining: false,
    drain_requested_at: null,
  };
}
