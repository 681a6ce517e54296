/**
 * Redis CPU per job of claim.lua and complete.lua apart: N jobs enqueued,
 * all claimed 50 a call (Redis' `cmdstat_evalsha` usec over the claims
 * alone), then all completed 50 a call (over the completions alone). One
 * process, no worker: what the scripts cost, not the round trips. Run it
 * alternately with the code before a script change (a copy of this file
 * there) and compare medians.
 *
 * deno run -A test/bench/script_cost.ts [redis://127.0.0.1:6391] [--jobs 20000] [--batch 50]
 *   (FLUSHALLs that server; prints one JSON line)
 *
 * @module
 */
import { Redis } from "ioredis";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import type { ClaimedJob } from "../../src/queue/job.ts";

const args = Deno.args;
const url = args.find((a) => a.startsWith("redis://")) ?? "redis://127.0.0.1:6391";
const opt = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const JOBS = opt("jobs", 20_000);
const BATCH = opt("batch", 50);
const PAYLOAD = { to: "user@example.com", subject: "Welcome!", body: "Thanks for signing up" };

const admin = new Redis(url);
await admin.flushall();
// Events returned to the caller, as a worker process asks for them.
const broker = new RedisBroker({ url, queue: "script_cost", onEvents: () => {} });
for (let i = 0; i < JOBS; i += 1000) {
  await broker.enqueueBatch(
    Array.from({ length: Math.min(1000, JOBS - i) }, () => ({
      type: "t",
      payload: PAYLOAD,
      max_attempts: 3,
    })),
  );
}
async function evalUsec(): Promise<number> {
  const m = /cmdstat_evalsha:calls=\d+,usec=(\d+)/.exec(await admin.info("commandstats"));
  return Number(m?.[1] ?? 0);
}
await broker.claim(1).then((j) => broker.completeMany(j.map((x) => ({ ...x, result: null }))));
await admin.config("RESETSTAT");
const claimed: ClaimedJob[] = [];
for (;;) {
  const batch = await broker.claim(BATCH);
  if (batch.length === 0) break;
  claimed.push(...batch);
}
const claimUs = await evalUsec();
await admin.config("RESETSTAT");
for (let i = 0; i < claimed.length; i += BATCH) {
  await broker.completeMany(
    claimed.slice(i, i + BATCH).map((j) => ({ id: j.id, token: j.token, result: { ok: true } })),
  );
}
const completeUs = await evalUsec();
console.log(JSON.stringify({
  jobs: claimed.length,
  batch: BATCH,
  claim_us_per_job: +(claimUs / claimed.length).toFixed(2),
  complete_us_per_job: +(completeUs / claimed.length).toFixed(2),
}));
await broker.close();
admin.disconnect();
