/**
 * What schedules cost Redis, measured (`deno run -A test/bench/schedules_cost.ts [seconds]`):
 *
 * 1. 1,000 schedules at `every_ms: 60000` with three scheduler processes
 *    (`test/schedules/fixtures/scheduler_process.ts`) and nothing else: the
 *    commands the clients send per second (MONITOR, script-internal commands
 *    left out), and every command Redis ran (INFO commandstats, those included),
 *    over whole minutes (default 120 s) starting just after a tick.
 * 2. 100 schedules on the same second (`every_ms: 1000`) for 10 s: the lag from
 *    each tick to its job's enqueue (the job's `created_at`), p50 and p99.
 *
 * @module
 */
import { Redis } from "ioredis";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { startSchedules } from "../../src/schedules/runtime.ts";
import { TestRedis } from "../helpers/redis_server.ts";

const seconds = Number(Deno.args[0] ?? 120);
const FIXTURE = new URL("../schedules/fixtures/scheduler_process.ts", import.meta.url).pathname;
const JOB = { type: "compute", payload: { duration_ms: 1 } };

function totalCalls(info: string): number {
  let total = 0;
  for (const m of info.matchAll(/^cmdstat_[^:]+:calls=(\d+)/gm)) total += Number(m[1]);
  return total;
}

async function spawnLoop(url: string, queue: string): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", FIXTURE, url, queue],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("ready")) seen += (await reader.read()).value ?? "";
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })().catch(() => {});
  return child;
}

const redis = await TestRedis.start();
const queue = "bench";
const broker = new RedisBroker({ url: redis.url, queue });
const registry = await loadRegistry();
const log = createLogger({ level: "warn" });
const admin = await startSchedules({ url: redis.url, broker, registry, log, tick: false });
const children: Deno.ChildProcess[] = [];
try {
  for (let i = 0; i < 1000; i++) {
    await admin.service.save({ name: `m${i}`, every_ms: 60_000, ...JOB }, { create: true });
  }
  for (let i = 0; i < 3; i++) children.push(await spawnLoop(redis.url, queue));
  // Start 2 s after a minute's tick (the loops have handled it), end 2 s after a later one.
  const start = Math.ceil((Date.now() + 1000) / 60_000) * 60_000 + 2000;
  await new Promise((r) => setTimeout(r, start - Date.now()));
  const stats = new Redis(redis.url);
  const watcher = new Redis(redis.url);
  const monitor = await watcher.monitor();
  let sent = 0;
  let scripts = 0;
  monitor.on("monitor", (_time: string, args: string[], source: string) => {
    if (source === "lua") return;
    sent++;
    if (/^evalsha$/i.test(args[0])) scripts++;
  });
  const before = totalCalls(await stats.info("commandstats"));
  const jobsBefore = (await broker.stats(queue)).total;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  // The MONITOR and INFO connections' own commands are not counted in `sent`; INFO counts itself once.
  const after = totalCalls(await stats.info("commandstats")) - 1;
  const jobs = (await broker.stats(queue)).total - jobsBefore;
  monitor.disconnect();
  watcher.disconnect();
  console.log(JSON.stringify({
    phase: "1000 schedules every 60 s, 3 scheduler processes",
    seconds,
    jobs_enqueued: jobs,
    client_commands: sent,
    client_commands_per_s: Math.round((sent / seconds) * 100) / 100,
    of_which_script_calls: scripts,
    all_commands_incl_script_internal: after - before,
    all_commands_per_s: Math.round(((after - before) / seconds) * 100) / 100,
  }));

  // Phase 2: lag with 100 schedules on the same second.
  for (let i = 0; i < 1000; i++) await admin.service.remove(`m${i}`);
  await broker.purge("completed");
  for (let i = 0; i < 100; i++) {
    await admin.service.save({ name: `s${i}`, every_ms: 1000, ...JOB }, { create: true });
  }
  await new Promise((r) => setTimeout(r, 10_500));
  const lags: number[] = [];
  for (let i = 0; i < 100; i++) {
    const ids = await admin.service.jobIds(`s${i}`, 0, 100);
    const producers = await admin.service.producers(ids);
    const jobs = await Promise.all(ids.map((id) => broker.get(id)));
    jobs.forEach((job, j) => {
      const p = producers[j];
      if (job && p) lags.push(Date.parse(job.created_at) - Date.parse(p.tick));
    });
  }
  lags.sort((a, b) => a - b);
  const q = (p: number) => lags[Math.min(lags.length - 1, Math.floor(p * lags.length))];
  console.log(JSON.stringify({
    phase: "100 schedules every 1 s, 3 scheduler processes, 10.5 s",
    jobs: lags.length,
    lag_ms_p50: q(0.5),
    lag_ms_p99: q(0.99),
    lag_ms_max: lags.at(-1),
  }));
  stats.disconnect();
} finally {
  for (const c of children) {
    c.kill("SIGTERM");
    await c.status;
  }
  await admin.close();
  await broker.close();
  await redis.close();
}
