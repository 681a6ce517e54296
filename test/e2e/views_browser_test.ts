/// <reference lib="dom" />
/**
 * The dashboard's views in a real headless Chromium (the system's
 * /usr/bin/chromium, as dashboard_browser_test.ts), over the API process's
 * app and a real redis-server, with no worker (jobs stay where they are put):
 * every view by deep link and after a reload, the back button, Escape, search
 * by id prefix, run now, bulk retry, a schedule's and a group's jobs by deep
 * link, hostile error and group strings shown as text, the
 * focus kept on a row button while ~200 jobs/s arrive, axe at desktop and
 * phone sizes, and the phone layout.
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
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
import { TestRedis } from "../helpers/redis_server.ts";
import { startSchedules } from "../../src/schedules/runtime.ts";

const HOSTILE = `<script>alert("x")</script><img src=x onerror=alert(1)>`;
const COMPUTE = { type: "compute", payload: { duration_ms: 1 } };

/** The ids of the sections shown (not switched off by the view). */
const shownSections = (page: Page) =>
  page.$$eval(
    "main > section",
    (ss) =>
      ss.filter((s) => !s.hasAttribute("data-off") && !(s as HTMLElement).hidden).map((s) => s.id),
  );

const listedIds = (page: Page) =>
  page.$$eval(
    "#jobs-body tr[data-job-id]",
    (trs) => trs.map((t) => (t as HTMLElement).dataset.jobId),
  );

Deno.test({
  name: "dashboard views: deep links survive reload, back, Escape, search, run now, bulk retry",
  ignore: !hasChromium(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const redis = await TestRedis.start();
    const broker = new RedisBroker({ url: redis.url, queue: "default" });
    const log = createLogger({ level: "error" });
    const registry = await loadRegistry();
    const schedules = await startSchedules({ url: redis.url, broker, registry, log, tick: false });
    const http = buildApiApp({ broker, registry, log, schedules: schedules.service });
    const served = serveOnLoopback(http.app.fetch);
    const base = served.base;
    let browser: Browser | null = null;
    const pageErrors: string[] = [];
    const alerts: string[] = [];
    const confirms: string[] = [];
    try {
      // Two dead jobs with markup in their payload and error, then pending and scheduled ones.
      const dead = [
        (await broker.enqueue({ type: "compute", payload: { note: HOSTILE } })).id,
        (await broker.enqueue({ type: "compute", payload: { note: HOSTILE } })).id,
      ];
      for (const job of await broker.claim(2)) {
        await broker.fail(job.id, job.token, {
          message: HOSTILE,
          retryable: false,
          retry_delay_ms: 0,
        });
      }
      const pending: string[] = [];
      for (let i = 0; i < 3; i++) pending.push((await broker.enqueue(COMPUTE)).id);
      const later = (await broker.enqueue({ ...COMPUTE, delay_ms: 3_600_000 })).id;
      const report = (await broker.enqueue({ ...COMPUTE, queue: "reports" })).id;

      browser = await launchChromium();
      // bypassCSP lets the test inject axe; the page's own code runs under its CSP as ever.
      const context = await browser.newContext({
        viewport: { width: 1280, height: 900 },
        bypassCSP: true,
      });
      const page = await context.newPage();
      page.on("pageerror", (error) => pageErrors.push(String(error)));
      page.on("dialog", (dialog) => {
        if (dialog.type() === "confirm") confirms.push(dialog.message());
        else alerts.push(dialog.message());
        dialog.accept().catch(() => {});
      });
      const requests: string[] = [];
      page.on("request", (r) => requests.push(r.url()));

      // 1. Every view by deep link, again after a reload; axe at desktop and phone sizes.
      const views: Array<[string, string[], string[]]> = [
        ["#/", ["counts", "queues", "jobs", "submit"], []],
        ["#/queues", ["queues"], ["jobs", "counts"]],
        ["#/queues/reports", ["queues", "jobs"], ["counts"]],
        ["#/jobs?state=failed", ["jobs"], ["queues"]],
        [`#/jobs/${later}`, ["detail"], ["jobs", "queues"]],
        ["#/schedules", ["schedules"], ["jobs"]],
        ["#/flows", ["flows", "jobs"], ["queues"]],
        ["#/limits", ["limits"], ["jobs"]],
      ];
      for (const [hash, shown, off] of views) {
        await page.goto(`${base}/${hash}`);
        await page.waitForSelector("#conn[data-mode=live]", { timeout: 10_000 });
        for (const reload of [false, true]) {
          if (reload) await page.reload();
          await page.waitForFunction(
            ([want]) =>
              want.every((id) => {
                const s = document.getElementById(id);
                return s && !s.hasAttribute("data-off") && !s.hidden;
              }),
            [shown],
            { timeout: 10_000 },
          );
          const now = await shownSections(page);
          for (const id of off) assert.ok(!now.includes(id), `${hash}: ${id} hidden (${now})`);
          assert.strictEqual(new URL(page.url()).hash, hash);
        }
        await page.waitForTimeout(300); // let the lists fill
        for (const size of [{ width: 1280, height: 900 }, { width: 390, height: 844 }]) {
          await page.setViewportSize(size);
          assert.deepStrictEqual(await axeProblems(page), [], `${hash} at ${size.width}px`);
        }
        await page.setViewportSize({ width: 1280, height: 900 });
      }

      // 1b. Required fields left empty: a human message, not the validator's wording.
      await page.goto(`${base}/#/`);
      await page.waitForSelector("#submit-box form");
      await page.selectOption("#submit-type", "email");
      await page.click("#submit-box button[type=submit]");
      await page.waitForFunction(
        () =>
          document.querySelector('#submit-box [name="to"]')?.getAttribute("aria-invalid") ===
            "true",
      );
      const describedBy = await page.getAttribute('#submit-box [name="to"]', "aria-describedby");
      const toError = await page.textContent(`#${describedBy!.split(" ").pop()}`);
      assert.strictEqual(toError, "Required: fill this in.");

      // 2. The queue page: that queue only, its jobs.
      await page.goto(`${base}/#/queues/reports?state=pending`);
      await page.waitForFunction(() =>
        document.getElementById("queues-h")?.textContent === "Queue reports"
      );
      await page.waitForFunction(
        (id) => document.querySelector(`#jobs-body tr[data-job-id="${id}"]`) !== null,
        report,
        { timeout: 10_000 },
      );
      assert.deepStrictEqual(
        await page.$$eval(
          "#queues-body tr[data-queue]",
          (trs) =>
            trs.filter((t) => !(t as HTMLElement).hidden).map((t) =>
              (t as HTMLElement).dataset.queue
            ),
        ),
        ["reports"],
      );

      // 3. Failed jobs: the error column, the total, hostile strings as text.
      await page.goto(`${base}/#/jobs?state=failed`);
      await page.waitForFunction(() =>
        document.querySelectorAll("#jobs-body tr[data-job-id]").length === 2
      );
      assert.deepStrictEqual((await listedIds(page)).sort(), [...dead].sort());
      assert.match(await page.textContent("#jobs-info") ?? "", /of 2 jobs/);
      const errors = await page.$$eval(
        "#jobs-body td.error-cell",
        (tds) => tds.map((t) => t.textContent),
      );
      assert.deepStrictEqual(errors, [HOSTILE, HOSTILE]);
      assert.strictEqual(await page.locator("main img").count(), 0);
      assert.strictEqual(await page.inputValue("#filter-state"), "failed");

      // 4. The detail: opened from the list, placed right after it, in the URL; Escape and back.
      await page.click(`#jobs-body tr[data-job-id="${dead[0]}"] button.link`);
      await page.waitForFunction((id) => location.hash === `#/jobs/${id}`, dead[0]);
      await page.waitForFunction(
        (id) => document.querySelector("#detail-content dd code")?.textContent === id,
        dead[0],
      );
      assert.strictEqual(
        await page.evaluate(() => document.getElementById("jobs")?.nextElementSibling?.id),
        "detail",
      );
      assert.strictEqual(await page.evaluate(() => document.activeElement?.id), "detail-title");
      assert.ok(
        (await page.textContent('#detail-content pre[data-field="payload"]'))?.includes(
          JSON.stringify(HOSTILE),
        ),
      );
      await page.reload(); // the detail stays, over the list it was opened from
      await page.waitForFunction(
        (id) => document.querySelector("#detail-content dd code")?.textContent === id,
        dead[0],
      );
      assert.ok((await shownSections(page)).includes("jobs"));
      await page.keyboard.press("Escape");
      await page.waitForFunction(() => location.hash === "#/jobs?state=failed");
      assert.strictEqual(await page.isHidden("#detail"), true);
      await page.goBack();
      await page.waitForFunction((id) => location.hash === `#/jobs/${id}`, dead[0]);
      await page.waitForSelector("#detail:not([hidden])");
      await page.goBack();
      await page.waitForFunction(() => location.hash === "#/jobs?state=failed");
      await page.waitForSelector("#detail", { state: "hidden" });
      // The nav's links are history steps too.
      await page.click('#views a[data-view="schedules"]');
      await page.waitForFunction(() => location.hash === "#/schedules");
      assert.ok(!(await shownSections(page)).includes("jobs"));
      await page.goBack();
      await page.waitForFunction(() => location.hash === "#/jobs?state=failed");
      await page.waitForSelector("#jobs:not([data-off])");

      // 5. Search by id prefix: the filter goes to the URL, the job is found.
      await page.goto(`${base}/#/jobs?state=completed`);
      await page.fill("#job-search", pending[1].slice(0, 6));
      await page.press("#job-search", "Enter");
      await page.waitForFunction(
        (id) =>
          JSON.stringify(
            [...document.querySelectorAll("#jobs-body tr[data-job-id]")].map((t) =>
              (t as HTMLElement).dataset.jobId
            ),
          ) === JSON.stringify([id]),
        pending[1],
        { timeout: 10_000 },
      );
      assert.match(page.url(), new RegExp(`q=${pending[1].slice(0, 6)}`));
      await page.reload();
      await page.waitForSelector(`#jobs-body tr[data-job-id="${pending[1]}"]`);
      assert.strictEqual(await page.inputValue("#job-search"), pending[1].slice(0, 6));
      // A full id opens its detail.
      await page.fill("#job-search", later);
      await page.press("#job-search", "Enter");
      await page.waitForFunction((id) => location.hash === `#/jobs/${id}`, later);

      // 6. Run now: the scheduled list's "runs at" and its button.
      await page.goto(`${base}/#/jobs?state=scheduled`);
      const runNow =
        `#jobs-body tr[data-job-id="${later}"] button[aria-label="Run job ${later} now"]`;
      await page.waitForSelector(runNow, { timeout: 10_000 });
      assert.ok(
        /in (59|60) min/.test(
          await page.textContent(`#jobs-body tr[data-job-id="${later}"]`) ?? "",
        ),
      );
      await page.click(runNow);
      await page.waitForFunction(() =>
        /is pending/.test(document.getElementById("jobs-notice")?.textContent ?? "")
      );
      assert.strictEqual((await broker.get(later))?.status, "pending");

      // 7. Bulk retry of the dead jobs: confirmed, one call, all pending again.
      await page.goto(`${base}/#/jobs?state=failed`);
      await page.waitForSelector(`#jobs-body tr[data-job-id="${dead[0]}"]`);
      const before = requests.length;
      await page.click("#retry-failed");
      await page.waitForFunction(() =>
        /Requeued 2 job/.test(document.getElementById("jobs-notice")?.textContent ?? "")
      );
      assert.strictEqual(
        requests.slice(before).filter((u) => new URL(u).pathname === "/api/v1/jobs/retry").length,
        1,
      );
      for (const id of dead) assert.strictEqual((await broker.get(id))?.status, "pending");
      assert.deepStrictEqual(confirms.map((c) => c.split(" ")[0]), ["Run", "Retry"]);

      // 8. Focus kept while ~200 jobs/s arrive: rows update in place, new ones are announced.
      await page.goto(`${base}/#/jobs?state=pending`);
      await page.waitForSelector(`#jobs-body tr[data-job-id="${pending[0]}"]`);
      const firstButton = `#jobs-body tr[data-job-id="${pending[0]}"] button.link`;
      await page.focus(firstButton);
      const shownBefore = await listedIds(page);
      const until = Date.now() + 3000;
      let sent = 0;
      while (Date.now() < until) {
        const res = await fetch(`${base}/api/v1/jobs/batch`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ jobs: Array.from({ length: 20 }, () => COMPUTE) }),
        });
        await res.body?.cancel();
        sent += 20;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(sent >= 400, `sent ${sent}`);
      await page.waitForSelector("#jobs-new:not([hidden])", { timeout: 5000 });
      assert.strictEqual(
        await page.evaluate(() =>
          (document.activeElement?.closest("tr") as HTMLElement | null)?.dataset.jobId
        ),
        pending[0],
        "the focus stayed on the row button",
      );
      assert.deepStrictEqual(await listedIds(page), shownBefore, "no row moved");
      assert.match(await page.textContent("#jobs-new") ?? "", /^[\d,]+ new jobs?: show$/);
      await page.click("#jobs-new");
      await page.waitForSelector("#jobs-new", { state: "hidden" });
      assert.match(
        await page.textContent("#jobs-info") ?? "",
        new RegExp(`of ${(3 + 2 + 1 + sent).toLocaleString("en-US")} jobs`),
      );

      // 8b. A schedule's and a group's jobs by deep link, again after a reload: those only.
      await schedules.service.save({
        name: "nightly",
        cron: "30 2 * * *",
        type: "compute",
        payload: { duration_ms: 1 },
      }, { create: true });
      const ticks = [
        (await schedules.service.trigger("nightly")).job_id,
        (await schedules.service.trigger("nightly")).job_id,
      ];
      const grouped = [
        (await broker.enqueue({ ...COMPUTE, group: HOSTILE })).id,
        (await broker.enqueue({ ...COMPUTE, group: HOSTILE })).id,
      ];
      const other = (await broker.enqueue({ ...COMPUTE, group: "other" })).id;
      const listedSoon = (want: string[]) =>
        page.waitForFunction(
          (ids) =>
            JSON.stringify(
              [...document.querySelectorAll("#jobs-body tr[data-job-id]")].map((t) =>
                (t as HTMLElement).dataset.jobId
              ).sort(),
            ) === JSON.stringify([...ids].sort()),
          want,
          { timeout: 10_000 },
        );
      // From the Schedules view: the schedule's name links to its jobs, in any state.
      await page.goto(`${base}/#/schedules`);
      await page.click('tr[data-schedule="nightly"] th a');
      await page.waitForFunction(() => location.hash === "#/jobs?schedule=nightly");
      await listedSoon(ticks);
      await page.reload();
      await listedSoon(ticks);
      assert.deepStrictEqual(
        [await page.inputValue("#filter-schedule"), await page.inputValue("#filter-state")],
        ["nightly", ""],
      );
      assert.deepStrictEqual(await axeProblems(page), [], "a schedule's list");
      const groupHash = `#/jobs?${new URLSearchParams({ state: "pending", group: HOSTILE })}`;
      await page.goto(`${base}/${groupHash}`);
      await listedSoon(grouped);
      await page.reload();
      await listedSoon(grouped);
      assert.strictEqual(new URL(page.url()).hash, groupHash);
      assert.strictEqual(await page.inputValue("#filter-group"), HOSTILE);
      assert.match(await page.textContent("#jobs-info") ?? "", /^Page 1 · 1–2 jobs$/);
      assert.deepStrictEqual(await axeProblems(page), [], "a group's list");
      // Typed in the field: the URL follows.
      await page.fill("#filter-group", "other");
      await page.press("#filter-group", "Enter");
      await listedSoon([other]);
      assert.strictEqual(
        new URL(page.url()).hash,
        "#/jobs?state=pending&queue=default&group=other",
      );
      // The hostile group in the list's own words: text, never markup.
      await page.goto(`${base}/#/jobs?${new URLSearchParams({ state: "failed", group: HOSTILE })}`);
      await page.waitForFunction(
        (h) =>
          document.getElementById("jobs-body")?.textContent ===
            `No failed jobs in queue default in group ${h}.`,
        HOSTILE,
        { timeout: 10_000 },
      );
      assert.strictEqual(await page.locator("main img").count(), 0);
      // Back to a list with rows, as step 9 found it before.
      await page.goto(`${base}/#/jobs?state=pending`);
      await page.waitForSelector(`#jobs-body tr[data-job-id="${pending[0]}"]`);

      // 9. A phone: the job list starts within one screen of the top.
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(`${base}/#/`);
      await page.waitForSelector("#jobs-body tr[data-job-id]");
      const top = await page.evaluate(() =>
        document.getElementById("jobs")!.getBoundingClientRect().top
      );
      assert.ok(top < 844, `the job list starts at ${top}px`);
      await Deno.mkdir(OUT_DIR, { recursive: true });
      await page.screenshot({ path: `${OUT_DIR}/views_phone.png` });

      // 10. /favicon.ico answers (an SVG icon), and nothing left the origin.
      const icon = await fetch(`${base}/favicon.ico`);
      await icon.body?.cancel();
      assert.strictEqual(icon.status, 200);
      assert.strictEqual(icon.headers.get("content-type"), "image/svg+xml");
      assert.deepStrictEqual(requests.filter((u) => !u.startsWith(base)), []);
      assert.deepStrictEqual(alerts, []);
      assert.deepStrictEqual(pageErrors, []);
    } catch (error) {
      await failureShot(browser, "views_failure.png");
      throw error;
    } finally {
      await browser?.close().catch(() => {});
      await served.close();
      await http.close();
      await schedules.close();
      await broker.close();
      await redis.close();
    }
  },
});
