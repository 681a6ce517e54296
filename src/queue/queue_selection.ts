/**
 * Which queues a worker serves and in what order it claims from them
 * (`WORKER_QUEUES`, `WORKER_QUEUE_ORDER`). Weighted: each claim tries the
 * queues in a fresh random order where a queue comes first with probability
 * proportional to its weight (asynq's and Sidekiq's rule), so over saturated
 * queues a weight-6 queue gets ~6/10 of claims next to weights 3 and 1, and an
 * empty queue costs the others nothing. Strict: the listed order, so a lower
 * queue is served only while every higher one is empty (or paused).
 *
 * @module
 */
import { isValidQueueName, QUEUE_NAME_RULE } from "./keys.ts";

/** One served queue and its weight. */
export interface WeightedQueue {
  name: string;
  weight: number;
}

/** What a worker serves. */
export interface QueueSelection {
  /** The queues, or "all": every known queue with weight 1 (new ones join within seconds). */
  queues: WeightedQueue[] | "all";
  order: "weighted" | "strict";
}

/** Every known queue, equal weights. */
export const ALL_QUEUES: QueueSelection = { queues: "all", order: "weighted" };

/** The selection `WORKER_QUEUES`/`WORKER_QUEUE_ORDER` describe (unset queues: every known one). */
export function selectionOf(
  queues: WeightedQueue[] | undefined,
  order: QueueSelection["order"],
): QueueSelection {
  return { queues: queues ?? "all", order };
}

/** A short description for logs and metric labels: `*`, or the names. */
export function describeSelection(selection: QueueSelection): string {
  return selection.queues === "all" ? "*" : selection.queues.map((q) => q.name).join(",");
}

/** Highest weight one queue may have. */
export const MAX_WEIGHT = 1000;

/**
 * Parses `critical:6,default:3,low:1` (a weight defaults to 1). Throws an
 * Error naming the bad entry.
 *
 * @example
 * ```ts
 * parseQueueList("critical:6,low"); // [{name: "critical", weight: 6}, {name: "low", weight: 1}]
 * ```
 */
export function parseQueueList(text: string): WeightedQueue[] {
  const out: WeightedQueue[] = [];
  const seen = new Set<string>();
  for (const raw of text.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const colon = entry.lastIndexOf(":");
    const name = colon < 0 ? entry : entry.slice(0, colon);
    const weightText = colon < 0 ? "1" : entry.slice(colon + 1);
    if (!isValidQueueName(name)) {
      throw new Error(
        `entry ${JSON.stringify(entry)}: ${QUEUE_NAME_RULE}`,
      );
    }
    const weight = Number(weightText);
    if (!/^\d+$/.test(weightText) || weight < 1 || weight > MAX_WEIGHT) {
      throw new Error(
        `entry ${JSON.stringify(entry)}: the weight must be an integer in [1, ${MAX_WEIGHT}]`,
      );
    }
    if (seen.has(name)) throw new Error(`entry ${JSON.stringify(entry)}: ${name} is listed twice`);
    seen.add(name);
    out.push({ name, weight });
  }
  if (out.length === 0) throw new Error("no queue listed");
  return out;
}

/**
 * The order one claim tries `queues` in: as listed (strict), or a weighted
 * random permutation (each next queue drawn with probability proportional to
 * its weight among those left).
 */
export function claimOrder(
  queues: readonly WeightedQueue[],
  order: QueueSelection["order"],
  random: () => number = Math.random,
): string[] {
  if (order === "strict" || queues.length <= 1) return queues.map((q) => q.name);
  const left = [...queues];
  let total = left.reduce((sum, q) => sum + q.weight, 0);
  const out: string[] = [];
  while (left.length > 0) {
    let r = random() * total;
    let i = 0;
    while (i < left.length - 1 && r >= left[i].weight) r -= left[i++].weight;
    const [picked] = left.splice(i, 1);
    total -= picked.weight;
    out.push(picked.name);
  }
  return out;
}
