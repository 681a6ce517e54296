/**
 * A throwaway redis-server for tests: free port, own data dir, and the
 * controls chaos tests need (graceful stop, kill -9, restart on the same dir).
 * When REDIS_URL is set, tests use that server instead and the controls that
 * need a process of our own throw.
 *
 * @module
 */

/** Options for a test Redis. */
export interface TestRedisOptions {
  /** `appendonly yes` with `appendfsync always`, so every acked write survives a restart. */
  aof?: boolean;
  /** Extra `--flag value` pairs. */
  args?: string[];
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function pingable(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(new TextEncoder().encode("PING\r\n"));
      const buf = new Uint8Array(64);
      const n = await conn.read(buf);
      return n !== null && new TextDecoder().decode(buf.subarray(0, n)).startsWith("+PONG");
    } finally {
      conn.close();
    }
  } catch {
    return false;
  }
}

/** A redis-server process owned by a test. */
export class TestRedis {
  readonly port: number;
  readonly dir: string;
  readonly external: boolean;
  #url: string;
  #child: Deno.ChildProcess | null = null;
  #options: TestRedisOptions;

  private constructor(
    port: number,
    dir: string,
    url: string,
    external: boolean,
    options: TestRedisOptions,
  ) {
    this.port = port;
    this.dir = dir;
    this.#url = url;
    this.external = external;
    this.#options = options;
  }

  /** Starts a server (or adopts REDIS_URL when set and no AOF control is needed). */
  static async start(options: TestRedisOptions = {}): Promise<TestRedis> {
    const external = Deno.env.get("REDIS_URL");
    if (external && !options.aof) {
      return new TestRedis(0, "", external, true, options);
    }
    const dir = await Deno.makeTempDir({ prefix: "jq-redis-" });
    const port = freePort();
    const server = new TestRedis(port, dir, `redis://127.0.0.1:${port}`, false, options);
    await server.restart();
    return server;
  }

  /** `redis://` URL of the server. */
  get url(): string {
    return this.#url;
  }

  /** PID of the running server process, or null. */
  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  /** (Re)starts the server on the same port and data dir. */
  async restart(): Promise<void> {
    if (this.external) throw new Error("cannot restart an external REDIS_URL server");
    if (this.#child) throw new Error("redis-server already running");
    const args = [
      "--port",
      String(this.port),
      "--bind",
      "127.0.0.1",
      "--dir",
      this.dir,
      "--save",
      "",
      "--daemonize",
      "no",
      "--loglevel",
      "warning",
      "--logfile",
      `${this.dir}/redis.log`,
    ];
    if (this.#options.aof) args.push("--appendonly", "yes", "--appendfsync", "always");
    else args.push("--appendonly", "no");
    args.push(...(this.#options.args ?? []));
    this.#child = new Deno.Command("redis-server", {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (await pingable(this.port)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`redis-server on port ${this.port} did not start`);
  }

  /** Sends `signal` and waits for the process to exit. SIGTERM lets Redis flush its AOF. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = null;
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
    await child.status;
  }

  /** kill -9: no flush, no goodbye. */
  kill(): Promise<void> {
    return this.stop("SIGKILL");
  }

  /** Stops the server and removes its data dir. */
  async close(): Promise<void> {
    if (this.external) return;
    await this.stop("SIGKILL");
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
