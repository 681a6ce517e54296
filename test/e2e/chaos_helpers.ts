/**
 * Helpers for the chaos tests: real API and worker processes (`src/main.ts api`
 * and `src/main.ts worker`, i.e. a supervisor plus its worker child) with their
 * output in log files, an HTTP submitter with bounded concurrency that records
 * every answer, a tail of the Redis events stream, and process lookups by
 * parent pid (to find the worker child a supervisor spawned).
 *
 * @module
 */
import type { Job, Stats } from "../../src/queue/job.ts";
import type { LifecycleEventKind } from "../../src/events/lifecycle.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { freePort, TestRedis } from "../helpers/redis_server.ts";

/** The repository root (where deno.json is). */
export const ROOT = new URL("../../", import.meta.url).pathname;
/** The command-line entry of every role. */
export const MAIN = `${ROOT}src/main.ts`;
/** The test job module (`chaos_echo`). */
export const CHAOS_JOBS = new URL("./fixtures/chaos_jobs.ts", import.meta.url).pathname;

/** Prints a line of the test's story (what it killed, restarted, counted). */
export function say(message: string): void {
  console.log(`    [chaos] ${message}`);
}

export { processAlive as alive } from "../helpers/process.ts";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` every 100 ms until it returns a truthy value; throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  check: () => T | Promise<T>,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await Promise.resolve().then(check).catch(() => null);
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(100);
  }
}

/** Pids of the live (non-zombie) children of `pid`, from /proc. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === pid && fields[0] !== "Z") out.push(Number(entry.name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** A child process whose stdout and stderr go to a log file. */
export class Proc {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  readonly status: Promise<Deno.CommandStatus>;
  #child: Deno.ChildProcess;

  /** Runs `deno <args>` (e.g. `["run", "-A", MAIN, "api"]`) with `env` added. */
  constructor(
    name: string,
    args: string[],
    env: Record<string, string>,
    logFile: string,
    cwd?: string,
  ) {
    this.name = name;
    this.logFile = logFile;
    this.#child = new Deno.Command(Deno.execPath(), {
      args,
      env,
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.#child.pid;
    // Each chunk is written through at once (a file's `writable` may hold small
    // writes back until the stream closes, and tests grep these logs mid-run).
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      const file = await Deno.open(logFile, { create: true, append: true });
      try {
        for await (const chunk of stream) {
          let off = 0;
          while (off < chunk.length) off += file.writeSync(chunk.subarray(off));
        }
      } finally {
        file.close();
      }
    };
    const piping = Promise.all([pump(this.#child.stdout), pump(this.#child.stderr)]).catch(
      () => {},
    );
    this.status = piping.then(() => this.#child.status);
  }

  kill(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch {
      // already exited
    }
  }

  /** SIGTERM, then SIGKILL if it is not gone within `graceMs`. */
  async stop(graceMs = 15_000): Promise<Deno.CommandStatus> {
    this.kill("SIGTERM");
    const timer = setTimeout(() => this.kill("SIGKILL"), graceMs);
    try {
      return await this.status;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A worker role process: the supervisor and the port its worker child serves /metrics on. */
export interface WorkerSlot {
  index: number;
  supervisor: Proc;
  metricsPort: number;
}

/** Settings of a test deployment. */
export interface StackOptions {
  redisUrl: string;
  workers: number;
  /** Extra env for every process (LEASE_MS, WORKER_CONCURRENCY, ...). */
  env?: Record<string, string>;
}

/** One API process and N worker role processes against one Redis, like the compose file. */
export class Stack {
  readonly apiPort = freePort();
  readonly queue = `chaos-${crypto.randomUUID().slice(0, 8)}`;
  readonly logDir: string;
  readonly workers: WorkerSlot[] = [];
  api: Proc;
  #options: StackOptions;
  #apiStarts = 0;

  private constructor(options: StackOptions, logDir: string) {
    this.#options = options;
    this.logDir = logDir;
    this.api = this.startApi();
    for (let i = 1; i <= options.workers; i++) {
      const metricsPort = freePort();
      const supervisor = new Proc(
        `worker-${i}`,
        ["run", "-A", MAIN, "worker"],
        this.env({ WORKER_METRICS_PORT: String(metricsPort) }),
        `${logDir}/worker-${i}.log`,
      );
      this.workers.push({ index: i, supervisor, metricsPort });
    }
  }

  /** Starts the processes and waits until the API is ready and every worker serves /health. */
  static async start(options: StackOptions): Promise<Stack> {
    const logDir = await Deno.makeTempDir({ prefix: "jq-chaos-logs-" });
    const stack = new Stack(options, logDir);
    try {
      await stack.waitReady(60_000);
    } catch (error) {
      await stack.stop();
      throw error;
    }
    say(
      `started api (pid ${stack.api.pid}, port ${stack.apiPort}) and ${options.workers} workers ` +
        `(supervisor pid -> worker pid: ${
          stack.workers.map((w) => `${w.supervisor.pid}->${stack.workerPid(w)}`).join(", ")
        }); logs in ${logDir}`,
    );
    return stack;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  /** Environment of every process. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      REDIS_URL: this.#options.redisUrl,
      QUEUE: this.queue,
      JOB_MODULES: CHAOS_JOBS,
      HOST: "127.0.0.1",
      PORT: String(this.apiPort),
      WORKER_THREADS: "1",
      LOG_LEVEL: "info",
      LOG_FORMAT: "json",
      ...this.#options.env,
      ...extra,
    };
  }

  /** Starts an API process on the stack's port (again, after a kill). */
  startApi(): Proc {
    this.#apiStarts++;
    return this.api = new Proc(
      "api",
      ["run", "-A", MAIN, "api"],
      this.env(),
      `${this.logDir}/api-${this.#apiStarts}.log`,
    );
  }

  /** The current worker child of a supervisor, or null while it is being restarted. */
  workerPid(slot: WorkerSlot): number | null {
    return childrenOf(slot.supervisor.pid)[0] ?? null;
  }

  /** True when the worker child of `slot` serves /health. */
  async workerHealthy(slot: WorkerSlot): Promise<boolean> {
    const res = await fetch(`http://127.0.0.1:${slot.metricsPort}/health`, {
      signal: AbortSignal.timeout(2000),
    }).catch(() => null);
    await res?.body?.cancel();
    return res?.ok ?? false;
  }

  /** GET /ready on the API: its status, or 0 when nothing answered. */
  async ready(timeoutMs = 5000): Promise<number> {
    const res = await fetch(`${this.baseUrl}/ready`, { signal: AbortSignal.timeout(timeoutMs) })
      .catch(() => null);
    await res?.body?.cancel();
    return res?.status ?? 0;
  }

  async waitReady(timeoutMs: number): Promise<void> {
    await waitFor("api /ready", timeoutMs, async () => (await this.ready()) === 200);
    for (const slot of this.workers) {
      await waitFor(`worker-${slot.index} /health`, timeoutMs, () => this.workerHealthy(slot));
    }
  }

  /** Sum of a metric's samples on a worker's /metrics, or null when it does not answer. */
  async workerMetric(slot: WorkerSlot, name: string): Promise<number | null> {
    return await scrape(`http://127.0.0.1:${slot.metricsPort}/metrics`, name);
  }

  /** Stops everything (SIGTERM, workers drain), then SIGKILL what is left. */
  async stop(): Promise<void> {
    await Promise.all([this.api.stop(), ...this.workers.map((w) => w.supervisor.stop())]);
  }
}

/** Sum of the samples of `name` in a Prometheus text page, or null when the fetch failed. */
export async function scrape(url: string, name: string): Promise<number | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    const text = await res.text();
    let sum = 0;
    for (const line of text.split("\n")) {
      if (line.startsWith(name + "{") || line.startsWith(name + " ")) {
        sum += Number(line.slice(line.lastIndexOf(" ") + 1));
      }
    }
    return sum;
  } catch {
    return null;
  }
}

/** One answered (or failed) submission. */
export interface Outcome {
  /** When the request was sent (epoch ms). */
  at: number;
  ms: number;
  /** HTTP status, or 0 when the request failed without an answer. */
  status: number;
}

/** Settings of a `Submitter`. */
export interface SubmitterOptions {
  /** Requests in flight at once. */
  concurrency: number;
  /** Stop after this many jobs were accepted. */
  target: number;
  /** The jobs' sleep. */
  sleepMs: number;
  /** Per-request deadline. */
  timeoutMs?: number;
  /**
   * Send an Idempotency-Key per job and retry a failed submission with the
   * same key until it is accepted (a job that was stored but whose answer was
   * lost comes back as 200 with its first id). Without it, a failed
   * submission is simply dropped and the lane submits a new job.
   */
  idempotent?: boolean;
}

/**
 * Submits `chaos_echo` jobs over HTTP with bounded concurrency until `target`
 * of them were accepted (201, or 200 for an idempotent replay), recording
 * every request's outcome.
 */
export class Submitter {
  /** Ids of accepted jobs, one per job. */
  readonly acked: string[] = [];
  readonly outcomes: Outcome[] = [];
  /** Accepted as 200 Idempotent-Replayed: stored by an attempt whose answer was lost. */
  replays = 0;
  readonly done: Promise<void>;
  #inFlight = 0;
  #next = 0;
  #stopped = false;
  readonly #run = crypto.randomUUID().slice(0, 8);

  constructor(baseUrl: () => string, options: SubmitterOptions) {
    const send = async (n: number): Promise<string | null> => {
      const at = Date.now();
      let status = 0;
      let id: string | null = null;
      try {
        const res = await fetch(`${baseUrl()}/api/v1/jobs`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            ...(options.idempotent ? { "idempotency-key": `chaos-${this.#run}-${n}` } : {}),
          },
          body: JSON.stringify({ type: "chaos_echo", payload: { sleep_ms: options.sleepMs, n } }),
          signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
        });
        status = res.status;
        const body = await res.json().catch(() => null) as { job_id?: string } | null;
        if ((status === 201 || status === 200) && body?.job_id) id = body.job_id;
        if (status === 200 && id) this.replays++;
      } catch {
        status = 0;
      }
      this.outcomes.push({ at, ms: Date.now() - at, status });
      return id;
    };
    const lane = async () => {
      while (!this.#stopped && this.acked.length + this.#inFlight < options.target) {
        this.#inFlight++;
        const n = this.#next++;
        let id = await send(n);
        while (id === null && options.idempotent && !this.#stopped) {
          await sleep(50);
          id = await send(n);
        }
        this.#inFlight--;
        if (id !== null) this.acked.push(id);
        // The API is down: don't spin on instant connection errors.
        else await sleep(50);
      }
    };
    this.done = Promise.all(Array.from({ length: options.concurrency }, lane)).then(() => {});
  }

  stop(): void {
    this.#stopped = true;
  }

  /** Outcomes per status (0: no answer) of requests sent in [from, to), e.g. `{201: 4990}`. */
  statusCounts(from = 0, to = Infinity): Record<number, number> {
    const counts: Record<number, number> = {};
    for (const o of this.outcomes) {
      if (o.at >= from && o.at < to) counts[o.status] = (counts[o.status] ?? 0) + 1;
    }
    return counts;
  }
}

/** Follows the queue's events stream from its start, counting events by kind and job. */
export class EventTail {
  readonly kinds = new Map<LifecycleEventKind, number>();
  readonly completedPerJob = new Map<string, number>();
  readonly #done: Promise<void>;
  #stopped = false;

  constructor(broker: RedisBroker) {
    this.#done = (async () => {
      let cursor = "0";
      while (!this.#stopped) {
        try {
          const events = await broker.readEvents(cursor, 500, 1000);
          for (const { cursor: next, event: e } of events) {
            cursor = next;
            this.kinds.set(e.kind, (this.kinds.get(e.kind) ?? 0) + 1);
            if (e.kind === "completed") {
              this.completedPerJob.set(e.job_id, (this.completedPerJob.get(e.job_id) ?? 0) + 1);
            }
          }
        } catch {
          await sleep(200); // Redis is down; try again
        }
      }
    })();
  }

  count(kind: LifecycleEventKind): number {
    return this.kinds.get(kind) ?? 0;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }
}

/** A broker on the stack's queue, for the test's own reads. */
export function stackBroker(redisUrl: string, stack: Stack): RedisBroker {
  return new RedisBroker({ url: redisUrl, queue: stack.queue });
}

/** What a chaos test works with. */
export interface ChaosRun {
  /** A throwaway redis-server with AOF (`appendfsync always`), so it can be restarted. */
  redis: TestRedis;
  stack: Stack;
  /** A broker on the stack's queue, for the test's own reads. */
  broker: RedisBroker;
  /** Every lifecycle event of the queue since the stack started. */
  tail: EventTail;
}

/**
 * Starts Redis (AOF) and a stack on it, runs `fn`, then stops the tail, the
 * stack, the broker and Redis in that order, however `fn` ended.
 */
export async function withChaosStack(
  options: Omit<StackOptions, "redisUrl">,
  fn: (run: ChaosRun) => Promise<void>,
): Promise<void> {
  const redis = await TestRedis.start({ aof: true });
  const stack = await Stack.start({ ...options, redisUrl: redis.url });
  const broker = stackBroker(redis.url, stack);
  const tail = new EventTail(broker);
  try {
    await fn({ redis, stack, broker, tail });
  } finally {
    await tail.stop();
    await stack.stop();
    await broker.close();
    await redis.close();
  }
}

/** Every completed job of the queue (paginated list). */
export async function listCompleted(broker: RedisBroker): Promise<Job[]> {
  const jobs: Job[] = [];
  let cursor: string | undefined;
  do {
    const page = await broker.list({ state: "completed", limit: 1000, cursor });
    jobs.push(...page.jobs);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return jobs;
}

/** Waits until `n` jobs are completed and nothing is pending, scheduled or running. */
export async function waitAllCompleted(
  broker: RedisBroker,
  n: number,
  timeoutMs: number,
): Promise<Stats> {
  return await waitFor(`${n} jobs completed`, timeoutMs, async () => {
    const s = await broker.stats();
    return s.completed >= n && s.pending + s.scheduled + s.running === 0 ? s : null;
  });
}

/** The `result` of a chaos_echo job. */
export interface EchoResult {
  job_id: string;
  pid: number;
  attempt: number;
}

/** Job id -> job, for checking every acknowledged id. */
export async function jobsByIds(broker: RedisBroker, ids: string[]): Promise<Map<string, Job>> {
  const out = new Map<string, Job>();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const jobs = await Promise.all(chunk.map((id) => broker.get(id)));
    jobs.forEach((job, k) => {
      if (job) out.set(chunk[k], job);
    });
  }
  return out;
}

/** Lines of a log file that contain `needle`. */
export async function grepLog(file: string, needle: string): Promise<string[]> {
  const text = await Deno.readTextFile(file).catch(() => "");
  return text.split("\n").filter((l) => l.includes(needle));
}

/** The first of `n` consecutive free ports on 127.0.0.1. */
export function freePortRange(n: number): number {
  for (let tries = 0; tries < 100; tries++) {
    const base = freePort();
    if (base + n > 65535) continue;
    const held: Deno.Listener[] = [];
    try {
      for (let i = 1; i < n; i++) held.push(Deno.listen({ hostname: "127.0.0.1", port: base + i }));
      return base;
    } catch {
      // taken; try another base
    } finally {
      for (const l of held) l.close();
    }
  }
  throw new Error(`no ${n} consecutive free ports`);
}

/** The command line of a process, or "". */
export function commandLine(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/** Every descendant of `pid` (children, grandchildren, ...). */
export function descendantsOf(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
    for (const child of childrenOf(next)) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}
