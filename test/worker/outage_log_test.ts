import assert from "node:assert/strict";
import { createLogger } from "../../src/log.ts";
import { OutageLog } from "../../src/worker/outage_log.ts";

Deno.test("OutageLog logs the first failure of a streak and the recovery, nothing between", () => {
  const lines: Array<{ level: string; msg: string; failures?: number }> = [];
  const log = createLogger({
    level: "debug",
    format: "json",
    sink: (line) => lines.push(JSON.parse(line)),
  });
  const outages = new OutageLog(log);
  outages.ok("claim"); // not failing: silent
  for (let i = 0; i < 5; i++) outages.failed("claim", new Error("ECONNREFUSED"));
  outages.failed("renew", new Error("ECONNREFUSED"));
  outages.ok("claim");
  outages.ok("claim");
  outages.failed("claim", new Error("again"));
  assert.deepStrictEqual(lines.map((l) => [l.level, l.msg]), [
    ["error", "claim failed; retrying quietly until it recovers"],
    ["error", "renew failed; retrying quietly until it recovers"],
    ["info", "claim recovered"],
    ["error", "claim failed; retrying quietly until it recovers"],
  ]);
  assert.strictEqual(lines[2].failures, 5);
});
