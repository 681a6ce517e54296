/**
 * The Web Worker threads of one worker process. Threads come in permission
 * groups: a job type's declared `permissions` select a group whose threads
 * were created with exactly those Deno permissions (everything else denied);
 * types without permissions share the fully restricted group. That group can
 * be started up front (`warm`, before the worker claims anything, so the first
 * jobs do not wait for threads to boot); the others start on their first job.
 * Jobs go to the least-loaded thread of their group, batched into one `run`
 * message per tick.
 *
 * While jobs turn around fast (dispatch to result under `PACK_BELOW_MS` on
 * average: no-op or light handlers, threads not saturated), a dispatched batch
 * goes whole to one thread: its results then come back as one message and the
 * freed slots as one claim, where splitting it would double the messages and
 * the Redis round trips for no gain (measured at concurrency 50 with 2
 * threads: claims of 25 instead of 50, ~40 instead of ~30 µs CPU per job).
 * Slower jobs (CPU-bound handlers, or threads falling behind) are spread job
 * by job, so every thread gets its share.
 *
 * A thread stuck in a synchronous loop cannot be stopped (`terminate()` does
 * not interrupt a busy isolate), so the pool never tries: it reports which
 * jobs share a thread, and the runner recycles the whole process.
 *
 * @module
 */
import type { JobPermissions } from "../jobs/definition.ts";
import { type JobSettings, jobSettings } from "../jobs/job_settings.ts";
import { resolveModuleSpecifier } from "../jobs/module_loader.ts";
import {
  type AbortReason,
  type FromThread,
  type LogLine,
  type ProgressUpdate,
  type RunRequest,
  type RunResult,
  type ToThread,
} from "./messages.ts";
import { Batcher } from "../timing/batcher.ts";
import type { SpanLimits } from "@opentelemetry/sdk-trace";

/** Callbacks through which threads report back. */
export interface PoolEvents {
  results(results: RunResult[]): void;
  progress(updates: ProgressUpdate[]): void;
  log(lines: LogLine[]): void;
  /** A thread failed to load the registry or crashed; its jobs are lost with it. */
  fatal(error: string): void;
  /** Finished handler spans, when the process traces (`PoolOptions.tracing`). */
  spans?(spans: unknown[]): void;
}

/** Pool settings. */
export interface PoolOptions {
  /** Threads per permission group. */
  threads: number;
  /** Extra job modules, as absolute URLs (see `resolveModules`). */
  modules: string[];
  /** The permissions a job type declared, or undefined for none. */
  permissionsOf(type: string): JobPermissions | undefined;
  /**
   * What the built-in types obey, sent to every thread; the permissions
   * above must have been derived from the same value. Default: this
   * isolate's `jobSettings()`.
   */
  settings?: JobSettings;
  events: PoolEvents;
  /**
   * Set when the process traces: the threads then load the thread side of
   * tracing (`src/tracing/thread_tracing.ts`) and post their spans back.
   */
  tracing?: { spanLimits: SpanLimits };
}

/** Gauges for metrics and health. */
export interface PoolStats {
  threads: number;
  /** Threads with at least one job. */
  busy: number;
  inFlight: number;
}

interface Thread {
  worker: Worker;
  inFlight: number;
  runs: Batcher<RunRequest>;
  /** Resolves once the thread loaded the registry (or failed to: see `fatal`). */
  ready: Promise<void>;
  markReady(): void;
}

const THREAD_URL = new URL("./thread.ts", import.meta.url).href;
/** Loaded by the threads only when the process traces. */
const THREAD_TRACING_URL = new URL("../tracing/thread_tracing.ts", import.meta.url).href;

/** Average dispatch-to-result time (ms) below which batches are packed onto one thread. */
export const PACK_BELOW_MS = 2;
/** Weight of the newest sample in that average. */
const TURNAROUND_WEIGHT = 0.05;

/**
 * Module paths (relative to the cwd) or URLs as absolute URLs, resolved here
 * because restricted threads may not read the cwd.
 */
export function resolveModules(modules: string[]): string[] {
  return modules.filter((m) => m.trim() !== "").map((m) => resolveModuleSpecifier(m));
}

/** Deno permissions for a thread: exactly what the type declared, nothing more. */
export function threadPermissions(p: JobPermissions | undefined): Deno.PermissionOptionsObject {
  const list = (v: string[] | true | undefined) => v === true ? true : v?.length ? [...v] : false;
  return {
    net: list(p?.net),
    read: list(p?.read),
    write: list(p?.write),
    env: list(p?.env),
    run: false,
    ffi: false,
    sys: false,
    import: false,
  };
}

/** A stable key per distinct permission set, so equal declarations share threads. */
export function permissionKey(p: JobPermissions | undefined): string {
  const norm = (v: string[] | true | undefined) =>
    v === true ? true : v?.length ? [...new Set(v)].sort() : null;
  return JSON.stringify([norm(p?.net), norm(p?.read), norm(p?.write), norm(p?.env)]);
}

/**
 * The thread pool.
 *
 * @example
 * ```ts
 * const pool = new ThreadPool({ threads: 2, modules: [], permissionsOf: () => undefined, events });
 * pool.dispatch({ id, type: "email", payload, attempt: 1, max_attempts: 3 });
 * ```
 */
export class ThreadPool {
  readonly #options: PoolOptions;
  readonly #groups = new Map<string, Thread[]>();
  /** Group of each job type seen (a type's permissions never change). */
  readonly #typeGroups = new Map<string, Thread[]>();
  readonly #jobThread = new Map<string, { thread: Thread; at: number }>();
  /** Moving average of dispatch-to-result time (ms); starts at "spread". */
  #turnaroundMs = PACK_BELOW_MS;
  /** While packing: the thread each group's current batch goes to (until the next flush). */
  readonly #batchTarget = new Map<Thread[], Thread>();
  readonly #entryUrl: string;
  #closed = false;

  constructor(options: PoolOptions) {
    this.#options = {
      ...options,
      threads: Math.max(1, Math.floor(options.threads)),
      settings: options.settings ?? jobSettings(),
    };
    // Static imports of the extra modules let the restricted thread load them
    // without read permission (see thread.ts).
    const entries = [
      ...options.modules,
      ...(options.tracing ? [THREAD_TRACING_URL] : []),
      THREAD_URL,
    ];
    const source = entries.map((u) => `import ${JSON.stringify(u)};`).join("\n");
    this.#entryUrl = `data:text/javascript;base64,${btoa(source)}`;
  }

  /**
   * Starts the group of types that declare no permissions (the restricted
   * threads most types run on) and resolves when its threads are ready.
   */
  async warm(): Promise<void> {
    if (this.#closed) return;
    await Promise.all(this.#groupFor(undefined).map((t) => t.ready));
  }

  /** Sends a job to the least-loaded thread of its permission group. */
  dispatch(job: RunRequest): void {
    if (this.#closed) throw new Error("pool is closed");
    const threads = this.#group(job.type);
    const pack = this.#turnaroundMs < PACK_BELOW_MS && threads.length > 1;
    let best = pack ? this.#batchTarget.get(threads) : undefined;
    if (!best) {
      best = threads[0];
      for (const t of threads) if (t.inFlight < best.inFlight) best = t;
      if (pack) this.#batchTarget.set(threads, best);
    }
    best.inFlight++;
    this.#jobThread.set(job.id, { thread: best, at: performance.now() });
    best.runs.push(job);
  }

  /** Sends every thread's queued jobs now. */
  flush(): void {
    this.#batchTarget.clear();
    for (const group of this.#groups.values()) for (const t of group) t.runs.flushNow();
  }

  /** Fires the AbortSignal of each job still on a thread. */
  abort(ids: string[], reason: AbortReason): void {
    const byThread = new Map<Thread, string[]>();
    for (const id of ids) {
      const t = this.#jobThread.get(id)?.thread;
      if (!t) continue;
      const list = byThread.get(t) ?? [];
      list.push(id);
      byThread.set(t, list);
    }
    for (const [t, list] of byThread) {
      // A job dispatched this tick is still in the batch: send it first, or the
      // thread would get the abort before the job and run it unaborted.
      t.runs.flushNow();
      this.#send(t, { kind: "abort", ids: list, reason });
    }
  }

  /** Ids of the jobs sharing a thread with `id` (itself included). */
  threadmates(id: string): string[] {
    const t = this.#jobThread.get(id)?.thread;
    if (!t) return [];
    return [...this.#jobThread].filter(([, other]) => other.thread === t).map(([jobId]) => jobId);
  }

  /** Current gauges. */
  stats(): PoolStats {
    let threads = 0;
    let busy = 0;
    for (const group of this.#groups.values()) {
      threads += group.length;
      busy += group.filter((t) => t.inFlight > 0).length;
    }
    return { threads, busy, inFlight: this.#jobThread.size };
  }

  /** Terminates every thread. Threads stuck in a loop keep spinning until the process exits. */
  close(): void {
    this.#closed = true;
    for (const group of this.#groups.values()) for (const t of group) t.worker.terminate();
    this.#groups.clear();
    this.#typeGroups.clear();
    this.#batchTarget.clear();
    this.#jobThread.clear();
  }

  #group(type: string): Thread[] {
    let group = this.#typeGroups.get(type);
    if (!group) {
      group = this.#groupFor(this.#options.permissionsOf(type));
      this.#typeGroups.set(type, group);
    }
    return group;
  }

  #groupFor(permissions: JobPermissions | undefined): Thread[] {
    const key = permissionKey(permissions);
    let group = this.#groups.get(key);
    if (!group) {
      group = Array.from({ length: this.#options.threads }, () => this.#spawn(permissions));
      this.#groups.set(key, group);
    }
    return group;
  }

  #spawn(permissions: JobPermissions | undefined): Thread {
    const worker = new Worker(this.#entryUrl, {
      type: "module",
      deno: { permissions: threadPermissions(permissions) },
    });
    let markReady = () => {};
    const ready = new Promise<void>((resolve) => (markReady = resolve));
    const thread: Thread = {
      worker,
      inFlight: 0,
      ready,
      markReady,
      runs: new Batcher((jobs) => {
        this.#batchTarget.clear(); // the batch is out: the next one picks its thread afresh
        this.#send(thread, { kind: "run", jobs });
      }),
    };
    worker.onmessage = (event: MessageEvent<FromThread>) => this.#receive(thread, event.data);
    worker.onerror = (event) => {
      event.preventDefault(); // keep an uncaught error in a thread from killing the process
      thread.markReady(); // nobody waits on a thread that is gone
      this.#options.events.fatal(`thread crashed: ${event.message}`);
    };
    this.#send(thread, {
      kind: "init",
      modules: this.#options.modules,
      settings: this.#options.settings ?? jobSettings(),
      ...(this.#options.tracing ? { tracing: this.#options.tracing } : {}),
    });
    return thread;
  }

  #send(thread: Thread, message: ToThread): void {
    if (!this.#closed) thread.worker.postMessage(message);
  }

  #receive(thread: Thread, message: FromThread): void {
    const events = this.#options.events;
    switch (message.kind) {
      case "results":
        {
          const now = performance.now();
          let turnaround = this.#turnaroundMs;
          for (const r of message.results) {
            const entry = this.#jobThread.get(r.id);
            if (entry?.thread === thread) {
              this.#jobThread.delete(r.id);
              thread.inFlight--;
              turnaround += (now - entry.at - turnaround) * TURNAROUND_WEIGHT;
            }
          }
          this.#turnaroundMs = turnaround;
        }
        events.results(message.results);
        break;
      case "progress":
        events.progress(message.updates);
        break;
      case "log":
        events.log(message.lines);
        break;
      case "spans":
        // Only a tracing pool's threads send spans; anything else posting them is ignored.
        if (this.#options.tracing && Array.isArray(message.spans)) events.spans?.(message.spans);
        break;
      case "init_error":
        thread.markReady();
        events.fatal(`thread could not load the job registry: ${message.error}`);
        break;
      case "ready":
        thread.markReady();
        break;
    }
  }
}
