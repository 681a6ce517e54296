/**
 * `deno task start` as a user runs it, for end-to-end tests: the real process
 * tree (API + supervised worker) on a free port against a throwaway
 * redis-server, its data in a temp dir, ready once `/ready` answers 200.
 *
 * @module
 */
import { freePort, TestRedis } from "../helpers/redis_server.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Polls `probe` until it gives a value (not null) or `ms` pass. */
export async function waitFor<T>(
  what: string,
  ms: number,
  probe: () => Promise<T | null>,
): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => null);
    if (value !== null) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A running `deno task start`. */
export interface StartedService {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  redis: TestRedis;
  /** DATA_DIR of the service (removed by `stop`). */
  dataDir: string;
  /** SIGTERM, then cleans up; resolves with the exit code. */
  stop(): Promise<number>;
  /** Everything the service wrote so far (stdout and stderr), when started with `capture`. */
  output(): string;
}

/** Options of `startService`. */
export interface StartOptions {
  /** Keep the service's stdout and stderr (`StartedService.output`); default: discarded. */
  capture?: boolean;
}

/** Starts `deno task start` with `env` on top of the test defaults; resolves once ready. */
export async function startService(
  env: Record<string, string> = {},
  options: StartOptions = {},
): Promise<StartedService> {
  const redis = await TestRedis.start();
  const dataDir = await Deno.makeTempDir({ prefix: "jq-start-" });
  const port = freePort();
  const origin = `http://127.0.0.1:${port}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "start"],
    cwd: ROOT,
    env: {
      REDIS_URL: redis.url,
      PORT: String(port),
      HOST: "127.0.0.1",
      WORKER_METRICS_PORT: "0",
      WORKER_THREADS: "1",
      DATA_DIR: dataDir,
      LOG_LEVEL: "warn",
      ...env,
    },
    stdin: "null",
    stdout: options.capture ? "piped" : "null",
    stderr: options.capture ? "piped" : "null",
  }).spawn();
  const chunks: string[] = [];
  const pumps = options.capture
    ? [child.stdout, child.stderr].map((stream) =>
      stream.pipeThrough(new TextDecoderStream()).pipeTo(
        new WritableStream({ write: (text) => void chunks.push(text) }),
      ).catch(() => {})
    )
    : [];
  const stop = async () => {
    child.kill("SIGTERM");
    const status = await child.status;
    await Promise.all(pumps);
    await redis.close();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    return status.code;
  };
  try {
    await waitFor("/ready", 30_000, async () => {
      const res = await fetch(`${origin}/ready`);
      await res.body?.cancel();
      return res.ok ? true : null;
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { origin, redis, dataDir, stop, output: () => chunks.join("") };
}
