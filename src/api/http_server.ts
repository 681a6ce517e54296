/**
 * The API's HTTP server: Deno's native HTTP stack (hyper), with a deadline on
 * connections that have no request in flight.
 *
 * `Deno.serve` (Deno 2.9.6) has no header or idle timeout: measured, a socket
 * that sends half a request line, or nothing at all, stays open for good
 * (100 s and counting), so a few thousand such sockets exhaust the process's
 * file descriptors. What was weighed:
 * - `node:http` `createServer` with `headersTimeout`/`requestTimeout` closes
 *   them, but Deno's polyfill parses HTTP in JavaScript: a trivial handler
 *   served 65k requests/s against 143k for `Deno.serve` here (wrk, 100
 *   connections), before adapting its messages to the `Request` Hono takes;
 * - a `Deno.listen` front proxying to `Deno.serve` copies every byte twice in
 *   JavaScript, and would need to parse HTTP to know where headers end;
 * - accepting with `Deno.listen` and handing each connection to Deno's own
 *   HTTP stack (`serveHttpOnConnection`, what `Deno.serve` does per listener)
 *   keeps hyper's parsing and the same request path and gives each
 *   connection a handle to close. This is what is used. Its cost, measured:
 *   3–8 % on the trivial handler (128–137k against 139–140k requests/s),
 *   and about 10 % of `deno task bench`'s `http_submit_per_s` (alternated
 *   runs on the 2-core test machine, 2026-12-01: 18.3–19.3k with it, 20.2–21.9k
 *   before this change; the same with or without `info.completed` and
 *   TCP_NODELAY, so it is Deno's per-connection serving itself).
 *   `HTTP_HEADER_TIMEOUT_MS=0` trades the deadline for that 10 %: plain
 *   `Deno.serve`.
 *
 * Each connection counts its requests in flight (from the handler's call to
 * `info.completed`, so a streaming answer such as SSE counts until it ends).
 * A sweep every quarter of the deadline closes the connections that had none
 * for longer than `headerTimeoutMs`: headers that never complete and idle
 * keep-alive connections alike (hyper does not say which bytes it has read,
 * so the two cannot be told apart; Node's own keep-alive timeout is 5 s, and
 * clients reconnect). They are closed without an answer: the socket belongs
 * to hyper, which has no request to answer. Slow bodies are the request's
 * business (`body_deadline.ts`) and get a 408.
 *
 * `serveHttpOnConnection` is Deno's internal API (`Deno[Deno.internal]`),
 * not a public one. Where a Deno release lacks it, `serveHttp` falls back to
 * `Deno.serve` without the deadline and says so (`headerDeadline: false`, which
 * the API role logs); test/api/http_deadlines_test.ts fails on such a release.
 *
 * @module
 */

/** Default `headerTimeoutMs` (`HTTP_HEADER_TIMEOUT_MS`). */
export const DEFAULT_HEADER_TIMEOUT_MS = 5000;

/** A request handler, as `Deno.serve` takes it. */
export type HttpHandler = (
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Response | Promise<Response>;

/** Where and how to serve. */
export interface HttpServerOptions {
  hostname: string;
  port: number;
  /**
   * Longest a connection may go without a request in flight: from accept (or
   * the end of its last answer) to the end of the next request's headers.
   * 0 serves with plain `Deno.serve`, without the deadline.
   */
  headerTimeoutMs: number;
  /** Called once the port is bound. */
  onListen?: (addr: Deno.NetAddr) => void;
}

/** A running server. */
export interface HttpServer {
  /** The address actually bound (port 0 picks one). */
  addr: Deno.NetAddr;
  /** False when this Deno has no per-connection serving: no header deadline then. */
  headerDeadline: boolean;
  /** Stops accepting, lets requests in flight finish, closes every connection. */
  shutdown(): Promise<void>;
  /** Settles once every connection is closed after `shutdown`. */
  finished: Promise<void>;
}

type ServeOnConnection = (
  connection: Deno.Conn,
  signal: AbortSignal,
  handler: HttpHandler,
  onError: (error: unknown) => Response,
  onListen: () => void,
) => Deno.HttpServer;

/** Deno's per-connection server, when this release has it (see the module doc). */
function serveOnConnection(): ServeOnConnection | null {
  const deno = Deno as unknown as { internal?: symbol } & Record<symbol, unknown>;
  const internals = deno.internal === undefined ? undefined : deno[deno.internal];
  const serve = (internals as { serveHttpOnConnection?: unknown } | undefined)
    ?.serveHttpOnConnection;
  return typeof serve === "function" ? serve as ServeOnConnection : null;
}

/** What Deno.serve answers when a handler throws (Hono's app.fetch answers its own errors). */
function internalError(): Response {
  return new Response("internal server error", { status: 500 });
}

/** Requests whose connection must not be reused once their answer is sent (`closeAfterAnswer`). */
const closeAfter = new WeakSet<Request>();

/**
 * Asks the server to close `request`'s connection once its answer is sent.
 * For answers given before the body was read through (a 408): hyper would
 * otherwise keep the connection, waiting for the rest of a body that is not
 * coming, despite `Connection: close`.
 */
export function closeAfterAnswer(request: Request): void {
  closeAfter.add(request);
}

/** True while `Connection.close` aborts (see `closing`). */
let aborting = false;

/**
 * Deno's abort listener closes the connection's resource and throws if hyper
 * closed it a moment before (the peer left); thrown inside an event listener,
 * that would end the process. Only that error, and only during our abort, is
 * swallowed.
 */
function closing(event: ErrorEvent): void {
  if (aborting && event.error instanceof Deno.errors.BadResource) event.preventDefault();
}
let closingInstalled = false;

/** How long `closeSoon` waits for an answer to be written. */
const LINGER_MS = 100;

/** One accepted connection and what its deadline needs. */
class Connection {
  /** Requests whose answers are not completely sent yet. */
  busy = 0;
  /** `performance.now()` when `busy` last became 0 (or the accept). */
  idleSince = performance.now();
  readonly abort = new AbortController();
  /** Set once hyper serves it. */
  server: Deno.HttpServer | null = null;
  /** Settles when hyper is done with it (closed by either side). */
  closed: Promise<void> = Promise.resolve();
  /**
   * False once we closed it: never aborted twice. (Aborting one that hyper
   * closed a moment before throws in Deno's listener: `closing` swallows it.)
   */
  open = true;
  readonly done = (): void => {
    if (--this.busy === 0) this.idleSince = performance.now();
  };

  /** The pending `closeSoon`. */
  linger: ReturnType<typeof setTimeout> | undefined;

  /**
   * Closes it a moment after its last answer was handed to hyper. Measured:
   * `info.completed` settles before hyper has written the answer, a close at
   * once loses it, and hyper's graceful shutdown never ends a connection
   * whose body is unread. 100 ms lets the answer reach the client.
   */
  closeSoon(): void {
    if (!this.open || this.linger !== undefined) return;
    this.linger = setTimeout(() => this.close(), LINGER_MS);
  }

  /** Closes it now, without waiting for requests in flight. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    aborting = true;
    try {
      this.abort.abort();
    } finally {
      aborting = false;
    }
  }
}

/**
 * Serves `handler` on `hostname:port` with the connection deadline.
 *
 * @example
 * ```ts
 * const server = serveHttp({ hostname: "127.0.0.1", port: 8080, headerTimeoutMs: 5000 }, app.fetch);
 * await server.shutdown();
 * ```
 */
export function serveHttp(options: HttpServerOptions, handler: HttpHandler): HttpServer {
  // 0: no deadline, Deno.serve as it is (the measured ~10 % of http_submit_per_s back).
  const serveOn = options.headerTimeoutMs > 0 ? serveOnConnection() : null;
  if (!serveOn) {
    const server = Deno.serve({
      hostname: options.hostname,
      port: options.port,
      onListen: (addr) => options.onListen?.(addr),
    }, handler);
    return {
      addr: server.addr,
      headerDeadline: false,
      shutdown: () => server.shutdown(),
      finished: server.finished,
    };
  }
  if (!closingInstalled) {
    closingInstalled = true;
    globalThis.addEventListener("error", closing);
  }
  const listener = Deno.listen({ hostname: options.hostname, port: options.port });
  /** Open connections; each leaves once hyper is done with it, or when the sweep closes it. */
  const connections = new Set<Connection>();
  /** Every connection until it is closed, for `shutdown` to wait on. */
  const open = new Set<Connection>();
  let stopping = false;

  const sweepMs = Math.max(25, Math.floor(options.headerTimeoutMs / 4));
  const sweeper = setInterval(() => {
    const now = performance.now();
    for (const connection of connections) {
      if (connection.busy === 0 && now - connection.idleSince >= options.headerTimeoutMs) {
        connections.delete(connection);
        connection.close();
      }
    }
  }, sweepMs);

  const serveConnection = (conn: Deno.Conn) => {
    const connection = new Connection();
    const tracked: HttpHandler = (request, info) => {
      connection.busy++;
      const finish = () => {
        connection.done();
        if (closeAfter.has(request)) connection.closeSoon();
      };
      info.completed.then(finish, finish);
      return handler(request, info);
    };
    const server = serveOn(conn, connection.abort.signal, tracked, internalError, () => {});
    connection.server = server;
    connections.add(connection);
    open.add(connection);
    // A reset by the peer rejects `finished`: that is the client's business.
    connection.closed = server.finished.catch(() => {}).finally(() => {
      clearTimeout(connection.linger);
      connections.delete(connection);
      open.delete(connection);
    });
  };

  const accepting = (async () => {
    while (!stopping) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (stopping || error instanceof Deno.errors.BadResource) break;
        // Out of descriptors, or a connection reset before accept: wait, keep serving.
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      try {
        (conn as Deno.TcpConn).setNoDelay(true);
        serveConnection(conn);
      } catch {
        try {
          conn.close();
        } catch { /* already closed by the peer */ }
      }
    }
  })();

  options.onListen?.(listener.addr as Deno.NetAddr);

  let resolveFinished!: () => void;
  const finished = new Promise<void>((resolve) => (resolveFinished = resolve));
  let shut: Promise<void> | null = null;
  const shutdown = () => {
    shut ??= (async () => {
      stopping = true;
      try {
        listener.close();
      } catch { /* closed */ }
      await accepting;
      clearInterval(sweeper);
      for (const c of open) {
        clearTimeout(c.linger);
        if (c.linger !== undefined) c.close();
      }
      // Graceful: requests in flight finish, idle connections close.
      await Promise.all([...open].map((c) => c.server?.shutdown().catch(() => {})));
      await Promise.all([...open].map((c) => c.closed));
      resolveFinished();
    })();
    return shut;
  };
  return { addr: listener.addr as Deno.NetAddr, headerDeadline: true, shutdown, finished };
}
