/**
 * The waiting half of `RedisBroker.claim` (a claim with `waitMs`): when no job
 * is ready, the claim blocks in BLPOP on the queue's wake list (enqueues,
 * promotions and releases push a marker), on a dedicated connection, so an
 * idle worker costs Redis a command every few seconds instead of a poll loop.
 *
 * The claim script is pipelined behind the BLPOP on the same connection:
 * Redis runs it the moment the wait ends, so a woken runner gets its jobs in
 * the wake's reply instead of one round trip later (on an idle worker that
 * round trip was a third of enqueue-to-start latency). A marker left in the
 * list (work is ready) ends the BLPOP at once, so this is also the claim of a
 * queue with work: one round trip. Because the script runs whenever the wait
 * ends, it reads the time itself: Redis' TIME minus the measured offset
 * between the server's clock and ours.
 *
 * Because it runs whenever the wait ends, it may also run when this process
 * can no longer act on it (frozen by SIGSTOP or a long pause, or cut off):
 * so it takes jobs only while the owner's last heartbeat is recent
 * (`LIVENESS.claimFreshMs`), and otherwise passes the wake marker on. The
 * waiter makes sure a live process has a recent heartbeat before it waits.
 *
 * @module
 */
import type { BlockingPool } from "./blocking.ts";
import { type RedisClient, toQueueError, whenReady } from "./connect.ts";
import type { ClaimedJob, Lease } from "./job.ts";
import type { QueueKeys } from "./keys.ts";
import { QueueScripts, type ScriptConfig } from "./scripts.ts";
import { LIVENESS } from "./liveness.ts";

/** How long a measured server clock offset is reused. */
const CLOCK_OFFSET_TTL_MS = 60_000;
/** A wait shorter than this is not worth a blocking round trip. */
const MIN_WAIT_MS = 10;

/** What the waiter needs from its broker. */
export interface WorkWaiterOptions {
  keys: QueueKeys;
  /** The broker's blocking connections (shared with its event reads). */
  blocking: BlockingPool;
  scriptConfig: ScriptConfig;
  /** The broker's time source (epoch ms). */
  clock: () => number;
  /** A lease token base for a new claim. */
  tokenBase: () => string;
  /** Resolves once the queue's storage format is known to be ours. */
  checkFormat(): Promise<void>;
  /** Runs a command on the broker's main connection. */
  run<T>(command: (client: RedisClient) => Promise<T>): Promise<T>;
  /** Gives leases back without charging an attempt. */
  release(leases: Lease[]): Promise<unknown>;
  /** The lease owner the claims are for. */
  owner: string;
  /** `performance.now()` of the owner's last heartbeat Redis recorded. */
  lastBeatAt(): number;
  /** Records a heartbeat now (the broker's maintenance call). */
  beat(): Promise<void>;
}

/** Blocking claims for one queue. */
export class WorkWaiter {
  readonly #o: WorkWaiterOptions;
  /** Scripts defined on each blocking connection (each gets its own, once). */
  readonly #scriptsByConnection = new WeakMap<RedisClient, Promise<QueueScripts>>();
  #clockOffset: { ms: number; measuredAt: number } | null = null;
  /** Releases of jobs claimed for an abandoned wait, still in flight. */
  readonly #handingBack = new Set<Promise<void>>();

  constructor(options: WorkWaiterOptions) {
    this.#o = options;
  }

  /**
   * Claims up to `max` jobs, waiting up to `waitMs` for work when none is
   * ready. Resolves with [] once the time is up or `signal` aborts (jobs the
   * claim behind an abandoned wait took are handed back, no attempt charged).
   * Throws QueueUnavailableError when Redis fails.
   */
  async claim(
    max: number,
    leaseMs: number,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<ClaimedJob[]> {
    await this.#o.checkFormat();
    const deadline = performance.now() + waitMs;
    for (;;) {
      const left = deadline - performance.now();
      if (signal?.aborted || left < MIN_WAIT_MS) return [];
      // A heartbeat the claim will still find fresh, unless the owner's
      // timer keeps it so (a worker's runner beats every second).
      if (performance.now() - this.#o.lastBeatAt() > LIVENESS.claimFreshMs / 2) {
        await this.#o.beat();
      }
      const { jobs, alive } = await this.#waitAndClaim(max, leaseMs, left, signal);
      if (jobs.length > 0) return jobs;
      // Woken for nothing (another runner took it): wait out the rest. Refused
      // as not alive (this process paused past the heartbeat's freshness):
      // beat, then wait again.
      if (!alive) await this.#o.beat();
    }
  }

  /** Resolves when jobs claimed for abandoned waits have been handed back. */
  async idle(): Promise<void> {
    await Promise.all([...this.#handingBack]);
  }

  async #waitAndClaim(
    max: number,
    leaseMs: number,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<{ jobs: ClaimedJob[]; alive: boolean }> {
    const offsetMs = await this.#serverClockOffsetMs();
    const { keys, clock, tokenBase, owner } = this.#o;
    const liveness = { owner, freshMs: LIVENESS.claimFreshMs };
    const result = await this.#o.blocking.run(
      async (c) => {
        const scripts = await this.#scriptsOn(c);
        await whenReady(c);
        // Both leave in this order, in one tick: the claim waits in the
        // connection behind the BLPOP.
        const popped = c.blpop(keys.wake, blockSeconds(timeoutMs));
        const claimed = scripts.claim(max, clock(), leaseMs, tokenBase(), offsetMs, liveness);
        const [marker, { jobs, alive }] = await Promise.all([popped, claimed]);
        return { marker, jobs, alive };
      },
      timeoutMs,
      signal,
      // The wait was abandoned but the claim still ran: give its jobs back
      // untouched (no attempt charged) and pass the marker on.
      ({ marker, jobs }) => {
        if (jobs.length > 0) this.#handBack(jobs);
        else if (marker) this.#wakeAnother();
      },
    );
    if (result.kind === "reply") return result.value;
    if (result.kind === "error") throw toQueueError(result.error);
    return { jobs: [], alive: true };
  }

  #scriptsOn(client: RedisClient): Promise<QueueScripts> {
    let scripts = this.#scriptsByConnection.get(client);
    if (!scripts) {
      scripts = QueueScripts.create(client, this.#o.keys, this.#o.scriptConfig);
      this.#scriptsByConnection.set(client, scripts);
    }
    return scripts;
  }

  /**
   * Server clock minus ours, measured with one TIME on the queue's node
   * (halfway through the round trip) and reused for a minute: clocks drift
   * far slower than that.
   */
  async #serverClockOffsetMs(): Promise<number> {
    const cached = this.#clockOffset;
    if (cached && Date.now() - cached.measuredAt < CLOCK_OFFSET_TTL_MS) return cached.ms;
    const { clock, keys } = this.#o;
    const before = clock();
    const [sec, usec] = await this.#o.run((c) =>
      c.eval("return redis.call('TIME')", 1, keys.wake)
    ) as [string, string];
    const after = clock();
    const ms = Number(sec) * 1000 + Math.floor(Number(usec) / 1000) - (before + after) / 2;
    this.#clockOffset = { ms, measuredAt: Date.now() };
    return ms;
  }

  #wakeAnother(): void {
    this.#o.run((c) => c.lpush(this.#o.keys.wake, "1")).catch(() => {});
  }

  /** Releases jobs claimed for a wait nobody is waiting on any more; `idle()` awaits it. */
  #handBack(jobs: ClaimedJob[]): void {
    const leases = jobs.map((j) => ({ id: j.id, token: j.token }));
    const done = this.#o.release(leases)
      .then(() => {}, () => {}) // unreleased leases expire and are reaped: nothing is lost
      .finally(() => this.#handingBack.delete(done));
    this.#handingBack.add(done);
  }
}

/** BLPOP takes seconds with decimals; 0 would mean forever, so keep a floor. */
function blockSeconds(timeoutMs: number): number {
  return Math.max(0.01, timeoutMs / 1000);
}
