/**
 * The Workers view (`#/workers`): every registered worker process (GET
 * /api/v1/workers) with its queues, load, memory, uptime, version and last
 * beat, read every 3 s while shown. A stale one (its beats stopped) says so
 * in words, not only by colour. "Drain" (admin keys only: `data-needs`) asks
 * a live worker to finish its jobs and exit, after a confirmation.
 *
 * @module
 */
import { drainWorker, getWorkers } from "./api.js";
import { ago, byId, duration, el, noteRow, replace, when } from "./dom.js";
import { errorText } from "./jobs.js";
import { bytes, keepFocus, Polled } from "./polled.js";

const COLUMNS = 9;

/**
 * @typedef {{id: string, host: string, pid: number, queues: "all" | {name: string,
 *   weight: number}[], queue_order: string, concurrency: number, threads: number,
 *   in_flight: number, rss_bytes: number, started_at: string, uptime_ms: number,
 *   last_beat_at: string, version: string, draining: boolean, stale: boolean}} Worker
 */

/** @param {Worker} w */
function queuesText(w) {
  if (w.queues === "all") return "all queues";
  if (!Array.isArray(w.queues)) return "—";
  const list = w.queues.map((q) => `${q.name} ×${q.weight}`).join(", ");
  return w.queue_order === "strict" ? `${list} (strict order)` : list;
}

/** @param {Worker} w */
function stateCell(w) {
  if (w.stale) {
    return el("span", { class: "badge w-stale", text: `Stale: no beat ${ago(w.last_beat_at)}` });
  }
  if (w.draining) return el("span", { class: "badge w-draining", text: "Draining" });
  return el("span", { class: "badge w-live", text: "Live" });
}

export class WorkersPanel {
  constructor() {
    this.body = byId("workers-body");
    this.poll = new Polled("workers", 3000, () => this.load());
  }

  async load() {
    const res = await getWorkers();
    /** @type {Worker[]} */
    const workers = Array.isArray(res?.workers) ? res.workers : [];
    keepFocus(this.body, () =>
      replace(
        this.body,
        workers.length === 0
          ? noteRow(COLUMNS, "No worker process is registered: nothing runs jobs now.")
          : workers.map((w) => this.row(w)),
      ));
  }

  /** @param {Worker} w */
  row(w) {
    const id = String(w.id ?? "");
    const busy = w.concurrency > 0 ? Math.round((w.in_flight / w.concurrency) * 100) : 0;
    return el(
      "tr",
      { dataset: { worker: id }, "data-stale": w.stale ? "true" : undefined },
      el("th", { scope: "row" }, `${w.host} · pid ${w.pid}`, el("br"), el("code", { text: id })),
      el("td", {}, stateCell(w)),
      el("td", { class: "wrap", text: queuesText(w) }),
      el("td", {
        class: "num",
        text: `${w.in_flight} / ${w.concurrency} (${busy} %) · ${w.threads} thr.`,
      }),
      el("td", { class: "num", text: bytes(w.rss_bytes) }),
      // The uptime reads at a glance; the start time is a hover away (keeps the row narrow).
      el("td", { class: "num", title: `started ${when(w.started_at)}` }, duration(w.uptime_ms)),
      el("td", { class: "wrap", text: String(w.version ?? "") }),
      el("td", { title: w.last_beat_at, text: ago(w.last_beat_at) }),
      el(
        "td",
        {},
        w.stale || w.draining ? "—" : el("button", {
          type: "button",
          class: "danger",
          "data-needs": "admin",
          "data-key": `drain:${id}`,
          "aria-label": `Drain worker ${w.host} pid ${w.pid}`,
          text: "Drain",
          onclick: () => this.drain(w),
        }),
      ),
    );
  }

  /** @param {Worker} w */
  async drain(w) {
    const who = `${w.host} (pid ${w.pid})`;
    if (!confirm(`Drain worker ${who}? It stops claiming, finishes its jobs and exits.`)) return;
    try {
      const res = await drainWorker(String(w.id));
      this.poll.say(
        res?.already_requested
          ? `A drain of ${who} was already asked for.`
          : `Drain of ${who} asked.`,
        "ok",
      );
    } catch (error) {
      this.poll.say(`Drain failed: ${errorText(error)}`, "error");
    }
    await this.poll.refresh();
  }
}
