/**
 * Job ids name their queue, so a job is found, cancelled or retried from its
 * id alone, without an index (which would cost memory per job, and on
 * Cluster could not be written in the enqueue's own slot). A job of the home
 * queue (`GlobalKeys.home`: the first queue the deployment ran, so the one
 * queue of a single-queue release) has a plain UUID, as before queues
 * existed; a job of any other queue has `<queue>:<uuid>`. The id is stored
 * whole, so records, lists and events need no translation.
 *
 * @module
 */
import { isValidQueueName } from "./keys.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a canonical UUID string (any version). */
export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID.test(value);
}

/** A job id taken apart: its queue, and the id in canonical form (lower-case UUID). */
export interface ParsedJobId {
  queue: string;
  id: string;
}

/**
 * The job id for `uuid` in `queue` (`uuid` must be canonical already).
 *
 * @example
 * ```ts
 * jobIdFor("reports", "default", crypto.randomUUID()); // "reports:0b6c…"
 * ```
 */
export function jobIdFor(queue: string, home: string, uuid: string): string {
  return queue === home ? uuid : `${queue}:${uuid}`;
}

/**
 * The queue a job id names, or null for a plain UUID (a job of the home
 * queue). No validation: for ids already checked or handed out.
 */
export function queueInId(id: string): string | null {
  const colon = id.lastIndexOf(":");
  return colon < 0 ? null : id.slice(0, colon);
}

/**
 * The queue and canonical id of `id`, or null when it is not a job id. A
 * plain UUID belongs to the home queue.
 *
 * @example
 * ```ts
 * parseJobId("reports:0B6C…", "default"); // { queue: "reports", id: "reports:0b6c…" }
 * ```
 */
export function parseJobId(id: unknown, home: string): ParsedJobId | null {
  if (typeof id !== "string") return null;
  const colon = id.lastIndexOf(":");
  if (colon < 0) return isUuid(id) ? { queue: home, id: id.toLowerCase() } : null;
  const queue = id.slice(0, colon);
  const uuid = id.slice(colon + 1);
  if (!isValidQueueName(queue) || !isUuid(uuid)) return null;
  return { queue, id: jobIdFor(queue, home, uuid.toLowerCase()) };
}
