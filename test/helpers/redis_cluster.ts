/**
 * A throwaway Redis Cluster for tests: three masters on free ports, each with
 * its own data dir, joined by `redis-cli --cluster create`. Proves the queue's
 * hash-tagged keys and multi-key scripts work when keys are spread over slots.
 *
 * @module
 */
import { freePort } from "./redis_server.ts";

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
      const nodeDir = `${dir}/${port}`;
      await Deno.mkdir(nodeDir);
      return new Deno.Command("redis-server", {
        args: [
          "--port",
          String(port),
          "--bind",
          "127.0.0.1",
          "--dir",
          nodeDir,
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
