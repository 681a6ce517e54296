/// <reference lib="dom" />
/**
 * The dashboard's Schedules panel in a real headless Chromium (the system's
 * /usr/bin/chromium, as dashboard_browser_test.ts), over the API process's
 * app with schedules and a real redis-server: the cadence in words and as
 * written, the time zone and next run, Trigger (the last run links to its
 * job), Pause/Resume and Delete.
 */
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import { hasChromium, launchChromium, serveOnLoopback } from "./browser.ts";
import { buildApiApp } from "../../src/roles/api_app.ts";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { startSchedules } from "../../src/schedules/runtime.ts";
import { TestRedis } from "../helpers/redis_server.ts";

Deno.test({
  name: "dashboard: the schedules panel shows cadence, next and last run, and its actions work",
  ignore: !hasChromium(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const redis = await TestRedis.start();
    const broker = new RedisBroker({ url: redis.url, queue: `dsched${Date.now()}` });
    const registry = await loadRegistry();
    const log = createLogger({ level: "error" });
    const schedules = await startSchedules({ url: redis.url, broker, registry, log, tick: false });
    const http = buildApiApp({ broker, registry, log, schedules: schedules.service });
    const served = serveOnLoopback(http.app.fetch);
    const base = served.base;
    let browser: Browser | null = null;
    const pageErrors: string[] = [];
    try {
      await schedules.service.save({
        name: "nightly",
        cron: "30 2 * * *",
        timezone: "Europe/Paris",
        type: "compute",
        payload: { duration_ms: 1 },
      }, { create: true });
      browser = await launchChromium();
      const page = await browser.newPage();
      page.on("pageerror", (error) => pageErrors.push(String(error)));
      page.on("dialog", (dialog) => dialog.accept().catch(() => {}));
      await page.goto(base + "/");
      const row = 'tr[data-schedule="nightly"]';
      await page.waitForSelector(row, { timeout: 10_000 });
      const text = await page.textContent(row) ?? "";
      assert.match(text, /daily at 02:30/);
      assert.match(text, /30 2 \* \* \*/);
      assert.match(text, /Europe\/Paris/);
      assert.match(text, /never/);

      await page.click(`${row} button[aria-label="Trigger schedule nightly"]`);
      await page.waitForFunction(
        (sel) => /pending/.test(document.querySelector(sel)?.textContent ?? ""),
        row,
        { timeout: 10_000 },
      );
      await page.click(`${row} button.link`);
      const view = await schedules.service.get("nightly");
      await page.waitForFunction(
        (id) => document.body.textContent?.includes(id) ?? false,
        view.last_job_id ?? "",
        { timeout: 10_000 },
      );

      await page.click(`${row} button[aria-label="Pause schedule nightly"]`);
      await page.waitForSelector(`${row}[data-paused="true"]`, { timeout: 10_000 });
      assert.strictEqual((await schedules.service.get("nightly")).paused, true);
      await page.click(`${row} button[aria-label="Resume schedule nightly"]`);
      await page.waitForSelector(`${row}[data-paused="false"]`, { timeout: 10_000 });

      await page.click(`${row} button[aria-label="Delete schedule nightly"]`);
      await page.waitForSelector(row, { state: "detached", timeout: 10_000 });
      assert.deepStrictEqual(await schedules.service.list(), []);
      assert.deepStrictEqual(pageErrors, []);
    } finally {
      await browser?.close();
      await served.close();
      await http.close();
      await schedules.close();
      await broker.close();
      await redis.close();
    }
  },
});
