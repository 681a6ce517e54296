/**
 * `GET /api/v1/events`: Server-Sent Events for the dashboard. Every client gets
 * a `stats` event about once a second and a `job` event per lifecycle event of
 * the cross-process stream, in the typed form of `src/events/lifecycle.ts`. One stats poller and one stream reader serve every
 * client of the process (`EventFeed`); both stop when the last client leaves.
 * A client whose key is confined to a tenant gets that tenant's stats and
 * the events of its queues' jobs only.
 *
 * Wire format:
 *
 * ```text
 * event: stats
 * data: {"pending":1,"running":0,...,"by_type":{...}}
 *
 * id: 1700000000000-0
 * event: job
 * data: {"kind":"completed","job_id":"…","type":"email","at":1700000000000,"attempt":1,"duration_ms":12}
 * ```
 *
 * `GET /api/v1/events?batch=1` (what the dashboard asks for) sends instead
 * one message per `batchMs` (default 1 s), however many jobs move: `event:
 * batch`, data `{"stats": {...} | null, "jobs": [<job events>], "dropped":
 * n}` (`id`: the last job event's stream id). At 10,000 jobs/s a tab gets
 * one message a second, not one per event; `dropped` counts the events past
 * `maxQueuedEvents` left out since the last one.
 *
 * @module
 */
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { Broker } from "../queue/broker.ts";
import type { Stats } from "../queue/job.ts";
import type { StoredEvent } from "../events/lifecycle.ts";
import { EventFeed } from "../events/feed.ts";
import { visibleTo } from "../tenants/names.ts";
import { queueInId } from "../queue/job_id.ts";
// The `principal` context variable is declared there (checked alone, this file needs it).
import type {} from "./auth/guard.ts";

/** Options for `eventsRoutes`. */
export interface EventsRoutesOptions {
  /** Simultaneous SSE clients per process; more get 503. Default 100. */
  maxClients?: number;
  /** Stats push interval. Default 1000 ms. */
  statsIntervalMs?: number;
  /** A shared feed (e.g. the metrics' one); default: a new one for these routes. */
  feed?: EventFeed;
  /** Lifecycle events buffered per client before the oldest are dropped. Default 1000. */
  maxQueuedEvents?: number;
  /** A `?batch=1` client's one message per this many ms. Default 1000. */
  batchMs?: number;
  /**
   * Asked about once a second while a client is connected: false ends its
   * stream (its API key was revoked since it connected). Default: always true.
   */
  stillAuthorized?: (request: Request) => boolean | Promise<boolean>;
}

type Message = { event: "stats"; data: Stats } | { event: "job"; data: StoredEvent };

/** One connected client's mailbox: the shared pollers push, the client's stream drains. */
class Mailbox {
  #queue: Message[] = [];
  #wake: (() => void) | null = null;
  #closed = false;
  #latestStats: Stats | null = null;
  dropped = 0;

  constructor(readonly max: number) {}

  pushStats(stats: Stats): void {
    // Only the newest stats matter: a slow client skips stale ones.
    this.#latestStats = stats;
    this.#notify();
  }

  pushEvents(events: StoredEvent[]): void {
    for (const data of events) this.#queue.push({ event: "job", data });
    if (this.#queue.length > this.max) {
      this.dropped += this.#queue.length - this.max;
      this.#queue.splice(0, this.#queue.length - this.max);
    }
    this.#notify();
  }

  close(): void {
    this.#closed = true;
    this.#notify();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves with pending messages, or [] once closed. */
  async take(): Promise<Message[]> {
    while (!this.#closed && this.#queue.length === 0 && !this.#latestStats) {
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    if (this.#closed) return [];
    const out: Message[] = [];
    if (this.#latestStats) out.push({ event: "stats", data: this.#latestStats });
    this.#latestStats = null;
    out.push(...this.#queue);
    this.#queue = [];
    return out;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

/**
 * A multi-queue cursor (`<time>|<queue>=<entry>|…`) with only `tenant`'s
 * queues left in it: the positions of the others would name their queues.
 */
function ownCursor(cursor: string, tenant: string): string {
  const [head, ...parts] = cursor.split("|");
  const own = parts.filter((p) => visibleTo(tenant, p.slice(0, p.lastIndexOf("="))));
  return [head, ...own].join("|");
}

/** Polls `broker.stats()` while at least one client listens: once per tenant listening. */
class StatsTicker {
  #clients = new Map<Mailbox, string | null>();
  #timer: ReturnType<typeof setInterval> | null = null;
  #inFlight = false;

  constructor(readonly broker: Broker, readonly intervalMs: number) {}

  add(mailbox: Mailbox, tenant: string | null): void {
    this.#clients.set(mailbox, tenant);
    if (this.#timer === null) {
      this.#tick();
      this.#timer = setInterval(() => this.#tick(), this.intervalMs);
    }
  }

  remove(mailbox: Mailbox): void {
    this.#clients.delete(mailbox);
    if (this.#clients.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }

  async #tick(): Promise<void> {
    if (this.#inFlight) return; // Redis is slow: don't pile up stats calls
    this.#inFlight = true;
    try {
      const tenants = new Set(this.#clients.values());
      const views = new Map(
        await Promise.all([...tenants].map(async (tenant) =>
          [
            tenant,
            await (tenant === null
              ? this.broker.stats()
              : this.broker.stats(undefined, (name) => visibleTo(tenant, name))),
          ] as const
        )),
      );
      for (const [client, tenant] of this.#clients) client.pushStats(views.get(tenant)!);
    } catch {
      // Redis unavailable: clients keep their last numbers; next tick retries.
    } finally {
      this.#inFlight = false;
    }
  }
}

/** One `batch` message of everything `messages` holds (see the module doc). */
async function writeBatch(
  stream: { writeSSE: (m: { event: string; id?: string; data: string }) => Promise<void> },
  messages: Message[],
  mailbox: Mailbox,
  tenant: string | null,
): Promise<void> {
  let stats: Stats | null = null;
  const jobs: StoredEvent[] = [];
  for (const m of messages) {
    if (m.event === "stats") stats = m.data;
    else jobs.push(m.data);
  }
  const last = jobs.at(-1)?.cursor;
  const dropped = mailbox.dropped;
  mailbox.dropped = 0;
  await stream.writeSSE({
    event: "batch",
    id: last === undefined ? undefined : tenant === null ? last : ownCursor(last, tenant),
    data: JSON.stringify({ stats, jobs: jobs.map((j) => j.event), dropped }),
  });
}

/**
 * The SSE routes. Mount at the app root: `app.route("/", eventsRoutes(broker))`.
 *
 * @example
 * ```ts
 * const app = new Hono();
 * app.route("/", eventsRoutes(broker, { maxClients: 50 }));
 * ```
 */
export function eventsRoutes(broker: Broker, options: EventsRoutesOptions = {}): Hono {
  const maxClients = options.maxClients ?? 100;
  const maxQueued = options.maxQueuedEvents ?? 1000;
  const feed = options.feed ?? new EventFeed(broker, { blockMs: 1000 });
  const ticker = new StatsTicker(broker, options.statsIntervalMs ?? 1000);
  const stillAuthorized = options.stillAuthorized;
  const batchMs = options.batchMs ?? 1000;
  let clients = 0;

  const app = new Hono();
  app.get("/api/v1/events", (c) => {
    if (clients >= maxClients) {
      c.header("retry-after", "5");
      return c.json({
        error: {
          code: "too_many_clients",
          message: `at most ${maxClients} event stream clients per process; poll /api/v1/stats`,
        },
      }, 503);
    }
    clients++;
    const mailbox = new Mailbox(maxQueued);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      clients--;
      mailbox.close();
      unsubscribe();
      ticker.remove(mailbox);
    };
    const tenant = c.get("principal")?.tenant ?? null;
    const batched = c.req.query("batch") === "1";
    // A tenant's stream carries its own queues' jobs only (a plain UUID is a home-queue job).
    const home = tenant === null ? null : broker.homeQueue().catch(() => null);
    let homeName: string | null = null;
    home?.then((name) => (homeName = name));
    const visible = (e: StoredEvent) => {
      const queue = queueInId(e.event.job_id) ?? homeName;
      return queue !== null && visibleTo(tenant, queue);
    };
    const unsubscribe = feed.subscribe((events) =>
      mailbox.pushEvents(tenant === null ? events : events.filter(visible))
    );
    ticker.add(mailbox, tenant);

    c.header("cache-control", "no-cache, no-transform");
    c.header("x-accel-buffering", "no"); // nginx: don't buffer the stream
    return streamSSE(c, async (stream) => {
      // A client that goes away cancels the body stream: hono reports it here.
      stream.onAbort(release);
      try {
        // Tell EventSource how soon to reconnect after a drop.
        await stream.write("retry: 2000\n\n");
        let checkedAt = Date.now();
        while (!mailbox.closed && !stream.aborted && !stream.closed) {
          const messages = await mailbox.take();
          if (stillAuthorized && Date.now() - checkedAt >= 1000) {
            checkedAt = Date.now();
            if (!(await Promise.resolve(stillAuthorized(c.req.raw)).catch(() => true))) break;
          }
          if (batched) {
            await writeBatch(stream, messages, mailbox, tenant);
            // The next message waits out the interval; the mailbox gathers meanwhile.
            await new Promise((r) => setTimeout(r, batchMs));
            continue;
          }
          for (const m of messages) {
            if (m.event === "job") {
              await stream.writeSSE({
                event: "job",
                id: tenant === null ? m.data.cursor : ownCursor(m.data.cursor, tenant),
                data: JSON.stringify(m.data.event),
              });
            } else {
              await stream.writeSSE({ event: "stats", data: JSON.stringify(m.data) });
            }
          }
        }
      } finally {
        release();
      }
    }, () => {
      release();
      return Promise.resolve();
    });
  });
  return app;
}
