/**
 * Keeps one worker process alive. The worker exits with `EXIT_RECYCLE` when it
 * must be replaced (a handler stuck in a loop cannot be stopped any other way)
 * and the supervisor starts a fresh one at once; crashes are restarted with an
 * exponential backoff so a crash loop does not spin. SIGTERM/SIGINT are passed
 * to the child, and the supervisor exits when the child does.
 *
 * Each child gets a lease-owner id of its own (`OWNER_ENV`). When a child
 * ends any other way than a clean exit, the supervisor (its parent, the first
 * to know) takes that owner's leases back at once (`reapOwner`), so its jobs
 * run again within moments instead of waiting out their leases.
 *
 * @module
 */
import { createLogger, type Logger } from "../log.ts";
import { sleep } from "../timing/sleep.ts";
import { EXIT_RECYCLE } from "./runner.ts";
import { newOwnerId, OWNER_ENV } from "../queue/liveness.ts";

/** Supervisor settings. */
export interface SuperviseOptions {
  /** Arguments after `deno run -A`; default: this directory's `worker_main.ts`. */
  args?: string[];
  /** Extra environment for the child. */
  env?: Record<string, string>;
  log?: Logger;
  /** Forward SIGTERM/SIGINT from this process (default true). */
  handleSignals?: boolean;
  /** Aborting it stops the supervisor like a SIGTERM (for embedding and tests). */
  signal?: AbortSignal;
  /** Child output: inherited by default. */
  stdio?: "inherit" | "null";
  onSpawn?(pid: number): void;
  onExit?(pid: number, status: Deno.CommandStatus): void;
  /** First crash-restart delay; doubles per quick crash. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A child that ran at least this long resets the backoff. */
  stableAfterMs?: number;
  /**
   * Takes back the leases of a child that died (`Broker.reapOwner`); returns
   * how many. Absent: its jobs wait for their leases to expire.
   */
  reapOwner?(owner: string, reason: string): Promise<number>;
}

/** Env var through which a worker learns how often its supervisor restarted it. */
export const RESTARTS_ENV = "JQ_WORKER_RESTARTS";

/** The default worker entry. */
export const WORKER_MAIN = new URL("./worker_main.ts", import.meta.url).pathname;

/**
 * Supervises worker processes until stopped; resolves with the exit code the
 * supervisor should end with (the last child's after a stop request).
 *
 * @example
 * ```ts
 * Deno.exit(await superviseWorker({ args: [WORKER_MAIN, "--concurrency", "50"] }));
 * ```
 */
export async function superviseWorker(options: SuperviseOptions = {}): Promise<number> {
  const log = options.log ?? createLogger({ fields: { role: "supervisor", pid: Deno.pid } });
  const args = options.args ?? [WORKER_MAIN];
  const initial = options.initialBackoffMs ?? 500;
  const max = options.maxBackoffMs ?? 30_000;
  const stableAfter = options.stableAfterMs ?? 10_000;

  let child: Deno.ChildProcess | null = null;
  let stopSignal: Deno.Signal | null = null;
  // Aborted on a stop request: cuts a crash backoff short.
  const stopping = new AbortController();
  const stop = (signal: Deno.Signal) => {
    if (stopSignal) return;
    stopSignal = signal;
    log.info("stopping; forwarding signal", { signal, child_pid: child?.pid });
    try {
      child?.kill(signal);
    } catch {
      // already exited
    }
    stopping.abort();
  };
  const listeners: Array<[Deno.Signal, () => void]> = options.handleSignals === false
    ? []
    : [["SIGTERM", () => stop("SIGTERM")], ["SIGINT", () => stop("SIGINT")]];
  for (const [s, fn] of listeners) Deno.addSignalListener(s, fn);
  const onAbort = () => stop("SIGTERM");
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) onAbort();

  let quickCrashes = 0;
  let restarts = 0;
  /** A dead child's leases go back now, not when they expire. */
  const reapChild = async (owner: string, status: Deno.CommandStatus) => {
    if (!options.reapOwner) return;
    const how = status.signal ? `signal ${status.signal}` : `exit code ${status.code}`;
    try {
      const reaped = await options.reapOwner(owner, `worker process died (${how})`);
      if (reaped > 0) log.warn("took back the dead worker's jobs", { owner, jobs: reaped });
    } catch (error) {
      // Redis away: its heartbeat stopped, so any worker's maintenance takes them back.
      log.warn("could not take back the dead worker's jobs", { owner, error });
    }
  };
  try {
    while (stopSignal === null) {
      const startedAt = Date.now();
      const owner = newOwnerId();
      child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", ...args],
        // The child cannot count its own recycles (each one ends it): tell it.
        env: { ...options.env, [RESTARTS_ENV]: String(restarts++), [OWNER_ENV]: owner },
        stdin: "null",
        stdout: options.stdio ?? "inherit",
        stderr: options.stdio ?? "inherit",
      }).spawn();
      const pid = child.pid;
      log.info("worker process started", { child_pid: pid, owner });
      options.onSpawn?.(pid);
      const status = await child.status;
      child = null;
      const uptime = Date.now() - startedAt;
      log.info("worker process exited", {
        child_pid: pid,
        code: status.code,
        signal: status.signal,
        uptime_ms: uptime,
      });
      if (!status.success) await reapChild(owner, status);
      options.onExit?.(pid, status);
      // A child killed by the very signal we forwarded was still starting up (no
      // handler yet, so no jobs): that is a clean stop too.
      if (stopSignal !== null) return status.signal === stopSignal ? 0 : status.code;
      if (status.success) return 0; // it was told to stop by someone else: respect that
      let delay = 0;
      if (status.code !== EXIT_RECYCLE || uptime < 1_000) {
        quickCrashes = uptime >= stableAfter ? 1 : quickCrashes + 1;
        delay = Math.min(max, initial * 2 ** (quickCrashes - 1));
        log.warn("worker process crashed; restarting after backoff", { delay_ms: delay });
      } else {
        quickCrashes = 0;
      }
      if (delay > 0) await sleep(delay, stopping.signal);
    }
    return 0;
  } finally {
    for (const [s, fn] of listeners) Deno.removeSignalListener(s, fn);
    options.signal?.removeEventListener("abort", onAbort);
  }
}
