import assert from "node:assert/strict";
import { ConfigError, loadConfig, SETTINGS, workerThreads } from "../src/config.ts";

Deno.test("config: defaults, env, and flags overriding env", () => {
  const defaults = loadConfig([], {});
  assert.strictEqual(defaults.PORT, 8080);
  assert.strictEqual(defaults.QUEUE, "default");
  assert.strictEqual(defaults.RETENTION_MS, 24 * 3600_000);
  assert.strictEqual(defaults.EMAIL_OUTBOX_DIR, "./data/outbox");
  const config = loadConfig(
    ["--port", "9000", "--job-modules=a.ts, b.ts", "--workers", "4"],
    { PORT: "1234", WORKER_CONCURRENCY: "7", DATA_DIR: "/srv" },
  );
  assert.strictEqual(config.PORT, 9000);
  assert.strictEqual(config.WORKER_CONCURRENCY, 7);
  assert.strictEqual(config.WORKERS, 4);
  assert.deepStrictEqual(config.JOB_MODULES, ["a.ts", "b.ts"]);
  assert.strictEqual(config.EMAIL_OUTBOX_DIR, "/srv/outbox");
});

Deno.test("config: bad values and unknown flags are refused with the setting's name", () => {
  assert.throws(
    () => loadConfig([], { PORT: "http" }),
    (e) => e instanceof ConfigError && /PORT/.test(e.message),
  );
  assert.throws(() => loadConfig([], { WORKER_CONCURRENCY: "0" }), /WORKER_CONCURRENCY/);
  assert.throws(() => loadConfig([], { QUEUE: "a{b}" }), /QUEUE/);
  assert.throws(() => loadConfig([], { LOG_LEVEL: "loud" }), /LOG_LEVEL/);
  assert.throws(() => loadConfig(["--no-such-flag", "1"], {}), /unknown flag --no-such-flag/);
  assert.throws(() => loadConfig(["--port"], {}), /needs a value/);
  // A budget smaller than one allowed body would refuse that body forever.
  assert.throws(
    () => loadConfig([], { API_BODY_BUDGET_MB: "32", MAX_BODY_BYTES: String(40 * 1024 * 1024) }),
    (e) => e instanceof ConfigError && /API_BODY_BUDGET_MB/.test(e.message),
  );
  assert.strictEqual(loadConfig([], {}).API_BODY_BUDGET_MB, 256);
});

Deno.test("config: environment variables it does not know, e.g. a removed API_THREADS, are ignored", () => {
  // The process environment holds much more than our settings; an old
  // deployment's API_THREADS (removed) must not stop the API from starting.
  const config = loadConfig([], { API_THREADS: "4", PATH: "/usr/bin", PORT: "9000" });
  assert.strictEqual(config.PORT, 9000);
  assert.ok(!("API_THREADS" in config));
});

Deno.test("config: every setting is documented", () => {
  for (const [key, setting] of Object.entries(SETTINGS)) {
    assert.ok(setting.doc.length > 10, `${key} has a doc line`);
  }
});

Deno.test("config: WORKER_QUEUES with weights, the order, and entries that do not parse", () => {
  assert.strictEqual(loadConfig([], {}).WORKER_QUEUES, undefined, "unset: every queue");
  assert.strictEqual(loadConfig([], {}).WORKER_QUEUE_ORDER, "weighted");
  const config = loadConfig(["--worker-queues", "critical:6, default:3,low"], {
    WORKER_QUEUE_ORDER: "strict",
  });
  assert.deepStrictEqual(config.WORKER_QUEUES, [
    { name: "critical", weight: 6 },
    { name: "default", weight: 3 },
    { name: "low", weight: 1 },
  ]);
  assert.strictEqual(config.WORKER_QUEUE_ORDER, "strict");
  for (
    const [value, entry] of [
      ["a:x", '"a:x"'],
      ["a:0", '"a:0"'],
      ["a:1.5", '"a:1.5"'],
      ["ok:2,b{}:1", '"b{}:1"'],
      ["a,a:2", '"a:2"'],
    ]
  ) {
    assert.throws(
      () => loadConfig([], { WORKER_QUEUES: value }),
      (e) =>
        e instanceof ConfigError && e.message.includes("WORKER_QUEUES") &&
        e.message.includes(`entry ${entry}`),
      value,
    );
  }
  assert.throws(() => loadConfig([], { WORKER_QUEUE_ORDER: "random" }), /WORKER_QUEUE_ORDER/);
});

Deno.test("workerThreads: the cores shared among the host's workers unless WORKER_THREADS is set", () => {
  const cores = navigator.hardwareConcurrency || 2;
  const unset = loadConfig([], {});
  assert.strictEqual(unset.WORKER_THREADS, undefined);
  assert.strictEqual(workerThreads(unset), cores);
  assert.strictEqual(workerThreads(unset, 2), Math.max(1, Math.floor(cores / 2)));
  assert.strictEqual(workerThreads(unset, cores * 4), 1, "never below one thread");
  assert.strictEqual(workerThreads(loadConfig(["--worker-threads", "3"], {}), 8), 3, "set wins");
});
