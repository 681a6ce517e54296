/**
 * The shared broker suite against a real three-master Redis Cluster: every
 * key of a queue carries the `{queue}` hash tag, so each script's keys live in
 * one slot while different queues spread over the masters.
 */
import { queueKeyPattern } from "../../src/queue/keys.ts";
import { Cluster } from "ioredis";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { clusterTestsEnabled, TestRedisCluster } from "../helpers/redis_cluster.ts";
import { scanKeys } from "../helpers/scan.ts";
import { brokerSuite, type MakeOptions, type SuiteHarness } from "./broker_suite.ts";

const enabled = clusterTestsEnabled();
if (!enabled) console.log("skipping the Redis Cluster suite: redis-cli missing or REDIS_URL set");

// One cluster for the whole file (started before any test, so no test owns
// its processes), a fresh queue (and key prefix) per test.
const cluster = enabled ? await TestRedisCluster.start() : null;
globalThis.addEventListener("unload", () => cluster?.killSync());

function clusterHarness(): Promise<SuiteHarness> {
  if (!cluster) throw new Error("cluster not started");
  const queue = `c${crypto.randomUUID().slice(0, 8)}`;
  // A deployment of its own per test (its own registry keys): the test's queue is its home queue.
  const prefix = `jq${crypto.randomUUID().slice(0, 6)}`;
  const admin = new Cluster(cluster.ports.map((port) => ({ host: "127.0.0.1", port })));
  admin.on("error", () => {});
  const brokers: RedisBroker[] = [];
  const keys = async () => {
    const perNode = await Promise.all(
      admin.nodes("master").map((node) => scanKeys(node, queueKeyPattern(queue, prefix))),
    );
    return perNode.flat().sort();
  };
  return Promise.resolve({
    make(options: MakeOptions = {}) {
      const broker = new RedisBroker({ url: cluster.url, queue, prefix, ...options });
      brokers.push(broker);
      return Promise.resolve(broker);
    },
    async snapshot() {
      const parts: string[] = [];
      for (const key of await keys()) {
        const dump = await admin.dumpBuffer(key);
        parts.push(`${key}=${dump ? btoa(String.fromCharCode(...dump.subarray(0, 4096))) : ""}`);
      }
      return parts.join("\n");
    },
    async cleanup() {
      await Promise.all(brokers.map((b) => b.close()));
      const all = await keys();
      for (const key of all) await admin.del(key);
      admin.disconnect();
    },
  });
}

if (enabled) brokerSuite("RedisBroker on Redis Cluster", clusterHarness);
