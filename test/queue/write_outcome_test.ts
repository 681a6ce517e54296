/**
 * What a failed write tells its caller, against a real redis-server and the
 * real ioredis: `QueueUnavailableError` only when the command certainly was
 * not sent (so nothing can be stored), `OutcomeUnknownError` when it was sent
 * and no answer came, whether Redis then ran it (a stall) or not (a crash).
 * Reads have no outcome to be unsure of: always `QueueUnavailableError`.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { connect, type RedisClient } from "../../src/queue/connect.ts";
import { OutcomeUnknownError, QueueUnavailableError } from "../../src/queue/errors.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { SCRIPT_COMMANDS } from "../../src/queue/scripts.ts";
import { TestRedis } from "../helpers/redis_server.ts";

const ignore = Deno.env.get("REDIS_URL") !== undefined; // these tests stop their own server

/** A broker over a client the test can watch (`status`), on its own server. */
async function setup(options: { aof?: boolean; commandTimeoutMs?: number } = {}) {
  const server = await TestRedis.start({
    aof: options.aof,
    args: ["--enable-debug-command", "yes"],
  });
  const client = connect(server.url, {
    commandTimeoutMs: options.commandTimeoutMs ?? 500,
    notAutoPipelined: SCRIPT_COMMANDS,
  });
  const broker = new RedisBroker({ client, queue: `w${crypto.randomUUID().slice(0, 8)}` });
  const admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
  admin.on("error", () => {});
  // Warm: the storage format check and the script load are behind us.
  await broker.enqueue({ type: "warm", payload: 0 });
  return {
    server,
    client,
    broker,
    admin,
    /** Job records stored in the queue, read with a connection of its own. */
    async jobs(): Promise<number> {
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

async function until(what: string, ms: number, check: () => boolean | Promise<boolean>) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

/** The ioredis error a mapped error came from. */
const causeOf = (error: Error) => (error.cause as Error | undefined)?.message ?? "";

async function reconnected(broker: RedisBroker, client: RedisClient) {
  await until("the reconnect", 10_000, () => client.status === "ready");
  assert.ok(await broker.ping());
  await new Promise((r) => setTimeout(r, 300)); // anything replayed would have run by now
}

Deno.test({
  name: "write outcome: a stall past the command timeout is unknown, and the write did run",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const t = await setup({ commandTimeoutMs: 300 });
    try {
      const sleeping = t.admin.call("DEBUG", "SLEEP", "1");
      await new Promise((r) => setTimeout(r, 50));
      const [single, batch, cancel, stats] = await Promise.all([
        rejection(t.broker.enqueue({ type: "s", payload: 1 })),
        rejection(t.broker.enqueueBatch([{ type: "b", payload: 1 }, { type: "b", payload: 2 }])),
        rejection(t.broker.cancel(crypto.randomUUID())),
        rejection(t.broker.stats()),
      ]);
      for (const write of [single, batch, cancel]) {
        assert.ok(write instanceof OutcomeUnknownError, String(write));
        assert.strictEqual(causeOf(write), "Command timed out");
      }
      assert.ok(stats instanceof QueueUnavailableError, String(stats));
      await sleeping;
      // Redis ran every one of them once it woke: "not stored" would have been false.
      // (Their bytes may reach it after this connection's next read on a loaded machine.)
      await until("the stalled writes run", 5_000, async () => await t.jobs() === 1 + 1 + 2);
    } finally {
      await t.close();
    }
  },
});

Deno.test({
  name:
    "write outcome: in flight when the connection drops is unknown (answered before the timeout)",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const t = await setup({ aof: true, commandTimeoutMs: 5000 });
    try {
      // Hung: the enqueue is written and waits for an answer...
      Deno.kill(t.server.pid!, "SIGSTOP");
      const t0 = performance.now();
      const pending = rejection(t.broker.enqueue({ type: "f", payload: 1 }));
      await new Promise((r) => setTimeout(r, 100));
      // ...and the server dies with it unread: ioredis flushes it when the connection drops.
      await t.server.kill();
      const error = await pending;
      assert.ok(error instanceof OutcomeUnknownError, String(error));
      assert.match(causeOf(error), /max retries per request/);
      assert.ok(performance.now() - t0 < 4000, "answered at the drop, not at the timeout");
      // Here it had not run (the server never read it): unknown was the truthful answer.
      await t.server.restart();
      await reconnected(t.broker, t.client);
      assert.strictEqual(await t.jobs(), 1);
    } finally {
      await t.close();
    }
  },
});

Deno.test({
  name: "write outcome: a known-down Redis or an ended client is unavailable, nothing stored later",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const t = await setup({ aof: true });
    try {
      await t.server.kill();
      await until("the client to see the drop", 5000, () => t.client.status !== "ready");
      const t0 = performance.now();
      const errors = await Promise.all([
        rejection(t.broker.enqueue({ type: "d", payload: 1 })),
        rejection(t.broker.enqueueBatch([{ type: "d", payload: 2 }])),
        rejection(t.broker.cancel(crypto.randomUUID())),
        rejection(t.broker.requeue(crypto.randomUUID())),
        rejection(t.broker.purge("failed")),
        rejection(t.broker.get(crypto.randomUUID())),
      ]);
      for (const error of errors) {
        assert.ok(error instanceof QueueUnavailableError, String(error));
      }
      // Refused by ioredis unwritten, after at most READY_WAIT_MS of waiting for a reconnect.
      assert.match(causeOf(errors[0]), /Stream isn't writeable/);
      assert.ok(performance.now() - t0 < 3000, `took ${performance.now() - t0} ms`);
      await t.server.restart();
      await reconnected(t.broker, t.client);
      assert.strictEqual(await t.jobs(), 1, "only the warm-up job, from the AOF");
      // An ended client cannot send at all.
      t.client.disconnect();
      await until("the client to end", 5000, () => t.client.status === "end");
      const ended = await rejection(t.broker.enqueue({ type: "d", payload: 3 }));
      assert.ok(ended instanceof QueueUnavailableError, String(ended));
      assert.strictEqual(causeOf(ended), "Connection is closed.");
      assert.strictEqual(await t.jobs(), 1);
    } finally {
      await t.close();
    }
  },
});
