/**
 * What a supervisor uses to take back a dead child's leases: a broker on the
 * worker's queues, opened on the first death (a supervisor whose child never
 * dies holds no Redis connection) and kept until `close()`.
 *
 * @module
 */
import { RedisBroker } from "../queue/redis_broker.ts";
import type { QueueSelection } from "../queue/queue_selection.ts";

/** `SuperviseOptions.reapOwner` with its connection's lifetime. */
export interface OwnerReaper {
  reapOwner(owner: string, reason: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * A reaper for the queues `serve` names (default queue `queue`) on `redisUrl`.
 *
 * @example
 * ```ts
 * const reaper = ownerReaper("redis://127.0.0.1:6379", "default");
 * const code = await superviseWorker({ reapOwner: reaper.reapOwner });
 * await reaper.close();
 * ```
 */
export function ownerReaper(
  redisUrl: string,
  queue: string,
  options: { commandTimeoutMs?: number; serve?: QueueSelection } = {},
): OwnerReaper {
  let broker: RedisBroker | null = null;
  return {
    reapOwner(owner, reason) {
      broker ??= new RedisBroker({
        url: redisUrl,
        queue,
        serve: options.serve,
        commandTimeoutMs: options.commandTimeoutMs,
      });
      return broker.reapOwner(owner, reason);
    },
    async close() {
      await broker?.close();
      broker = null;
    },
  };
}
