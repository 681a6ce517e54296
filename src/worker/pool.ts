/**
 * The Web Worker threads of one worker process. Threads come in permission
 * groups: a job type's declared `permissions` select a group whose threads
 * were created with exactly those Deno permissions (everything else denied);
 * types without permissions share the fully restricted group. Groups start
 * lazily, on their first job. Jobs go to the least-loaded thread of their
 * group, batched into one `run` message per tick.
 *
 * A thread stuck in a synchronous loop cannot be stopped (`terminate()` does
 * not interrupt a busy isolate), so the pool never tries: it reports which
 * jobs share a thread, and the runner recycles the whole process.
 *
 * @module
 */
import type { JobPermissions } from "../jobs/definition.ts";
import { resolveModuleSpecifier } from "../jobs/module_loader.ts";
import {
  type AbortReason,
  Batcher,
  type FromThread,
  type LogLine,
  type ProgressUpdate,
  type RunRequest,
  type RunResult,
  type ToThread,
} from "./messages.ts";

/** Callbacks through which threads report back. */
export interface PoolEvents {
  results(results: RunResult[]): void;
  progress(updates: ProgressUpdate[]): void;
  log(lines: LogLine[]): void;
  /** A thread failed to load the registry or crashed; its jobs are lost with it. */
  fatal(error: string): void;
}

/** Pool settings. */
export interface PoolOptions {
  /** Threads per permission group. */
  threads: number;
  /** Extra job modules, as absolute URLs (see `resolveModules`). */
  modules: string[];
  /** The permissions a job type declared, or undefined for none. */
  permissionsOf(type: string): JobPermissions | undefined;
  events: PoolEvents;
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
}

const THREAD_URL = new URL("./thread.ts", import.meta.url).href;

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
  readonly #jobThread = new Map<string, Thread>();
  readonly #entryUrl: string;
  #closed = false;

  constructor(options: PoolOptions) {
    this.#options = { ...options, threads: Math.max(1, Math.floor(options.threads)) };
    // Static imports of the extra modules let the restricted thread load them
    // without read permission (see thread.ts).
    const source = [...options.modules, THREAD_URL].map((u) => `import ${JSON.stringify(u)};`)
      .join("\n");
    this.#entryUrl = `data:text/javascript;base64,${btoa(source)}`;
  }

  /** Sends a job to the least-loaded thread of its permission group. */
  dispatch(job: RunRequest): void {
    if (this.#closed) throw new Error("pool is closed");
    const threads = this.#group(job.type);
    let best = threads[0];
    for (const t of threads) if (t.inFlight < best.inFlight) best = t;
    best.inFlight++;
    this.#jobThread.set(job.id, best);
    best.runs.push(job);
  }

  /** Fires the AbortSignal of each job still on a thread. */
  abort(ids: string[], reason: AbortReason): void {
    const byThread = new Map<Thread, string[]>();
    for (const id of ids) {
      const t = this.#jobThread.get(id);
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
    const t = this.#jobThread.get(id);
    if (!t) return [];
    return [...this.#jobThread].filter(([, other]) => other === t).map(([jobId]) => jobId);
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
    this.#jobThread.clear();
  }

  #group(type: string): Thread[] {
    const permissions = this.#options.permissionsOf(type);
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
    const thread: Thread = {
      worker,
      inFlight: 0,
      runs: new Batcher((jobs) => this.#send(thread, { kind: "run", jobs })),
    };
    worker.onmessage = (event: MessageEvent<FromThread>) => this.#receive(thread, event.data);
    worker.onerror = (event) => {
      event.preventDefault(); // keep an uncaught error in a thread from killing the process
      this.#options.events.fatal(`thread crashed: ${event.message}`);
    };
    this.#send(thread, { kind: "init", modules: this.#options.modules });
    return thread;
  }

  #send(thread: Thread, message: ToThread): void {
    if (!this.#closed) thread.worker.postMessage(message);
  }

  #receive(thread: Thread, message: FromThread): void {
    const events = this.#options.events;
    switch (message.kind) {
      case "results":
        for (const r of message.results) {
          if (this.#jobThread.get(r.id) === thread) {
            this.#jobThread.delete(r.id);
            thread.inFlight--;
          }
        }
        events.results(message.results);
        break;
      case "progress":
        events.progress(message.updates);
        break;
      case "log":
        events.log(message.lines);
        break;
      case "init_error":
        events.fatal(`thread could not load the job registry: ${message.error}`);
        break;
      case "ready":
        break;
    }
  }
}
