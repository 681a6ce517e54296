/**
 * Threads run with exactly the permissions a job type declares: the same
 * fetch handler fails with NotCapable on a thread without net access and
 * succeeds on one allowed to reach 127.0.0.1.
 */
import assert from "node:assert/strict";
import { TestRedis } from "../helpers/redis_server.ts";
import { spawnWorker, testBroker, waitFor } from "./helpers.ts";

Deno.test("a job type without net permission cannot fetch; with the host allowed it can", async () => {
  const redis = await TestRedis.start();
  const broker = testBroker(redis.url, "perms");
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("hello from the test server"),
  );
  const worker = spawnWorker(redis.url, ["--queue", broker.defaultQueue, "--threads", "1"]);
  try {
    const url = `http://127.0.0.1:${server.addr.port}/`;
    const denied = await broker.enqueue({ type: "test_fetch_denied", payload: { url } });
    const allowed = await broker.enqueue({ type: "test_fetch_allowed", payload: { url } });

    const failed = await waitFor("denied job failed", async () => {
      const job = await broker.get(denied.id);
      return job?.status === "failed" ? job : null;
    });
    assert.match(failed.error ?? "", /NotCapable/);
    assert.match(failed.error ?? "", /net access/);
    assert.strictEqual(failed.attempts, 1, "a permission error is not retried");

    const done = await waitFor("allowed job completed", async () => {
      const job = await broker.get(allowed.id);
      return job?.status === "completed" ? job : null;
    });
    assert.deepStrictEqual(done.result, { status: 200, body: "hello from the test server" });
  } finally {
    worker.kill("SIGTERM");
    await worker.status;
    await server.shutdown();
    await broker.close();
    await redis.close();
  }
});
