/**
 * The waiting half of `RedisBroker.claim` (a claim with `waitMs`): when no job
 * is ready, the claim blocks in BLPOP on the wake lists of the queues it
 * serves (enqueues, promotions, releases and resumes push a marker), on a
 * dedicated connection, so an idle worker costs Redis a command every few
 * seconds instead of a poll loop. On standalone Redis one BLPOP waits on
 * every served queue, whatever their number.
 *
 * On Cluster one BLPOP cannot span slots, and a wait per queue would cost an
 * idle worker commands in proportion to its queues. There the claim listens
 * to the published wakes instead (`cluster_signals.ts`): it claims from the
 * queues that may have work, and otherwise sleeps until one is woken, which
 * costs Redis nothing. The claim is sent there and then by a live process, so
 * it needs no liveness check.
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
import type { QueueGroup } from "./queue_groups.ts";
import type { QueueKeys } from "./keys.ts";
import { type ClaimReply, GroupScripts } from "./group_scripts.ts";
import type { ScriptConfig } from "./scripts.ts";
import { LIVENESS } from "./liveness.ts";
import type { ClusterSignals } from "./cluster_signals.ts";

/** How long a measured server clock offset is reused. */
const CLOCK_OFFSET_TTL_MS = 60_000;
/** A wait shorter than this is not worth a blocking round trip. */
const MIN_WAIT_MS = 10;

/** What the waiter needs from its broker. */
export interface WorkWaiterOptions {
  /** The broker's blocking connections (shared with its event reads). */
  blocking: BlockingPool;
  scriptConfig: ScriptConfig;
  /** The broker's time source (epoch ms). */
  clock: () => number;
  /** A lease token base for a new claim. */
  tokenBase: () => string;
  /** Resolves once the storage format of the group's queues is known to be ours. */
  checkFormat(group: QueueGroup): Promise<void>;
  /** Runs a command on the broker's main connection. */
  run<T>(command: (client: RedisClient) => Promise<T>): Promise<T>;
  /** The broker's main connection (for claims that do not wait). */
  main: RedisClient;
  /** Gives leases back without charging an attempt. */
  release(leases: Lease[]): Promise<unknown>;
  /** The lease owner the claims are for. */
  owner: string;
  /** `performance.now()` of the owner's last heartbeat Redis recorded in `ownersKey`. */
  lastBeatAt(ownersKey: string): number;
  /** Records a heartbeat now in `ownersKey`. */
  beat(ownersKey: string): Promise<void>;
  /** On Cluster: the published wakes claims wait on instead of BLPOP. */
  signals?: ClusterSignals;
  /**
   * Flow control: after each claim, whether each queue it tried has a
   * concurrency limit (then every job's end there wakes the queue).
   */
  onCapped?(queue: QueueKeys, capped: boolean): void;
  /** Flow control: after each claim, the types with a circuit breaker in each queue it tried. */
  onCircuits?(queue: QueueKeys, types: string[]): void;
  /**
   * A wait ended on a queue's dues LIST: a job was scheduled ahead of every
   * other there, due at `at` (epoch ms). Standalone Redis only.
   */
  onDue?(at: number): void;
}

/** Blocking claims over groups of queues. */
export class WorkWaiter {
  readonly #o: WorkWaiterOptions;
  /** Scripts defined on each blocking connection (each gets its own, once). */
  readonly #scriptsByConnection = new WeakMap<RedisClient, Promise<GroupScripts>>();
  /** Server clock offsets, per node (keyed by the group's owners key, which lives on it). */
  readonly #clockOffsets = new Map<string, { ms: number; measuredAt: number }>();
  /** Releases of jobs claimed for an abandoned wait, still in flight. */
  readonly #handingBack = new Set<Promise<void>>();
  /** The next queue an idle wait's end re-checks (Cluster; see `cluster_signals.ts`). */
  #recheck = 0;
  /**
   * Flow control: per group (its first queue's wake key), when a rate lets
   * the ready work the last claim held back start (our clock). A wait ends
   * then instead of sleeping until a wake: no poll, no missed token.
   */
  readonly #retryAt = new Map<string, number>();
  /**
   * Some claim reported a concurrency limit / a circuit breaker: until then,
   * claims skip the per-queue reports (the plain path's cost stays as it was).
   */
  #cappedSeen = false;
  #circuitsSeen = false;

  constructor(options: WorkWaiterOptions) {
    this.#o = options;
  }

  /**
   * Claims up to `max` jobs from `groups`, waiting up to `waitMs` for work
   * when none is ready. Resolves with [] once the time is up or `signal`
   * aborts (jobs the claim behind an abandoned wait took are handed back, no
   * attempt charged). Throws QueueUnavailableError when Redis fails.
   */
  async claim(
    groups: readonly QueueGroup[],
    max: number,
    leaseMs: number,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<ClaimedJob[]> {
    if (groups.length === 0) return [];
    for (const group of groups) await this.#o.checkFormat(group);
    const deadline = performance.now() + waitMs;
    if (this.#o.signals) {
      return await this.#claimOnSignal(this.#o.signals, groups, max, leaseMs, deadline, signal);
    }
    for (;;) {
      const left = deadline - performance.now();
      if (signal?.aborted || left < MIN_WAIT_MS) return [];
      const wait = Math.min(left, Math.max(1, this.#untilRetry(groups)));
      // A heartbeat the claim will still find fresh, unless the owner's
      // timer keeps it so (a worker's runner beats every second).
      for (const { ownersKey } of groups) {
        if (performance.now() - this.#o.lastBeatAt(ownersKey) > LIVENESS.claimFreshMs / 2) {
          await this.#o.beat(ownersKey);
        }
      }
      // Standalone: every served queue is in the one group.
      const { jobs, refused } = await this.#waitAndClaim(groups[0], max, leaseMs, wait, signal);
      if (jobs.length > 0) return jobs;
      // Woken for nothing (another runner took it): wait out the rest. Refused
      // as not alive (this process paused past the heartbeat's freshness):
      // beat, then wait again.
      for (const ownersKey of refused) await this.#o.beat(ownersKey);
    }
  }

  /**
   * Claims from `groups` in order, without waiting, until `max` are claimed
   * (a claim with no `waitMs`); with `onlyWoken`, on Cluster, only from the
   * queues that may have work (`ClaimOptions.onlyWoken`). Throws
   * QueueUnavailableError when Redis fails.
   */
  async claimReady(
    groups: readonly QueueGroup[],
    max: number,
    leaseMs: number,
    onlyWoken = false,
  ): Promise<ClaimedJob[]> {
    for (const group of groups) await this.#o.checkFormat(group);
    const { signals } = this.#o;
    if (onlyWoken && signals) {
      // Listening first: a queue found empty is skipped only until its next wake.
      await signals.start();
      groups = groups.filter((group) => signals.mayHaveWork(group.queues[0]));
    }
    return await this.#claimNow(groups, max, leaseMs);
  }

  /** `claimReady` once the formats are checked. */
  async #claimNow(groups: readonly QueueGroup[], max: number, leaseMs: number) {
    const scripts = await this.#scriptsOn(this.#o.main);
    const { signals } = this.#o;
    const jobs: ClaimedJob[] = [];
    for (const group of groups) {
      if (jobs.length >= max) break;
      const asked = max - jobs.length;
      const sentAt = signals?.seq ?? 0;
      const got = await this.#o.run(() =>
        scripts.claim(
          group.ownersKey,
          group.queues,
          asked,
          this.#o.clock(),
          leaseMs,
          this.#o.tokenBase(),
        )
      );
      jobs.push(...got.jobs);
      this.#noteReply(group, got);
      if (signals) {
        // Cluster: one queue per group.
        const keys = group.queues[0];
        if (got.jobs.length < asked) signals.drained(keys, sentAt);
        if (got.jobs.length > 0) signals.leased(keys, got.jobs[0].lease_expires_at);
      }
    }
    return jobs;
  }

  /**
   * A waiting claim on Cluster: claims from the queues that may have work,
   * else sleeps until one is woken or the time is up. At an idle wait's end
   * one queue in turn is re-checked (a missed message costs at most one
   * such round per queue).
   */
  async #claimOnSignal(
    signals: ClusterSignals,
    groups: readonly QueueGroup[],
    max: number,
    leaseMs: number,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<ClaimedJob[]> {
    // Subscribed before the first claim: nothing published after it is missed.
    await signals.start();
    const queues = groups.map((group) => group.queues[0]);
    for (;;) {
      if (signal?.aborted) return [];
      // A rate's time came: look there again, as if woken.
      for (const group of groups) {
        if (this.#untilRetry([group]) <= 0) signals.suspect(group.queues[0]);
      }
      const woken = groups.filter((group) => signals.mayHaveWork(group.queues[0]));
      if (woken.length > 0) {
        const jobs = await this.#claimNow(woken, max, leaseMs);
        if (jobs.length > 0) {
          if (!signal?.aborted) return jobs;
          // The caller gave up meanwhile: nobody will run them.
          this.#handBack(jobs);
          return [];
        }
      }
      const left = deadline - performance.now();
      if (left < MIN_WAIT_MS) return [];
      const wait = Math.min(left, Math.max(1, this.#untilRetry(groups)));
      if (!await signals.whenWoken(queues, wait, signal)) {
        if (wait < left && !signal?.aborted) continue;
        if (!signal?.aborted && deadline - performance.now() < MIN_WAIT_MS) {
          signals.suspect(queues[this.#recheck++ % queues.length]);
        }
        return [];
      }
    }
  }

  /** Remembers what flow control said in a claim's reply. */
  #noteReply(group: QueueGroup, reply: ClaimReply): void {
    const key = group.queues[0]?.wake;
    if (key === undefined) return;
    if (reply.retryAt === null) this.#retryAt.delete(key);
    else this.#retryAt.set(key, reply.retryAt);
    const { onCapped, onCircuits } = this.#o;
    if (onCapped && (reply.capped.length > 0 || this.#cappedSeen)) {
      this.#cappedSeen = true;
      for (const keys of group.queues) onCapped(keys, reply.capped.includes(keys.wake));
    }
    if (onCircuits && (reply.circuits.length > 0 || this.#circuitsSeen)) {
      // Once a breaker was seen, every claim says which remain (they can be removed).
      this.#circuitsSeen = true;
      for (const keys of group.queues) {
        onCircuits(keys, reply.circuits.filter(([wake]) => wake === keys.wake).map(([, t]) => t));
      }
    }
  }

  /** ms until the earliest remembered retry time of `groups` (<= 0: due), or Infinity. */
  #untilRetry(groups: readonly QueueGroup[]): number {
    if (this.#retryAt.size === 0) return Infinity;
    let at = Infinity;
    for (const group of groups) {
      const t = this.#retryAt.get(group.queues[0]?.wake ?? "");
      if (t !== undefined && t < at) at = t;
    }
    return at === Infinity ? Infinity : at - this.#o.clock();
  }

  /** Resolves when jobs claimed for abandoned waits have been handed back. */
  async idle(): Promise<void> {
    await Promise.all([...this.#handingBack]);
  }

  async #waitAndClaim(
    group: QueueGroup,
    max: number,
    leaseMs: number,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<{ jobs: ClaimedJob[]; refused: string[] }> {
    const offsetMs = await this.#serverClockOffsetMs(group);
    const { clock, tokenBase, owner } = this.#o;
    const liveness = { owner, freshMs: LIVENESS.claimFreshMs };
    const wakeKeys = group.queues.map((q) => q.wake);
    // The dues lists too: a due time announced there ends the wait, so the
    // runner can sleep until it (an idle beat may be seconds away).
    const dueKeys = group.queues.map((q) => q.dues);
    const result = await this.#o.blocking.run(
      async (c) => {
        const scripts = await this.#scriptsOn(c);
        await whenReady(c);
        // Both leave in this order, in one tick: the claim waits in the
        // connection behind the BLPOP.
        const popped = c.blpop(...wakeKeys, ...dueKeys, blockSeconds(timeoutMs));
        const claimed = scripts.claim(
          group.ownersKey,
          group.queues,
          max,
          clock(),
          leaseMs,
          tokenBase(),
          offsetMs,
          liveness,
        );
        const [marker, reply] = await Promise.all([popped, claimed]);
        return { marker, ...reply };
      },
      timeoutMs,
      signal,
      // The wait was abandoned but the claim still ran: give its jobs back
      // untouched (no attempt charged) and pass the marker on.
      ({ marker, jobs }) => {
        if (marker && dueKeys.includes(marker[0])) this.#dueAt(marker[1]);
        if (jobs.length > 0) this.#handBack(jobs);
        else if (marker && !dueKeys.includes(marker[0])) this.#wakeAnother(marker[0]);
      },
    );
    if (result.kind === "reply") {
      const { jobs, alive, marker } = result.value;
      if (marker && dueKeys.includes(marker[0])) this.#dueAt(marker[1]);
      this.#noteReply(group, result.value);
      return { jobs, refused: alive ? [] : [group.ownersKey] };
    }
    if (result.kind === "error") throw toQueueError(result.error);
    return { jobs: [], refused: [] };
  }

  /** Hands a popped due time to the broker's listener. */
  #dueAt(value: string): void {
    const at = Number(value);
    if (Number.isFinite(at)) this.#o.onDue?.(at);
  }

  #scriptsOn(client: RedisClient): Promise<GroupScripts> {
    let scripts = this.#scriptsByConnection.get(client);
    if (!scripts) {
      scripts = GroupScripts.create(client, this.#o.scriptConfig);
      this.#scriptsByConnection.set(client, scripts);
    }
    return scripts;
  }

  /**
   * Server clock minus ours, measured with one TIME on the queue's node
   * (halfway through the round trip) and reused for a minute: clocks drift
   * far slower than that.
   */
  async #serverClockOffsetMs(group: QueueGroup): Promise<number> {
    const node = group.ownersKey;
    const cached = this.#clockOffsets.get(node);
    if (cached && Date.now() - cached.measuredAt < CLOCK_OFFSET_TTL_MS) return cached.ms;
    const { clock } = this.#o;
    const before = clock();
    const [sec, usec] = await this.#o.run((c) => c.eval("return redis.call('TIME')", 1, node)) as [
      string,
      string,
    ];
    const after = clock();
    const ms = Number(sec) * 1000 + Math.floor(Number(usec) / 1000) - (before + after) / 2;
    this.#clockOffsets.set(node, { ms, measuredAt: Date.now() });
    return ms;
  }

  #wakeAnother(wakeKey: string): void {
    this.#o.run((c) => c.lpush(wakeKey, "1")).catch(() => {});
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
