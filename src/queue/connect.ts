/**
 * Redis connections for the queue core. Every client fails fast when Redis is
 * down (bounded connect and command timeouts, one retry per request) so callers
 * get an error instead of hanging, yet reconnects forever in the background so
 * a process recovers by itself when Redis comes back. The error says what the
 * caller may conclude: `QueueUnavailableError` when the call certainly did not
 * run, `OutcomeUnknownError` when a write was sent and its answer never came
 * (`toWriteError`).
 *
 * @module
 */
import { Cluster, Redis, type RedisOptions } from "ioredis";
import { OutcomeUnknownError, QueueError, QueueUnavailableError, writeRefusal } from "./errors.ts";

/** A standalone or cluster client; both speak the same commands. */
export type RedisClient = Redis | Cluster;

/** Connection options. */
export interface ConnectOptions {
  /** Per-command deadline. Default 3000 ms. Not applied to `blocking` clients. */
  commandTimeoutMs?: number;
  /** TCP connect deadline. Default 3000 ms. */
  connectTimeoutMs?: number;
  /**
   * A client for blocking commands (BLPOP, XREAD BLOCK, SUBSCRIBE): no command
   * timeout, because a block legitimately outlasts it; callers bound it themselves.
   */
  blocking?: boolean;
  /** Shown in CLIENT LIST; helps when debugging who holds which connection. */
  connectionName?: string;
  /**
   * Commands sent at once instead of through ioredis' auto-pipelining, which
   * otherwise joins the commands of one tick into one write (many concurrent
   * readers share syscalls). The queue's scripts are batched by their callers
   * already (coalesced enqueues, one claim or ack per batch): a pipeline around
   * each call only costs (measured without it: 6–15 % more HTTP submits per
   * second with two API isolates, ~4 µs less worker CPU per job).
   */
  notAutoPipelined?: readonly string[];
}

/** Reconnect delay: quick first retries, then every 2 s, forever. */
function retryStrategy(times: number): number {
  return Math.min(50 * 2 ** Math.min(times, 6), 2000);
}

/**
 * ioredis options shared by standalone and cluster nodes.
 *
 * Non-blocking clients run without ioredis' offline queue and never resend
 * unanswered commands after a reconnect: a command the caller already gave up
 * on must not run later behind its back: a replayed enqueue stores a job
 * whose submitter was told it was refused (503 `unavailable`), a replayed
 * claim leases jobs to nobody until the lease expires. Callers wait for the
 * connection instead (`whenReady`). This is also what makes "not sent"
 * certain (`toWriteError`): without an offline queue, a command ioredis does
 * not write at once is refused and gone.
 */
export function redisOptions(options: ConnectOptions = {}): RedisOptions {
  return {
    enableOfflineQueue: !!options.blocking,
    autoResendUnfulfilledCommands: !!options.blocking,
    connectTimeout: options.connectTimeoutMs ?? 3000,
    commandTimeout: options.blocking ? undefined : options.commandTimeoutMs ?? 3000,
    // One retry per request: a down Redis surfaces as an error in seconds.
    maxRetriesPerRequest: 1,
    retryStrategy,
    enableReadyCheck: true,
    // Commands issued in the same tick leave in one write: many concurrent
    // readers (API requests) share syscalls and round trips. Scripts listed
    // in `notAutoPipelined` are batched by their callers instead.
    enableAutoPipelining: !options.blocking,
    autoPipeliningIgnoredCommands: [...(options.notAutoPipelined ?? [])],
    connectionName: options.connectionName,
  };
}

/**
 * Parses a cluster URL (`redis-cluster://h:p,h:p`) or a comma list of
 * `host:port` / `redis://host:port` entries into seed nodes; null for a
 * single-node URL.
 */
export function clusterNodes(url: string): Array<{ host: string; port: number }> | null {
  const isCluster = url.startsWith("redis-cluster://");
  const body = isCluster ? url.slice("redis-cluster://".length) : url;
  if (!isCluster && !body.includes(",")) return null;
  return body.split(",").map((part) => {
    const hostPort = part.trim().replace(/^rediss?:\/\//, "").replace(/\/.*$/, "")
      .replace(/^.*@/, "");
    const idx = hostPort.lastIndexOf(":");
    const host = idx > 0 ? hostPort.slice(0, idx) : hostPort;
    const port = idx > 0 ? Number(hostPort.slice(idx + 1)) : 6379;
    return { host, port };
  });
}

/**
 * Creates a client for `url`: `redis://...` for one server,
 * `redis-cluster://host:port,host:port` (or any comma list) for a Cluster.
 *
 * @example
 * ```ts
 * const client = connect("redis://127.0.0.1:6379", { commandTimeoutMs: 2000 });
 * ```
 */
export function connect(url: string, options: ConnectOptions = {}): RedisClient {
  const nodes = clusterNodes(url);
  const opts = redisOptions(options);
  if (nodes) {
    const cluster = new Cluster(nodes, {
      redisOptions: clusterNodeOptions(opts),
      clusterRetryStrategy: retryStrategy,
      enableReadyCheck: true,
    });
    cluster.on("error", () => {});
    return cluster;
  }
  const client = new Redis(url, opts);
  // Without a listener ioredis prints every reconnect error; callers see errors on commands.
  client.on("error", () => {});
  return client;
}

/**
 * Node options inside a Cluster keep the offline queue: the Cluster opens node
 * connections lazily, on their first command, which would otherwise fail.
 * Unanswered commands are still never resent, and a command that timed out
 * while its node was down does not run when the node comes back
 * (test/queue/cluster_outage_test.ts).
 */
function clusterNodeOptions(opts: RedisOptions): RedisOptions {
  return { ...opts, enableOfflineQueue: true };
}

/** Longest wait for a (re)connection before a command is sent anyway (and fails fast). */
export const READY_WAIT_MS = 1000;

/**
 * Each client's pending wait for its next "ready" (or "end"), shared by every
 * caller of `whenReady` meanwhile: one listener per client however many
 * commands wait, instead of one per command (which passed ioredis' listener
 * limit during an outage and printed MaxListenersExceededWarning).
 */
const readiness = new WeakMap<RedisClient, Promise<void>>();

function nextReady(client: RedisClient): Promise<void> {
  let wait = readiness.get(client);
  if (!wait) {
    wait = new Promise<void>((resolve) => {
      const done = () => {
        client.off("ready", done);
        client.off("end", done);
        readiness.delete(client);
        resolve();
      };
      client.on("ready", done);
      // A client that gave up for good never becomes ready: release the waiters.
      client.on("end", done);
    });
    readiness.set(client, wait);
  }
  return wait;
}

/**
 * Resolves once `client` is connected, or after `timeoutMs` (the command that
 * follows then fails at once: there is no offline queue). Covers start-up and
 * short reconnects; during a real outage callers get their error within
 * `timeoutMs`. All callers share one wait per client (`nextReady`); each has
 * only its own timer.
 */
export function whenReady(client: RedisClient, timeoutMs = READY_WAIT_MS): Promise<void> {
  // "wait": a lazyConnect client (passed in by a caller) connects on its first command.
  const status = client.status;
  if (status === "ready" || status === "end" || status === "wait") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    nextReady(client).then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A second connection to the same server(s) with other options (e.g. blocking). */
export function duplicate(client: RedisClient, options: ConnectOptions = {}): RedisClient {
  const opts = redisOptions(options);
  const copy = client instanceof Cluster
    ? client.duplicate(undefined, {
      redisOptions: clusterNodeOptions({ ...client.options.redisOptions, ...opts }),
    })
    : client.duplicate(opts);
  copy.on("error", () => {});
  return copy;
}

/** True for errors Redis itself answered (a script's error code, WRONGTYPE, ...). */
export function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === "ReplyError";
}

/**
 * Maps connection-level failures (timeouts, refused connections, retries
 * exhausted) to `QueueUnavailableError`, and replies refusing writes (`OOM`,
 * `READONLY`, `MISCONF`) to `WritesRefusedError`; other reply errors and the
 * core's own typed errors pass through unchanged. For reads, and for
 * anything that failed before its write was sent; a write's failure is
 * `toWriteError`'s.
 */
export function toQueueError(error: unknown): unknown {
  const refused = writeRefusal(error);
  if (refused) return refused;
  if (error instanceof QueueError || isReplyError(error) || !(error instanceof Error)) return error;
  return new QueueUnavailableError(`redis unavailable: ${error.message}`, { cause: error });
}

/** A write handed to ioredis: its client, and the client's `status` at that moment. */
export interface SentWrite {
  client: RedisClient;
  /** `client.status` when the command was handed over ("" if it never was). */
  status: string;
}

/** ioredis' rejection of a command it did not write: not connected and no offline queue. */
const NOT_WRITTEN = "Stream isn't writeable and enableOfflineQueue options is false";
/** ioredis' rejection of a command on an ended client, also of written ones it flushes. */
const CONNECTION_CLOSED = "Connection is closed.";

/**
 * True only when the failed write certainly never reached Redis. Standalone
 * clients have no offline queue (`redisOptions`), so a command ioredis does
 * not write at once is refused with `NOT_WRITTEN`, and one handed to an ended
 * client with `CONNECTION_CLOSED`. Everything else may have run: "Command
 * timed out" (written, no reply), MaxRetriesPerRequestError (written, then
 * flushed when the connection dropped), `CONNECTION_CLOSED` for a command
 * written before a close. Cluster node connections queue commands while
 * their node is away and write them on reconnect (`clusterNodeOptions`), so
 * there only a command handed to an ended Cluster is certain.
 */
function neverSent(error: Error, sent: SentWrite): boolean {
  if (sent.status === "") return true;
  if (sent.status === "end" && error.message === CONNECTION_CLOSED) return true;
  return !(sent.client instanceof Cluster) && error.message === NOT_WRITTEN;
}

/**
 * Maps a write's failure by whether it could have run: `QueueUnavailableError`
 * when it certainly was not sent (nothing stored), `OutcomeUnknownError` when
 * it was or may have been (when in doubt, unknown). A reply refusing writes
 * is `WritesRefusedError` (Redis refused it: not applied); other reply errors
 * and the core's own typed errors pass through unchanged.
 */
export function toWriteError(error: unknown, sent: SentWrite): unknown {
  const refused = writeRefusal(error);
  if (refused) return refused;
  if (error instanceof QueueError || isReplyError(error) || !(error instanceof Error)) return error;
  if (neverSent(error, sent)) {
    return new QueueUnavailableError(`redis unavailable: ${error.message}`, { cause: error });
  }
  return new OutcomeUnknownError(
    `redis did not answer a write (${error.message}): it may or may not have been applied`,
    { cause: error },
  );
}
