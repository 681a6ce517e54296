/**
 * A small pool of dedicated connections for blocking commands (BLPOP, XREAD
 * BLOCK). A blocked connection can do nothing else, so each concurrent wait
 * gets its own. An aborted (or overdue) wait is ended on the server with
 * `CLIENT UNBLOCK` sent from the main connection: merely dropping the socket
 * can leave a zombie BLPOP on the server that would swallow the next wake
 * marker. On Cluster, where that is not possible, an aborted wait is left to
 * time out by itself and any marker it pops is handed back. The connection
 * is reused once its command returns.
 *
 * @module
 */
import { Cluster } from "ioredis";
import { duplicate, type RedisClient } from "./connect.ts";

/** Extra time past a command's own block time before we give up on the connection. */
const GUARD_MS = 2000;

/** Outcome of a blocking call. */
export type BlockingResult<T> =
  | { kind: "reply"; value: T }
  | { kind: "aborted" }
  | { kind: "error"; error: unknown };

interface Conn {
  client: RedisClient;
  /** CLIENT ID on the server, for CLIENT UNBLOCK; null on Cluster (node unknown). */
  id: number | null;
}

/** Pool of blocking connections duplicated from one client. */
export class BlockingPool {
  readonly #source: RedisClient;
  readonly #name: string;
  #idle: Conn[] = [];
  #busy = new Set<Conn>();
  #closed = false;

  constructor(source: RedisClient, name: string) {
    this.#source = source;
    this.#name = name;
  }

  async #take(): Promise<Conn> {
    const idle = this.#idle.pop();
    if (idle) return idle;
    const client = duplicate(this.#source, { blocking: true, connectionName: this.#name });
    let id: number | null = null;
    if (!(client instanceof Cluster)) {
      try {
        id = Number(await client.client("ID"));
      } catch {
        id = null;
      }
    }
    return { client, id };
  }

  /** Ends a pending block server-side; false when that isn't possible. */
  async #unblock(conn: Conn): Promise<boolean> {
    if (conn.id === null) return false;
    try {
      await this.#source.call("CLIENT", "UNBLOCK", String(conn.id));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Runs `command` on a dedicated connection. Resolves with the reply, or
   * `aborted` when `signal` fires or the reply is `blockMs + GUARD_MS` late.
   * A reply that raced the abort is handed to `onLateReply` (e.g. to put back
   * a wake marker nobody will act on).
   */
  async run<T>(
    command: (client: RedisClient) => Promise<T>,
    blockMs: number,
    signal?: AbortSignal,
    onLateReply?: (value: T) => void,
  ): Promise<BlockingResult<T>> {
    if (this.#closed || signal?.aborted) return { kind: "aborted" };
    const conn = await this.#take();
    if (this.#closed) {
      conn.client.disconnect();
      return { kind: "aborted" };
    }
    this.#busy.add(conn);
    return await new Promise((resolve) => {
      let settled = false;
      let aborted = false;
      const settle = (result: BlockingResult<T>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        resolve(result);
      };
      const onAbort = () => {
        aborted = true;
        settle({ kind: "aborted" });
        // Where the block cannot be ended server-side (Cluster: the node's
        // client id is unknown), leave the command to time out by itself: its
        // late reply, if any, reaches onLateReply. Dropping the socket instead
        // could let the server pop a marker into a connection nobody reads.
        void this.#unblock(conn);
      };
      const onOverdue = () => {
        // No reply long past the block time: the connection is dead.
        onAbort();
        this.#discard(conn);
      };
      const timer = setTimeout(onOverdue, blockMs + GUARD_MS);
      signal?.addEventListener("abort", onAbort, { once: true });
      command(conn.client).then(
        (value) => {
          this.#busy.delete(conn);
          if (this.#closed) conn.client.disconnect();
          else this.#idle.push(conn);
          if (aborted) onLateReply?.(value);
          settle(aborted ? { kind: "aborted" } : { kind: "reply", value });
        },
        (error) => {
          this.#discard(conn);
          settle({ kind: "error", error });
        },
      );
    });
  }

  #discard(conn: Conn): void {
    this.#busy.delete(conn);
    this.#idle = this.#idle.filter((c) => c !== conn);
    conn.client.disconnect();
  }

  /** Closes every connection, unblocking ones that are blocked right now. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#busy].map((conn) => this.#unblock(conn)));
    for (const conn of [...this.#busy, ...this.#idle]) conn.client.disconnect();
    this.#busy.clear();
    this.#idle = [];
  }
}
