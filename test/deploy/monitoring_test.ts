/**
 * The shipped monitoring (`deploy/`): the Grafana dashboard is valid JSON
 * whose every query is valid PromQL over metric names the API's `/metrics`
 * really exports; the alert rules pass `promtool check rules` and their unit
 * tests (`promtool test rules`), which do fail when a rule changes; and the
 * compose file validates with Grafana provisioned from these files.
 */
import assert from "node:assert/strict";
import { buildApiApp } from "../../src/roles/api_app.ts";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { TestRedis } from "../helpers/redis_server.ts";
import { Redis } from "ioredis";
import { WebhookStore } from "../../src/webhooks/store.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DASHBOARD = `${ROOT}deploy/grafana/dashboards/jobqueue.json`;
const ALERTS = `${ROOT}deploy/prometheus/alerts.yml`;
const ALERTS_TEST = `${ROOT}deploy/prometheus/alerts_test.yml`;

function binary(name: string): string | null {
  for (const dir of ["/usr/bin", "/usr/local/bin"]) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
    } catch {
      // not there
    }
  }
  return null;
}

const PROMTOOL = binary("promtool");
if (!PROMTOOL) console.log("skipping the promtool checks: no promtool binary installed");
const COMPOSE = binary("docker-compose");
if (!COMPOSE) console.log("skipping the compose check: no docker-compose installed");

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, { args, env, cwd: ROOT, stdin: "null" }).output();
  const dec = new TextDecoder();
  return { code: out.code, text: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

interface Target {
  refId: string;
  expr: string;
  datasource: { uid: string };
}
interface Panel {
  id: number;
  title: string;
  type: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource: { uid: string };
  targets: Target[];
}

const dashboard = JSON.parse(await Deno.readTextFile(DASHBOARD)) as {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string }> };
};
const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
const alertExprs = [...(await Deno.readTextFile(ALERTS)).matchAll(
  /expr: (?:>-\n((?:\s{10}.*\n)+)|(.*)\n)/g,
)].map((m) => (m[1] ?? m[2]).replace(/\s+/g, " ").trim());

/** Metric names in a PromQL expression (ours all start with `jobqueue_`). */
const namesIn = (expr: string) => [...expr.matchAll(/\bjobqueue_[a-z_]+\b/g)].map((m) => m[0]);

/** The series names the API's /metrics exposes (histograms as their _bucket/_sum/_count). */
async function exportedNames(): Promise<Set<string>> {
  const redis = await TestRedis.start();
  const broker = new RedisBroker({ url: redis.url, queue: `mon${Date.now()}` });
  // With webhooks, as `deno task api` runs it: their series are on /metrics too.
  const client = new Redis(redis.url);
  const http = buildApiApp({
    broker,
    webhooks: new WebhookStore({ client, homeQueue: () => broker.homeQueue() }),
    registry: await loadRegistry(),
    log: createLogger({ level: "silent" }),
  });
  try {
    const text = await (await http.app.request("/metrics")).text();
    const names = new Set<string>();
    for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      if (type === "histogram") {
        for (const s of ["_bucket", "_sum", "_count"]) names.add(name + s);
      } else names.add(name);
    }
    return names;
  } finally {
    await http.close();
    client.disconnect();
    await broker.close();
    await redis.close();
  }
}

Deno.test("grafana: the dashboard is well-formed: unique ids, a 24-column grid, every query on the chosen data source", () => {
  assert.strictEqual(dashboard.uid, "jobqueue-overview");
  const ids = dashboard.panels.map((p) => p.id);
  assert.strictEqual(new Set(ids).size, ids.length, "unique panel ids");
  assert.ok(dashboard.templating.list.some((v) => v.name === "datasource"));
  for (const p of dashboard.panels) {
    assert.ok(p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24, `${p.title}: inside the grid`);
    assert.strictEqual(p.datasource.uid, "${datasource}", p.title);
    assert.ok(p.targets.length > 0, `${p.title}: has a query`);
    const refs = p.targets.map((t) => t.refId);
    assert.strictEqual(new Set(refs).size, refs.length, `${p.title}: unique refIds`);
    for (const t of p.targets) assert.ok(t.expr.trim().length > 0, p.title);
  }
  // No two panels overlap.
  const cells = new Set<string>();
  for (const { title, gridPos: g } of dashboard.panels) {
    for (let x = g.x; x < g.x + g.w; x++) {
      for (let y = g.y; y < g.y + g.h; y++) {
        assert.ok(!cells.has(`${x},${y}`), `${title} overlaps another panel at ${x},${y}`);
        cells.add(`${x},${y}`);
      }
    }
  }
});

Deno.test("grafana and alerts: every metric they query is one the API's /metrics exports", async () => {
  const exported = await exportedNames();
  // The check itself can fail: a made-up name is caught.
  assert.ok(!exported.has("jobqueue_queue_depth"));
  for (const expr of [...exprs, ...alertExprs]) {
    for (const name of namesIn(expr)) {
      assert.ok(
        exported.has(name),
        `${name} (in ${expr}) is not exported`,
      );
    }
  }
  // What the dashboard must show, each at least once.
  const used = new Set([...exprs].flatMap(namesIn));
  for (
    const name of [
      "jobqueue_queue_jobs",
      "jobqueue_queue_latency_seconds",
      "jobqueue_jobs_completed_total",
      "jobqueue_jobs_failed_total",
      "jobqueue_job_duration_seconds_bucket",
      "jobqueue_workers",
      "jobqueue_redis_up",
      "jobqueue_webhook_deliveries_total",
      "jobqueue_circuit_state",
    ]
  ) assert.ok(used.has(name), `the dashboard shows ${name}`);
  assert.ok(exprs.some((e) => /histogram_quantile\(0\.95, .*_bucket/.test(e)), "a p95");
  assert.strictEqual(alertExprs.length, 6);
});

Deno.test({
  name: "grafana: every dashboard query is valid PromQL (promtool, as recording rules)",
  ignore: !PROMTOOL,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      // Grafana's variables, as Grafana would fill them in.
      const filled = exprs.map((e) =>
        e.replaceAll("$__rate_interval", "5m").replaceAll("$queue", ".*")
      );
      const rules = ["groups:", "  - name: dashboard", "    rules:"];
      filled.forEach((expr, i) => {
        rules.push(`      - record: dashboard:query_${i}`, `        expr: ${JSON.stringify(expr)}`);
      });
      await Deno.writeTextFile(`${dir}/dashboard.yml`, rules.join("\n") + "\n");
      const checked = await run(PROMTOOL!, ["check", "rules", `${dir}/dashboard.yml`]);
      assert.strictEqual(checked.code, 0, checked.text);
      assert.match(checked.text, new RegExp(`SUCCESS: ${exprs.length} rules found`));
      // And a broken query is caught by the same check.
      await Deno.writeTextFile(
        `${dir}/broken.yml`,
        'groups:\n  - name: b\n    rules:\n      - record: b:x\n        expr: "sum(rate(x[5m])"\n',
      );
      assert.notStrictEqual(
        (await run(PROMTOOL!, ["check", "rules", `${dir}/broken.yml`])).code,
        0,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "alerts: promtool check rules and the unit tests pass; a changed rule fails them",
  ignore: !PROMTOOL,
  async fn() {
    const checked = await run(PROMTOOL!, ["check", "rules", ALERTS]);
    assert.strictEqual(checked.code, 0, checked.text);
    assert.match(checked.text, /SUCCESS: 6 rules found/);
    const tested = await run(PROMTOOL!, ["test", "rules", ALERTS_TEST]);
    assert.strictEqual(tested.code, 0, tested.text);
    assert.match(tested.text, /SUCCESS/);
    // The unit tests notice a rule that no longer fires when it should.
    const dir = await Deno.makeTempDir();
    try {
      const rules = await Deno.readTextFile(ALERTS);
      await Deno.writeTextFile(
        `${dir}/alerts.yml`,
        rules.replace("max(jobqueue_workers) < 1", "max(jobqueue_workers) < 0"),
      );
      await Deno.copyFile(ALERTS_TEST, `${dir}/alerts_test.yml`);
      const mutated = await run(PROMTOOL!, ["test", "rules", `${dir}/alerts_test.yml`]);
      assert.notStrictEqual(mutated.code, 0, mutated.text);
      assert.match(mutated.text, /JobQueueNoWorkerUp/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "compose: the file validates, and Grafana and Prometheus mount the shipped files",
  ignore: !COMPOSE,
  async fn() {
    const env = {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      ADMIN_API_KEY: "check",
      METRICS_TOKEN: "check",
      GRAFANA_ADMIN_PASSWORD: "check",
    };
    const config = await run(COMPOSE!, ["-f", "docker-compose.yml", "config"], env);
    assert.strictEqual(config.code, 0, config.text);
    for (
      const [host, container] of [
        ["deploy/prometheus/alerts.yml", "/etc/prometheus/alerts.yml"],
        ["deploy/grafana/provisioning/datasources", "/etc/grafana/provisioning/datasources"],
        ["deploy/grafana/provisioning/dashboards", "/etc/grafana/provisioning/dashboards"],
        ["deploy/grafana/dashboards", "/var/lib/grafana/dashboards"],
      ]
    ) {
      assert.ok(config.text.includes(`${ROOT}${host}:${container}:ro`), `${host} -> ${container}`);
      assert.ok(Deno.statSync(`${ROOT}${host}`), `${host} exists`);
    }
    // Prometheus loads the file it mounts; Grafana's data source is that Prometheus.
    assert.match(
      await Deno.readTextFile(`${ROOT}deploy/prometheus.yml`),
      /rule_files:\n\s+- \/etc\/prometheus\/alerts\.yml/,
    );
    const source = await Deno.readTextFile(
      `${ROOT}deploy/grafana/provisioning/datasources/prometheus.yml`,
    );
    assert.match(source, /url: http:\/\/prometheus:9090/);
    assert.match(config.text, /\n {2}prometheus:\n/);
    const provider = await Deno.readTextFile(
      `${ROOT}deploy/grafana/provisioning/dashboards/jobqueue.yml`,
    );
    assert.match(provider, /path: \/var\/lib\/grafana\/dashboards/);
    // Without Grafana's admin password the file refuses to start (no default password).
    const missing = await run(COMPOSE!, ["-f", "docker-compose.yml", "config", "-q"], {
      ...env,
      GRAFANA_ADMIN_PASSWORD: "",
    });
    assert.notStrictEqual(missing.code, 0);
    assert.match(missing.text, /GRAFANA_ADMIN_PASSWORD/);
  },
});
