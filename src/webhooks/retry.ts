/**
 * When a webhook attempt is tried again: a receiver that is down (network
 * error, timeout), overloaded (5xx, 408, 429) gets the next attempt after a
 * growing delay; any other answer (2xx aside) is final.
 *
 * @module
 */

/**
 * The default delays between attempts: 8 attempts over about an hour
 * (5 s, 30 s, 2 min, 5 min, 10 min, 15 min, 30 min), each ±10 % jitter.
 */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [
  5_000,
  30_000,
  120_000,
  300_000,
  600_000,
  900_000,
  1_800_000,
];

/** The longest `Retry-After` honoured: a receiver cannot park a delivery for days. */
export const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

/** True when an HTTP status means "try again later". */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * The delay before attempt `attempts + 1`, or null when `attempts` used them
 * all (then the delivery is given up). `retryAfterMs`: what the receiver
 * asked, honoured up to `MAX_RETRY_AFTER_MS` when longer than the schedule's.
 */
export function nextDelayMs(
  attempts: number,
  delays: readonly number[],
  retryAfterMs: number | null,
  random: () => number = Math.random,
): number | null {
  if (attempts < 1 || attempts > delays.length) return null;
  const planned = delays[attempts - 1] * (0.9 + 0.2 * random());
  const asked = retryAfterMs === null ? 0 : Math.min(retryAfterMs, MAX_RETRY_AFTER_MS);
  return Math.round(Math.max(planned, asked));
}
