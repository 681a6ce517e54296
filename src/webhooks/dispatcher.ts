/**
 * Sends the webhook deliveries the finishing scripts record (`_webhooks.lua`),
 * from any number of processes at once (every worker process runs one).
 *
 * - **Claimed with a lease** (webhook_claim.lua): an attempt belongs to one
 *   dispatcher until its outcome is recorded (webhook_done.lua, fenced by the
 *   claim's token) or the lease runs out, when any dispatcher takes it again:
 *   a dispatcher that dies mid-send loses nothing (at-least-once; receivers
 *   deduplicate by `webhook-id`, the same on every attempt).
 * - **Prompt**: idle, it blocks on every queue's wake list (BLPOP; the
 *   scripts push a marker with each delivery) until the earliest due retry,
 *   at most `IDLE_MS` (a new queue is seen within as long), and claims only
 *   where a marker or a due time says there is work. On Redis Cluster, whose BLPOP cannot span slots, it
 *   polls every `CLUSTER_POLL_MS` instead.
 * - **Bounded**: at most `concurrency` requests in flight, each with a
 *   deadline (`timeoutMs`), its answer's body read at most `MAX_BODY_BYTES`,
 *   and through the outbound guard (private addresses refused unless
 *   `OUTBOUND_ALLOW` allows them; names resolved and checked per attempt;
 *   redirects are not followed: a 3xx is a failed attempt).
 *
 * @module
 */
import { Cluster } from "ioredis";
import { connect, type RedisClient } from "../queue/connect.ts";
import { globalKeys, queueKeys } from "../queue/keys.ts";
import type { QueueScripts, WebhookOutcomeCall } from "../queue/scripts.ts";
import { allSubscriptions, mirrorQueue } from "../queue/webhook_mirror.ts";
import { guardedFetch, type Resolver } from "../jobs/guarded_http.ts";
import { outboundPolicy } from "../jobs/outbound_guard.ts";
import { NonRetryableError } from "../jobs/definition.ts";
import { readBounded } from "../jobs/bounded_read.ts";
import { retryAfterMs } from "../jobs/retry_after.ts";
import { sleep } from "../timing/sleep.ts";
import type { Logger } from "../log.ts";
import { decodeDelivery, type Delivery, deliveryBody, signatureHeaders } from "./delivery.ts";
import { DEFAULT_RETRY_DELAYS_MS, nextDelayMs, retryableStatus } from "./retry.ts";
import { WebhookStore } from "./store.ts";
import { LATENCY_BUCKETS } from "./stats.ts";

export { LATENCY_BUCKETS };

/** Longest idle block before looking again (new queues, lost wake markers). */
export const IDLE_MS = 5000;
/**
 * The same with the process's shared list of queues (`queues` option): a new
 * queue ends the wait as soon as that list shows it (`NEW_QUEUE_CHECK_MS`),
 * so the block can be long and an idle worker stays within its 2 commands a
 * second (the runner's heartbeat and registry beats take ~1.7 of them).
 */
export const SHARED_IDLE_MS = 20_000;
/** How often an idle wait looks at the shared list of queues (in memory: no Redis call). */
const NEW_QUEUE_CHECK_MS = 1000;
/** Poll interval on Cluster. */
export const CLUSTER_POLL_MS = 250;
/** Most bytes of a receiver's answer read (then dropped). */
export const MAX_BODY_BYTES = 4096;
/** How often the subscription mirrors are rebuilt as a backstop (webhook_mirror.ts). */
export const RESYNC_MS = 60_000;
/**
 * How often every queue is looked at, markers or not: a lease another
 * dispatcher took and never ended is found within it after it expires.
 */
export const SWEEP_MS = 60_000;
/** How often the known queues are read again. */
const QUEUES_TTL_MS = IDLE_MS;

/** A dispatcher's settings. */
export interface DispatcherOptions {
  /** Redis URL (its own connections: one for commands, one blocking). */
  url: string;
  prefix?: string;
  log: Logger;
  /** The home queue (plain job ids), e.g. `broker.homeQueue()`. */
  homeQueue: () => Promise<string>;
  /** `WEBHOOK_SECRET`; absent: the deployment's generated one. */
  secret?: string;
  /** Requests in flight at most. Default 16. */
  concurrency?: number;
  /** Per-request deadline. Default 10 s. */
  timeoutMs?: number;
  /** Delays between attempts (attempts = delays + 1). Default `DEFAULT_RETRY_DELAYS_MS`. */
  retryDelaysMs?: readonly number[];
  /** How long given-up deliveries are kept. Default 7 days. */
  keepFailedMs?: number;
  /** Most given-up deliveries kept per queue. Default 10 000. */
  maxFailed?: number;
  /** `OUTBOUND_ALLOW` entries. */
  outboundAllow?: readonly string[];
  /** DNS resolver (tests). */
  resolve?: Resolver;
  commandTimeoutMs?: number;
  clock?: () => number;
  /**
   * The known queues as this process already reads them (e.g. the worker's
   * broker, `RedisBroker.knownQueues`), so the dispatcher reads no list of
   * its own and blocks for `SHARED_IDLE_MS`. Absent: it reads the list every
   * `IDLE_MS` and blocks as long.
   */
  queues?: () => Promise<string[]>;
}

/** The dispatcher loop. */
export class WebhookDispatcher {
  readonly #o: Required<
    Omit<DispatcherOptions, "secret" | "resolve" | "prefix" | "commandTimeoutMs" | "queues">
  >;
  readonly #prefix: string;
  readonly #resolve: Resolver | undefined;
  readonly #sharedQueues: (() => Promise<string[]>) | null;
  readonly #idleMs: number;
  readonly #client: RedisClient;
  readonly #blocking: RedisClient;
  readonly #store: WebhookStore;
  readonly #cluster: boolean;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #stop = new AbortController();
  readonly #owner = crypto.randomUUID().slice(0, 8);
  #claims = 0;
  #queues: { at: number; names: string[] } | null = null;
  /** Per queue, the earliest due delivery the last claim saw (absent: not looked at yet). */
  readonly #nextDue = new Map<string, number>();
  /** Queues with a wake marker (or a full batch) to look at next pass. */
  readonly #woken = new Set<string>();
  #sweepAt = 0;
  #resyncAt = 0;
  #loop: Promise<void> | null = null;
  /** Timers waking this loop for retries due sooner than its idle wait. */
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(options: DispatcherOptions) {
    this.#o = {
      url: options.url,
      log: options.log,
      homeQueue: options.homeQueue,
      concurrency: options.concurrency ?? 16,
      timeoutMs: options.timeoutMs ?? 10_000,
      retryDelaysMs: options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS,
      keepFailedMs: options.keepFailedMs ?? 7 * 24 * 60 * 60 * 1000,
      maxFailed: options.maxFailed ?? 10_000,
      outboundAllow: options.outboundAllow ?? [],
      clock: options.clock ?? Date.now,
    };
    this.#prefix = options.prefix ?? "jq";
    this.#resolve = options.resolve;
    this.#sharedQueues = options.queues ?? null;
    this.#idleMs = this.#sharedQueues ? SHARED_IDLE_MS : IDLE_MS;
    const timeout = options.commandTimeoutMs ?? 3000;
    this.#client = connect(options.url, {
      commandTimeoutMs: timeout,
      connectionName: "jq:webhooks",
    });
    this.#blocking = connect(options.url, { blocking: true, connectionName: "jq:webhooks:block" });
    this.#cluster = this.#client instanceof Cluster;
    this.#store = new WebhookStore({
      client: this.#client,
      prefix: this.#prefix,
      homeQueue: options.homeQueue,
      secret: options.secret,
      clock: this.#o.clock,
    });
  }

  /** Starts the loop (once). */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops claiming, lets the requests in flight end (each within its deadline), disconnects. */
  async stop(): Promise<void> {
    this.#stop.abort();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#blocking.disconnect();
    await this.#loop;
    await Promise.allSettled([...this.#inFlight]);
    this.#client.disconnect();
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      try {
        await this.#pass();
      } catch (error) {
        if (signal.aborted) break;
        this.#o.log.warn("webhook dispatcher: pass failed; retrying", { error });
        await sleep(500, signal).catch(() => {});
      }
    }
  }

  /**
   * One pass: claim in the queues that may have something (woken by a
   * marker, due by what the last claim saw, or not looked at yet), then wait
   * for a marker, the earliest due time or a free slot. Idle, that is one
   * BLPOP per `IDLE_MS` and a read of the known queues as often: nothing is
   * claimed on a timeout before anything is due.
   */
  async #pass(): Promise<void> {
    const queues = await this.#knownQueues();
    await this.#resync(queues);
    const now = this.#o.clock();
    // Now and then every queue: another dispatcher may have claimed there and died since.
    const sweep = now >= this.#sweepAt;
    if (sweep) this.#sweepAt = now + SWEEP_MS;
    const targets = queues.filter((q) =>
      sweep || this.#woken.has(q) || (this.#nextDue.get(q) ?? -Infinity) <= now
    );
    this.#woken.clear();
    let claimed = 0;
    for (const queue of targets) {
      const free = this.#o.concurrency - this.#inFlight.size;
      if (free <= 0) {
        this.#woken.add(queue); // not looked at: look again once a slot frees
        continue;
      }
      // The store shares this dispatcher's connection: one set of scripts per queue.
      const scripts = await this.#store.queueScripts(queue);
      const token = `${this.#owner}.${++this.#claims}`;
      const lease = this.#o.timeoutMs + 5000;
      const r = await scripts.webhookClaim(free, lease, token, this.#o.clock());
      this.#nextDue.set(queue, r.nextDue ?? Infinity);
      // A full batch may leave more: wake another dispatcher to help (and this one's next pass).
      if (r.claimed.length === free) this.#wake(queue);
      for (const c of r.claimed) {
        claimed++;
        const delivery = decodeDelivery(c.id, queue, c.record);
        this.#track(this.#attempt(queue, scripts, c.id, token, delivery));
      }
    }
    if (this.#stop.signal.aborted) return;
    if (this.#inFlight.size >= this.#o.concurrency) {
      await Promise.race(this.#inFlight);
      return;
    }
    if (claimed > 0 || this.#woken.size > 0) return;
    let earliest = this.#sweepAt;
    for (const q of queues) earliest = Math.min(earliest, this.#nextDue.get(q) ?? -Infinity);
    const wait = Math.min(this.#idleMs, Math.max(0, earliest - this.#o.clock()));
    if (wait <= 0) return;
    const woken = await this.#idle(queues, wait);
    if (woken !== null) this.#woken.add(woken);
  }

  /** A wake marker for `queue` (this and every other dispatcher look there). */
  #wake(queue: string): void {
    this.#client.lpush(queueKeys(queue, this.#prefix).webhookWake, "1").catch(() => {});
  }

  #track(work: Promise<void>): void {
    const p = work.catch((error) =>
      this.#o.log.warn("webhook attempt not recorded; it is sent again after its lease", { error })
    ).finally(() => this.#inFlight.delete(p));
    this.#inFlight.add(p);
  }

  /**
   * Waits up to `ms` for a wake marker of any queue; the queue woken, or null.
   * On Cluster (no BLPOP across slots) it sleeps `CLUSTER_POLL_MS` and then
   * looks at every queue.
   */
  async #idle(queues: string[], ms: number): Promise<string | null> {
    if (this.#cluster || queues.length === 0) {
      await sleep(this.#cluster ? Math.min(ms, CLUSTER_POLL_MS) : ms, this.#stop.signal)
        .catch(() => {});
      if (this.#cluster) { for (const q of queues) this.#woken.add(q); }
      return null;
    }
    const keys = new Map(queues.map((q) => [queueKeys(q, this.#prefix).webhookWake, q]));
    const watching = this.#watchNewQueues(queues, keys.keys().next().value!);
    try {
      const popped = await this.#blocking.blpop(...keys.keys(), Math.max(0.01, ms / 1000));
      return popped ? keys.get(popped[0]) ?? null : null;
    } catch (error) {
      if (!this.#stop.signal.aborted) throw error;
      return null;
    } finally {
      clearInterval(watching);
    }
  }

  /**
   * During a long idle wait on `queues`: once the shared list shows a queue
   * not among them, a marker on `wakeKey` (one the wait watches) ends it, so
   * the next pass watches the new queue too.
   */
  #watchNewQueues(
    queues: string[],
    wakeKey: string,
  ): ReturnType<typeof setInterval> | undefined {
    const shared = this.#sharedQueues;
    if (!shared) return undefined;
    const watched = new Set(queues);
    let woke = false;
    return setInterval(() => {
      if (woke) return;
      shared().then((names) => {
        if (woke || !names.some((n) => !watched.has(n))) return;
        woke = true;
        return this.#client.lpush(wakeKey, "1");
      }).catch(() => {});
    }, NEW_QUEUE_CHECK_MS);
  }

  async #knownQueues(): Promise<string[]> {
    if (this.#sharedQueues) return [...await this.#sharedQueues()].sort();
    const now = this.#o.clock();
    if (this.#queues && now - this.#queues.at < QUEUES_TTL_MS) return this.#queues.names;
    const names = await this.#client.hkeys(globalKeys(this.#prefix).queues);
    names.sort();
    this.#queues = { at: now, names };
    return names;
  }

  /** The backstop: every queue's mirror rebuilt from the subscriptions, every `RESYNC_MS`. */
  async #resync(queues: string[]): Promise<void> {
    const now = this.#o.clock();
    if (now < this.#resyncAt) return;
    this.#resyncAt = now + RESYNC_MS;
    const subs = await allSubscriptions(this.#client, this.#prefix);
    for (const queue of queues) await mirrorQueue(this.#client, this.#prefix, queue, subs);
  }

  /** Sends one claimed attempt and records its outcome. */
  async #attempt(
    queue: string,
    scripts: QueueScripts,
    id: string,
    token: string,
    delivery: Delivery | null,
  ): Promise<void> {
    const record = (o: Omit<WebhookOutcomeCall, "keepFailedMs" | "maxFailed" | "buckets">) =>
      scripts.webhookDone({
        ...o,
        keepFailedMs: this.#o.keepFailedMs,
        maxFailed: this.#o.maxFailed,
        buckets: LATENCY_BUCKETS,
      }, this.#o.clock());
    if (!delivery) {
      await record({ delivery: id, token, outcome: "dropped" });
      return;
    }
    let url = delivery.url;
    let secret: string;
    if (delivery.subscription) {
      const sub = await this.#store.subscription(delivery.subscription);
      if (!sub) {
        // Its subscription was deleted: nobody asked for it any more.
        await record({ delivery: id, token, outcome: "dropped" });
        return;
      }
      url = sub.url;
      secret = sub.secret;
    } else {
      secret = await this.#store.secret();
    }
    const result = await this.#send(url, secret, delivery);
    if (result.ok) {
      await record({ delivery: id, token, outcome: "delivered", status: result.status });
      return;
    }
    const delay = result.retry
      ? nextDelayMs(delivery.attempts, this.#o.retryDelaysMs, result.retryAfterMs ?? null)
      : null;
    if (delay === null) {
      this.#o.log.warn("webhook delivery given up", {
        delivery: id,
        attempts: delivery.attempts,
        status: result.status,
        error: result.error,
      });
      await record({
        delivery: id,
        token,
        outcome: "failed",
        error: result.error,
        status: result.status,
      });
      return;
    }
    await record({
      delivery: id,
      token,
      outcome: "retry",
      retryAt: this.#o.clock() + delay,
      error: result.error,
      status: result.status,
    });
    this.#nextDue.set(
      queue,
      Math.min(this.#nextDue.get(queue) ?? Infinity, this.#o.clock() + delay),
    );
    if (delay < this.#idleMs) this.#wakeIn(queue, delay);
  }

  /**
   * A retry due sooner than an idle wait lasts: a wake marker for its queue
   * then, so the loop (maybe blocked already) takes it on time.
   */
  #wakeIn(queue: string, ms: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#stop.signal.aborted) this.#wake(queue);
    }, ms);
    this.#timers.add(timer);
  }

  /** One HTTP attempt. */
  async #send(url: string, secret: string, delivery: Delivery): Promise<SendResult> {
    const body = deliveryBody(delivery);
    const headers = new Headers({
      ...signatureHeaders(secret, delivery.id, body, new Date(this.#o.clock())),
      "content-type": "application/json",
      "user-agent": "jobqueue-webhooks/1",
    });
    // A timer of our own (cleared), not AbortSignal.timeout: nothing outlives the attempt.
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new Error("webhook request timed out")),
      this.#o.timeoutMs,
    );
    let response: Response;
    try {
      response = await guardedFetch(url, {
        policy: outboundPolicy([...this.#o.outboundAllow]),
        method: "POST",
        headers,
        body,
        signal: deadline.signal,
        maxRedirects: 0,
        resolve: this.#resolve,
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // A refused address or a redirect will not change by waiting; a network error may.
      clearTimeout(timer);
      return { ok: false, retry: !(error instanceof NonRetryableError), status: 0, error: message };
    }
    await readBounded(response.body, MAX_BODY_BYTES).catch(() => {});
    clearTimeout(timer);
    const status = response.status;
    if (status >= 200 && status < 300) return { ok: true, status };
    return {
      ok: false,
      retry: retryableStatus(status),
      status,
      error: `HTTP ${status}`,
      retryAfterMs: retryAfterMs(response.headers.get("retry-after"), this.#o.clock()),
    };
  }
}

type SendResult =
  | { ok: true; status: number }
  | { ok: false; retry: boolean; status: number; error: string; retryAfterMs?: number | null };
