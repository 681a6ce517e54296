/**
 * A throwaway Redis Cluster for tests: three masters on free ports, each with
 * its own data dir, joined by `redis-cli --cluster create`. Proves the queue's
 * hash-tagged keys and multi-key scripts work when keys are spread over slots.
 *
 * @module
 */
import type { Cluster } from "ioredis";
import { freePort } from "./redis_server.ts";

/**
 * Whether this machine can run the Cluster tests: `redis-cli` builds the
 * cluster, and a `REDIS_URL` means the tests were pointed at one server.
 */
export function clusterTestsEnabled(): boolean {
  if (Deno.env.get("REDIS_URL")) return false;
  try {
    return new Deno.Command("redis-cli", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** A running local cluster. */
export class TestRedisCluster {
  readonly ports: number[];
  readonly dir: string;
  #children: Deno.ChildProcess[];

  private constructor(ports: number[], dir: string, children: Deno.ChildProcess[]) {
    this.ports = ports;
    this.dir = dir;
    this.#children = children;
  }

  /** Seed list for `RedisBroker`'s url: `redis-cluster://127.0.0.1:p1,127.0.0.1:p2,...`. */
  get url(): string {
    return `redis-cluster://${this.ports.map((p) => `127.0.0.1:${p}`).join(",")}`;
  }

  /** Starts `masters` nodes and creates the cluster; waits until every node says `cluster_state:ok`. */
  static async start(masters = 3): Promise<TestRedisCluster> {
    const dir = await Deno.makeTempDir({ prefix: "jq-cluster-" });
    const ports = Array.from({ length: masters }, () => freePort());
    const children = await Promise.all(ports.map(async (port) => {
      await Deno.mkdir(`${dir}/${port}`);
      return spawnNode(dir, port);
    }));
    const cluster = new TestRedisCluster(ports, dir, children);
    try {
      for (const port of ports) await cluster.#waitFor(port, "PONG", ["ping"]);
      const create = await new Deno.Command("redis-cli", {
        args: [
          "--cluster",
          "create",
          ...ports.map((p) => `127.0.0.1:${p}`),
          "--cluster-replicas",
          "0",
          "--cluster-yes",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!create.success) {
        throw new Error(`cluster create failed: ${new TextDecoder().decode(create.stderr)}`);
      }
      for (const port of ports) {
        await cluster.#waitFor(port, "cluster_state:ok", ["cluster", "info"]);
      }
    } catch (error) {
      cluster.killSync();
      throw error;
    }
    return cluster;
  }

  async #waitFor(port: number, text: string, command: string[]): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const out = await new Deno.Command("redis-cli", {
        args: ["-p", String(port), ...command],
        stdout: "piped",
        stderr: "null",
      }).output();
      if (new TextDecoder().decode(out.stdout).includes(text)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`redis node ${port} never answered ${text}`);
  }

  /** Kills one node (SIGKILL): its slots go dark, and its data with it (no persistence). */
  async killNode(port: number): Promise<void> {
    const i = this.ports.indexOf(port);
    const child = this.#children[i];
    if (!child) throw new Error(`no node on port ${port}`);
    child.kill("SIGKILL");
    await child.status;
  }

  /**
   * Starts a killed node again on its port and folder: its nodes.conf gives it
   * back its slots (empty). Resolves once every node reports `cluster_state:ok`.
   */
  async restartNode(port: number): Promise<void> {
    const i = this.ports.indexOf(port);
    if (i < 0) throw new Error(`no node on port ${port}`);
    this.#children[i] = spawnNode(this.dir, port);
    for (const p of this.ports) await this.#waitFor(p, "cluster_state:ok", ["cluster", "info"]);
  }

  /** Kills every node (synchronously, so it can run from an unload handler) and removes the data. */
  killSync(): void {
    for (const child of this.#children) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
    this.#children = [];
    try {
      Deno.removeSync(this.dir, { recursive: true });
    } catch {
      // best effort
    }
  }
}

/** One cluster node on `port`, with its data and nodes.conf in `dir/port`. */
function spawnNode(dir: string, port: number): Deno.ChildProcess {
  return new Deno.Command("redis-server", {
    args: [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      `${dir}/${port}`,
      "--cluster-enabled",
      "yes",
      "--cluster-config-file",
      "nodes.conf",
      "--cluster-node-timeout",
      "5000",
      "--save",
      "",
      "--appendonly",
      "no",
      "--logfile",
      "redis.log",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** The index of the master that holds `queue`'s keys. */
async function masterOf(admin: Cluster, prefix: string, queue: string): Promise<number> {
  const key = `${prefix}:{${queue}}:probe`;
  await admin.set(key, "1");
  for (const [i, node] of admin.nodes("master").entries()) {
    // A master that does not own the slot answers MOVED.
    if ((await node.exists(key).catch(() => 0)) === 1) {
      await admin.del(key);
      return i;
    }
  }
  throw new Error(`no master holds ${key}`);
}

/** `n` queue names whose keys live on `n` different masters. */
export async function queuesOnMasters(
  admin: Cluster,
  prefix: string,
  n: number,
): Promise<string[]> {
  const found = new Map<number, string>();
  for (let i = 0; found.size < n && i < 200; i++) {
    const queue = i === 0 ? "qa" : `qb${i - 1}`;
    const master = await masterOf(admin, prefix, queue);
    if (!found.has(master)) found.set(master, queue);
  }
  if (found.size < n) throw new Error(`no ${n} queues on different masters`);
  return [...found.values()];
}

/** Two queue names whose keys live on different masters. */
export async function queuesOnTwoMasters(
  admin: Cluster,
  prefix: string,
): Promise<[string, string]> {
  const [a, b] = await queuesOnMasters(admin, prefix, 2);
  return [a, b];
}
