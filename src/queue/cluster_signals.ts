/**
 * What a broker on Redis Cluster listens to instead of blocking on every
 * queue. On standalone Redis one BLPOP waits on all the served queues' wake
 * lists and one maintenance call looks at all of them, whatever their
 * number. On Cluster each queue is its own slot: one BLPOP per queue, and one
 * maintenance call per queue, would make an idle worker's cost grow with the
 * queues it serves (measured: 32 commands/s with 20 queues). So there the
 * scripts also publish (`_lib.lua`, `PUBLISH_WAKES`): `wake` on the channel
 * named like the queue's wake key, the new earliest due time on the one
 * named like its scheduled key, and the first lease's expiry in a queue with
 * no job running on the one named like its running key, and when to look at
 * a flow outbox entry (`_lib.lua`'s toOutbox) on the one named like its outbox key. Pub/sub messages cost Redis no command on
 * the listening side, and one pattern subscription hears every queue.
 *
 * From them this keeps, per queue, two things a broker acts on:
 * - **may have work**: woken since a claim that found the queue empty was
 *   sent. Claims that wait claim only such queues, and otherwise sleep until
 *   one is woken: an idle worker sends nothing.
 * - **attention**: the earliest time its maintenance has something to do
 *   (a scheduled job due, a lease to expire), from the replies of the visits
 *   and claims this broker made and from announced due times and leases,
 *   and whether a job runs there (a worker looks for dead owners every
 *   second while it knows one does). Idle maintenance visits only the queues
 *   that are due.
 *
 * Pub/sub delivers at most once: messages sent while the subscription was
 * down are gone. Every (re)subscription therefore counts as a loss, after
 * which every queue may have work and needs attention; the caller also
 * re-checks one queue in turn at each idle wait's end and each idle
 * maintenance round (a subscription moved between nodes by the client
 * might drop messages without telling).
 *
 * Ordering is by a sequence number: a claim or a visit remembers the number
 * when it was sent, and only what it could have seen (messages received
 * before it was sent) is settled by its reply.
 *
 * @module
 */
import { duplicate, type RedisClient, toQueueError } from "./connect.ts";
import type { QueueKeys } from "./keys.ts";

/** What the broker learnt of one queue's maintenance needs. */
interface Attention {
  /** Epoch ms of the next thing due per this broker's own visits and claims (Infinity: none). */
  next: number;
  /** The sequence number its last visit was sent at (0: never visited). */
  visitedAt: number;
  /** Some job was running there at the last visit, or this broker claimed since. */
  running: boolean;
}

/** Announced due times not yet settled by a visit: the earliest, and the last message's number. */
interface Announced {
  at: number;
  seq: number;
}

/** Listens to the published wakes and due times of every queue (Cluster). */
export class ClusterSignals {
  readonly #client: RedisClient;
  readonly #patterns: readonly string[];
  #sub: RedisClient | null = null;
  #started: Promise<void> | null = null;
  #seq = 1;
  /** The sequence number of the last possible loss of messages (the start is one). */
  #lostAt = 1;
  readonly #wokenAt = new Map<string, number>();
  readonly #drainedAt = new Map<string, number>();
  readonly #attention = new Map<string, Attention>();
  readonly #announced = new Map<string, Announced>();
  readonly #listeners = new Set<(wakeKey: string | null, closed: boolean) => void>();

  readonly #onDue: (at: number) => void;

  /** `onDue`: a due time was announced in some queue (every subscriber hears it). */
  constructor(client: RedisClient, prefix: string, onDue: (at: number) => void = () => {}) {
    this.#client = client;
    this.#onDue = onDue;
    this.#patterns = [
      `${prefix}:{*}:wake`,
      `${prefix}:{*}:scheduled`,
      `${prefix}:{*}:running`,
      `${prefix}:{*}:outbox`,
    ];
  }

  /** Subscribes (once; again after a failure). Resolves when the subscription is in place. */
  start(): Promise<void> {
    this.#started ??= this.#subscribe().catch((error) => {
      this.#started = null;
      throw toQueueError(error);
    });
    return this.#started;
  }

  async #subscribe(): Promise<void> {
    const sub = duplicate(this.#client, { blocking: true, connectionName: "jq:signals" });
    this.#sub = sub;
    let ready = false;
    sub.on("pmessage", (pattern: string, channel: string, message: string) => {
      if (pattern === this.#patterns[0]) this.#woken(channel);
      else if (pattern === this.#patterns[1]) {
        this.#due(channel, Number(message));
        if (Number.isFinite(Number(message))) this.#onDue(Number(message));
      } else if (pattern === this.#patterns[2]) this.#leasedElsewhere(channel, Number(message));
      else if (pattern === this.#patterns[3]) this.#outboxWritten(channel, Number(message));
    });
    // A subscription made again after a drop has missed what was sent meanwhile.
    sub.on("ready", () => {
      if (ready) this.lost();
    });
    try {
      await sub.psubscribe(...this.#patterns);
      ready = true;
    } catch (error) {
      this.#sub = null;
      sub.disconnect();
      throw error;
    }
  }

  /** The current sequence number (a claim or visit remembers it when sent). */
  get seq(): number {
    return this.#seq;
  }

  /** Messages may have been missed: every queue may have work and needs a visit. */
  lost(): void {
    this.#lostAt = ++this.#seq;
    this.#notify(null);
  }

  #woken(wakeKey: string): void {
    this.#wokenAt.set(wakeKey, ++this.#seq);
    this.#notify(wakeKey);
  }

  #due(scheduledKey: string, at: number): void {
    if (!Number.isFinite(at)) return;
    const seq = ++this.#seq;
    const known = this.#announced.get(scheduledKey);
    this.#announced.set(scheduledKey, { at: Math.min(known?.at ?? Infinity, at), seq });
  }

  /**
   * A flow outbox entry was written (`outboxKey` names the queue): its
   * writer delivers it at once; maintenance looks at `at` in case it died.
   */
  #outboxWritten(outboxKey: string, at: number): void {
    if (!outboxKey.endsWith(":outbox")) return;
    this.#due(`${outboxKey.slice(0, -"outbox".length)}scheduled`, at);
  }

  /** A queue with no job running got one (`runningKey` names it), leased until `at`. */
  #leasedElsewhere(runningKey: string, at: number): void {
    if (!Number.isFinite(at) || !runningKey.endsWith(":running")) return;
    this.#running(`${runningKey.slice(0, -"running".length)}scheduled`, at);
  }

  /** A job runs in the queue of `scheduledKey` until `at` (attention is keyed by that key). */
  #running(scheduledKey: string, at: number): void {
    const known = this.#attention.get(scheduledKey);
    if (!known) return; // never visited: due at once anyway
    known.next = Math.min(known.next, at);
    known.running = true;
  }

  /** Tells the waiting claims: `wakeKey` woken (null: every queue), or the signals closed. */
  #notify(wakeKey: string | null, closed = false): void {
    for (const listener of [...this.#listeners]) listener(wakeKey, closed);
  }

  /** True unless a claim sent after the queue's last wake found it empty. */
  mayHaveWork(keys: QueueKeys): boolean {
    const woken = Math.max(this.#wokenAt.get(keys.wake) ?? 0, this.#lostAt);
    return woken > (this.#drainedAt.get(keys.wake) ?? 0);
  }

  /** A claim sent at `sentSeq` found the queue empty (or paused). */
  drained(keys: QueueKeys, sentSeq: number): void {
    this.#drainedAt.set(keys.wake, Math.max(this.#drainedAt.get(keys.wake) ?? 0, sentSeq));
  }

  /** Treats the queue as woken (the caller's periodic re-check). */
  suspect(keys: QueueKeys): void {
    this.#woken(keys.wake);
  }

  /**
   * Resolves true as soon as one of `queues` may have work (at once if one
   * already may), false after `timeoutMs` or when `signal` aborts.
   */
  whenWoken(
    queues: readonly QueueKeys[],
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    if (queues.some((keys) => this.mayHaveWork(keys))) return Promise.resolve(true);
    if (signal?.aborted) return Promise.resolve(false);
    const wakeKeys = new Set(queues.map((keys) => keys.wake));
    return new Promise((resolve) => {
      const done = (woken: boolean) => {
        clearTimeout(timer);
        this.#listeners.delete(listener);
        signal?.removeEventListener("abort", onAbort);
        resolve(woken);
      };
      const listener = (wakeKey: string | null, closed: boolean) => {
        if (closed) done(false);
        else if (wakeKey === null || wakeKeys.has(wakeKey)) done(true);
      };
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.#listeners.add(listener);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * Epoch ms from which the queue's maintenance has something to do, as far
   * as this broker knows: 0 (now) for a queue never visited or after a loss.
   */
  attentionAt(keys: QueueKeys): number {
    const known = this.#attention.get(keys.scheduled);
    if (!known || this.#lostAt > known.visitedAt) return 0;
    return Math.min(known.next, this.#announced.get(keys.scheduled)?.at ?? Infinity);
  }

  /**
   * A visit sent at `sentSeq` answered that the queue's next due time is
   * `nextDueAt` (null: nothing scheduled or running) and whether a job runs
   * there. Due times announced after it was sent stay.
   */
  visited(keys: QueueKeys, sentSeq: number, nextDueAt: number | null, running: boolean): void {
    const known = this.#attention.get(keys.scheduled);
    this.#attention.set(keys.scheduled, {
      next: nextDueAt ?? Infinity,
      visitedAt: Math.max(known?.visitedAt ?? 0, sentSeq),
      running,
    });
    const announced = this.#announced.get(keys.scheduled);
    if (announced && announced.seq <= sentSeq) this.#announced.delete(keys.scheduled);
  }

  /** This broker took leases in the queue expiring at `expiresAt`: look again then. */
  leased(keys: QueueKeys, expiresAt: number): void {
    this.#running(keys.scheduled, expiresAt);
  }

  /** Some job runs in one of `queues`, as far as this broker knows. */
  anyRunning(queues: readonly QueueKeys[]): boolean {
    return queues.some((keys) => this.#attention.get(keys.scheduled)?.running === true);
  }

  /** Ends the subscription. */
  close(): void {
    const sub = this.#sub;
    this.#sub = null;
    this.#started = null;
    sub?.disconnect();
    this.#notify(null, true);
  }
}
