/**
 * Logs a failing background operation once per outage, not once per retry:
 * while Redis is down the claim loop retries every second, and an operator
 * needs one error line when it starts failing and one when it recovers.
 *
 * @module
 */
import type { Logger } from "../log.ts";

/**
 * Tracks which operations are currently failing.
 *
 * @example
 * ```ts
 * const outages = new OutageLog(log);
 * try { await broker.claim(10); outages.ok("claim"); } catch (e) { outages.failed("claim", e); }
 * ```
 */
export class OutageLog {
  readonly #log: Logger;
  readonly #failures = new Map<string, number>();

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Records a failure of `operation`; only the first of a streak is logged. */
  failed(operation: string, error: unknown, fields: Record<string, unknown> = {}): void {
    const count = this.#failures.get(operation) ?? 0;
    this.#failures.set(operation, count + 1);
    if (count === 0) {
      this.#log.error(`${operation} failed; retrying quietly until it recovers`, {
        ...fields,
        error,
      });
    }
  }

  /** Records a success; logs the recovery when `operation` was failing. */
  ok(operation: string): void {
    const count = this.#failures.get(operation);
    if (count === undefined) return;
    this.#failures.delete(operation);
    this.#log.info(`${operation} recovered`, { failures: count });
  }
}
