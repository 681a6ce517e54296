/**
 * Schedules defined in code (`defineSchedule` in a job module): upserted at
 * start, unchanged ones left as they are (their ticks go on), and one no
 * longer in code kept and logged rather than deleted.
 */
import assert from "node:assert/strict";
import { loadRegistry, resolveModuleSpecifier } from "../../src/jobs/registry.ts";
import { createLogger, type LogLevel } from "../../src/log.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { moduleSchedules, upsertCodeSchedules } from "../../src/schedules/code_schedules.ts";
import { startSchedules } from "../../src/schedules/runtime.ts";
import { TestRedis } from "../helpers/redis_server.ts";

const MODULE = resolveModuleSpecifier(
  new URL("./fixtures/scheduled_jobs.ts", import.meta.url).pathname,
);

Deno.test("code schedules: upserted at start, unchanged on the next start, kept when dropped", async () => {
  const redis = await TestRedis.start();
  const broker = new RedisBroker({ url: redis.url, queue: "code" });
  const registry = await loadRegistry([MODULE]);
  const lines: Array<{ level: LogLevel; msg: string }> = [];
  const log = createLogger({
    level: "info",
    sink: (line) => {
      const { level, msg } = JSON.parse(line);
      lines.push({ level, msg });
    },
    format: "json",
  });
  const first = await startSchedules({
    url: redis.url,
    broker,
    registry,
    log,
    tick: false,
    modules: [MODULE],
  });
  try {
    const view = await first.service.get("nightly-tidy");
    assert.strictEqual(view.source, "code");
    assert.strictEqual(view.type, "tidy");
    assert.deepStrictEqual(view.payload, { older_than_days: 30 });
    const version = (await first.service.store.get("nightly-tidy"))!.state.v;
    const second = await startSchedules({
      url: redis.url,
      broker,
      registry,
      log,
      tick: false,
      modules: [MODULE],
    });
    await second.close();
    assert.strictEqual((await first.service.store.get("nightly-tidy"))!.state.v, version);
    assert.deepStrictEqual(lines.filter((l) => l.msg === "schedule created").length, 1);
    // The module no longer defines it: kept, and said.
    await upsertCodeSchedules(first.service, [], log);
    assert.ok(await first.service.get("nightly-tidy"));
    assert.ok(lines.some((l) => l.level === "warn" && /no longer defined/.test(l.msg)));
    assert.strictEqual((await moduleSchedules([MODULE])).length, 1);
  } finally {
    await first.close();
    await broker.close();
    await redis.close();
  }
});
