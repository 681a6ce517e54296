/** An idle worker process sends Redis almost nothing: blocking waits, no polling. */
import assert from "node:assert/strict";
import { TestRedis } from "../helpers/redis_server.ts";
import { spawnWorker, testBroker, waitFor } from "./helpers.ts";

/**
 * Commands clients sent during `ms`, seen through MONITOR. Commands run inside
 * Lua scripts are left out: one script call is one round trip.
 */
async function clientCommands(port: number, ms: number): Promise<string[]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode("MONITOR\r\n"));
  let text = "";
  const reading = (async () => {
    const buf = new Uint8Array(65_536);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
    } catch {
      // closed below
    }
  })();
  await new Promise((r) => setTimeout(r, ms));
  conn.close();
  await reading;
  return text.split("\r\n").filter((l) => /^\+\d+\.\d+ \[\d+ \d/.test(l));
}

Deno.test("an idle worker sends Redis at most ~2 commands per second", async (t) => {
  const redis = await TestRedis.start();
  if (redis.external) {
    t.step({ name: "needs its own redis-server", ignore: true, fn: () => {} });
    await redis.close();
    return;
  }
  const broker = testBroker(redis.url, "idle");
  const worker = spawnWorker(redis.url, ["--queue", broker.defaultQueue]);
  try {
    const { id } = await broker.enqueue({ type: "compute", payload: { duration_ms: 1 } });
    await waitFor("warm-up job", async () => (await broker.get(id))?.status === "completed");
    await broker.close();
    await new Promise((r) => setTimeout(r, 1_500)); // let the last busy-loop maintain pass
    const commands = await clientCommands(redis.port, 6_000);
    const perSecond = commands.length / 6;
    assert.ok(
      perSecond <= 2,
      `idle worker sent ${perSecond.toFixed(2)} commands/s:\n${commands.join("\n")}`,
    );
  } finally {
    worker.kill("SIGTERM");
    assert.strictEqual((await worker.status).code, 0);
    await redis.close();
  }
});
