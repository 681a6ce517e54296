/**
 * Redis CPU per job of the hot path alone: claim (50 a call), completeMany,
 * and one fail with a retry per 10 jobs, over 20,000 jobs in one process,
 * from `INFO commandstats` (`cmdstat_evalsha` usec after `CONFIG RESETSTAT`).
 * End-to-end throughput on a shared 2-core host swings ±40 %; Redis' own
 * microseconds per job swing less, so a script change is judged by them
 * (alternate runs with the code before it: copy this file there).
 *
 * deno run -A test/bench/ack_cost.ts [redis://127.0.0.1:6391]   (FLUSHALLs that server)
 *
 * @module
 */
import { Redis } from "ioredis";
import { RedisBroker } from "../../src/queue/redis_broker.ts";

const url = Deno.args[0] ?? "redis://127.0.0.1:6391";
const JOBS = 20_000;
const admin = new Redis(url);
await admin.flushall();
const broker = new RedisBroker({ url, queue: "ack_cost" });
for (let i = 0; i < JOBS; i += 1000) {
  await broker.enqueueBatch(
    Array.from({ length: 1000 }, (_, k) => ({ type: "t", payload: i + k, max_attempts: 2 })),
  );
}
await admin.config("RESETSTAT");
const t0 = performance.now();
let jobs = 0;
for (;;) {
  const batch = await broker.claim(50);
  if (batch.length === 0) break;
  jobs += batch.length;
  const failing = batch.filter((_, i) => i % 10 === 0);
  await broker.completeMany(
    batch.filter((_, i) => i % 10 !== 0).map((j) => ({ ...j, result: null })),
  );
  for (const j of failing) {
    await broker.fail(j.id, j.token, { message: "x", retryable: true, retry_delay_ms: 3_600_000 });
  }
}
const wallMs = performance.now() - t0;
const stats = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(await admin.info("commandstats"));
console.log(JSON.stringify({
  jobs,
  evalsha_calls: Number(stats?.[1] ?? 0),
  redis_us_per_job: Number((Number(stats?.[2] ?? 0) / jobs).toFixed(3)),
  wall_ms: Math.round(wallMs),
}));
await broker.close();
admin.disconnect();
