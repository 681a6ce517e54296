/**
 * What 1,000 schedules at `every_ms: 60000` cost Redis with three scheduler
 * loops: at most 5 commands a second in total, counted as the clients send
 * them (MONITOR, script-internal commands left out), over 20 s that hold one
 * tick of all 1,000 (they share a `start_at`). The full measurement over
 * whole minutes with real processes is test/bench/schedules_cost.ts.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { QUICK, scheduleFixture, wait } from "./helpers.ts";

Deno.test({
  name: "1,000 schedules at every_ms 60000 cost Redis at most 5 commands a second, ticks included",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const f = await scheduleFixture();
    try {
      const { service } = await f.runtime({ tick: false });
      const tickAt = Math.ceil((Date.now() + 12_000) / 1000) * 1000;
      const start_at = new Date(tickAt).toISOString();
      for (let i = 0; i < 1000; i++) {
        await service.save({ name: `m${i}`, every_ms: 60_000, start_at, ...QUICK }, {
          create: true,
        });
      }
      await Promise.all([f.runtime(), f.runtime(), f.runtime()]);
      await wait(1000);
      assert.ok(tickAt - Date.now() > 2000, "the tick is inside the window");
      const watcher = new Redis(f.redis.url);
      const monitor = await watcher.monitor();
      let sent = 0;
      monitor.on("monitor", (_t: string, _args: string[], source: string) => {
        if (source !== "lua") sent++;
      });
      const seconds = 20;
      await wait(seconds * 1000);
      monitor.disconnect();
      watcher.disconnect();
      assert.strictEqual((await f.broker.stats(f.queue)).pending, 1000, "one tick of each");
      const perSecond = sent / seconds;
      console.log(`client commands: ${sent} in ${seconds} s (${perSecond.toFixed(2)}/s)`);
      assert.ok(perSecond <= 5, `${perSecond} commands/s`);
    } finally {
      await f.close();
    }
  },
});
