/**
 * One reader of the cross-process lifecycle stream per process, fanned out to
 * any number of listeners (SSE clients, the API's cluster-wide duration
 * histogram). Without it every dashboard tab would hold its own blocking Redis
 * read.
 *
 * The reader runs only while someone listens: the last unsubscribe stops it
 * after the read in progress returns (at most `blockMs`).
 *
 * @module
 */
import type { StoredEvent } from "./lifecycle.ts";
import { sleep } from "../timing/sleep.ts";

/** Where the feed reads from: the queue's events stream (`Broker.readEvents`). */
export interface EventReader {
  /** Events written after `cursor`, waiting up to `blockMs` for the first. */
  readEvents(cursor: string, blockMs: number, count?: number): Promise<StoredEvent[]>;
}

/** Receives each batch of events in stream order. Must not throw (errors are swallowed). */
export type FeedListener = (events: StoredEvent[]) => void;

/** Options for `EventFeed`. */
export interface EventFeedOptions {
  /** Longest blocking read; also the longest a stop waits. Default 1000 ms. */
  blockMs?: number;
  /** Events per read. Default 200. */
  count?: number;
  /** Wait after a failed read before trying again. Default 1000 ms. */
  retryMs?: number;
  /** Called when a read fails (e.g. Redis down); the feed keeps trying. */
  onError?: (error: unknown) => void;
}

/**
 * Shared, self-stopping stream reader.
 *
 * @example
 * ```ts
 * const feed = new EventFeed(broker);
 * const off = feed.subscribe((events) => console.log(events.length));
 * off(); // the reader stops when nobody listens
 * ```
 */
export class EventFeed {
  readonly #source: EventReader;
  readonly #blockMs: number;
  readonly #count: number;
  readonly #retryMs: number;
  readonly #onError: (error: unknown) => void;
  #listeners = new Set<FeedListener>();
  #loop: Promise<void> | null = null;
  #closed = false;
  #stopWait: AbortController | null = null;

  constructor(source: EventReader, options: EventFeedOptions = {}) {
    this.#source = source;
    this.#blockMs = Math.max(1, options.blockMs ?? 1000);
    this.#count = Math.max(1, options.count ?? 200);
    this.#retryMs = Math.max(1, options.retryMs ?? 1000);
    this.#onError = options.onError ?? (() => {});
  }

  /** How many listeners are attached. */
  get listeners(): number {
    return this.#listeners.size;
  }

  /** True while the reader loop runs. */
  get running(): boolean {
    return this.#loop !== null;
  }

  /** Adds a listener (starting the reader if needed); returns the function that removes it. */
  subscribe(listener: FeedListener): () => void {
    if (this.#closed) return () => {};
    // A wrapper per subscription, so the same function may subscribe twice.
    const entry: FeedListener = (events) => listener(events);
    this.#listeners.add(entry);
    this.#ensureRunning();
    return () => {
      this.#listeners.delete(entry);
      if (this.#listeners.size === 0) this.#stopWait?.abort();
    };
  }

  #ensureRunning(): void {
    if (this.#loop) return;
    this.#loop = this.#run().finally(() => {
      this.#loop = null;
      // Someone subscribed while the old loop was winding down.
      if (this.#listeners.size > 0 && !this.#closed) this.#ensureRunning();
    });
  }

  /** Stops the reader and drops all listeners; waits for the read in progress. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    this.#stopWait?.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    // A time-based id instead of "$": an empty read with "$" followed by another
    // "$" read would miss whatever was appended between the two calls.
    let cursor = `${Date.now()}-0`;
    while (this.#listeners.size > 0 && !this.#closed) {
      let events: StoredEvent[];
      try {
        events = await this.#source.readEvents(cursor, this.#blockMs, this.#count);
      } catch (error) {
        if (this.#closed || this.#listeners.size === 0) return;
        this.#onError(error);
        await this.#sleep(this.#retryMs);
        continue;
      }
      if (events.length === 0) continue;
      cursor = events[events.length - 1].cursor;
      for (const listener of [...this.#listeners]) {
        try {
          listener(events);
        } catch {
          // One broken listener must not starve the others.
        }
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    const ac = new AbortController();
    this.#stopWait = ac;
    return sleep(ms, ac.signal);
  }
}
