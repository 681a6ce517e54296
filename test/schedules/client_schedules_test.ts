/** `client.schedules`: upsert typed by the job definitions, list, remove. */
import assert from "node:assert/strict";
import { createClient } from "../../src/client.ts";
import { builtinJobs } from "../../src/jobs/builtins.ts";
import { connect } from "../../src/queue/connect.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { ScheduleValidationError } from "../../src/schedules/service.ts";
import { ScheduleStore } from "../../src/schedules/store.ts";
import { TestRedis } from "../helpers/redis_server.ts";

Deno.test("client.schedules: upsert, list, remove; a bad payload is refused before Redis", async () => {
  const redis = await TestRedis.start();
  const broker = new RedisBroker({ url: redis.url, queue: "client" });
  const redisClient = connect(redis.url);
  const client = createClient(broker, builtinJobs, {
    schedules: new ScheduleStore({ client: redisClient }),
  });
  try {
    const view = await client.schedules.upsert({
      name: "every-minute",
      every_ms: 60_000,
      type: "compute",
      payload: { duration_ms: 5 },
    });
    assert.strictEqual(view.next_runs.length, 5);
    assert.deepStrictEqual((await client.schedules.list()).map((s) => s.name), ["every-minute"]);
    await assert.rejects(
      client.schedules.upsert({
        name: "bad",
        every_ms: 60_000,
        type: "compute",
        // @ts-expect-error: duration_ms is a number
        payload: { duration_ms: "soon" },
      }),
      ScheduleValidationError,
    );
    await client.schedules.remove("every-minute");
    assert.deepStrictEqual(await client.schedules.list(), []);
  } finally {
    redisClient.disconnect();
    await broker.close();
    await redis.close();
  }
});
