/**
 * A batch across several queues on one Redis (a flow over queues) is all
 * or nothing: its calls go in one MULTI/EXEC. A proxy between the broker
 * and Redis cuts the connection just before the second queue's script call
 * reaches Redis: nothing of the batch is stored (with one call per queue,
 * the first queue's jobs stayed behind).
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { TestRedis } from "../helpers/redis_server.ts";

/** A TCP proxy to `target` that can cut a connection before the nth script call of a write. */
function cuttingProxy(target: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const sockets = new Set<Deno.Conn>();
  let armed = false;
  let cuts = 0;
  (async () => {
    for await (const client of listener) {
      const server = await Deno.connect({ hostname: "127.0.0.1", port: target });
      sockets.add(client);
      sockets.add(server);
      const close = () => {
        for (const s of [client, server]) {
          try {
            s.close();
          } catch {
            // closed already
          }
        }
      };
      (async () => {
        const buf = new Uint8Array(64 * 1024);
        let seen = 0;
        try {
          for (;;) {
            const n = await client.read(buf);
            if (n === null) break;
            let chunk = buf.subarray(0, n);
            if (armed) {
              const text = new TextDecoder("latin1").decode(chunk).toLowerCase();
              let at = -1;
              for (let i = text.indexOf("evalsha"); i >= 0; i = text.indexOf("evalsha", i + 1)) {
                if (++seen === 2) {
                  at = i;
                  break;
                }
              }
              if (at >= 0) {
                // Forward what came before the second script call, then drop the line.
                chunk = chunk.subarray(0, Math.max(0, text.lastIndexOf("*", at)));
                if (chunk.length > 0) await server.write(chunk);
                armed = false;
                cuts++;
                close();
                break;
              }
            }
            await server.write(chunk);
          }
        } catch {
          // a side went away
        }
        close();
      })();
      (async () => {
        try {
          await server.readable.pipeTo(client.writable, { preventClose: true });
        } catch {
          // a side went away
        }
      })();
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    arm() {
      armed = true;
    },
    get cuts() {
      return cuts;
    },
    close() {
      listener.close();
      for (const s of sockets) {
        try {
          s.close();
        } catch {
          // closed already
        }
      }
    },
  };
}

Deno.test({
  name: "a batch over two queues on one Redis is all or nothing when the line drops mid-way",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const redis = await TestRedis.start();
    const proxy = cuttingProxy(Number(new URL(redis.url).port));
    const broker = new RedisBroker({
      url: `redis://127.0.0.1:${proxy.port}`,
      queue: "a",
      commandTimeoutMs: 1000,
    });
    const direct = new Redis(redis.url);
    try {
      // Warm up: both queues known, their storage format checked, the script loaded.
      await broker.enqueueBatch([
        { type: "t", payload: 0, queue: "a" },
        { type: "t", payload: 0, queue: "b" },
      ]);
      const before = (await direct.keys("jq:*")).length;
      proxy.arm();
      await assert.rejects(
        broker.enqueueBatch([
          { type: "t", payload: 1, queue: "a" },
          { type: "t", payload: 2, queue: "b" },
        ]),
      );
      assert.strictEqual(proxy.cuts, 1, "the line was cut before the second call");
      const stats = await Promise.all(
        ["a", "b"].map((q) => direct.hget(`jq:{${q}}:stats`, "pending")),
      );
      assert.deepStrictEqual(stats, ["1", "1"], "neither queue got the batch's job");
      assert.strictEqual((await direct.keys("jq:*")).length, before, "no key was added");
    } finally {
      direct.disconnect();
      await broker.close();
      proxy.close();
      await redis.close();
    }
  },
});
