/**
 * Shared setup of the API tests: one TestRedis, a RedisBroker on a fresh
 * queue per test, the built-in registry, and a silent logger.
 *
 * @module
 */
import type { Tracer } from "@opentelemetry/api";
import assert from "node:assert/strict";
import type { Hono } from "hono";
import { createApp } from "../../src/api/app.ts";
import type { LifecycleEvent } from "../../src/events/lifecycle.ts";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { TestRedis } from "../helpers/redis_server.ts";

/** A running app over a real broker. */
export interface ApiFixture {
  app: Hono;
  broker: RedisBroker;
  redis: TestRedis;
  /** The events of the broker's calls (they arrive after the call: see `eventsSoFar`). */
  events: LifecycleEvent[];
  /** `events` once the calls made so far have delivered theirs. */
  eventsSoFar(): Promise<LifecycleEvent[]>;
  close(): Promise<void>;
}

let queueSeq = 0;

/** Starts Redis (own, or REDIS_URL) and an app on a fresh queue. */
export async function startApi(
  options: { redis?: TestRedis; maxBodyBytes?: number; tracer?: Tracer } = {},
): Promise<ApiFixture> {
  const redis = options.redis ?? await TestRedis.start();
  const events: LifecycleEvent[] = [];
  const broker = new RedisBroker({
    url: redis.url,
    queue: `api_${Date.now().toString(36)}_${queueSeq++}`,
    commandTimeoutMs: 1000,
    onEvents: (batch) => void events.push(...batch),
  });
  const app = createApp({
    broker,
    registry: await loadRegistry(),
    log: createLogger({ level: "silent" }),
    maxBodyBytes: options.maxBodyBytes,
    tracer: options.tracer,
  });
  return {
    app,
    broker,
    redis,
    events,
    async eventsSoFar() {
      await new Promise((r) => setTimeout(r, 0));
      return events;
    },
    async close() {
      await broker.close();
      if (!options.redis) await redis.close();
    },
  };
}

/** POSTs JSON. */
export function postJson(
  app: Hono,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  return app.request(path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** Asserts the one JSON error shape and returns it. */
export async function assertError(
  response: Response,
  status: number,
  code?: string,
): Promise<{ code: string; message: string; details?: unknown }> {
  const text = await response.text();
  assert.strictEqual(
    response.status,
    status,
    `expected ${status}, got ${response.status}: ${text}`,
  );
  assert.match(response.headers.get("content-type") ?? "", /application\/json/);
  const body = JSON.parse(text);
  assert.strictEqual(typeof body.error, "object", text);
  assert.strictEqual(typeof body.error.code, "string", text);
  assert.strictEqual(typeof body.error.message, "string", text);
  if (code) assert.strictEqual(body.error.code, code, text);
  return body.error;
}

/** The spec's email example. */
export const SPEC_EMAIL = {
  type: "email",
  payload: {
    to: "user@example.com",
    subject: "Welcome!",
    body: "Thanks for signing up",
    from: "noreply@example.com",
  },
  max_attempts: 3,
  priority: 5,
};

/** The spec's data_process example. */
export const SPEC_DATA = {
  type: "data_process",
  payload: {
    source_url: "https://api.example.com/data",
    operation: "transform",
    filters: { status: "active" },
    destination: "s3://bucket/output",
  },
  max_attempts: 5,
  priority: 8,
};
