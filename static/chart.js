/**
 * History charts: what the queues did per minute (completed, failed,
 * retried) and their enqueue-to-start latency (p50, p99), over the last hour
 * or day, as the server counted them in Redis (`GET /history`, or one
 * queue's on its page). Every tab draws the same numbers, including those
 * from before it was opened. Polled while the panel is in view; canvases, no
 * library; the summary line is the charts' text alternative.
 *
 * @module
 */
import { getHistory } from "./api.js";
import { byId, duration } from "./dom.js";

const POLL_MS = 15_000;
const WINDOW_TEXT = { "1h": "Last hour", "24h": "Last 24 h" };

/** @typedef {{t: string, completed: number, failed: number, retried: number,
 *   latency_ms: {p50: number, p90: number, p99: number} | null}} Point */

export class HistoryPanel {
  constructor() {
    this.panel = byId("throughput-panel");
    this.summary = byId("history-summary");
    this.window = /** @type {"1h" | "24h"} */ ("1h");
    /** The queue shown (its page), or null: the sum over every queue. */
    this.queue = /** @type {string | null} */ (null);
    /** @type {{step_s: number, points: Point[], totals: Point} | null} */
    this.body = null;
    this.error = "";
    this.seq = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    for (const b of this.panel.querySelectorAll("button[data-window]")) {
      b.addEventListener("click", () => {
        this.window = /** @type {"1h" | "24h"} */ (/** @type {HTMLElement} */ (b).dataset.window);
        for (const o of this.panel.querySelectorAll("button[data-window]")) {
          o.setAttribute("aria-pressed", String(o === b));
        }
        this.load();
      });
    }
    document.addEventListener("visibilitychange", () => this.load());
    globalThis.addEventListener("resize", () => this.draw());
  }

  /**
   * Shows one queue's history (its page), or every queue's (null).
   *
   * @param {string | null} queue
   */
  focus(queue) {
    if (queue !== this.queue) {
      this.queue = queue;
      this.body = null;
    }
    this.load();
  }

  /** Loads now when the panel can be seen, and again every POLL_MS. */
  async load() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.load(), POLL_MS);
    if (document.visibilityState !== "visible" || this.panel.hasAttribute("data-off")) return;
    const seq = ++this.seq;
    try {
      const body = await getHistory(this.queue, this.window);
      if (seq !== this.seq) return; // a newer load (another queue or window) went out
      this.body = body;
      this.error = "";
    } catch (error) {
      if (seq !== this.seq) return;
      this.error = `History could not be loaded: ${
        error instanceof Error ? error.message : String(error)
      }`;
    }
    this.draw();
  }

  draw() {
    const b = this.body;
    const points = b?.points ?? [];
    const hours = this.window === "1h" ? 1 : 24;
    const per = b?.step_s === 60 ? "minute" : `${Math.round((b?.step_s ?? 60) / 60)} min`;
    plot(byId("history-counts"), points, hours, [
      ["completed", "--chart-completed"],
      ["failed", "--chart-failed"],
      ["retried", "--chart-retried"],
    ], (p, k) => p[/** @type {"completed" | "failed" | "retried"} */ (k)]);
    plot(
      byId("history-latency"),
      points,
      hours,
      [["p50", "--chart-p50"], ["p99", "--chart-p99"]],
      (p, k) => p.latency_ms?.[/** @type {"p50" | "p99"} */ (k)] ?? null,
      duration,
    );
    if (!b) {
      this.summary.textContent = this.error || "Loading history…";
      return;
    }
    const t = b.totals;
    const lat = t.latency_ms;
    const peak = Math.max(0, ...points.map((p) => p.completed));
    const scope = this.queue === null ? "" : `Queue ${this.queue}, `;
    const when = WINDOW_TEXT[this.window];
    this.summary.textContent = `${scope}${scope ? when.toLowerCase() : when}: ` +
      `${t.completed.toLocaleString()} completed, ${t.failed.toLocaleString()} failed, ` +
      `${t.retried.toLocaleString()} retried (peak ${peak.toLocaleString()} completed per ${per}); ` +
      (lat
        ? `enqueue-to-start latency p50 ${duration(lat.p50)}, p99 ${duration(lat.p99)}.`
        : "no job started.") +
      (this.error ? ` ${this.error}` : "");
  }
}

/**
 * Draws `series` of `points` as lines (a null value is a gap), the x axis
 * spanning `hours`.
 *
 * @param {HTMLElement} node a canvas
 * @param {Point[]} points
 * @param {number} hours
 * @param {Array<[string, string]>} series key and colour variable
 * @param {(p: Point, key: string) => number | null} value
 * @param {(v: number) => string} [label]
 */
function plot(node, points, hours, series, value, label = formatCount) {
  const canvas = /** @type {HTMLCanvasElement} */ (node);
  const cssW = canvas.clientWidth || 600;
  const cssH = canvas.clientHeight || 160;
  const dpr = globalThis.devicePixelRatio || 1;
  canvas.width = Math.round(cssW * dpr);
  canvas.height = Math.round(cssH * dpr);
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const values = series.map(([key]) => points.map((p) => value(p, key)));
  const max = niceMax(Math.max(5, ...values.flat().map((v) => v ?? 0)));
  const style = getComputedStyle(canvas);
  const color = (/** @type {string} */ name) => style.getPropertyValue(name).trim() || "#555";
  const left = 48, right = 8, top = 8, bottom = 20;
  const w = cssW - left - right, h = cssH - top - bottom;
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = color("--chart-ink");
  ctx.strokeStyle = color("--chart-grid");
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let i = 0; i <= 5; i++) {
    const y = Math.round(top + h - (h * i) / 5) + 0.5;
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(left + w, y);
    ctx.stroke();
    ctx.fillText(label((max * i) / 5), left - 4, y);
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (let i = 0; i <= 4; i++) {
    const ago = hours * (4 - i) / 4;
    const text = ago === 0 ? "now" : hours === 1 ? `-${ago * 60}m` : `-${ago}h`;
    ctx.fillText(
      text,
      Math.min(Math.max(left + (w * i) / 4, left + 12), left + w - 12),
      top + h + 4,
    );
  }
  const n = Math.max(2, points.length);
  values.forEach((line, s) => {
    ctx.strokeStyle = ctx.fillStyle = color(series[s][1]);
    ctx.lineWidth = 2;
    ctx.beginPath();
    line.forEach((v, i) => {
      if (v === null) return;
      const x = left + (w * i) / (n - 1), y = top + h - (h * v) / max;
      if (line[i - 1] == null) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
      // A point alone between gaps is a dot, or it would not show.
      if (line[i - 1] == null && line[i + 1] == null) ctx.fillRect(x - 2, y - 2, 4, 4);
    });
    ctx.stroke();
  });
}

/** @param {number} v */
function niceMax(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  // Five intervals: each bound divides into round ticks.
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

/** @param {number} v */
function formatCount(v) {
  return v >= 10_000 ? `${Math.round(v / 1000)}k` : String(Math.round(v * 10) / 10);
}
