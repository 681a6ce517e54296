/// <reference lib="dom" />
/**
 * The dashboard in a real headless Chromium (playwright-core driving the
 * system's /usr/bin/chromium; no browser download), served by the same HTTP
 * app the API process serves (`buildApiApp`), over a real RedisBroker on a
 * throwaway redis-server, with a real worker (runner + Web Worker pool)
 * running the built-in email job into a temporary outbox.
 *
 * The first test runs a single-queue deployment (its queue not named
 * "default"); the second two named queues, `default` and `reports`, served by
 * one worker: the Queues panel, Pause/Resume, the queue filter of the job
 * list and the submit form's queue field; the third runs with API keys: the
 * key prompt, a scoped key's view, and a revoke while the page is open.
 */
import assert from "node:assert/strict";
import {
  CHROMIUM,
  failureShot,
  hasChromium,
  launchChromium,
  OUT_DIR,
  serveOnLoopback,
} from "./browser.ts";
import type { Browser, Page } from "playwright-core";
import { buildApiApp } from "../../src/roles/api_app.ts";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { ALL_QUEUES, type QueueSelection } from "../../src/queue/queue_selection.ts";
import { startWorkerProcess, type WorkerProcess } from "../../src/worker/process.ts";
import { TestRedis } from "../helpers/redis_server.ts";
import { Authenticator } from "../../src/auth/authenticator.ts";
import { KeyStore } from "../../src/auth/key_store.ts";
import { connect } from "../../src/queue/connect.ts";

const XSS = "<img src=x onerror=alert(1)>";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

if (!hasChromium()) console.log(`skipping dashboard browser test: ${CHROMIUM} not installed`);

/** A throwaway deployment: redis-server, the API app on a free port, one worker. */
interface Stack {
  base: string;
  broker: RedisBroker;
  outbox: string;
  worker: WorkerProcess;
  /** The key store, when the stack checks API keys. */
  keys: KeyStore | null;
  close(): Promise<void>;
}

/** Starts a deployment whose default queue is `queue`; its worker serves `serve`. */
async function startStack(
  queue: string,
  serve?: QueueSelection,
  options: { auth?: boolean } = {},
): Promise<Stack> {
  const redis = await TestRedis.start();
  const broker = new RedisBroker({ url: redis.url, queue });
  const registry = await loadRegistry();
  const log = createLogger({ level: "error" }); // a failure explains itself
  const outbox = await Deno.makeTempDir({ prefix: "jq-dash-outbox-" });
  Deno.env.set("EMAIL_OUTBOX_DIR", outbox); // the in-process worker's job settings come from env
  // The dead-set step's webhook goes to a closed loopback port, which the operator allows.
  Deno.env.set("OUTBOUND_ALLOW", "127.0.0.1");
  const keyClient = options.auth ? connect(redis.url) : null;
  const keys = keyClient ? new KeyStore(keyClient) : null;
  const auth = keys ? new Authenticator({ mode: "on", store: keys }) : undefined;
  const http = buildApiApp({ broker, registry, log, auth });

  const served = serveOnLoopback(http.app.fetch);
  const base = served.base;
  const worker = await startWorkerProcess({
    redisUrl: redis.url,
    queue,
    serve,
    concurrency: 4,
    threads: 1,
    drainMs: 500,
    handleSignals: false,
    log,
  });
  return {
    base,
    broker,
    outbox,
    worker,
    keys,
    async close() {
      keyClient?.disconnect();
      worker.stop();
      assert.strictEqual(await worker.exitCode, 0);
      await served.close();
      await http.close();
      await broker.close();
      await redis.close();
      Deno.env.delete("EMAIL_OUTBOX_DIR");
      Deno.env.delete("OUTBOUND_ALLOW");
      await Deno.remove(outbox, { recursive: true });
    },
  };
}

/** POSTs a job and returns its id. */
async function api(base: string, path: string, body: unknown): Promise<string> {
  const res = await fetch(base + path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = await res.json() as { job_id: string };
  assert.strictEqual(res.status, 201, JSON.stringify(json));
  return json.job_id;
}

async function fillEmail(page: Page, fields: Record<string, string>): Promise<void> {
  await page.selectOption("#submit-type", "email");
  const form = page.locator("#submit-box form");
  for (const [name, value] of Object.entries(fields)) {
    await form.locator(`[name="${name}"]`).fill(value);
  }
}

async function submittedId(page: Page, previous: string | null): Promise<string> {
  const status = page.locator("#submit-box .form-status");
  await page.waitForFunction(
    (prev) => {
      const text = document.querySelector("#submit-box .form-status")?.textContent ?? "";
      const m = text.match(/Submitted job (\S+)/);
      return m !== null && m[1] !== prev;
    },
    previous,
    { timeout: 10_000 },
  );
  const text = await status.textContent() ?? "";
  return text.replace("Submitted job ", "").trim();
}

async function waitDetailStatus(page: Page, id: string, status: string): Promise<void> {
  await page.waitForFunction(
    ([jobId, want]) => {
      const content = document.querySelector("#detail-content");
      const code = content?.querySelector("dd code")?.textContent;
      const badge = content?.querySelector(".badge")?.textContent;
      return code === jobId && badge === want;
    },
    [id, status],
    { timeout: 15_000 },
  );
}

/**
 * Waits until the Queues panel's row of `name` shows the pause flag and the
 * counts asked for (cell text as rendered, e.g. `{completed: "2"}`).
 */
async function waitQueueRow(
  page: Page,
  name: string,
  want: { paused?: boolean; counts?: Record<string, string> },
  timeout = 15_000,
): Promise<void> {
  await page.waitForFunction(
    ([name, want]) => {
      const tr = document.querySelector(`#queues-body tr[data-queue="${name}"]`) as
        | HTMLElement
        | null;
      if (!tr) return false;
      if (want.paused !== undefined) {
        const badge = tr.querySelector(".badge.q-paused")?.textContent === "paused";
        const button = tr.querySelector("button")?.textContent;
        if (tr.dataset.paused !== String(want.paused) || badge !== want.paused) return false;
        if (button !== (want.paused ? "Resume" : "Pause")) return false;
      }
      return Object.entries(want.counts ?? {}).every(([state, text]) =>
        tr.querySelector(`td[data-count="${state}"]`)?.textContent === text
      );
    },
    [name, want] as const,
    { timeout },
  );
}

/** The queue names of the Queues panel's rows, in order. */
const queueRowNames = (page: Page): Promise<string[]> =>
  page.$$eval(
    "#queues-body tr[data-queue]",
    (trs) => trs.map((tr) => (tr as HTMLElement).dataset.queue ?? ""),
  );

/** The choices of the job list's queue filter. */
const queueOptions = (page: Page): Promise<string[]> =>
  page.$$eval("#filter-queue option", (os) => os.map((o) => (o as HTMLOptionElement).value));

/** Waits until the job list shows exactly these job ids (any order); returns each row's queue. */
async function waitListed(page: Page, ids: string[]): Promise<string[]> {
  await page.waitForFunction(
    (want) => {
      const got = Array.from(document.querySelectorAll("#jobs-body tr[data-job-id]"))
        .map((tr) => (tr as HTMLElement).dataset.jobId ?? "").sort();
      return JSON.stringify(got) === JSON.stringify([...want].sort());
    },
    ids,
    { timeout: 10_000 },
  );
  return await page.$$eval(
    "#jobs-body tr[data-job-id] td:nth-child(2)",
    (tds) => tds.map((td) => td.textContent ?? ""),
  );
}

/** GET /api/v1/queues/:name. */
async function queueInfo(base: string, name: string): Promise<{ name: string; paused: boolean }> {
  const res = await fetch(`${base}/api/v1/queues/${encodeURIComponent(name)}`);
  const json = await res.json();
  assert.strictEqual(res.status, 200, JSON.stringify(json));
  return json;
}

/** GET /api/v1/jobs/:id's status. */
async function jobStatus(base: string, id: string): Promise<string> {
  const res = await fetch(`${base}/api/v1/jobs/${encodeURIComponent(id)}`);
  const json = await res.json();
  assert.strictEqual(res.status, 200, JSON.stringify(json));
  return String(json.status ?? json.job?.status);
}

Deno.test({
  name: "dashboard: schema form, live updates, detail, cancel/retry/purge, XSS-safe rendering",
  ignore: !hasChromium(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // One queue, not named "default": the queue filter must pick it anyway.
    const queue = `dash${Date.now()}`;
    const { base, broker, outbox, close } = await startStack(queue);
    let browser: Browser | null = null;
    const dialogs: string[] = [];
    const pageErrors: string[] = [];
    try {
      browser = await launchChromium();
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      // Confirmations of the actions are expected and accepted; any other
      // dialog (an alert from injected markup) is recorded and fails the test.
      const confirms: string[] = [];
      page.on("dialog", (dialog) => {
        if (dialog.type() === "confirm") {
          confirms.push(dialog.message());
          dialog.accept().catch(() => {});
        } else {
          dialogs.push(dialog.message());
          dialog.dismiss().catch(() => {});
        }
      });
      page.on("pageerror", (error) => pageErrors.push(String(error)));
      // The Idempotency-Key of every submit the page sends.
      const submitKeys: string[] = [];
      page.on("request", (request) => {
        if (request.method() === "POST" && new URL(request.url()).pathname === "/api/v1/jobs") {
          submitKeys.push(request.headers()["idempotency-key"] ?? "");
        }
      });

      await page.goto(base + "/");
      await page.waitForSelector('#conn[data-mode="live"]', { timeout: 10_000 });
      await page.waitForSelector("#submit-box form", { timeout: 10_000 });
      assert.strictEqual(await page.textContent("#count-completed"), "0");

      // 1. A schema error from the API shows next to its field.
      await fillEmail(page, {
        to: "not-an-email",
        from: "noreply@example.com",
        subject: "Hi",
        body: "Hello",
      });
      await page.click("#submit-box button[type=submit]");
      const toField = page.locator('#submit-box [name="to"]');
      await page.waitForFunction(
        () =>
          document.querySelector('#submit-box [name="to"]')?.getAttribute("aria-invalid") ===
            "true",
        null,
        { timeout: 10_000 },
      );
      const errorId = (await toField.getAttribute("aria-describedby"))!.split(" ").pop()!;
      const fieldError = await page.textContent(`#${errorId}`);
      assert.ok(fieldError && fieldError.length > 0, "inline error next to the 'to' field");

      // 2. A valid job: appears, runs, completes; the page never reloads.
      await page.evaluate(() => ((globalThis as unknown as { __marker: number }).__marker = 42));
      await fillEmail(page, {
        to: "user@example.com",
        from: "noreply@example.com",
        subject: "Welcome!",
        body: "Thanks for signing up",
      });
      await page.click("#submit-box button[type=submit]");
      const first = await submittedId(page, null);
      await waitDetailStatus(page, first, "completed");
      await page.waitForSelector(`#jobs-body tr[data-job-id="${first}"]`, { timeout: 10_000 });
      await page.waitForFunction(
        () => document.querySelector("#count-completed")?.textContent === "1",
        null,
        { timeout: 10_000 },
      );
      const result = await page.textContent('#detail-content pre[data-field="result"]');
      assert.match(result ?? "", /"transport": "file"/);
      assert.strictEqual([...Deno.readDirSync(outbox)].length, 1, "the worker wrote the .eml");

      // 2b. One queue: the Queues panel lists it alone, and the job list's queue filter
      // (that queue its only choice) shows it in the Queue column.
      await waitQueueRow(page, queue, { paused: false, counts: { completed: "1" } });
      assert.deepStrictEqual(await queueRowNames(page), [queue]);
      assert.deepStrictEqual(await queueOptions(page), [queue]);
      assert.strictEqual(await page.inputValue("#filter-queue"), queue);
      assert.strictEqual(
        await page.textContent(`#jobs-body tr[data-job-id="${first}"] td:nth-child(2)`),
        queue,
      );

      // 3. A payload with markup renders as text and runs nothing.
      await fillEmail(page, {
        to: "user@example.com",
        from: "noreply@example.com",
        subject: XSS,
        body: XSS,
      });
      await page.click("#submit-box button[type=submit]");
      const second = await submittedId(page, first);
      assert.notStrictEqual(second, first);
      await waitDetailStatus(page, second, "completed");
      await page.waitForFunction(
        () => document.querySelector("#count-completed")?.textContent === "2",
        null,
        { timeout: 10_000 },
      );
      const payloadText = await page.textContent('#detail-content pre[data-field="payload"]');
      assert.ok(payloadText?.includes(XSS), "the markup is shown literally");
      assert.strictEqual(await page.locator("img").count(), 0, "no <img> was created anywhere");
      // Every submit so far (the refused one too) carried a key of its own.
      assert.strictEqual(submitKeys.length, 3);
      assert.ok(submitKeys.every((k) => UUID.test(k)), submitKeys.join(", "));
      assert.strictEqual(new Set(submitKeys).size, 3);

      // 3b. The answer is lost after the job was stored (503 outcome_unknown): the form
      // retries with the same key and shows the one stored job; nothing is created twice.
      const totalBefore = (await broker.stats()).total;
      let storedId = "";
      await page.route(`${base}/api/v1/jobs`, async (route) => {
        const real = await route.fetch(); // reaches the API: the job is stored
        storedId = (await real.json()).job_id;
        await route.fulfill({
          status: 503,
          headers: { "content-type": "application/json", "retry-after": "1" },
          body: JSON.stringify({ error: { code: "outcome_unknown", message: "lost" } }),
        });
      }, { times: 1 });
      await fillEmail(page, {
        to: "user@example.com",
        from: "noreply@example.com",
        subject: "Once",
        body: "Only once",
      });
      await page.click("#submit-box button[type=submit]");
      await page.waitForFunction(
        () =>
          /retrying 1\/2 with the same idempotency key/.test(
            document.querySelector("#submit-box .form-status")?.textContent ?? "",
          ),
        null,
        { timeout: 10_000 },
      );
      const third = await submittedId(page, second);
      assert.strictEqual(third, storedId, "the retry was answered with the stored job");
      assert.strictEqual((await broker.stats()).total, totalBefore + 1, "stored once");
      assert.strictEqual(submitKeys.length, 5);
      assert.strictEqual(submitKeys[3], submitKeys[4], "the retry carried the same key");
      assert.ok(!submitKeys.slice(0, 3).includes(submitKeys[3]), "a new click, a new key");
      await waitDetailStatus(page, third, "completed");

      // Open the first job again from the list: the detail follows the click.
      await page.click(`#jobs-body tr[data-job-id="${first}"] button`);
      await waitDetailStatus(page, first, "completed");

      // 4. Cancel a running job, then retry it, through the detail panel's buttons.
      const slow = await api(base, "/api/v1/jobs", {
        type: "compute",
        payload: { duration_ms: 60_000, mode: "sleep" },
      });
      await page.selectOption("#filter-state", "running");
      await page.click(`#jobs-body tr[data-job-id="${slow}"] button`, { timeout: 10_000 });
      await waitDetailStatus(page, slow, "running");
      await page.click('#detail-content button:has-text("Cancel job")');
      await waitDetailStatus(page, slow, "cancelled");
      await page.click('#detail-content button:has-text("Retry job")');
      await page.waitForFunction(
        (id) => {
          const content = document.querySelector("#detail-content");
          const badge = content?.querySelector(".badge")?.textContent;
          return content?.querySelector("dd code")?.textContent === id &&
            (badge === "pending" || badge === "running");
        },
        slow,
        { timeout: 10_000 },
      );
      await fetch(`${base}/api/v1/jobs/${slow}`, { method: "DELETE" }).then((r) =>
        r.body?.cancel()
      );

      // 5. Purge the dead set: a webhook to a closed port with one attempt dies.
      const dead = await api(base, "/api/v1/jobs", {
        type: "webhook",
        payload: { url: "http://127.0.0.1:1/hook" },
        max_attempts: 1,
      });
      await page.waitForFunction(
        () => document.querySelector("#count-failed")?.textContent === "1",
        null,
        { timeout: 15_000 },
      );
      await page.selectOption("#filter-state", "failed");
      await page.waitForSelector(`#jobs-body tr[data-job-id="${dead}"]`, { timeout: 10_000 });
      await page.click("#purge-failed");
      await page.waitForSelector(`#jobs-body tr[data-job-id="${dead}"]`, {
        state: "detached",
        timeout: 10_000,
      });
      const gone = await fetch(`${base}/api/v1/jobs/${dead}`);
      await gone.body?.cancel();
      assert.strictEqual(gone.status, 404, "the purged job is gone");
      // The dead set is empty now; the job did fail, and the tile says so.
      await page.waitForFunction(
        () =>
          document.querySelector("#count-failed")?.textContent === "0" &&
          document.querySelector("#count-failed_total")?.textContent === "1",
        null,
        { timeout: 10_000 },
      );
      assert.strictEqual(confirms.length, 3, `three confirmations: ${confirms.join(" | ")}`);
      assert.match(confirms[0], /^Cancel job/);
      assert.match(confirms[1], /^Retry job/);
      assert.match(confirms[2], /dead set/);
      await page.selectOption("#filter-state", "completed");

      assert.strictEqual(
        await page.evaluate(() => (globalThis as unknown as { __marker?: number }).__marker),
        42,
        "no reload happened",
      );
      await page.waitForTimeout(1500); // let the history panel load and draw
      await Deno.mkdir(OUT_DIR, { recursive: true });
      await page.screenshot({ path: `${OUT_DIR}/dashboard.png`, fullPage: true });
      await page.setViewportSize({ width: 390, height: 900 });
      await page.waitForTimeout(300);
      await page.screenshot({ path: `${OUT_DIR}/dashboard_narrow.png`, fullPage: true });

      assert.deepStrictEqual(dialogs, [], "no dialog may fire");
      assert.deepStrictEqual(pageErrors, [], "no uncaught page errors");
    } catch (error) {
      await failureShot(browser, "dashboard_failure.png");
      throw error;
    } finally {
      await browser?.close().catch(() => {});
      await close();
    }
  },
});

Deno.test({
  name: "dashboard: named queues — queues panel, pause/resume, queue filter, submit to a queue",
  ignore: !hasChromium(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // The worker serves every known queue (as WORKER_QUEUES unset does).
    const { base, close } = await startStack("default", ALL_QUEUES);
    const compute = { type: "compute", payload: { duration_ms: 10, mode: "sleep" } };
    const defaults = [
      await api(base, "/api/v1/jobs", compute),
      await api(base, "/api/v1/jobs", compute),
    ];
    const reports = [
      await api(base, "/api/v1/jobs", { ...compute, queue: "reports" }),
      await api(base, "/api/v1/jobs", { ...compute, queue: "reports" }),
      await api(base, "/api/v1/jobs", { ...compute, queue: "reports" }),
    ];
    assert.ok(defaults.every((id) => UUID.test(id)), `home queue ids: ${defaults}`);
    assert.ok(
      reports.every((id) => id.startsWith("reports:") && UUID.test(id.slice(8))),
      `reports ids: ${reports}`,
    );

    let browser: Browser | null = null;
    const dialogs: string[] = [];
    const pageErrors: string[] = [];
    try {
      browser = await launchChromium();
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      page.on("dialog", (dialog) => {
        dialogs.push(`${dialog.type()}: ${dialog.message()}`);
        dialog.dismiss().catch(() => {});
      });
      page.on("pageerror", (error) => pageErrors.push(String(error)));
      const pauseCalls: string[] = [];
      page.on("request", (request) => {
        const path = new URL(request.url()).pathname;
        if (request.method() === "POST" && path.startsWith("/api/v1/queues/")) {
          pauseCalls.push(path);
        }
      });

      await page.goto(base + "/");
      await page.waitForSelector('#conn[data-mode="live"]', { timeout: 10_000 });
      await page.waitForSelector("#submit-box form", { timeout: 10_000 });

      // 1. The Queues panel lists both queues, by name, with their counts (the worker ran them).
      await waitQueueRow(page, "default", { paused: false, counts: { completed: "2" } });
      await waitQueueRow(page, "reports", {
        paused: false,
        counts: { completed: "3", pending: "0", failed: "0" },
      });
      assert.deepStrictEqual(await queueRowNames(page), ["default", "reports"]);
      for (const name of ["default", "reports"]) {
        const latency = await page.textContent(
          `#queues-body tr[data-queue="${name}"] td[data-field="latency"]`,
        );
        assert.strictEqual(latency, "0 ms", `${name}: nothing pending, no latency`);
      }
      // The form's queue field suggests the known queues.
      assert.deepStrictEqual(
        await page.$$eval("#known-queues option", (os) => os.map((o) => o.getAttribute("value"))),
        ["default", "reports"],
      );

      // 2. The job list's queue filter: both queues offered, "default" chosen; each
      // queue's list holds its own jobs only, with the queue in its column.
      assert.deepStrictEqual(await queueOptions(page), ["default", "reports"]);
      assert.strictEqual(await page.inputValue("#filter-queue"), "default");
      assert.strictEqual(await page.inputValue("#filter-state"), "completed");
      assert.deepStrictEqual(await waitListed(page, defaults), ["default", "default"]);
      await page.selectOption("#filter-queue", "reports");
      assert.deepStrictEqual(await waitListed(page, reports), ["reports", "reports", "reports"]);
      const shown = await page.$$eval(
        "#jobs-body tr[data-job-id]",
        (trs) => trs.map((tr) => (tr as HTMLElement).dataset.jobId ?? ""),
      );
      assert.ok(shown.every((id) => id.startsWith("reports:")), shown.join(", "));
      // A reports job's detail opens from the list (its id URL-encoded in the request).
      await page.click(`#jobs-body tr[data-job-id="${reports[0]}"] button`);
      await waitDetailStatus(page, reports[0], "completed");

      // 3. Pause "reports" from its row: the API says paused, the row shows it, "default"
      // is untouched.
      await page.click(
        '#queues-body tr[data-queue="reports"] button[aria-label="Pause queue reports"]',
      );
      await waitQueueRow(page, "reports", { paused: true }, 10_000);
      assert.strictEqual((await queueInfo(base, "reports")).paused, true);
      assert.strictEqual((await queueInfo(base, "default")).paused, false);
      await waitQueueRow(page, "default", { paused: false });
      assert.match(await page.textContent("#queues-notice") ?? "", /Queue reports paused/);

      // 4. The form submits to the queue named in its queue field; in the paused queue
      // the job waits, and the row shows it pending with a growing latency.
      await fillEmail(page, {
        to: "user@example.com",
        from: "noreply@example.com",
        subject: "Monthly report",
        body: "Attached",
        queue: "reports",
      });
      await page.click("#submit-box button[type=submit]");
      const waiting = await submittedId(page, null);
      assert.ok(waiting.startsWith("reports:"), waiting);
      await waitDetailStatus(page, waiting, "pending");
      await waitQueueRow(page, "reports", { paused: true, counts: { pending: "1" } });
      await page.selectOption("#filter-state", "pending");
      assert.deepStrictEqual(await waitListed(page, [waiting]), ["reports"]);
      await page.waitForFunction(
        () =>
          /^\d+(\.\d)? s$/.test(
            document.querySelector('#queues-body tr[data-queue="reports"] td[data-field="latency"]')
              ?.textContent ?? "",
          ),
        null,
        { timeout: 10_000 },
      );
      assert.strictEqual(
        await jobStatus(base, waiting),
        "pending",
        "no worker claims from a paused queue",
      );

      // 5. Resume: the API and the row say so, and the waiting job runs.
      await page.click(
        '#queues-body tr[data-queue="reports"] button[aria-label="Resume queue reports"]',
      );
      await waitQueueRow(page, "reports", { paused: false }, 10_000);
      assert.strictEqual((await queueInfo(base, "reports")).paused, false);
      await waitDetailStatus(page, waiting, "completed");
      await waitQueueRow(page, "reports", { counts: { completed: "4", pending: "0" } });
      assert.deepStrictEqual(pauseCalls, [
        "/api/v1/queues/reports/pause",
        "/api/v1/queues/reports/resume",
      ]);

      // 6. A bad queue name: the API's 422 message shows next to the queue field.
      await fillEmail(page, {
        to: "user@example.com",
        from: "noreply@example.com",
        subject: "Nowhere",
        body: "x",
        queue: "bad name!",
      });
      await page.click("#submit-box button[type=submit]");
      await page.waitForFunction(
        () =>
          document.querySelector('#submit-box [name="queue"]')?.getAttribute("aria-invalid") ===
            "true",
        null,
        { timeout: 10_000 },
      );
      const queueInput = page.locator('#submit-box [name="queue"]');
      const queueErrorId = (await queueInput.getAttribute("aria-describedby"))!.split(" ").pop()!;
      assert.match(await page.textContent(`#${queueErrorId}`) ?? "", /queue name is 1-64/);
      assert.deepStrictEqual(await queueRowNames(page), ["default", "reports"], "no queue made");

      // 7. An empty queue field submits to the default queue (a plain id).
      await fillEmail(page, {
        to: "user@example.com",
        from: "noreply@example.com",
        subject: "Home",
        body: "x",
        queue: "",
      });
      await page.click("#submit-box button[type=submit]");
      const home = await submittedId(page, waiting);
      assert.ok(UUID.test(home), home);
      await waitDetailStatus(page, home, "completed");
      await waitQueueRow(page, "default", { counts: { completed: "3" } });

      // Flow control: a limit set through the API shows in its panel (refreshed every 5 s).
      const put = await fetch(`${base}/api/v1/limits/type/compute`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ concurrency: 7 }),
      });
      assert.strictEqual(put.status, 201, await put.text());
      await page.waitForFunction(
        () => document.getElementById("limits-body")?.textContent?.includes("7 at once"),
        undefined,
        { timeout: 10_000 },
      );

      await Deno.mkdir(OUT_DIR, { recursive: true });
      await page.screenshot({ path: `${OUT_DIR}/dashboard_queues.png`, fullPage: true });
      assert.deepStrictEqual(dialogs, [], "no dialog may fire");
      assert.deepStrictEqual(pageErrors, [], "no uncaught page errors");
    } catch (error) {
      await failureShot(browser, "dashboard_queues_failure.png");
      throw error;
    } finally {
      await browser?.close().catch(() => {});
      await close();
    }
  },
});

Deno.test({
  name: "dashboard with API keys: asks for a key, shows and obeys its scopes, SSE by header",
  ignore: !hasChromium(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const queue = `dashauth${Date.now()}`;
    const { base, keys, close } = await startStack(queue, undefined, { auth: true });
    const admin = (await keys!.create({ name: "admin", scopes: ["admin", "read", "submit"] })).key;
    const producer = await keys!.create({ name: "producer", scopes: ["submit", "read"] });
    const submitOnly = (await keys!.create({ name: "blind", scopes: ["submit"] })).key;
    const asAdmin = { authorization: `Bearer ${admin}`, "content-type": "application/json" };
    // A cancelled job: an admin could retry it from its detail; this key may not.
    const made = await fetch(`${base}/api/v1/jobs`, {
      method: "POST",
      headers: asAdmin,
      body: JSON.stringify({ type: "compute", payload: { duration_ms: 60_000 }, delay_ms: 60_000 }),
    });
    const cancelled = (await made.json()).job_id as string;
    await (await fetch(`${base}/api/v1/jobs/${cancelled}`, { method: "DELETE", headers: asAdmin }))
      .body?.cancel();

    let browser: Browser | null = null;
    const pageErrors: string[] = [];
    try {
      browser = await launchChromium();
      const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
      const page = await context.newPage();
      page.on("pageerror", (error) => pageErrors.push(String(error)));
      const requests: Array<{ url: string; authorization: string | undefined }> = [];
      page.on("request", (request) => {
        if (new URL(request.url()).pathname.startsWith("/api/v1/")) {
          requests.push({ url: request.url(), authorization: request.headers()["authorization"] });
        }
      });

      // 1. No key yet: the prompt, and nothing else.
      await page.goto(base + "/");
      await page.waitForSelector("#auth-prompt:not([hidden])", { timeout: 10_000 });
      assert.ok(await page.locator("#main").isHidden());
      await Deno.mkdir(OUT_DIR, { recursive: true });
      await page.screenshot({ path: `${OUT_DIR}/dashboard_auth_prompt.png` });
      // A wrong key is refused in the form and not kept.
      await page.fill("#auth-key", `jq_0123456789abcdef_${"A".repeat(43)}`);
      await page.click('#auth-form button[type="submit"]');
      await page.waitForSelector("#auth-error:not([hidden])", { timeout: 10_000 });
      assert.match(await page.textContent("#auth-error") ?? "", /refused/);
      assert.strictEqual(await page.evaluate(() => sessionStorage.length), 0);

      // 2. A submit+read key: the page starts with it; live by a header, never in a URL.
      await page.fill("#auth-key", producer.key);
      await page.click('#auth-form button[type="submit"]');
      await page.waitForSelector('#conn[data-mode="live"]', { timeout: 15_000 });
      await page.waitForSelector("#submit-box form", { timeout: 10_000 });
      assert.match(await page.textContent("#auth-who") ?? "", /producer.*may submit, read/);
      const events = requests.filter((r) => new URL(r.url).pathname === "/api/v1/events");
      assert.ok(events.length > 0, "the page opened the event stream");
      assert.ok(events.every((r) => r.authorization === `Bearer ${producer.key}`));
      assert.ok(requests.every((r) => !r.url.includes(producer.key)), "no key in any URL");
      assert.strictEqual(
        await page.evaluate(() => sessionStorage.getItem("jobqueue.apiKey")),
        producer.key,
      );
      assert.strictEqual(await page.evaluate(() => document.cookie), "", "no cookies");

      // 3. What it may not do is not offered: no pause, no purge, no retry.
      await page.waitForSelector(`#queues-body tr[data-queue="${queue}"]`, { timeout: 10_000 });
      assert.ok(await page.locator(`#queues-body tr[data-queue="${queue}"] button`).isHidden());
      await page.selectOption("#filter-state", "failed");
      assert.ok(await page.locator("#purge-failed").isHidden());
      await page.selectOption("#filter-state", "cancelled");
      await page.click(`#jobs-body tr[data-job-id="${cancelled}"] button`, { timeout: 10_000 });
      await waitDetailStatus(page, cancelled, "cancelled");
      assert.strictEqual(
        await page.locator('#detail-content button:has-text("Retry job")').count(),
        1,
      );
      assert.ok(await page.locator('#detail-content button:has-text("Retry job")').isHidden());
      // It may submit: a job through the form runs.
      await fillEmail(page, {
        to: "user@example.com",
        from: "noreply@example.com",
        subject: "With a key",
        body: "Hello",
      });
      await page.click("#submit-box button[type=submit]");
      const id = await submittedId(page, null);
      await waitDetailStatus(page, id, "completed");

      // 4. Revoked while the page is open: the next refused call brings the prompt back.
      assert.ok(await keys!.revoke(producer.record.id));
      await page.waitForSelector("#auth-prompt:not([hidden])", { timeout: 10_000 });
      assert.strictEqual(await page.evaluate(() => sessionStorage.length), 0);

      // 5. A key without read: nothing to show, and the page says why.
      await page.fill("#auth-key", submitOnly);
      await page.click('#auth-form button[type="submit"]');
      await page.waitForSelector("#scope-notice:not([hidden])", { timeout: 10_000 });
      assert.match(await page.textContent("#scope-notice") ?? "", /read scope/);
      assert.ok(await page.locator("#main").isHidden());

      // 6. An admin key sees the actions again; "Forget key" drops it.
      await page.click("#auth-forget");
      await page.waitForSelector("#auth-prompt:not([hidden])", { timeout: 10_000 });
      await page.fill("#auth-key", admin);
      await page.click('#auth-form button[type="submit"]');
      await page.waitForSelector('#conn[data-mode="live"]', { timeout: 15_000 });
      await page.waitForSelector(`#queues-body tr[data-queue="${queue}"] button`, {
        state: "visible",
        timeout: 10_000,
      });
      await Deno.mkdir(OUT_DIR, { recursive: true });
      await page.screenshot({ path: `${OUT_DIR}/dashboard_auth.png`, fullPage: true });

      // 7. A tenant's key: its own queues only; its jobs (ids with the tenant's "/") open.
      const tenantKey = (await keys!.create({
        name: "acme ops",
        scopes: ["admin", "read", "submit"],
        tenant: "acme",
      })).key;
      await page.click("#auth-forget");
      await page.waitForSelector("#auth-prompt:not([hidden])", { timeout: 10_000 });
      await page.fill("#auth-key", tenantKey);
      await page.click('#auth-form button[type="submit"]');
      await page.waitForSelector('#conn[data-mode="live"]', { timeout: 15_000 });
      assert.match(await page.textContent("#auth-who") ?? "", /acme ops.*tenant acme only/);
      await fillEmail(page, {
        to: "user@example.com",
        from: "noreply@example.com",
        subject: "From a tenant",
        body: "Hello",
      });
      await page.click("#submit-box button[type=submit]");
      const tenantJob = await submittedId(page, null);
      assert.match(tenantJob, /^acme\/default:/);
      await waitDetailStatus(page, tenantJob, "pending");
      await page.waitForSelector('#queues-body tr[data-queue="acme/default"]', { timeout: 10_000 });
      assert.strictEqual(await page.locator(`#queues-body tr[data-queue="${queue}"]`).count(), 0);
      assert.deepStrictEqual(pageErrors, [], "no uncaught page errors");
    } catch (error) {
      await failureShot(browser, "dashboard_auth_failure.png");
      throw error;
    } finally {
      await browser?.close().catch(() => {});
      await close();
    }
  },
});

Deno.test({
  name: "dashboard: a job's dependencies and dependents, linked, and its flow drawn",
  ignore: !hasChromium(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const queue = `dashflow${Date.now()}`;
    const { base, broker, close } = await startStack(queue);
    let browser: Browser | null = null;
    const pageErrors: string[] = [];
    try {
      // A long first job keeps its dependents waiting while the page looks.
      const root = await broker.enqueue({ type: "compute", payload: { duration_ms: 20_000 } });
      const mid = await broker.enqueue({
        type: "compute",
        payload: { duration_ms: 1 },
        depends_on: [root.id],
      });
      const leaf = await broker.enqueue({
        type: "compute",
        payload: { duration_ms: 1 },
        depends_on: [mid.id],
        on_dependency_failure: "cancel",
      });
      browser = await launchChromium();
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      page.on("pageerror", (error) => pageErrors.push(String(error)));
      await page.goto(base + "/");
      await page.waitForSelector('#conn[data-mode="live"]', { timeout: 10_000 });
      await page.waitForFunction(
        () => document.querySelector("#count-waiting")?.textContent === "2",
        null,
        { timeout: 10_000 },
      );
      await page.selectOption("#filter-state", "waiting");
      await page.click(`#jobs-body tr[data-job-id="${mid.id}"] button`, { timeout: 10_000 });
      await waitDetailStatus(page, mid.id, "waiting");
      await page.waitForSelector('#detail-content [data-flow="dependencies"] li', {
        timeout: 10_000,
      });
      const dependencies = await page.locator('[data-flow="dependencies"] button').evaluateAll(
        (nodes) => nodes.map((n) => n.getAttribute("data-job")),
      );
      assert.deepStrictEqual(dependencies, [root.id]);
      const dependents = await page.locator('[data-flow="dependents"] li').allTextContents();
      assert.strictEqual(dependents.length, 1);
      assert.match(dependents[0], /waiting/);
      // The graph: three nodes, two edges, the current one marked.
      assert.strictEqual(await page.locator(".flow-graph g.node").count(), 3);
      assert.strictEqual(await page.locator(".flow-graph line").count(), 2);
      assert.strictEqual(
        await page.locator(".flow-graph g.node.current").getAttribute("data-job"),
        mid.id,
      );
      // A dependent's link opens it; a node of the graph opens its job.
      await page.click(`[data-flow="dependents"] button[data-job="${leaf.id}"]`);
      await waitDetailStatus(page, leaf.id, "waiting");
      await page.waitForSelector(`.flow-graph g.node.current[data-job="${leaf.id}"]`);
      await page.click(`.flow-graph g.node[data-job="${root.id}"]`);
      await waitDetailStatus(page, root.id, "running");
      assert.deepStrictEqual(pageErrors, []);
    } catch (error) {
      await failureShot(browser, "dashboard_flow_failure.png");
      throw error;
    } finally {
      await browser?.close().catch(() => {});
      await close();
    }
  },
});
