/**
 * Coalescing concurrent single submits into one broker call per event-loop
 * turn, without delaying a submit that arrives alone.
 *
 * @module
 */
import { setImmediate } from "node:timers";

/**
 * Lines up concurrent single submits so the broker can coalesce them. The
 * broker joins the enqueues issued in one microtask turn into one script
 * call, but HTTP requests reach their enqueue at scattered points of the
 * event loop, so without help each pays its own call. While other submits
 * are in flight, a submit waits for the end of the current event-loop turn
 * (`setImmediate`), where everything that arrived in that turn is handed to
 * the broker together. An idle server (nothing in flight) goes straight
 * through, adding no latency. Each job still succeeds or fails on its own.
 *
 * @example
 * ```ts
 * const gate = new SubmitGate();
 * const result = await gate.run(() => broker.enqueue(input));
 * ```
 */
export class SubmitGate {
  #inFlight = 0;
  #turn: Promise<void> | null = null;
  readonly #open = () => {
    this.#turn = null;
  };

  /** Runs `submit` now when nothing is in flight, else at the end of this event-loop turn. */
  async run<T>(submit: () => Promise<T>): Promise<T> {
    if (this.#inFlight > 0) {
      await (this.#turn ??= new Promise<void>((resolve) => setImmediate(resolve)).then(this.#open));
    }
    this.#inFlight++;
    try {
      return await submit();
    } finally {
      this.#inFlight--;
    }
  }
}
