/**
 * `deno task bench`: the same workload as the BullMQ baseline
 * (../shared/bench/bullmq-baseline.mjs), against the same kind of Redis,
 * printing one JSON line with the same fields plus `http_submit_per_s` and
 * `idle_redis_commands_per_s`.
 *
 * ```sh
 * deno task bench [--redis redis://127.0.0.1:6379] [--jobs 20000] [--concurrency 50]
 *                 [--producers 100] [--idle-seconds 10] [--http-seconds 10]
 *                 [--auth off|on|both] [--otlp local|<url>]
 *                 [--phases enqueue,bulk,process,latency,latency5,http,idle]
 * ```
 *
 * `--phases` runs only the phases named (default: all) and prints only their
 * figures: for A/B pairs of one figure. `process` enqueues its jobs the way
 * the enqueue phase does (timed or not, the figure is printed only when
 * `enqueue` is asked for too). `BENCH_WORKER_DENO_FLAGS` (space-separated)
 * goes before the worker process's script, e.g. `--cpu-prof --cpu-prof-dir=d`.
 *
 * `--otlp` (or BENCH_OTLP) turns tracing on for the bench's worker processes
 * and its API: `OTEL_EXPORTER_OTLP_ENDPOINT` is set to `<url>`, or with
 * `local` to a receiver started in this process that discards what it gets
 * (`otlp_sink.ts`). The JSON line then says `tracing: "on"` and how many
 * export requests arrived. Without it, tracing is off (as a bench with no
 * `OTEL_*` variables), whatever this shell's environment says.
 *
 * Phases (keys are cleaned between them, like the baseline does):
 * - enqueue: P producers, each awaiting one typed-client `enqueue` at a time;
 * - bulk: `enqueueBatch` of 1000 jobs at a time;
 * - process: the N jobs of the first phase are waiting; a real worker process
 *   (`src/worker/worker_main.ts`, Web Worker pool, default threads) with
 *   concurrency C is spawned. The clock starts when the process logs
 *   "worker started" (its Deno start-up and module loading are excluded, as
 *   the baseline's Node start-up is) and stops at the last job's completion
 *   time as recorded in Redis;
 * - latency: an idle worker process, jobs enqueued one every 5 ms; handler
 *   start (its result) minus enqueue start;
 * - memory: INFO used_memory before / after the first phase / after the drain
 *   (results retained, worker process gone);
 * - http: wrk, 100 connections, POST /api/v1/jobs against one API server
 *   started in this process. `--auth on` (or BENCH_AUTH=on): with one API
 *   key in Redis, sent by every request (`http_submit_per_s` is then the
 *   figure with auth); `--auth both`: four phases, off/on/on/off, giving
 *   `http_submit_per_s` (off), `http_submit_auth_per_s` (on) and their ratio;
 * - idle: INFO commandstats delta over the idle window with an idle worker
 *   process, minus our own INFO call.
 *
 * @module
 */
import { globalKeys, queueKeys } from "../../src/queue/keys.ts";
import { limitSchema } from "../../src/limits/limit.ts";
import { Redis } from "ioredis";
import { createClient } from "../../src/client.ts";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { serveApi } from "../../src/roles/api.ts";
import { benchLatency, benchNoop } from "./bench_jobs.ts";
import { connect, whenReady } from "../../src/queue/connect.ts";
import { KeyStore } from "../../src/auth/key_store.ts";
import { startOtlpSink } from "./otlp_sink.ts";

const ROOT = new URL("../../", import.meta.url);
const WORKER_MAIN = new URL("src/worker/worker_main.ts", ROOT).pathname;
const BENCH_JOBS = new URL("./bench_jobs.ts", import.meta.url).pathname;

/** Command-line options of the bench. */
export interface BenchOptions {
  redis: string;
  jobs: number;
  concurrency: number;
  producers: number;
  idleSeconds: number;
  httpSeconds: number;
  httpConnections: number;
  /** API keys during the http phase: off (default), on (one key), both (off/on/on/off). */
  auth: "off" | "on" | "both";
  /**
   * `--type-rate <max>/<per_ms>`: a rate limit on the bench's job types
   * (flow control, set after each phase's reset), to measure what a limit
   * far above the achieved rate costs; absent: no limit.
   */
  typeRate: { max: number; per_ms: number } | null;
  /** `--otlp`: "local" (a discarding receiver here), an OTLP endpoint URL, or null (tracing off). */
  otlp: string | null;
  /** `--phases`: the phases to run (default: all of them). */
  phases: ReadonlySet<Phase>;
}

/** The bench's phases, in the order they run. */
export const PHASES = [
  "enqueue",
  "bulk",
  "process",
  "latency",
  "latency5",
  "http",
  "idle",
] as const;
/** One of `PHASES`. */
export type Phase = typeof PHASES[number];

function phasesFlag(value: string | undefined): ReadonlySet<Phase> {
  if (value === undefined) return new Set(PHASES);
  const names = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const name of names) {
    if (!(PHASES as readonly string[]).includes(name)) {
      throw new Error(`--phases: unknown phase "${name}" (known: ${PHASES.join(", ")})`);
    }
  }
  return new Set(names as Phase[]);
}

/** Parses `--flag value` pairs. */
export function parseArgs(args: string[], env: Record<string, string | undefined>): BenchOptions {
  const flags: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    if (!args[i].startsWith("--")) continue;
    const [flag, inline] = args[i].slice(2).split("=", 2);
    if (flag === "verbose") continue;
    flags[flag] = inline ?? args[++i];
  }
  const num = (name: string, fallback: number) => {
    const n = flags[name] === undefined ? fallback : Number(flags[name]);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number >= 0`);
    return n;
  };
  return {
    redis: flags.redis ?? env.REDIS_URL ?? "redis://127.0.0.1:6379",
    jobs: num("jobs", 20000),
    concurrency: num("concurrency", 50),
    producers: num("producers", 100),
    idleSeconds: num("idle-seconds", 10),
    httpSeconds: num("http-seconds", 10),
    httpConnections: num("http-connections", 100),
    auth: authFlag(flags.auth ?? env.BENCH_AUTH ?? "off"),
    typeRate: rateFlag(flags["type-rate"]),
    otlp: flags.otlp ?? env.BENCH_OTLP ?? null,
    phases: phasesFlag(flags.phases),
  };
}

function rateFlag(value: string | undefined): BenchOptions["typeRate"] {
  if (value === undefined) return null;
  const m = /^(\d+)\/(\d+)$/.exec(value);
  if (!m) throw new Error("--type-rate must be <max>/<per_ms>, e.g. 1000000/1000");
  return { max: Number(m[1]), per_ms: Number(m[2]) };
}

function authFlag(value: string): BenchOptions["auth"] {
  if (value === "off" || value === "on" || value === "both") return value;
  throw new Error("--auth must be off, on or both");
}

const PAYLOAD = {
  to: "user@example.com",
  subject: "Welcome!",
  body: "Thanks for signing up",
  from: "noreply@example.com",
};
const JOBS = { bench_noop: benchNoop, bench_latency: benchLatency };

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))];
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const wallNow = () => performance.timeOrigin + performance.now();

/** A worker process child, with a promise for its "worker started" log line. */
export interface WorkerChild {
  pid: number;
  ready: Promise<number>;
  stop(): Promise<void>;
}

/** Starts a worker process serving `queue` (and what `env` adds) with the bench's job types. */
export function spawnWorker(
  redisUrl: string,
  queue: string,
  concurrency: number,
  env: Record<string, string> = {},
): WorkerChild {
  const extra = (Deno.env.get("BENCH_WORKER_DENO_FLAGS") ?? "").split(" ").filter((f) => f);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...extra, WORKER_MAIN],
    cwd: ROOT.pathname,
    env: {
      REDIS_URL: redisUrl,
      QUEUE: queue,
      WORKER_CONCURRENCY: String(concurrency),
      JOB_MODULES: BENCH_JOBS,
      WORKER_METRICS_PORT: "0",
      LOG_FORMAT: "json",
      LOG_LEVEL: "info",
      ...env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let resolveReady: (at: number) => void = () => {};
  let rejectReady: (e: Error) => void = () => {};
  const ready = new Promise<number>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  ready.catch(() => {});
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buffered = "";
    let seen = false;
    for await (const chunk of child.stdout) {
      if (seen) continue; // keep draining so the child never blocks on a full pipe
      buffered += decoder.decode(chunk, { stream: true });
      if (buffered.includes("worker started")) {
        seen = true;
        resolveReady(Date.now());
      }
    }
    if (!seen) rejectReady(new Error("worker process exited before it started"));
  })();
  return {
    pid: child.pid,
    ready,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await child.status;
      await reading;
    },
  };
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info("memory");
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

function totalCalls(info: string): number {
  let total = 0;
  for (const m of info.matchAll(/^cmdstat_[^:]+:calls=(\d+)/gm)) total += Number(m[1]);
  return total;
}

async function cleanup(redis: Redis, pattern: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== "0");
}

/** Polls until `queue` has `n` completed jobs; returns the last completion time (epoch ms). */
async function waitCompleted(redis: Redis, queue: string, n: number, timeoutMs = 300_000) {
  const { stats, completed } = queueKeys(queue);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const done = Number(await redis.hget(stats, "completed") ?? 0);
    if (done >= n) break;
    if (Date.now() > deadline) throw new Error(`only ${done}/${n} jobs completed in ${queue}`);
    await sleep(5);
  }
  const last = await redis.zrange(completed, 0, 0, "REV", "WITHSCORES");
  return Number(last[1]);
}

async function enqueueSingle(o: BenchOptions, queue: string): Promise<number> {
  const broker = new RedisBroker({ url: o.redis, queue });
  const client = createClient(broker, JOBS);
  await broker.ping();
  await broker.homeQueue(); // start-up, as in enqueueBulk
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: o.producers }, async () => {
    while (next < o.jobs) {
      next++;
      await client.enqueue("bench_noop", PAYLOAD, { priority: 5, max_attempts: 3 });
    }
  }));
  const s = (performance.now() - t0) / 1000;
  await broker.close();
  return o.jobs / s;
}

/** Key prefix of the bulk phase's deployment. */
const BULK_PREFIX = "jqbulk";

async function enqueueBulk(o: BenchOptions, queue: string): Promise<number> {
  const broker = new RedisBroker({ url: o.redis, queue, prefix: BULK_PREFIX });
  const client = createClient(broker, JOBS);
  await broker.ping();
  // A deployment's first start (the home queue chosen once, after a SCAN for
  // single-queue data) is start-up, not enqueue throughput.
  await broker.homeQueue();
  const t0 = performance.now();
  for (let i = 0; i < o.jobs; i += 1000) {
    const n = Math.min(1000, o.jobs - i);
    await client.enqueueBatch(
      Array.from({ length: n }, () => ({
        type: "bench_noop" as const,
        payload: PAYLOAD,
        max_attempts: 3,
      })),
    );
  }
  const s = (performance.now() - t0) / 1000;
  await broker.close();
  return o.jobs / s;
}

/** CPU seconds (user + system) a process has used so far; NaN where /proc is missing. */
export function processCpu(pid: number): number {
  try {
    const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ
  } catch {
    return NaN;
  }
}

async function redisCpu(redis: Redis): Promise<number> {
  const info = await redis.info("cpu");
  const get = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? NaN);
  return get("used_cpu_user") + get("used_cpu_sys");
}

let diagRedis: Redis | null = null;
function redisOf(o: BenchOptions): Redis {
  return diagRedis ??= new Redis(o.redis, { maxRetriesPerRequest: null });
}

/** Diagnostics for --verbose, printed to stderr (the JSON line stays alone on stdout). */
const diag: Record<string, unknown> = {};

async function drain(o: BenchOptions, redis: Redis, queue: string): Promise<number> {
  const worker = spawnWorker(o.redis, queue, o.concurrency);
  try {
    const t0 = await worker.ready;
    const cpu0 = processCpu(worker.pid);
    const rcpu0 = await redisCpu(redis);
    const end = await waitCompleted(redis, queue, o.jobs);
    const cpu1 = processCpu(worker.pid);
    const rcpu1 = await redisCpu(redis);
    const seconds = (end - t0) / 1000;
    diag.process_seconds = +seconds.toFixed(3);
    diag.worker_cpu_us_per_job = +((cpu1 - cpu0) / o.jobs * 1e6).toFixed(1);
    diag.worker_cpu_utilisation = +((cpu1 - cpu0) / seconds).toFixed(2);
    diag.redis_cpu_us_per_job_drain = +((rcpu1 - rcpu0) / o.jobs * 1e6).toFixed(1);
    return o.jobs / seconds;
  } finally {
    await worker.stop();
  }
}

/**
 * Enqueue-to-handler latency on an idle worker. With several `queues`, the
 * worker serves them all (every known queue, as without WORKER_QUEUES) and
 * the jobs go to each in turn: pickup must cost what it costs with one.
 */
async function latency(o: BenchOptions, redis: Redis, queue: string, queues = 1) {
  const m = Math.min(1000, o.jobs);
  const names = Array.from({ length: queues }, (_, i) => i === 0 ? queue : `${queue}-${i}`);
  const broker = new RedisBroker({ url: o.redis, queue });
  const client = createClient(broker, JOBS);
  // Every queue exists (one warm job each) before the worker starts serving them.
  const warm = new Set<string>();
  for (const name of names) {
    warm.add((await client.enqueue("bench_latency", PAYLOAD, { queue: name })).id);
  }
  const worker = spawnWorker(o.redis, queue, o.concurrency);
  try {
    await worker.ready;
    await broker.ping();
    // The warm jobs first (JIT, connections, the handler's first run), then go idle.
    for (const name of names) await waitCompleted(redis, name, 1);
    await sleep(200);
    const sent = new Map<string, number>();
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < m; i++) {
      const at = wallNow();
      const options = { queue: names[i % names.length] };
      acks.push(client.enqueue("bench_latency", PAYLOAD, options).then((r) => sent.set(r.id, at)));
      await sleep(5);
    }
    await Promise.all(acks);
    for (const [i, name] of names.entries()) {
      const share = Math.floor(m / names.length) + (i < m % names.length ? 1 : 0);
      await waitCompleted(redis, name, share + 1);
    }
    const lat: number[] = [];
    const toClaim: number[] = [];
    const claimToHandler: number[] = [];
    for (const [id, at] of sent) {
      if (warm.has(id)) continue;
      const job = await broker.get(id);
      const handler = Number(job!.result);
      const claimed = Date.parse(job!.started_at!);
      lat.push(handler - at);
      toClaim.push(claimed - at);
      claimToHandler.push(handler - claimed);
    }
    const tag = queues === 1 ? "" : `_${queues}q`;
    diag[`latency${tag}_enqueue_to_claim_p50_ms`] = +pct(toClaim, 50).toFixed(2);
    diag[`latency${tag}_enqueue_to_claim_p99_ms`] = +pct(toClaim, 99).toFixed(2);
    diag[`latency${tag}_claim_to_handler_p50_ms`] = +pct(claimToHandler, 50).toFixed(2);
    diag[`latency${tag}_claim_to_handler_p99_ms`] = +pct(claimToHandler, 99).toFixed(2);
    return { p50: pct(lat, 50), p99: pct(lat, 99) };
  } finally {
    await broker.close();
    await worker.stop();
  }
}

async function httpSubmit(o: BenchOptions, queue: string, auth = false): Promise<number> {
  // Auth on: one key in Redis (the deployment's keys are reset between phases), sent by every request.
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (auth) {
    const client = connect(o.redis);
    await whenReady(client);
    const { key } = await new KeyStore(client).create({ name: "bench", scopes: ["submit"] });
    client.disconnect();
    headers.authorization = `Bearer ${key}`;
  }
  const env = {
    REDIS_URL: o.redis,
    QUEUE: queue,
    HOST: "127.0.0.1",
    PORT: "0",
    JOB_MODULES: BENCH_JOBS,
  };
  const log = createLogger({ level: "error", format: "json" });
  const api = await serveApi(loadConfig([], env), o.redis, log);
  const url = `http://127.0.0.1:${api.port}/api/v1/jobs`;
  const body = JSON.stringify({
    type: "bench_noop",
    payload: PAYLOAD,
    priority: 5,
    max_attempts: 3,
  });
  try {
    // Warm-up: connect Redis, load scripts, JIT the route.
    for (let i = 0; i < 200; i++) {
      const r = await fetch(url, { method: "POST", body, headers });
      if (r.status !== 201) throw new Error(`POST /api/v1/jobs answered ${r.status}`);
      await r.body?.cancel();
    }
    const cpu0 = processCpu(Deno.pid);
    const rcpu0 = await redisCpu(redisOf(o));
    const t0 = performance.now();
    const rate =
      await (hasWrk() ? wrkLoad(o, url, body, headers) : fetchLoad(o, url, body, headers));
    const seconds = (performance.now() - t0) / 1000;
    diag.api_cpu_utilisation = +((processCpu(Deno.pid) - cpu0) / seconds).toFixed(2);
    diag.api_cpu_us_per_request = +((processCpu(Deno.pid) - cpu0) / (rate * seconds) * 1e6)
      .toFixed(1);
    diag.redis_cpu_us_per_request = +((await redisCpu(redisOf(o)) - rcpu0) / (rate * seconds) * 1e6)
      .toFixed(1);
    return rate;
  } finally {
    await api.shutdown();
  }
}

function hasWrk(): boolean {
  try {
    return new Deno.Command("wrk", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().code !== 127;
  } catch {
    return false;
  }
}

async function wrkLoad(
  o: BenchOptions,
  url: string,
  body: string,
  headers: Record<string, string>,
): Promise<number> {
  const script = await Deno.makeTempFile({ suffix: ".lua" });
  try {
    await Deno.writeTextFile(
      script,
      [
        `wrk.method = "POST"`,
        `wrk.body = ${JSON.stringify(body)}`,
        ...Object.entries(headers).map(([k, v]) =>
          `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`
        ),
        "",
      ].join("\n"),
    );
    const out = await new Deno.Command("wrk", {
      args: [
        "-t",
        "1",
        "-c",
        String(o.httpConnections),
        "-d",
        `${o.httpSeconds}s`,
        "-s",
        script,
        url,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    if (!out.success) throw new Error(`wrk failed: ${new TextDecoder().decode(out.stderr)}`);
    const bad = /Non-2xx or 3xx responses: (\d+)/.exec(text);
    if (bad) throw new Error(`wrk: ${bad[1]} responses were not 201\n${text}`);
    const errors = /Socket errors: (.*)/.exec(text);
    if (errors) throw new Error(`wrk: socket errors: ${errors[1]}`);
    const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
    if (!rps) throw new Error(`cannot read wrk output:\n${text}`);
    return Number(rps[1]);
  } finally {
    await Deno.remove(script).catch(() => {});
  }
}

async function fetchLoad(
  o: BenchOptions,
  url: string,
  body: string,
  headers: Record<string, string>,
): Promise<number> {
  const end = performance.now() + o.httpSeconds * 1000;
  let done = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: o.httpConnections }, async () => {
    while (performance.now() < end) {
      const r = await fetch(url, { method: "POST", body, headers });
      await r.body?.cancel();
      if (r.status !== 201) throw new Error(`POST /api/v1/jobs answered ${r.status}`);
      done++;
    }
  }));
  return done / ((performance.now() - t0) / 1000);
}

async function idleCommands(o: BenchOptions, redis: Redis, queue: string): Promise<number> {
  const worker = spawnWorker(o.redis, queue, o.concurrency);
  try {
    await worker.ready;
    await sleep(1000); // let start-up traffic (script loads, first maintain) pass
    const before = totalCalls(await redis.info("commandstats"));
    await sleep(o.idleSeconds * 1000);
    const after = totalCalls(await redis.info("commandstats"));
    // The first INFO is counted once it ran; the second is not counted yet.
    return o.idleSeconds > 0 ? Math.max(0, (after - before - 1) / o.idleSeconds) : 0;
  } finally {
    await worker.stop();
  }
}

/** Runs every phase and returns the result line. */
export async function runBench(o: BenchOptions): Promise<Record<string, unknown>> {
  const sink = o.otlp === "local" ? startOtlpSink() : null;
  // The worker children inherit it; the API (in this process) and its exporter read it here.
  for (const name of OTEL_SWITCHES) Deno.env.delete(name);
  if (o.otlp !== null) Deno.env.set("OTEL_EXPORTER_OTLP_ENDPOINT", sink?.url ?? o.otlp);
  try {
    return {
      ...await runPhases(o),
      tracing: o.otlp === null ? "off" : "on",
      ...(sink ? { otlp_export_requests: sink.requests } : {}),
    };
  } finally {
    await sink?.close();
  }
}

/** The variables that switch tracing on or off: only `--otlp` decides in a bench. */
const OTEL_SWITCHES = [
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  "OTEL_SDK_DISABLED",
  "OTEL_TRACES_EXPORTER",
];

async function runPhases(o: BenchOptions): Promise<Record<string, unknown>> {
  const redis = new Redis(o.redis, { maxRetriesPerRequest: null });
  const tag = `bench-${Deno.pid}`;
  const q = (name: string) => `${tag}-${name}`;
  const all = `jq:{${tag}-*`;
  // Each phase is a deployment of its own: its queue's keys and the registry
  // (the known queues, the home queue) go between phases, so each phase's
  // queue is its home queue, as the one queue of a deployment is.
  const reset = async () => {
    await cleanup(redis, all);
    await cleanup(redis, "jq:{#}:*");
    await cleanup(redis, `${BULK_PREFIX}:*`);
    if (o.typeRate) {
      // Gone with the reset: in again for the next phase, as `PUT /limits` writes it (a
      // broker would register a queue of its own, and the phase's would not be the home one).
      const g = globalKeys();
      const limit = JSON.stringify(limitSchema.parse({ rate: o.typeRate }));
      for (const type of [benchNoop.type, benchLatency.type]) {
        await redis.hset(g.limits, `type:${type}`, limit);
      }
      await redis.incr(g.limitsVersion);
    }
  };
  const on = (phase: Phase) => o.phases.has(phase);
  const out: Record<string, unknown> = {
    system: "deno-jq",
    version: Deno.version.deno,
    redis: o.redis,
    jobs: o.jobs,
    concurrency: o.concurrency,
    producers: o.producers,
  };
  try {
    await reset();
    if (on("enqueue") || on("process")) {
      const mem0 = await usedMemory(redis);
      const single = await enqueueSingle(o, q("single"));
      const mem1 = await usedMemory(redis);
      if (on("enqueue")) out.enqueue_jobs_per_s = Math.round(single);
      if (on("bulk")) {
        // A deployment of its own beside the single queue (its own key prefix), so
        // its queue is its home queue too; gone again before the drain.
        out.enqueue_bulk_jobs_per_s = Math.round(await enqueueBulk(o, q("bulk")));
        await cleanup(redis, `${BULK_PREFIX}:*`);
      }
      if (on("process")) {
        out.process_jobs_per_s = Math.round(await drain(o, redis, q("single")));
        const mem2 = await usedMemory(redis);
        out.redis_bytes_per_completed_job = Math.round((mem2 - mem0) / o.jobs);
      }
      if (on("enqueue")) out.redis_bytes_per_pending_job = Math.round((mem1 - mem0) / o.jobs);
      await reset();
    } else if (on("bulk")) {
      out.enqueue_bulk_jobs_per_s = Math.round(await enqueueBulk(o, q("bulk")));
      await reset();
    }
    if (on("latency")) {
      const lat = await latency(o, redis, q("lat"));
      out.latency_p50_ms = +lat.p50.toFixed(2);
      out.latency_p99_ms = +lat.p99.toFixed(2);
      await reset();
    }
    if (on("latency5")) {
      const lat5 = await latency(o, redis, q("lat5"), 5);
      out.latency_5_queues_p50_ms = +lat5.p50.toFixed(2);
      out.latency_5_queues_p99_ms = +lat5.p99.toFixed(2);
      await reset();
    }
    if (on("http")) {
      let http: number;
      const auth: Record<string, number | string> = { http_auth: o.auth };
      if (o.auth === "both") {
        // off, on, on, off: a drift of the machine over the phases weighs on both sides alike.
        const rates: number[] = [];
        for (const on of [false, true, true, false]) {
          rates.push(await httpSubmit(o, q("http"), on));
          await reset();
        }
        http = (rates[0] + rates[3]) / 2;
        const withAuth = (rates[1] + rates[2]) / 2;
        auth.http_submit_auth_per_s = Math.round(withAuth);
        auth.http_auth_ratio = +(withAuth / http).toFixed(3);
      } else {
        http = await httpSubmit(o, q("http"), o.auth === "on");
        await reset();
      }
      out.http_submit_per_s = Math.round(http);
      Object.assign(out, auth);
    }
    if (on("idle")) {
      const idle = await idleCommands(o, redis, q("idle"));
      await reset();
      out.idle_redis_commands_per_s = +idle.toFixed(2);
    }
    return out;
  } finally {
    await reset().catch(() => {});
    redis.disconnect();
    diagRedis?.disconnect();
    diagRedis = null;
  }
}

if (import.meta.main) {
  const options = parseArgs(Deno.args, Deno.env.toObject());
  console.log(JSON.stringify(await runBench(options)));
  if (Deno.args.includes("--verbose")) console.error(JSON.stringify(diag));
  Deno.exit(0);
}
