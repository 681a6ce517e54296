/// <reference lib="dom" />
/**
 * The operator's console in a real headless Chromium (`browser.ts`), over
 * the API process's app with API keys, webhooks and schedules on a real
 * redis-server: the Workers view (a real worker process drained from the
 * page, a live and a stale registration written as a worker writes them),
 * the Webhooks view (a given-up delivery redelivered), the Redis view,
 * "Delete selected" end to end, the job detail's trace id; an admin's key
 * sees the actions and a read-only key does not; hostile strings in worker
 * records, webhook URLs and errors and job errors are text and run nothing;
 * every view by deep link and after reload, with axe (0 serious/critical)
 * at desktop and phone sizes; the phone layout of #/jobs and its tap targets.
 */
import assert from "node:assert/strict";
import type { Browser, BrowserContext, Page } from "playwright-core";
import {
  axeProblems,
  failureShot,
  hasChromium,
  launchChromium,
  OUT_DIR,
  serveOnLoopback,
} from "./browser.ts";
import { buildApiApp } from "../../src/roles/api_app.ts";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { connect } from "../../src/queue/connect.ts";
import { globalKeys, workerKey } from "../../src/queue/keys.ts";
import { PRESENCE, type WorkerRecord } from "../../src/queue/worker_presence.ts";
import { newOwnerId } from "../../src/queue/liveness.ts";
import { startWorkerProcess, type WorkerProcess } from "../../src/worker/process.ts";
import { Authenticator } from "../../src/auth/authenticator.ts";
import { KeyStore } from "../../src/auth/key_store.ts";
import { WebhookStore } from "../../src/webhooks/store.ts";
import { LATENCY_BUCKETS } from "../../src/webhooks/stats.ts";
import { startSchedules } from "../../src/schedules/runtime.ts";
import { TestRedis } from "../helpers/redis_server.ts";

/** Markup that would set `__pwned` (or alert) if it were ever parsed as HTML. */
const HOSTILE = `<img src=x onerror="globalThis.__pwned=1;alert(1)"><script>alert(2)</script>`;
const COMPUTE = { type: "compute", payload: { duration_ms: 1 } };
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

/** A context whose pages send `key` (as the dashboard's key prompt would have stored it). */
async function withKey(browser: Browser, key: string): Promise<BrowserContext> {
  // bypassCSP lets the test inject axe; the page's own code runs under its CSP as ever.
  const context = await browser.newContext({ viewport: DESKTOP, bypassCSP: true });
  await context.addInitScript((k) => sessionStorage.setItem("jobqueue.apiKey", k), key);
  return context;
}

/** Every dialog accepted and kept; page errors kept. */
function watch(page: Page) {
  const seen = { errors: [] as string[], alerts: [] as string[], confirms: [] as string[] };
  page.on("pageerror", (error) => seen.errors.push(String(error)));
  page.on("dialog", (dialog) => {
    if (dialog.type() === "confirm") seen.confirms.push(dialog.message());
    else seen.alerts.push(dialog.message());
    dialog.accept().catch(() => {});
  });
  return seen;
}

/** Controls shown on the page smaller than 24 × 24 px (WCAG 2.5.8's minimum target). */
const smallTargets = (page: Page) =>
  page.$$eval("a[href], button, input, select", (nodes) =>
    nodes.flatMap((n) => {
      const r = n.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) return []; // not shown
      if ((n as HTMLElement).classList.contains("skip")) return []; // off-screen until focused
      return r.width < 24 || r.height < 24
        ? [
          `${n.tagName} ${n.id || n.getAttribute("aria-label") || n.textContent} ${
            Math.round(r.width)
          }x${Math.round(r.height)}`,
        ]
        : [];
    }));

Deno.test({
  name: "console: workers (drain), webhooks (redeliver), redis, delete selected, trace id; " +
    "scoped actions, hostile text, axe on every view at desktop and phone sizes",
  ignore: !hasChromium(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const redis = await TestRedis.start();
    const broker = new RedisBroker({ url: redis.url, queue: "default" });
    const log = createLogger({ level: "error" });
    const registry = await loadRegistry();
    const client = connect(redis.url);
    const keys = new KeyStore(client);
    const webhooks = new WebhookStore({ client, homeQueue: () => broker.homeQueue() });
    const schedules = await startSchedules({ url: redis.url, broker, registry, log, tick: false });
    const http = buildApiApp({
      broker,
      registry,
      log,
      webhooks,
      schedules: schedules.service,
      auth: new Authenticator({ mode: "on", store: keys }),
    });
    const served = serveOnLoopback(http.app.fetch);
    const base = served.base;
    let worker: WorkerProcess | null = null;
    let workerStarted = false;
    let workerStopped = false;
    let browser: Browser | null = null;
    try {
      const admin = (await keys.create({ name: "ops", scopes: ["submit", "read", "admin"] })).key;
      const reader = (await keys.create({ name: "viewer", scopes: ["read"] })).key;

      // Worker registrations as worker_registry.ts writes them: one live, one stale.
      const gk = globalKeys();
      const fake = (id: string, beatAgoMs: number): WorkerRecord => ({
        id,
        host: HOSTILE,
        pid: 4242,
        queues: [{ name: HOSTILE, weight: 3 }],
        queue_order: "weighted",
        concurrency: 8,
        threads: 2,
        in_flight: 2,
        rss_bytes: 64 * 1024 * 1024,
        started_at: Date.now() - 3_600_000,
        version: HOSTILE,
        draining: false,
        drain_requested_at: null,
        beat_at: Date.now() - beatAgoMs,
      });
      const register = async (record: WorkerRecord) => {
        await client.set(workerKey(gk, record.id), JSON.stringify(record), "PX", PRESENCE.ttlMs);
        await client.zadd(gk.workers, record.beat_at, record.id);
      };
      const beatLive = () => register(fake("fakeLive1", 0));
      await beatLive();
      await register(fake("fakeStale1", PRESENCE.staleAfterMs + 10_000));

      // Jobs: dead ones with markup in their error, a completed one, a traced pending one.
      const dead: string[] = [];
      for (let i = 0; i < 3; i++) dead.push((await broker.enqueue(COMPUTE)).id);
      for (const job of await broker.claim(3)) {
        await broker.fail(job.id, job.token, {
          message: HOSTILE,
          retryable: false,
          retry_delay_ms: 0,
        });
      }
      const traced = (await broker.enqueue({
        ...COMPUTE,
        delay_ms: 3_600_000,
        traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01`,
      })).id;

      // Webhooks: a subscription with markup in its URL, a given-up delivery with a hostile error.
      await webhooks.create({ url: `https://hooks.example.com/x?q=${HOSTILE}` }, null);
      const hooked = (await broker.enqueue({
        ...COMPUTE,
        callback_url: `https://cb.example.com/${encodeURIComponent(HOSTILE)}`,
      })).id;
      await broker.cancel(hooked);
      const scripts = await webhooks.queueScripts("default");
      const { claimed } = await scripts.webhookClaim(10, 60_000, "test-token", Date.now());
      assert.ok(claimed.length >= 1, "the cancel made deliveries");
      for (const { id } of claimed) {
        await scripts.webhookDone({
          delivery: id,
          token: "test-token",
          outcome: "failed",
          error: HOSTILE,
          status: 500,
          keepFailedMs: 3_600_000,
          maxFailed: 100,
          buckets: LATENCY_BUCKETS,
        }, Date.now());
      }

      // A real worker on a queue of its own: the jobs below stay where they are put.
      const workerId = newOwnerId();
      // (Started after the delivery above was given up: its dispatcher would claim it first.)
      worker = await startWorkerProcess({
        redisUrl: redis.url,
        queue: "default",
        serve: { queues: [{ name: "ops", weight: 1 }], order: "weighted" },
        owner: workerId,
        concurrency: 2,
        threads: 1,
        drainMs: 500,
        handleSignals: false,
        log,
      });
      workerStarted = true;

      browser = await launchChromium();
      const adminContext = await withKey(browser, admin);
      const page = await adminContext.newPage();
      const seen = watch(page);
      const requests: string[] = [];
      page.on("request", (r) => requests.push(r.url()));

      // 1. Every view by deep link and after a reload; axe at desktop and phone sizes.
      const views: Array<[string, string]> = [
        ["#/", "#counts"],
        ["#/queues", "#queues-body tr[data-queue]"],
        ["#/queues/default", "#queues-body tr[data-queue]"],
        ["#/jobs?state=failed", "#jobs-body tr[data-job-id]"],
        [`#/jobs/${traced}`, "#detail-content dd code"],
        ["#/schedules", "#schedules-body tr"],
        ["#/flows", "#flows"],
        ["#/limits", "#limits-body tr"],
        ["#/webhooks", "#deliveries-body tr[data-delivery]"],
        ["#/workers", "#workers-body tr[data-worker]"],
        ["#/redis", "#redis-facts dt"],
      ];
      for (const [hash, ready] of views) {
        await beatLive();
        await page.goto(`${base}/${hash}`);
        await page.waitForSelector("#conn[data-mode=live]", { timeout: 10_000 });
        for (const reload of [false, true]) {
          if (reload) await page.reload();
          await page.waitForSelector(ready, { state: "visible", timeout: 10_000 });
          assert.strictEqual(new URL(page.url()).hash, hash);
        }
        await page.waitForTimeout(300); // let the lists fill
        for (const size of [DESKTOP, PHONE]) {
          await page.setViewportSize(size);
          assert.deepStrictEqual(await axeProblems(page), [], `${hash} at ${size.width}px`);
        }
        await page.setViewportSize(DESKTOP);
      }
      // The new views read nothing while another view is shown.
      await page.goto(`${base}/#/schedules`);
      await page.waitForTimeout(500);
      const before = requests.length;
      await page.waitForTimeout(3500);
      const polled = requests.slice(before).map((u) => new URL(u).pathname)
        .filter((p) => /\/(workers|webhooks|redis)/.test(p));
      assert.deepStrictEqual(polled, []);

      // 2. Workers: two live (one real), one stale said in words; Drain for live ones only.
      await beatLive();
      await page.goto(`${base}/#/workers`);
      const rowOf = (id: string) => `#workers-body tr[data-worker="${id}"]`;
      for (const id of [workerId, "fakeLive1", "fakeStale1"]) await page.waitForSelector(rowOf(id));
      assert.match(await page.textContent(`${rowOf("fakeStale1")} td`) ?? "", /^Stale: no beat/);
      assert.strictEqual(await page.textContent(`${rowOf("fakeLive1")} td`), "Live");
      assert.strictEqual(await page.textContent(`${rowOf(workerId)} td`), "Live");
      assert.strictEqual(await page.locator(`${rowOf("fakeStale1")} button`).count(), 0);
      assert.ok(await page.isVisible(`${rowOf("fakeLive1")} button`));
      // Markup in the host, queue names and version is text.
      const fakeText = await page.textContent(rowOf("fakeLive1")) ?? "";
      assert.ok(fakeText.includes(`${HOSTILE} · pid 4242`), fakeText);
      assert.ok(fakeText.includes(`${HOSTILE} ×3`), fakeText);
      assert.strictEqual(await page.locator("main img, main script").count(), 0);
      assert.match(await page.textContent(rowOf(workerId)) ?? "", /ops ×1/);
      await Deno.mkdir(OUT_DIR, { recursive: true });
      await page.screenshot({ path: `${OUT_DIR}/console_workers.png`, fullPage: true });
      // Drain the real worker from the page: it finishes and exits 0.
      await page.click(`${rowOf(workerId)} button`);
      await page.waitForFunction(() =>
        /Drain of .* asked/.test(document.getElementById("workers-notice")?.textContent ?? "")
      );
      const exit = await Promise.race([
        worker.exitCode,
        new Promise<string>((r) => setTimeout(() => r("timeout"), 20_000)),
      ]);
      assert.strictEqual(exit, 0, "the drained worker exited");
      workerStopped = true;
      await page.waitForSelector(rowOf(workerId), { state: "detached", timeout: 10_000 });
      assert.match(seen.confirms.at(-1) ?? "", /^Drain worker /);

      // 3. Webhooks: the URL and error as text; Redeliver makes it pending again.
      await page.goto(`${base}/#/webhooks`);
      await page.waitForSelector("#deliveries-body tr[data-delivery] button");
      assert.ok(
        (await page.textContent("#webhook-subs-body") ?? "").includes(HOSTILE) ||
          (await page.textContent("#webhook-subs-body") ?? "").includes("hooks.example.com"),
      );
      const errors = await page.$$eval(
        "#deliveries-body td.error-cell",
        (tds) => tds.map((t) => t.textContent),
      );
      assert.ok(errors.length >= 1 && errors.every((e) => e === HOSTILE), String(errors));
      assert.match(await page.textContent("#deliveries-body") ?? "", /given up.*500/s);
      await page.screenshot({ path: `${OUT_DIR}/console_webhooks.png`, fullPage: true });
      const delivery = await page.getAttribute(
        "#deliveries-body tr[data-delivery]",
        "data-delivery",
      );
      await page.click(`#deliveries-body tr[data-delivery="${delivery}"] button`);
      await page.waitForFunction(() =>
        /is pending again/.test(document.getElementById("webhooks-notice")?.textContent ?? "")
      );
      const pending = await webhooks.deliveries("pending", null, 100);
      assert.ok(pending.some((d) => d.id === delivery), "redelivered");
      assert.match(seen.confirms.at(-1) ?? "", /^Send delivery /);
      assert.strictEqual(await page.locator("main img, main script").count(), 0);

      // 4. Redis: the figures of this server.
      await page.goto(`${base}/#/redis`);
      await page.waitForSelector("#redis-facts dt");
      const facts = await page.textContent("#redis-facts") ?? "";
      assert.match(facts, /Modestandalone/);
      assert.match(facts, /Version\d+\.\d+\.\d+/);
      assert.match(facts, /Memory.*policy/);
      await page.screenshot({ path: `${OUT_DIR}/console_redis.png`, fullPage: true });

      // 5. The job detail: its trace id.
      await page.goto(`${base}/#/jobs/${traced}`);
      await page.waitForFunction(
        (t) =>
          [...document.querySelectorAll("#detail-content dd code")].some((c) =>
            c.textContent === t
          ),
        TRACE_ID,
      );

      // 6. Delete selected: two of the three dead jobs, confirmed, gone from Redis and the list.
      await page.goto(`${base}/#/jobs?state=failed`);
      await page.waitForSelector(`#jobs-body tr[data-job-id="${dead[2]}"]`);
      assert.deepStrictEqual(
        await page.$$eval("#jobs-body td.error-cell", (tds) => tds.map((t) => t.textContent)),
        [HOSTILE, HOSTILE, HOSTILE],
      );
      assert.ok(await page.isDisabled("#delete-selected"));
      for (const id of dead.slice(0, 2)) {
        await page.check(`#jobs-body tr[data-job-id="${id}"] input.pick`);
      }
      assert.strictEqual(await page.textContent("#delete-selected"), "Delete 2 selected");
      await page.click("#delete-selected");
      await page.waitForFunction(() =>
        /Deleted 2 job/.test(document.getElementById("jobs-notice")?.textContent ?? "")
      );
      assert.match(seen.confirms.at(-1) ?? "", /^Delete 2 selected job/);
      for (const id of dead.slice(0, 2)) assert.strictEqual(await broker.get(id), null);
      assert.strictEqual((await broker.get(dead[2]))?.status, "failed");
      await page.waitForFunction(
        () => document.querySelectorAll("#jobs-body tr[data-job-id]").length === 1,
      );

      // 7. A phone: #/jobs's list starts within one screen; every control is at least 24 px.
      await page.setViewportSize(PHONE);
      for (const hash of ["#/jobs?state=failed", "#/workers", "#/webhooks", "#/redis"]) {
        await page.goto(`${base}/${hash}`);
        await page.waitForSelector("#conn[data-mode=live]");
        await page.waitForTimeout(300);
        assert.deepStrictEqual(await smallTargets(page), [], `tap targets of ${hash}`);
      }
      await page.goto(`${base}/#/jobs?state=failed`);
      await page.waitForSelector("#jobs-body tr[data-job-id]");
      const top = await page.evaluate(() =>
        document.querySelector("#jobs table")!.getBoundingClientRect().top
      );
      assert.ok(top < PHONE.height, `the job list starts at ${top}px`);
      await page.screenshot({ path: `${OUT_DIR}/console_phone_jobs.png` });
      await page.setViewportSize(DESKTOP);

      // 8. A read-only key: the views, none of the actions.
      const readerPage = await (await withKey(browser, reader)).newPage();
      const readerSeen = watch(readerPage);
      await beatLive();
      await readerPage.goto(`${base}/#/workers`);
      await readerPage.waitForSelector('#workers-body tr[data-worker="fakeLive1"]');
      assert.strictEqual(await readerPage.isVisible("#workers-body button"), false);
      assert.strictEqual(
        await readerPage.locator("#workers-body button").evaluateAll((bs) =>
          bs.filter((b) => (b as HTMLElement).offsetParent !== null).length
        ),
        0,
      );
      for (const view of ["webhooks", "redis", "limits"]) {
        assert.strictEqual(await readerPage.isVisible(`#views a[data-view="${view}"]`), false);
      }
      assert.ok(await readerPage.isVisible('#views a[data-view="workers"]'));
      await readerPage.goto(`${base}/#/jobs?state=failed`);
      await readerPage.waitForSelector(`#jobs-body tr[data-job-id="${dead[2]}"]`);
      for (const sel of ["#delete-selected", "#jobs-body input.pick", "#retry-failed"]) {
        assert.strictEqual(await readerPage.isVisible(sel), false, sel);
      }
      // A deep link to an admin's view says why it is empty instead of failing silently.
      await readerPage.goto(`${base}/#/redis`);
      await readerPage.waitForFunction(() =>
        /HTTP 403/.test(document.getElementById("redis-notice")?.textContent ?? "")
      );

      // Nothing ran: no alert, no flag, no page error, nothing left the origin.
      for (const p of [page, readerPage]) {
        assert.strictEqual(await p.evaluate(() => "__pwned" in globalThis), false);
      }
      assert.deepStrictEqual([...seen.alerts, ...readerSeen.alerts], []);
      assert.deepStrictEqual([...seen.errors, ...readerSeen.errors], []);
      assert.deepStrictEqual(requests.filter((u) => !u.startsWith(base)), []);
    } catch (error) {
      await failureShot(browser, "console_failure.png");
      throw error;
    } finally {
      await browser?.close().catch(() => {});
      if (worker && workerStarted && !workerStopped) {
        worker.stop();
        await worker.exitCode;
      }
      await served.close();
      await http.close();
      await schedules.close();
      await broker.close();
      client.disconnect();
      await redis.close();
    }
  },
});
