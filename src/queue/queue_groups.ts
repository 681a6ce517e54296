/**
 * How the queues one call serves are grouped. A Lua script may only touch
 * keys of one Cluster slot, and one BLPOP may only wait on keys of one slot;
 * standalone Redis has no slots, so there every queue is in one group and a
 * worker serving 20 queues still makes one claim, one wait and one
 * maintenance call. On Cluster each queue (its own hash tag) is a group.
 *
 * The group also names the owners ZSET its scripts read heartbeats from: the
 * deployment's (`GlobalKeys.owners`) on standalone, so one heartbeat a second
 * covers every queue. On Cluster a queue's scripts are given the queue's own
 * name for it, in their slot, and never read it (see `cluster_signals.ts`).
 *
 * @module
 */
import type { QueueKeys } from "./keys.ts";

/** Queues one script call (or one blocking wait) can serve together. */
export interface QueueGroup {
  /** The owners ZSET the group's claims and maintenance read. */
  ownersKey: string;
  /** The queues' keys, in claim order. */
  queues: QueueKeys[];
}

/**
 * Groups `queues` (in claim order) for one call: all together on standalone,
 * one per queue on Cluster. Each group keeps the order its queues came in,
 * and groups come in the order of their first queue.
 */
export function groupQueues(queues: readonly QueueKeys[], cluster: boolean): QueueGroup[] {
  if (queues.length === 0) return [];
  if (!cluster) return [{ ownersKey: queues[0].owners, queues: [...queues] }];
  return queues.map((keys) => ({ ownersKey: keys.owners, queues: [keys] }));
}
