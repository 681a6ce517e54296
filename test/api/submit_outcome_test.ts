/**
 * Truthful submit answers under faults, through the real HTTP app over a real
 * RedisBroker with the production timeouts (3 s Redis command timeout, 2.5 s
 * read deadline, the default write deadline): 50 parallel submits, each with
 * its own Idempotency-Key, while Redis stalls, is down, or drops mid-command.
 *
 * - `201`: stored, with the id answered.
 * - `503 unavailable`: certainly not stored (the command was never sent), and
 *   never stored later.
 * - `503 outcome_unknown`: the command was on the socket and no answer came
 *   within the command timeout (a stall: Redis ran it afterwards), or it was
 *   in flight when the connection dropped (a crash: it may not have run).
 *   Never answered before the broker gave up on the command.
 * - Retrying each `outcome_unknown` with its key converges on exactly one
 *   job per key.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import type { Hono } from "hono";
import { createApp } from "../../src/api/app.ts";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import type { Broker } from "../../src/queue/broker.ts";
import { connect, type RedisClient } from "../../src/queue/connect.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { SCRIPT_COMMANDS } from "../../src/queue/scripts.ts";
import { TestRedis } from "../helpers/redis_server.ts";

const ignore = Deno.env.get("REDIS_URL") !== undefined; // stalls and kills its own server
const COMMAND_TIMEOUT_MS = 3000; // REDIS_COMMAND_TIMEOUT_MS' default
const COMPUTE = { type: "compute", payload: { duration_ms: 1 } };

/** One answer to one keyed submit. */
interface Outcome {
  key: string;
  status: number;
  code?: string;
  jobId?: string;
  retryAfter: string | null;
  message?: string;
  /** From sending the request to its answer. */
  ms: number;
}

interface Fixture {
  app: Hono;
  broker: RedisBroker;
  /** The broker's connection, to see whether it noticed a drop. */
  client: RedisClient;
  server: TestRedis;
  admin: Redis;
  /** The job id stored under each idempotency key (null: nothing stored). */
  storedIds(keys: string[]): Promise<Array<string | null>>;
  /** Job records in the queue. */
  jobCount(): Promise<number>;
  close(): Promise<void>;
}

async function setup(options: { aof?: boolean } = {}): Promise<Fixture> {
  const server = await TestRedis.start({
    aof: options.aof,
    args: ["--enable-debug-command", "yes"],
  });
  const client = connect(server.url, {
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
    notAutoPipelined: SCRIPT_COMMANDS,
  });
  const broker = new RedisBroker({ client, queue: `so${crypto.randomUUID().slice(0, 8)}` });
  const app = createApp({
    broker,
    registry: await loadRegistry(),
    log: createLogger({ level: "silent" }),
  });
  const admin = new Redis(server.url, { maxRetriesPerRequest: 1, commandTimeout: 20_000 });
  admin.on("error", () => {});
  // Warm: the queue's format check and the script load are done before any fault.
  assert.strictEqual((await submit(app, "warm-up")).status, 201);
  return {
    app,
    broker,
    client,
    server,
    admin,
    async storedIds(keys) {
      return await Promise.all(keys.map((k) => admin.get(broker.keys.idempotencyPrefix + k)));
    },
    async jobCount() {
      return (await admin.keys(`${broker.keys.jobPrefix}*`)).length;
    },
    async close() {
      await broker.close();
      client.disconnect();
      admin.disconnect();
      await server.close();
    },
  };
}

async function submit(app: Hono, key: string): Promise<Outcome> {
  const t0 = performance.now();
  const res = await app.request("/api/v1/jobs", {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": key },
    body: JSON.stringify(COMPUTE),
  });
  const body = await res.json();
  return {
    key,
    status: res.status,
    code: body.error?.code,
    message: body.error?.message,
    jobId: body.job_id,
    retryAfter: res.headers.get("retry-after"),
    ms: performance.now() - t0,
  };
}

const keysOf = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function counts(outcomes: Outcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of outcomes) {
    const k = `${o.status}${o.code ? ` ${o.code}` : ""}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/**
 * The promises of every answer, checked against what Redis holds now that
 * it answers again: 201 stored with its id, `unavailable` absent,
 * `outcome_unknown` only after the command timeout (or a drop) and with the
 * retry advice; then each unknown one retried with its key until answered,
 * and exactly one job per key.
 */
async function checkAnswers(
  t: Fixture,
  outcomes: Outcome[],
  unknownNotBefore: number,
): Promise<{ unknownStored: number; unknownAbsent: number }> {
  const stored = await t.storedIds(outcomes.map((o) => o.key));
  let unknownStored = 0;
  let unknownAbsent = 0;
  outcomes.forEach((o, i) => {
    const where = JSON.stringify(o);
    if (o.status === 201) {
      assert.strictEqual(stored[i], o.jobId, `answered 201 but not stored: ${where}`);
    } else if (o.code === "unavailable") {
      assert.strictEqual(stored[i], null, `answered unavailable but stored: ${where}`);
    } else {
      assert.strictEqual(o.status, 503, where);
      assert.strictEqual(o.code, "outcome_unknown", where);
      assert.strictEqual(o.retryAfter, "1", where);
      assert.match(o.message ?? "", /may or may not have been stored.*same Idempotency-Key/);
      assert.ok(o.ms >= unknownNotBefore, `unknown before the broker gave up: ${where}`);
      if (stored[i] === null) unknownAbsent++;
      else unknownStored++;
    }
  });
  // Retrying with the same key converges: the stored job is answered, a missing one created.
  const finalIds = new Map<string, string>();
  for (const o of outcomes) {
    let answer = o;
    for (let attempt = 0; answer.status === 503 && attempt < 5; attempt++) {
      answer = await submit(t.app, o.key);
    }
    assert.ok(answer.status === 200 || answer.status === 201, JSON.stringify(answer));
    finalIds.set(o.key, answer.jobId!);
  }
  const after = await t.storedIds(outcomes.map((o) => o.key));
  outcomes.forEach((o, i) => assert.strictEqual(after[i], finalIds.get(o.key), o.key));
  assert.strictEqual(new Set(finalIds.values()).size, outcomes.length, "one job per key");
  assert.strictEqual(await t.jobCount(), 1 + outcomes.length, "no job beyond one per key");
  assert.strictEqual((await t.broker.stats()).total, 1 + outcomes.length);
  return { unknownStored, unknownAbsent };
}

Deno.test({
  name:
    "submits during DEBUG SLEEP 5: outcome_unknown after the command timeout, never unavailable; retries converge",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const t = await setup();
    try {
      const sleeping = t.admin.call("DEBUG", "SLEEP", "5");
      await sleep(50);
      const outcomes = await Promise.all(keysOf("s", 50).map((k) => submit(t.app, k)));
      console.log("during DEBUG SLEEP 5:", counts(outcomes));
      // Every command was on the socket and Redis slept past the command timeout: all unknown,
      // answered when the broker gave up on them, not at the API's read deadline (2.5 s).
      assert.deepStrictEqual(counts(outcomes), { "503 outcome_unknown": 50 });
      assert.ok(outcomes.every((o) => o.ms < COMMAND_TIMEOUT_MS + 1500), "no wait for the net");
      await sleeping;
      const { unknownStored } = await checkAnswers(t, outcomes, COMMAND_TIMEOUT_MS);
      // Redis ran every one after waking: answering "unavailable" would have been false.
      assert.strictEqual(unknownStored, 50);
    } finally {
      await t.close();
    }
  },
});

Deno.test({
  name:
    "submits during CLIENT PAUSE 3000: 201 once Redis answers, outcome_unknown only past the command timeout",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const t = await setup();
    try {
      await t.admin.call("CLIENT", "PAUSE", "3000");
      // Sent at once: answered ~3 s later, either side of the 3 s command timeout
      // (Redis lifts a pause on its next cron tick, up to ~100 ms late).
      const early = Promise.all(keysOf("early", 25).map((k) => submit(t.app, k)));
      await sleep(1500);
      // Sent 1.5 s in: Redis answers ~1.5 s later, well within their command timeout.
      const late = await Promise.all(keysOf("late", 25).map((k) => submit(t.app, k)));
      const outcomes = [...await early, ...late];
      console.log("early:", counts(outcomes.slice(0, 25)), "late:", counts(late));
      assert.deepStrictEqual(counts(late), { "201": 25 });
      assert.ok(late.every((o) => o.ms > 1000), "they did wait for the paused Redis");
      assert.ok(outcomes.every((o) => o.code !== "unavailable"), "the connection was up");
      const { unknownAbsent } = await checkAnswers(t, outcomes, COMMAND_TIMEOUT_MS);
      assert.strictEqual(unknownAbsent, 0, "a paused Redis runs every command it was sent");
    } finally {
      await t.close();
    }
  },
});

Deno.test({
  name: "submits to a killed Redis: 503 unavailable within ~1 s, nothing stored after it is back",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const t = await setup({ aof: true });
    try {
      await t.server.kill();
      // Once the client knows the connection is gone, nothing is written.
      while (t.client.status === "ready") await sleep(10);
      const outcomes = await Promise.all(keysOf("down", 50).map((k) => submit(t.app, k)));
      assert.deepStrictEqual(counts(outcomes), { "503 unavailable": 50 });
      assert.ok(outcomes.every((o) => o.ms < 2500), "answered by the broker's 1 s ready wait");
      await t.server.restart(); // same AOF: the warm-up job is back, nothing else may be
      while (!(await t.broker.ping())) await sleep(50);
      await sleep(500); // anything replayed after the reconnect has run by now
      assert.deepStrictEqual(
        await t.storedIds(outcomes.map((o) => o.key)),
        outcomes.map(() => null),
      );
      assert.strictEqual(await t.jobCount(), 1);
      await checkAnswers(t, outcomes, 0);
    } finally {
      await t.close();
    }
  },
});

Deno.test({
  name: "submits in flight when Redis dies: outcome_unknown at the drop; retries converge",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const t = await setup({ aof: true });
    try {
      Deno.kill(t.server.pid!, "SIGSTOP"); // hung: submits are written, unanswered
      const pending = Promise.all(keysOf("drop", 50).map((k) => submit(t.app, k)));
      await sleep(300);
      await t.server.kill(); // dies without reading them
      const outcomes = await pending;
      // The client cannot tell "Redis ran it just before dying" from "never read it".
      assert.deepStrictEqual(counts(outcomes), { "503 outcome_unknown": 50 });
      assert.ok(outcomes.every((o) => o.ms < COMMAND_TIMEOUT_MS), "answered at the drop");
      await t.server.restart();
      while (!(await t.broker.ping())) await sleep(50);
      const { unknownAbsent } = await checkAnswers(t, outcomes, 0);
      assert.strictEqual(unknownAbsent, 50, "here none had run");
    } finally {
      await t.close();
    }
  },
});

Deno.test({
  name:
    "a batch during DEBUG SLEEP: outcome_unknown advising each item's idempotency_key; its retry creates nothing twice",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const t = await setup();
    try {
      const jobs = keysOf("b", 10).map((k) => ({ ...COMPUTE, idempotency_key: k }));
      const send = () =>
        t.app.request("/api/v1/jobs/batch", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ jobs }),
        });
      const sleeping = t.admin.call("DEBUG", "SLEEP", "4");
      await sleep(50);
      const t0 = performance.now();
      const res = await send();
      const body = await res.json();
      assert.strictEqual(res.status, 503, JSON.stringify(body));
      assert.strictEqual(body.error.code, "outcome_unknown");
      assert.match(body.error.message, /same idempotency_key on each item/);
      assert.strictEqual(res.headers.get("retry-after"), "1");
      assert.ok(performance.now() - t0 >= COMMAND_TIMEOUT_MS);
      await sleeping;
      const retry = await send();
      const again = await retry.json();
      assert.strictEqual(retry.status, 201, JSON.stringify(again));
      assert.strictEqual(again.created, 0, "all ten were stored by the first attempt");
      const stored = await t.storedIds(jobs.map((j) => j.idempotency_key));
      assert.deepStrictEqual(again.results.map((r: { job_id: string }) => r.job_id), stored);
      assert.strictEqual(await t.jobCount(), 1 + 10);
    } finally {
      await t.close();
    }
  },
});

/** A broker whose writes never answer and whose reads never answer either. */
function silentBroker(): Broker {
  return new Proxy({}, {
    get(_target, name) {
      if (name === "then") return undefined;
      if (name === "close") return () => Promise.resolve();
      return () => new Promise(() => {});
    },
  }) as Broker;
}

Deno.test("the API's own deadline: a write past it is outcome_unknown, a read unavailable", async () => {
  const app = createApp({
    broker: silentBroker(),
    registry: await loadRegistry(),
    log: createLogger({ level: "silent" }),
    brokerTimeoutMs: 100,
    writeTimeoutMs: 200,
  });
  const id = crypto.randomUUID();
  const writes: Array<[string, string, string?]> = [
    ["POST", "/api/v1/jobs", JSON.stringify(COMPUTE)],
    ["POST", "/api/v1/jobs/batch", JSON.stringify({ jobs: [COMPUTE] })],
    ["DELETE", `/api/v1/jobs/${id}`],
    ["POST", `/api/v1/jobs/${id}/retry`],
    ["DELETE", "/api/v1/jobs?status=failed"],
  ];
  for (const [method, path, body] of writes) {
    const t0 = performance.now();
    const res = await app.request(path, {
      method,
      body,
      // Bodiless POSTs too: without a JSON type (or a key) they are refused as cross-site.
      headers: body || method === "POST" ? { "content-type": "application/json" } : {},
    });
    const answer = await res.json();
    const ms = performance.now() - t0;
    assert.strictEqual(res.status, 503, `${method} ${path}`);
    assert.strictEqual(answer.error.code, "outcome_unknown", `${method} ${path}`);
    assert.strictEqual(res.headers.get("retry-after"), "1");
    assert.ok(ms >= 190 && ms < 2000, `${method} ${path} took ${ms} ms`);
  }
  for (const path of ["/api/v1/jobs", `/api/v1/jobs/${id}`, "/api/v1/stats"]) {
    const res = await app.request(path);
    assert.strictEqual(res.status, 503, path);
    assert.strictEqual((await res.json()).error.code, "unavailable", path);
  }
});
