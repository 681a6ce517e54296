/**
 * Finding a Redis for `deno task start` and `deno task cluster`: REDIS_URL if
 * set; else 127.0.0.1:6379 if it answers PING; else a managed redis-server with
 * AOF persistence in DATA_DIR/redis, stopped when we exit; else a clear message
 * on how to get Redis.
 *
 * @module
 */
import { sleep } from "./timing/sleep.ts";

/** A Redis we found or started. */
export interface LocalRedis {
  url: string;
  /** True when we started it and must stop it. */
  managed: boolean;
  /** Stops a managed server (SIGTERM: Redis flushes its AOF); no-op otherwise. */
  stop(): Promise<void>;
  /** A managed server's exit status (to notice one that died); absent otherwise. */
  exited?: Promise<Deno.CommandStatus>;
}

/** Why no Redis could be had, with the ways to get one. */
export class NoRedisError extends Error {
  constructor() {
    super(
      [
        "No Redis found: REDIS_URL is not set, nothing answers on 127.0.0.1:6379,",
        "and redis-server is not installed. Get Redis with one of:",
        "  sudo apt-get install redis-server      (Debian/Ubuntu)",
        "  brew install redis                     (macOS)",
        "  docker compose up -d redis             (this repo's compose file)",
        "or point REDIS_URL at an existing server.",
      ].join("\n"),
    );
    this.name = "NoRedisError";
  }
}

/** True when a Redis answers PING at host:port within `timeoutMs`. */
export async function redisAnswers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  let conn: Deno.TcpConn | undefined;
  const timer = setTimeout(() => conn?.close(), timeoutMs);
  try {
    conn = await Deno.connect({ hostname: host, port });
    await conn.write(new TextEncoder().encode("PING\r\n"));
    const buf = new Uint8Array(64);
    const n = await conn.read(buf);
    return n !== null && new TextDecoder().decode(buf.subarray(0, n)).startsWith("+PONG");
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // closed by the timer
    }
  }
}

function portFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function hasRedisServer(): boolean {
  try {
    const out = new Deno.Command("redis-server", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .outputSync();
    return out.success;
  } catch {
    return false;
  }
}

/** The command line of a live process, or null (no such process, or no /proc). */
function commandLine(pid: number): string | null {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ");
  } catch {
    return null;
  }
}

/**
 * A redis-server left running on `dir` by an earlier run that was killed
 * before it could stop it (its pid file names a live redis-server): stop it
 * with SIGTERM, so its AOF is flushed, before a new server opens the same files.
 */
async function stopLeftover(dir: string, pidFile: string): Promise<void> {
  let pid: number;
  try {
    pid = Number((await Deno.readTextFile(pidFile)).trim());
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 1 || !commandLine(pid)?.includes("redis-server")) return;
  console.error(`stopping a redis-server (pid ${pid}) left running on ${dir} by an earlier run`);
  try {
    Deno.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const deadline = Date.now() + 10_000;
  while (commandLine(pid)?.includes("redis-server") && Date.now() < deadline) {
    await sleep(50);
  }
}

/**
 * Starts redis-server with AOF (`appendfsync everysec`) in `dir` on `port`
 * (default: 6379 when free, else any free port) and waits until it answers.
 *
 * The server runs in its own session (process group), so a Ctrl-C in the
 * terminal reaches only our processes: they drain first, then `stop()` ends
 * Redis last, instead of Redis vanishing under workers that still need to ack.
 */
export async function startManagedRedis(dir: string, port?: number): Promise<LocalRedis> {
  await Deno.mkdir(dir, { recursive: true });
  const realDir = await Deno.realPath(dir);
  const pidFile = `${realDir}/redis.pid`;
  await stopLeftover(realDir, pidFile);
  const chosen = port ?? (portFree(6379) ? 6379 : freePort());
  const child = new Deno.Command("redis-server", {
    detached: true,
    args: [
      "--port",
      String(chosen),
      "--bind",
      "127.0.0.1",
      "--dir",
      realDir,
      "--pidfile",
      pidFile,
      "--appendonly",
      "yes",
      "--appendfsync",
      "everysec",
      "--save",
      "",
      "--daemonize",
      "no",
      "--logfile",
      "redis.log",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const deadline = Date.now() + 10_000;
  while (!(await redisAnswers("127.0.0.1", chosen))) {
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(
        `managed redis-server did not answer on port ${chosen} (see ${dir}/redis.log)`,
      );
    }
    await sleep(50);
  }
  let stopped: Promise<void> | null = null;
  return {
    url: `redis://127.0.0.1:${chosen}`,
    managed: true,
    exited: child.status,
    stop() {
      stopped ??= (async () => {
        try {
          child.kill("SIGTERM");
        } catch {
          // already exited
        }
        await child.status;
      })();
      return stopped;
    },
  };
}

/** Where `findOrStartRedis` looks; tests point it elsewhere. */
export interface RedisDiscovery {
  /** Port probed on 127.0.0.1 before starting our own (default 6379). */
  localPort?: number;
  /** Whether redis-server can be started (default: it runs `redis-server --version`). */
  canStart?: () => boolean;
  /** Port for a managed server (default: 6379 when free, else any free port). */
  managedPort?: number;
}

/** Resolves the Redis to use, following the order in the module doc. */
export async function findOrStartRedis(
  redisUrl: string | undefined,
  dataDir: string,
  discovery: RedisDiscovery = {},
): Promise<LocalRedis> {
  const none = { managed: false, stop: () => Promise.resolve() };
  if (redisUrl) return { url: redisUrl, ...none };
  const localPort = discovery.localPort ?? 6379;
  if (await redisAnswers("127.0.0.1", localPort)) {
    return { url: `redis://127.0.0.1:${localPort}`, ...none };
  }
  if (!(discovery.canStart ?? hasRedisServer)()) throw new NoRedisError();
  return await startManagedRedis(`${dataDir}/redis`, discovery.managedPort);
}
