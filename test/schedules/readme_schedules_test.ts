/**
 * The README's schedule example stays true: the module it shows loads
 * through JOB_MODULES, its schedule is upserted at start, and it ticks at
 * 03:00 Paris time.
 */
import assert from "node:assert/strict";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { startSchedules } from "../../src/schedules/runtime.ts";
import { TestRedis } from "../helpers/redis_server.ts";

const ROOT = new URL("../../", import.meta.url);

Deno.test("README: the schedule module example loads, and its schedule is upserted", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const at = readme.indexOf("<!-- readme-test: schedule-module -->");
  assert.ok(at >= 0, "README has the schedule-module marker");
  const source = /```ts\n([\s\S]*?)```/.exec(readme.slice(at))?.[1];
  assert.ok(source);
  // Written at the repo root, where the example says it lives, so its imports resolve.
  const file = new URL(`.readme_schedule_${crypto.randomUUID()}.ts`, ROOT);
  await Deno.writeTextFile(file, source);
  const redis = await TestRedis.start();
  const broker = new RedisBroker({ url: redis.url, queue: "readme" });
  try {
    const registry = await loadRegistry([file.href]);
    const schedules = await startSchedules({
      url: redis.url,
      broker,
      registry,
      log: createLogger({ level: "silent" }),
      tick: false,
      modules: [file.href],
    });
    try {
      const view = await schedules.service.get("nightly-report");
      assert.strictEqual(view.source, "code");
      assert.strictEqual(view.overlap, "skip");
      for (const run of view.next_runs) {
        const paris = new Intl.DateTimeFormat("en-GB", {
          timeZone: "Europe/Paris",
          hour: "2-digit",
          minute: "2-digit",
        }).format(new Date(run));
        assert.strictEqual(paris, "03:00");
      }
    } finally {
      await schedules.close();
    }
  } finally {
    await broker.close();
    await redis.close();
    await Deno.remove(file);
  }
});
