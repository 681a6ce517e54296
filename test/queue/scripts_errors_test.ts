/**
 * scripts.ts' edges: the script command names (auto-pipelining bypass) and
 * the mapping of script error replies and connection errors to typed errors.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { redisOptions, toQueueError } from "../../src/queue/connect.ts";
import { mapScriptError, QueueScripts, SCRIPT_COMMANDS } from "../../src/queue/scripts.ts";
import { queueKeys } from "../../src/queue/keys.ts";
import {
  InvalidInputError,
  InvalidStateError,
  JobNotFoundError,
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
