/**
 * A cap on the request-body bytes one API isolate holds at once. Each body is
 * already limited on its own (`MAX_BODY_BYTES`, 16 MiB for a batch), but
 * nothing bounded how many arrive together: a burst of large submits, or
 * clients trickling big bodies over slow links, would grow the heap without
 * limit. Bytes are charged as they arrive, never from the declared
 * Content-Length (a client declaring 1 MiB and stalling after one byte holds
 * one byte; its slowness is `body_deadline.ts`'s business). Past the budget
 * a submit is refused at once with 503 `overloaded` and `Retry-After`, the
 * rest of its body dropped unread, and nothing is stored.
 *
 * @module
 */
import type { BodyDeadlines } from "./body_deadline.ts";
import { HttpError } from "./errors.ts";

/** Seconds a refused client is asked to wait before retrying. */
export const OVERLOAD_RETRY_AFTER_S = 1;

/**
 * The shared budget of one isolate.
 *
 * @example
 * ```ts
 * const budget = new BodyBudget(256 * 1024 * 1024);
 * using ticket = budget.ticket(); // released at the end of the scope
 * ticket.take(1024); // throws HttpError 503 past the budget
 * ```
 */
export class BodyBudget {
  #inUse = 0;

  /**
   * @param limitBytes bytes held at once, by every request together
   * @param deadlines the pace each body read with one of its tickets must keep
   */
  constructor(readonly limitBytes: number, readonly deadlines?: BodyDeadlines) {
    if (!(limitBytes > 0)) throw new RangeError("body budget must be positive");
  }

  /** Bytes currently held by requests in flight. */
  get inUse(): number {
    return this.#inUse;
  }

  /** A ticket for one request; release it when the request is answered. */
  ticket(): BodyTicket {
    return new BodyTicket((n) => this.#take(n), (n) => this.#give(n), this.deadlines);
  }

  #take(n: number): boolean {
    if (this.#inUse + n > this.limitBytes) return false;
    this.#inUse += n;
    return true;
  }

  #give(n: number): void {
    this.#inUse -= n;
  }
}

/**
 * One request's share of a `BodyBudget`; `release` is idempotent, and a
 * `using` declaration releases it when the handler's scope ends.
 */
export class BodyTicket {
  readonly #tryTake: (n: number) => boolean;
  readonly #give: (n: number) => void;
  #held = 0;
  #released = false;

  constructor(
    tryTake: (n: number) => boolean,
    give: (n: number) => void,
    /** The pace the body read with this ticket must keep (the budget's). */
    readonly deadlines?: BodyDeadlines,
  ) {
    this.#tryTake = tryTake;
    this.#give = give;
  }

  /** Reserves `n` more bytes for this request, or throws 503 `overloaded`. */
  take(n: number): void {
    if (this.#released || n <= 0) return;
    if (!this.#tryTake(n)) {
      throw new HttpError(
        503,
        "overloaded",
        "the server holds too many request bodies right now; retry shortly",
        { retry_after_s: OVERLOAD_RETRY_AFTER_S },
        { "Retry-After": String(OVERLOAD_RETRY_AFTER_S) },
      );
    }
    this.#held += n;
  }

  /** Gives every reserved byte back. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#give(this.#held);
    this.#held = 0;
  }

  [Symbol.dispose](): void {
    this.release();
  }
}
