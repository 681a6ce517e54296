/**
 * A deadline for each of many calls that share one fixed timeout, kept with
 * one `DeadlineTimer` for all of them instead of a timer and three extra
 * promises per call (`withTimeout`). The API puts every broker call behind
 * one, so a dead Redis never hangs a client.
 *
 * @module
 */
import { DeadlineTimer } from "./deadline_timer.ts";
import { TimeoutError } from "./timeout.ts";

/** One call waiting in a `Deadlines` queue. */
interface Waiter {
  /** Epoch ms at which the call times out. */
  at: number;
  settled: boolean;
  reject: (error: Error) => void;
  next: Waiter | null;
}

/**
 * `withTimeout` for many calls sharing one fixed timeout. Calls join a FIFO
 * queue, which is also deadline order (same timeout for all); the one timer
 * is armed for the oldest unsettled call, and is cleared when nothing is in
 * flight, so an idle owner holds no timer. A result that arrives after its
 * call timed out is dropped (a late rejection too: it is never unhandled).
 *
 * @example
 * ```ts
 * const deadlines = new Deadlines(2500);
 * const job = await deadlines.call(broker.get(id)); // TimeoutError after 2.5 s
 * ```
 */
export class Deadlines {
  readonly #ms: number;
  readonly #timeoutError: (ms: number) => Error;
  readonly #timer = new DeadlineTimer(() => this.#expire());
  #head: Waiter | null = null;
  #tail: Waiter | null = null;
  #inFlight = 0;

  /**
   * `ms`: every call's timeout. `timeoutError` makes the rejection of a call
   * that ran out of time; default a `TimeoutError`.
   */
  constructor(ms: number, timeoutError: (ms: number) => Error = (ms) => new TimeoutError(ms)) {
    this.#ms = ms;
    this.#timeoutError = timeoutError;
  }

  /** Awaits `operation`, or rejects with the timeout error once the timeout passes. */
  call<T>(operation: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = { at: Date.now() + this.#ms, settled: false, reject, next: null };
      if (this.#tail) this.#tail.next = waiter;
      else this.#head = waiter;
      this.#tail = waiter;
      // Later calls time out later: only the first one in flight arms the timer.
      if (this.#inFlight++ === 0) this.#timer.arm(waiter.at);
      operation.then(
        (value) => {
          if (this.#settle(waiter)) resolve(value);
        },
        (error) => {
          if (this.#settle(waiter)) reject(error);
        },
      );
    });
  }

  /** Marks `waiter` done; false when its deadline already rejected it. */
  #settle(waiter: Waiter): boolean {
    if (waiter.settled) return false;
    waiter.settled = true;
    if (--this.#inFlight === 0) {
      // Nothing in flight: drop the queue and the timer.
      this.#timer.clear();
      this.#head = this.#tail = null;
    }
    return true;
  }

  /** Rejects every call whose deadline passed, then re-arms for the oldest one left. */
  #expire(): void {
    const now = Date.now();
    let waiter = this.#head;
    while (waiter && (waiter.settled || waiter.at <= now)) {
      if (!waiter.settled) {
        waiter.settled = true;
        this.#inFlight--;
        waiter.reject(this.#timeoutError(this.#ms));
      }
      waiter = waiter.next;
    }
    this.#head = waiter;
    if (!waiter) this.#tail = null;
    else this.#timer.arm(waiter.at);
  }
}
