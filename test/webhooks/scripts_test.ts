/**
 * Every script that can move a job to a final state names its queue's
 * webhook keys (`webhookQueue`, `_webhooks.lua`): otherwise the jobs it
 * finishes would record no delivery. A new finishing script (or a path
 * added to one) fails here until it does.
 */
import assert from "node:assert/strict";
import { SCRIPT_NAMES } from "../../src/queue/script_contract.ts";

const DIR = new URL("../../src/queue/scripts/", import.meta.url);
/** What finishes a job: _lib.lua's finish/reap, _flow.lua's paths that end dependents, complete's own. */
const FINISHES =
  /\b(finish|reap|failByDependency|releaseDependents|holdForDependencies|resolveDependency)\(|= COMPLETED\b/;

Deno.test("webhooks: every script that finishes jobs registers its queue's webhook keys", () => {
  const finishing: string[] = [];
  for (const name of SCRIPT_NAMES) {
    const source = Deno.readTextFileSync(new URL(`${name}.lua`, DIR));
    if (!FINISHES.test(source)) continue;
    finishing.push(name);
    assert.match(source, /\bwebhookQueue\(/, `${name}.lua finishes jobs but names no webhook keys`);
  }
  // The detector itself must see the known finishing scripts.
  for (const known of ["complete", "fail", "cancel", "maintain", "reap_owner", "release"]) {
    assert.ok(finishing.includes(known), `${known}.lua detected`);
  }
});

Deno.test("webhooks: finish() in _lib.lua hands every end to _webhooks.lua", () => {
  const lib = Deno.readTextFileSync(new URL("_lib.lua", DIR));
  const finish = lib.slice(lib.indexOf("local function finish("));
  const body = finish.slice(0, finish.indexOf("\nend\n"));
  assert.match(body, /webhookFinished\(job, id, state, now, outboxKey\)/);
});
