/**
 * scripts.ts' edges: the script command names (auto-pipelining bypass) and
 * the mapping of script error replies and connection errors to typed errors:
 * a write's failure is "unavailable" only when it certainly was not sent.
 */
import assert from "node:assert/strict";
import { Cluster, Redis } from "ioredis";
import { redisOptions, toQueueError, toWriteError } from "../../src/queue/connect.ts";
import { mapScriptError, QueueScripts, SCRIPT_COMMANDS } from "../../src/queue/scripts.ts";
import { queueKeys } from "../../src/queue/keys.ts";
import {
  InvalidInputError,
  InvalidStateError,
  JobNotFoundError,
  OutcomeUnknownError,
  QueueUnavailableError,
} from "../../src/queue/errors.ts";

Deno.test("the queue's scripts bypass auto-pipelining; other commands keep it", async () => {
  const options = redisOptions({ notAutoPipelined: SCRIPT_COMMANDS });
  assert.strictEqual(options.enableAutoPipelining, true);
  assert.deepStrictEqual(options.autoPipeliningIgnoredCommands, [...SCRIPT_COMMANDS]);
  assert.strictEqual(redisOptions({ blocking: true }).enableAutoPipelining, false);
  // The names are exactly the commands QueueScripts defines (ioredis matches them by name).
  const client = new Redis({ lazyConnect: true });
  await QueueScripts.create(client, queueKeys("units"), {
    retentionMs: 1000,
    finishedTtlMs: 2000,
    eventsMaxLen: 0,
    errorHistory: 1,
  });
  const defined = Object.keys((client as unknown as { scriptsSet: object }).scriptsSet);
  assert.deepStrictEqual(defined.sort(), [...SCRIPT_COMMANDS].sort());
  assert.ok(SCRIPT_COMMANDS.includes("jq_claim") && SCRIPT_COMMANDS.includes("jq_enqueue"));
  client.disconnect();
  // Only blocking clients keep an offline queue (connect.ts explains why).
  assert.strictEqual(redisOptions().enableOfflineQueue, false);
  assert.strictEqual(redisOptions({ blocking: true }).enableOfflineQueue, true);
});

Deno.test("script errors map to typed errors; connection errors to QueueUnavailableError", () => {
  const reply = (message: string) => Object.assign(new Error(message), { name: "ReplyError" });
  assert.ok(mapScriptError(reply("JQ_NOT_FOUND x"), "x", "cancel") instanceof JobNotFoundError);
  const state = mapScriptError(reply("JQ_INVALID_STATE completed"), "x", "cancel");
  assert.ok(state instanceof InvalidStateError && state.state === "completed");
  assert.ok(mapScriptError(reply("JQ_EXISTS x"), "x", "enqueue") instanceof InvalidInputError);
  const other = reply("JQ_SOMETHING_NEW");
  assert.strictEqual(mapScriptError(other, "x", "op"), other);
  const wrongType = reply("WRONGTYPE Operation");
  assert.strictEqual(mapScriptError(wrongType, "x", "op"), wrongType);
  assert.ok(toQueueError(new Error("Command timed out")) instanceof QueueUnavailableError);
  assert.strictEqual(toQueueError("string"), "string");
});

Deno.test("a failed write is unavailable only when it certainly was not sent, else unknown", () => {
  const standalone = new Redis({ lazyConnect: true });
  const cluster = new Cluster([{ host: "127.0.0.1", port: 1 }], { lazyConnect: true });
  const error = (message: string, name = "Error") => Object.assign(new Error(message), { name });
  const notWritten = "Stream isn't writeable and enableOfflineQueue options is false";
  const closed = "Connection is closed.";
  const maxRetries = error(
    'Reached the max retries per request limit (which is 1). Refer to "maxRetriesPerRequest" option for details.',
    "MaxRetriesPerRequestError",
  );
  // [client, status when handed to ioredis, error, expected class]
  const table: Array<[Redis | Cluster, string, Error, "unavailable" | "unknown"]> = [
    // Standalone, no offline queue: ioredis refused to write it.
    [standalone, "reconnecting", error(notWritten), "unavailable"],
    [standalone, "connecting", error(notWritten), "unavailable"],
    [standalone, "ready", error(notWritten), "unavailable"], // ready, but the stream was not
    [standalone, "end", error(closed), "unavailable"], // handed to an ended client
    [standalone, "", error("anything"), "unavailable"], // never handed over
    // Written (or may have been), then no answer.
    [standalone, "ready", error("Command timed out"), "unknown"],
    [standalone, "ready", maxRetries, "unknown"], // in flight when the connection dropped
    [standalone, "ready", error(closed), "unknown"], // flushed by a close after the write
    [standalone, "ready", error("write EPIPE"), "unknown"],
    // Cluster nodes keep an offline queue: only an ended Cluster is certain.
    [cluster, "ready", error("Command timed out"), "unknown"],
    [cluster, "ready", maxRetries, "unknown"],
    [cluster, "ready", error(notWritten), "unknown"],
    [cluster, "ready", error("None of startup nodes is available"), "unknown"],
    [cluster, "end", error(closed), "unavailable"],
  ];
  for (const [client, status, failure, expected] of table) {
    const mapped = toWriteError(failure, { client, status });
    const where = `${client.constructor.name} ${status || "(not sent)"}: ${failure.message}`;
    assert.ok(
      mapped instanceof (expected === "unavailable" ? QueueUnavailableError : OutcomeUnknownError),
      `${where} -> ${String(mapped)}`,
    );
    assert.strictEqual((mapped as Error).cause, failure, where);
    // Through the scripts' mapping too: a script call is a write.
    const viaScript = mapScriptError(failure, "x", "enqueue", { client, status });
    assert.strictEqual((viaScript as { code?: string }).code, (mapped as { code: string }).code);
  }
  // Redis' own answers and the core's typed errors pass through.
  const reply = error("WRONGTYPE Operation", "ReplyError");
  assert.strictEqual(toWriteError(reply, { client: standalone, status: "ready" }), reply);
  const typed = new JobNotFoundError("x");
  assert.strictEqual(toWriteError(typed, { client: standalone, status: "ready" }), typed);
  assert.strictEqual(toWriteError("string", { client: standalone, status: "ready" }), "string");
  assert.ok(
    mapScriptError(error("JQ_EXISTS x", "ReplyError"), "x", "enqueue", {
      client: standalone,
      status: "ready",
    }) instanceof InvalidInputError,
  );
  // Reads keep one answer: a timed-out read changed nothing.
  assert.ok(toQueueError(maxRetries) instanceof QueueUnavailableError);
  standalone.disconnect();
  cluster.disconnect();
});
