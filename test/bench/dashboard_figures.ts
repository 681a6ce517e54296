/// <reference lib="dom" />
/**
 * The dashboard's figures (issue #20), measured the way the browser tests run
 * it: `deno task start` (API + worker) on a throwaway redis-server, Debian's
 * Chromium through playwright-core.
 *
 * - weight: bytes the page loads, as sent (compressed) and as decoded, and
 *   whether any request leaves the origin;
 * - first contentful paint of a cold page (a fresh browser context each
 *   time), median of `--loads` loads;
 * - the renderer's CPU while the dashboard stays open on the overview and on
 *   the job list as `--rate` jobs/s are submitted and processed: the page's
 *   main-thread task time (Chrome's `Performance.getMetrics` TaskDuration)
 *   over the window, as a share of one core.
 *
 * Usage: `deno task bench:dashboard [--rate 1000] [--seconds 20] [--loads 5]`.
 * Prints one JSON object. Timings belong in benchmarks, not in tests.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { Browser, CDPSession, Page } from "playwright-core";
import { startService } from "../e2e/start_service.ts";
import { launchChromium } from "../e2e/browser.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rate: { type: "string", default: "1000" },
    seconds: { type: "string", default: "20" },
    loads: { type: "string", default: "5" },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const LOADS = Number(values.loads);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Submits `rate` no-op-ish jobs a second in batches of a tenth of it, until stopped. */
function submitLoad(origin: string, rate: number): { stop(): Promise<number> } {
  let running = true;
  let sent = 0;
  const batch = Math.max(1, Math.round(rate / 10));
  const jobs = Array.from({ length: batch }, () => ({
    type: "compute",
    payload: { duration_ms: 0 },
  }));
  const loop = (async () => {
    const start = performance.now();
    while (running) {
      const res = await fetch(`${origin}/api/v1/jobs/batch`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jobs }),
      });
      await res.body?.cancel();
      if (res.ok) sent += batch;
      const due = start + (sent / rate) * 1000;
      await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return sent;
    },
  };
}

async function taskSeconds(cdp: CDPSession): Promise<number> {
  const { metrics } = await cdp.send("Performance.getMetrics");
  return metrics.find((m) => m.name === "TaskDuration")?.value ?? 0;
}

/** The page's main-thread busy share of one core over `seconds` on `hash`. */
async function rendererCpu(page: Page, origin: string, hash: string, seconds: number) {
  await page.goto(`${origin}/${hash}`);
  await page.waitForTimeout(2000); // first fetches and the SSE connection settle
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Performance.enable");
  const t0 = performance.now();
  const busy0 = await taskSeconds(cdp);
  await page.waitForTimeout(seconds * 1000);
  const busy = (await taskSeconds(cdp)) - busy0;
  const wall = (performance.now() - t0) / 1000;
  await cdp.detach();
  return Math.round((busy / wall) * 1000) / 10;
}

async function coldLoad(browser: Browser, origin: string) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  let encoded = 0;
  let decoded = 0;
  const foreign: string[] = [];
  const sized: Promise<void>[] = [];
  page.on("request", (request) => {
    if (!request.url().startsWith(origin)) foreign.push(request.url());
  });
  // Sent: the body as it crossed the wire; decoded: after content-encoding.
  page.on("requestfinished", (request) => {
    if (request.url().includes("/api/")) return; // the page's files, not its data
    sized.push(
      (async () => {
        const sizes = await request.sizes();
        const body = await (await request.response())?.body();
        encoded += sizes.responseBodySize;
        decoded += body?.length ?? 0;
      })().catch(() => {}),
    );
  });
  await page.goto(`${origin}/`, { waitUntil: "load" });
  await page.waitForTimeout(500);
  await Promise.all(sized);
  const fcp = await page.evaluate(() =>
    performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? -1
  );
  await context.close();
  return { fcp, encoded, decoded, foreign };
}

const service = await startService({ WORKER_THREADS: "2" });
const browser = await launchChromium();
try {
  const loads = [];
  for (let i = 0; i < LOADS; i++) loads.push(await coldLoad(browser, service.origin));
  const load = submitLoad(service.origin, RATE);
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const overview = await rendererCpu(page, service.origin, "#/", SECONDS);
  const jobs = await rendererCpu(page, service.origin, "#/jobs", SECONDS);
  const sent = await load.stop();
  const stats = await (await fetch(`${service.origin}/api/v1/stats`)).json();
  console.log(JSON.stringify(
    {
      weight_bytes_encoded: loads[0].encoded,
      weight_bytes_decoded: loads[0].decoded,
      foreign_requests: loads.flatMap((l) => l.foreign),
      first_contentful_paint_ms: Math.round(median(loads.map((l) => l.fcp))),
      fcp_samples_ms: loads.map((l) => Math.round(l.fcp)),
      rate_jobs_per_s: Math.round(sent / (SECONDS * 2 + 4)),
      completed_total: stats.completed_total ?? stats.counts?.completed,
      renderer_cpu_percent_overview: overview,
      renderer_cpu_percent_jobs: jobs,
    },
    null,
    2,
  ));
} finally {
  await browser.close();
  await service.stop();
}
