/**
 * Throughput chart: completed and failed jobs per second over the last five
 * minutes, derived from successive stats snapshots (cumulative counters), drawn
 * on a canvas. No library.
 *
 * @module
 */

const WINDOW_S = 300;

/** @typedef {{t: number, completed: number, failed: number}} Sample */

export class ThroughputChart {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {HTMLElement} summary element receiving a text summary (for screen readers too)
   */
  constructor(canvas, summary) {
    this.canvas = canvas;
    this.summary = summary;
    /** @type {Sample | null} */
    this.last = null;
    /** Per-second buckets: epoch second -> [completed, failed]. @type {Map<number, [number, number]>} */
    this.buckets = new Map();
    this.timer = setInterval(() => this.draw(), 1000);
    globalThis.addEventListener("resize", () => this.draw());
  }

  /**
   * Adds a stats snapshot.
   *
   * @param {{completed_total?: number, failed_total?: number}} stats
   */
  add(stats) {
    const now = Date.now() / 1000;
    // The lifetime totals: they only grow (the counts of now drop with retention and purges).
    const sample = {
      t: now,
      completed: Number(stats.completed_total) || 0,
      failed: Number(stats.failed_total) || 0,
    };
    const prev = this.last;
    this.last = sample;
    if (!prev) return;
    const dt = sample.t - prev.t;
    if (dt <= 0) return;
    // A purge lowers the counters: count no negative throughput.
    const dc = Math.max(0, sample.completed - prev.completed);
    const df = Math.max(0, sample.failed - prev.failed);
    // Spread the delta over the whole seconds the interval covered.
    const from = Math.floor(prev.t) + 1;
    const to = Math.floor(sample.t);
    const secs = Math.max(1, to - from + 1);
    for (let s = Math.max(from, to - WINDOW_S); s <= to; s++) {
      const b = this.buckets.get(s) ?? [0, 0];
      b[0] += dc / secs;
      b[1] += df / secs;
      this.buckets.set(s, b);
    }
    const oldest = Math.floor(now) - WINDOW_S - 5;
    for (const key of this.buckets.keys()) if (key < oldest) this.buckets.delete(key);
  }

  draw() {
    const canvas = this.canvas;
    const cssW = canvas.clientWidth || 600;
    const cssH = canvas.clientHeight || 180;
    const dpr = globalThis.devicePixelRatio || 1;
    if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
      canvas.width = Math.round(cssW * dpr);
      canvas.height = Math.round(cssH * dpr);
    }
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);

    const nowS = Math.floor(Date.now() / 1000);
    /** @type {number[]} */
    const completed = [];
    /** @type {number[]} */
    const failed = [];
    for (let s = nowS - WINDOW_S + 1; s <= nowS; s++) {
      const b = this.buckets.get(s);
      completed.push(b ? b[0] : 0);
      failed.push(b ? b[1] : 0);
    }
    const max = niceMax(Math.max(1, ...completed, ...failed));

    const style = getComputedStyle(canvas);
    const ink = style.getPropertyValue("--chart-ink").trim() || "#555";
    const grid = style.getPropertyValue("--chart-grid").trim() || "#ddd";
    const cOk = style.getPropertyValue("--chart-completed").trim() || "#1a7f37";
    const cBad = style.getPropertyValue("--chart-failed").trim() || "#cf222e";

    const left = 40, right = 8, top = 8, bottom = 20;
    const w = cssW - left - right, h = cssH - top - bottom;
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = ink;
    ctx.strokeStyle = grid;
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (let i = 0; i <= 4; i++) {
      const v = (max * i) / 4;
      const y = top + h - (h * i) / 4;
      ctx.beginPath();
      ctx.moveTo(left, Math.round(y) + 0.5);
      ctx.lineTo(left + w, Math.round(y) + 0.5);
      ctx.stroke();
      ctx.fillText(formatRate(v), left - 4, y);
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const m of [5, 4, 3, 2, 1, 0]) {
      const x = left + w - (w * m * 60) / WINDOW_S;
      ctx.fillText(
        m === 0 ? "now" : `-${m}m`,
        Math.min(Math.max(x, left + 10), left + w - 10),
        top + h + 4,
      );
    }

    /** @param {number[]} values @param {string} color */
    const line = (values, color) => {
      ctx.strokeStyle = color;
      ctx.lineWidth = 2;
      ctx.beginPath();
      values.forEach((v, i) => {
        const x = left + (w * i) / (values.length - 1);
        const y = top + h - (h * v) / max;
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      });
      ctx.stroke();
    };
    line(completed, cOk);
    line(failed, cBad);

    const lastMin = (/** @type {number[]} */ a) => a.slice(-60).reduce((x, y) => x + y, 0);
    this.summary.textContent = `Last minute: ${Math.round(lastMin(completed))} completed, ` +
      `${Math.round(lastMin(failed))} failed (peak ${
        formatRate(Math.max(...completed))
      }/s completed).`;
  }
}

/** @param {number} v */
function niceMax(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

/** @param {number} v */
function formatRate(v) {
  if (v === 0) return "0";
  if (v < 1) return v.toFixed(2).replace(/0+$/, "");
  if (v < 10) return v.toFixed(1).replace(/\.0$/, "");
  return String(Math.round(v));
}
