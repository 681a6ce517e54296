/// <reference lib="dom" />
/**
 * What every dashboard browser test sets up the same way: the system's
 * Chromium (/usr/bin/chromium, driven by playwright-core: no browser
 * download), axe-core's serious and critical violations, and a screenshot
 * of what the page showed when a test failed.
 *
 * @module
 */
import { chromium } from "playwright-core";
import type { Browser, Page } from "playwright-core";
import axe from "axe-core";

/** The browser the tests drive. */
export const CHROMIUM = "/usr/bin/chromium";
/** Screenshots go here (ignored by git, fmt and lint). */
export const OUT_DIR = new URL("../../test_output", import.meta.url).pathname;

/** Whether Chromium is installed (the browser tests are skipped without it). */
export function hasChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/** Headless Chromium without anything that would reach out (updates, sync, QUIC). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
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
}

/** An app served on a free loopback port for the browser to load. */
export interface ServedApp {
  /** `http://127.0.0.1:<port>` */
  base: string;
  close(): Promise<void>;
}

/** Serves `fetch` on a free loopback port until `close`. */
export function serveOnLoopback(
  fetch: (request: Request) => Response | Promise<Response>,
): ServedApp {
  const ac = new AbortController();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: ac.signal, onListen: () => {} },
    fetch,
  );
  return {
    base: `http://127.0.0.1:${server.addr.port}`,
    async close() {
      ac.abort();
      await server.finished;
    },
  };
}

/** Keeps what the first page showed, for the post-mortem. */
export async function failureShot(browser: Browser | null, name: string): Promise<void> {
  const page = browser?.contexts()[0]?.pages()[0];
  await Deno.mkdir(OUT_DIR, { recursive: true });
  await page?.screenshot({ path: `${OUT_DIR}/${name}`, fullPage: true }).catch(() => {});
}

/**
 * Serious or critical axe violations of the page as shown. The page's
 * context needs `bypassCSP` for the injected script; the page's own code
 * runs under its CSP as ever.
 */
export async function axeProblems(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => "axe" in globalThis))) {
    await page.addScriptTag({ content: axe.source });
  }
  const result = await page.evaluate(async () => {
    const run = (globalThis as unknown as {
      axe: {
        run: (
          ctx: Document,
        ) => Promise<
          { violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }
        >;
      };
    }).axe.run;
    return (await run(document)).violations;
  });
  return result
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}
