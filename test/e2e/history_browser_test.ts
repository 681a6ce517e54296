/// <reference lib="dom" />
/**
 * The history panel in a real headless Chromium over the API process's app
 * and a real redis-server: jobs run BEFORE any page is open, then a fresh
 * page shows them (the server's history, not the tab's), on the overview
 * (every queue) and on a queue's page (that queue), in both windows; new
 * work shows up by the panel's polling; axe finds nothing serious.
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { buildApiApp } from "../../src/roles/api_app.ts";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { TestRedis } from "../helpers/redis_server.ts";
import { axeProblems, hasChromium, launchChromium, OUT_DIR, serveOnLoopback } from "./browser.ts";

/** Runs `done` jobs of `broker`'s queue to completion, `dead` to a final failure, `retried` to a retry. */
async function burst(broker: RedisBroker, done: number, dead = 0, retried = 0): Promise<void> {
  const n = done + dead + retried;
  for (let i = 0; i < n; i++) await broker.enqueue({ type: "compute", payload: { i } });
  const jobs = await broker.claim(n);
  assert.strictEqual(jobs.length, n);
  await broker.completeMany(jobs.slice(0, done).map((j) => ({ ...j, result: null })));
  for (const [i, j] of jobs.slice(done).entries()) {
    await broker.fail(j.id, j.token, {
      message: "no",
      retryable: i >= dead,
      retry_delay_ms: 3_600_000,
    });
  }
}

const summary = (page: Page) => page.textContent("#history-summary");

async function waitSummary(page: Page, pattern: RegExp, timeout = 10_000): Promise<string> {
  try {
    await page.waitForFunction(
      (source) =>
        new RegExp(source).test(document.getElementById("history-summary")?.textContent ?? ""),
      pattern.source,
      { timeout },
    );
  } catch {
    assert.fail(`summary ${JSON.stringify(await summary(page))} never matched ${pattern}`);
  }
  return (await summary(page)) ?? "";
}

Deno.test({
  name: "history panel: a tab opened after a burst shows it; per queue; 1 h and 24 h; polled; axe",
  ignore: !hasChromium(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const redis = await TestRedis.start();
    const broker = new RedisBroker({ url: redis.url, queue: "default" });
    const reports = new RedisBroker({ url: redis.url, queue: "reports" });
    // Silent: this app has no schedules, and the dashboard asks for them.
    const log = createLogger({ level: "silent" });
    const http = buildApiApp({ broker, registry: await loadRegistry(), log });
    const served = serveOnLoopback(http.app.fetch);
    const base = served.base;
    let browser: Browser | null = null;
    const pageErrors: string[] = [];
    try {
      // The burst, with no page open anywhere.
      await burst(broker, 15, 3, 2);
      await burst(reports, 4);

      browser = await launchChromium();
      const open = async (hash: string) => {
        // A context of its own: nothing shared with another tab.
        const context = await browser!.newContext({
          viewport: { width: 1280, height: 900 },
          bypassCSP: true, // lets the test inject axe; the page's code runs under its CSP
        });
        const page = await context.newPage();
        page.on("pageerror", (error) => pageErrors.push(String(error)));
        await page.goto(`${base}/${hash}`);
        return page;
      };

      const overview = await open("#/");
      const first = await waitSummary(overview, /^Last hour: 19 completed, 3 failed, 2 retried/);
      assert.match(first, /enqueue-to-start latency p50 \d+ ms, p99 \d+ ms\.$/);
      assert.strictEqual(
        await overview.getAttribute("#history-counts", "aria-labelledby"),
        "hc-h history-summary",
      );
      assert.deepStrictEqual(await axeProblems(overview), []);

      await overview.click("button[data-window='24h']");
      await waitSummary(overview, /^Last 24 h: 19 completed, 3 failed, 2 retried/);
      assert.strictEqual(
        await overview.getAttribute("button[data-window='24h']", "aria-pressed"),
        "true",
      );
      assert.strictEqual(
        await overview.getAttribute("button[data-window='1h']", "aria-pressed"),
        "false",
      );

      // A queue's page, in another fresh tab: that queue's history only.
      const queuePage = await open("#/queues/reports");
      await waitSummary(queuePage, /^Queue reports, last hour: 4 completed, 0 failed, 0 retried/);
      assert.deepStrictEqual(await axeProblems(queuePage), []);

      // More work while the tabs are open: the poll (every 15 s) brings it in.
      await burst(reports, 5);
      await waitSummary(queuePage, /^Queue reports, last hour: 9 completed/, 20_000);
      await waitSummary(overview, /^Last 24 h: 24 completed/, 20_000);
      await Deno.mkdir(OUT_DIR, { recursive: true });
      await overview.locator("#throughput-panel").screenshot({ path: `${OUT_DIR}/history.png` });
      await queuePage.locator("#throughput-panel").screenshot({
        path: `${OUT_DIR}/history_queue.png`,
      });
      assert.deepStrictEqual(pageErrors, []);
    } finally {
      await browser?.close().catch(() => {});
      await served.close();
      await http.close();
      await reports.close();
      await broker.close();
      await redis.close();
    }
  },
});
