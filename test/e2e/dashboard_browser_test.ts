/// <reference lib="dom" />
/**
 * The dashboard in a real headless Chromium (playwright-core driving the
 * system's /usr/bin/chromium; no browser download). The app is composed here
 * the way the server composes it: `createApp` + SSE + metrics + static files,
 * over a real RedisBroker on a throwaway redis-server.
 *
 * The worker is SIMULATED: the test claims and completes jobs with the broker
 * (with a progress report in between) instead of running the Web Worker pool,
 * so this test is about the dashboard and does not depend on the runner's wiring.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { chromium } from "playwright-core";
import type { Browser, Page } from "playwright-core";
import { createApp } from "../../src/api/app.ts";
import { eventsRoutes } from "../../src/api/sse.ts";
import { staticRoutes } from "../../src/api/static.ts";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import { ClusterMetrics, HttpMetrics } from "../../src/metrics/api_metrics.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { TestRedis } from "../helpers/redis_server.ts";

const CHROMIUM = "/usr/bin/chromium";
const STATIC_DIR = new URL("../../static", import.meta.url).pathname;
const OUT_DIR = new URL("../../test_output", import.meta.url).pathname;
const XSS = "<img src=x onerror=alert(1)>";

function hasChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}
if (!hasChromium()) console.log(`skipping dashboard browser test: ${CHROMIUM} not installed`);

/** Claims and completes jobs like a worker would, until stopped. */
function simulateWorker(broker: RedisBroker): { stop(): Promise<void> } {
  let running = true;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const loop = (async () => {
    while (running) {
      const jobs = await broker.claim(4).catch(() => []);
      if (jobs.length === 0) {
        await sleep(100);
        continue;
      }
      await Promise.all(jobs.map(async (job) => {
        await sleep(300);
        await broker.progress(job.id, job.token, 50).catch(() => false);
        await sleep(300);
        await broker.complete(job.id, job.token, { delivered: true, echo: job.payload })
          .catch(() => {});
      }));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
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

Deno.test({
  name: "dashboard: submit from the schema form, live updates, detail, XSS-safe rendering",
  ignore: !hasChromium(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const redis = await TestRedis.start();
    const broker = new RedisBroker({ url: redis.url, queue: `dash${Date.now()}` });
    const registry = await loadRegistry();
    const log = createLogger({ level: "silent" });
    const metrics = new ClusterMetrics(broker, { http: new HttpMetrics() });

    const app = new Hono();
    app.route("/", eventsRoutes(broker));
    app.route("/", metrics.routes());
    app.route("/", createApp({ broker, registry, log }));
    app.route("/", staticRoutes(STATIC_DIR));

    const ac = new AbortController();
    const server = Deno.serve(
      { port: 0, hostname: "127.0.0.1", signal: ac.signal, onListen: () => {} },
      app.fetch,
    );
    const base = `http://127.0.0.1:${server.addr.port}`;
    const worker = simulateWorker(broker);
    let browser: Browser | null = null;
    const dialogs: string[] = [];
    const pageErrors: string[] = [];
    try {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
        ],
      });
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      page.on("dialog", (dialog) => {
        dialogs.push(dialog.message());
        dialog.dismiss().catch(() => {});
      });
      page.on("pageerror", (error) => pageErrors.push(String(error)));

      await page.goto(base + "/");
      await page.waitForSelector('#conn[data-mode="live"]', { timeout: 10_000 });
      await page.waitForSelector("#submit-box form", { timeout: 10_000 });
      assert.equal(await page.textContent("#count-completed"), "0");

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
      assert.match(result ?? "", /"delivered": true/);

      // 3. A payload with markup renders as text and runs nothing.
      await fillEmail(page, {
        to: "user@example.com",
        from: "noreply@example.com",
        subject: XSS,
        body: XSS,
      });
      await page.click("#submit-box button[type=submit]");
      const second = await submittedId(page, first);
      assert.notEqual(second, first);
      await waitDetailStatus(page, second, "completed");
      await page.waitForFunction(
        () => document.querySelector("#count-completed")?.textContent === "2",
        null,
        { timeout: 10_000 },
      );
      const payloadText = await page.textContent('#detail-content pre[data-field="payload"]');
      assert.ok(payloadText?.includes(XSS), "the markup is shown literally");
      assert.equal(await page.locator("img").count(), 0, "no <img> was created anywhere");
      // Open the first job again from the list: the detail follows the click.
      await page.click(`#jobs-body tr[data-job-id="${first}"] button`);
      await waitDetailStatus(page, first, "completed");

      assert.equal(
        await page.evaluate(() => (globalThis as unknown as { __marker?: number }).__marker),
        42,
        "no reload happened",
      );
      await page.waitForTimeout(1500); // let the chart draw a few seconds of throughput
      await Deno.mkdir(OUT_DIR, { recursive: true });
      await page.screenshot({ path: `${OUT_DIR}/dashboard.png`, fullPage: true });
      await page.setViewportSize({ width: 390, height: 900 });
      await page.waitForTimeout(300);
      await page.screenshot({ path: `${OUT_DIR}/dashboard_narrow.png`, fullPage: true });

      assert.deepEqual(dialogs, [], "no dialog may fire");
      assert.deepEqual(pageErrors, [], "no uncaught page errors");
    } catch (error) {
      // Keep what the page showed for the post-mortem.
      const page = browser?.contexts()[0]?.pages()[0];
      await Deno.mkdir(OUT_DIR, { recursive: true });
      await page?.screenshot({ path: `${OUT_DIR}/dashboard_failure.png`, fullPage: true })
        .catch(() => {});
      throw error;
    } finally {
      await browser?.close().catch(() => {});
      await worker.stop();
      ac.abort();
      await server.finished;
      await metrics.close();
      await broker.close();
      await redis.close();
    }
  },
});
