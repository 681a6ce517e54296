/**
 * The Queues panel: every named queue with its counts, latency (the age of
 * its oldest pending job) and pause flag, and a Pause/Resume button per
 * queue. Rows are kept per queue and updated in place, so a refresh every
 * second does not take the focus off a button. It also fills the
 * `#known-queues` datalist (the submit form's queue field) and tells the
 * job list which queues exist.
 *
 * @module
 */
import { getQueues, setQueuePaused } from "./api.js";
import { byId, duration, el, noteRow, replace } from "./dom.js";
import { errorText } from "./jobs.js";
import { formatRoute } from "./router.js";

const COUNTS = [
  "pending",
  "scheduled",
  "running",
  "completed",
  "failed",
  "cancelled",
  "waiting",
];
const THROTTLE_MS = 1000;

const COLUMNS = COUNTS.length + 3;

/**
 * @typedef {{name: string, paused: boolean, latency_ms: number} & Record<string, any>} QueueInfo
 * @typedef {{tr: HTMLElement, status: HTMLElement, counts: Record<string, HTMLElement>,
 *   latency: HTMLElement, button: HTMLButtonElement}} Row
 */

export class QueuePanel {
  /** @param {{onQueues: (names: string[]) => void}} opts */
  constructor(opts) {
    this.onQueues = opts.onQueues;
    this.body = byId("queues-body");
    this.notice = byId("queues-notice");
    this.datalist = byId("known-queues");
    /** @type {QueueInfo[]} */
    this.queues = [];
    /** @type {Map<string, Row>} */
    this.rows = new Map();
    /** Queues with a pause/resume in flight. @type {Set<string>} */
    this.busy = new Set();
    /** Whether the notice shows a failed load (cleared by the next good one). */
    this.loadFailed = false;
    this.loaded = false;
    this.loading = false;
    this.again = false;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.throttle = null;
    /** The one queue shown (its own page, `#/queues/<name>`), or null: all. */
    this.only = /** @type {string | null} */ (null);
  }

  /**
   * Shows one queue's row only (its page: counts, latency, pause), or all.
   *
   * @param {string | null} name
   */
  focus(name) {
    if (this.only === name) return;
    this.only = name;
    byId("queues-h").textContent = name === null ? "Queues" : `Queue ${name}`;
    if (this.loaded) this.render();
  }

  /** Refreshes within a second (live events; many events, one request). */
  refreshSoon() {
    if (this.throttle !== null) return;
    this.throttle = setTimeout(() => {
      this.throttle = null;
      this.refresh();
    }, THROTTLE_MS);
  }

  /** Loads the queue list now (a call during a load runs once more after it). */
  async refresh() {
    if (this.loading) {
      this.again = true;
      return;
    }
    this.loading = true;
    try {
      const res = await getQueues();
      const list = Array.isArray(res?.queues) ? res.queues : [];
      this.queues = list
        .filter((/** @type {any} */ q) => q && typeof q.name === "string")
        .sort((/** @type {QueueInfo} */ a, /** @type {QueueInfo} */ b) =>
          a.name < b.name ? -1 : a.name > b.name ? 1 : 0
        );
      this.loaded = true;
      if (this.loadFailed) {
        this.loadFailed = false;
        this.notice.hidden = true;
      }
      this.render();
      this.onQueues(this.queues.map((q) => q.name));
    } catch (error) {
      this.loadFailed = true;
      this.show(`Could not load queues: ${errorText(error)}`, "error");
      if (!this.loaded) {
        replace(
          this.body,
          el("tr", {}, el("td", { colspan: COLUMNS, class: "muted", text: "—" })),
        );
      }
    } finally {
      this.loading = false;
      if (this.again) {
        this.again = false;
        this.refresh();
      }
    }
  }

  render() {
    const names = this.queues.map((q) => q.name);
    replace(this.datalist, names.map((name) => el("option", { value: name })));
    if (this.queues.length === 0) {
      this.rows.clear();
      replace(
        this.body,
        noteRow(COLUMNS, "No queues yet: one appears with its first job."),
      );
      return;
    }
    for (const q of this.queues) {
      const row = this.rowOf(q.name);
      this.update(row, q);
      row.tr.hidden = this.only !== null && q.name !== this.only;
    }
    if (this.only !== null && !names.includes(this.only)) {
      this.show(`No queue named ${this.only} (yet): one appears with its first job.`, "error");
    }
    // Queues are only ever added: reorder (rebuild) only when the order changed.
    const order = names.map((name) => /** @type {Row} */ (this.rows.get(name)).tr);
    const current = Array.from(this.body.children);
    if (order.length !== current.length || order.some((tr, i) => tr !== current[i])) {
      replace(this.body, order);
    }
  }

  /**
   * @param {string} name
   * @returns {Row}
   */
  rowOf(name) {
    let row = this.rows.get(name);
    if (row) return row;
    /** @type {Record<string, HTMLElement>} */
    const counts = {};
    for (const state of COUNTS) {
      counts[state] = el("td", { class: "num", dataset: { count: state } });
    }
    // The button sits by the state, so it stays in view when a narrow table scrolls.
    const status = el("span");
    const latency = el("td", { class: "num", dataset: { field: "latency" } });
    const button = /** @type {HTMLButtonElement} */ (el("button", {
      type: "button",
      "data-needs": "admin",
      onclick: () => this.toggle(name),
    }));
    const tr = el(
      "tr",
      { dataset: { queue: name } },
      el(
        "th",
        { scope: "row" },
        el("a", { href: formatRoute({ view: "queue", name, params: {} }), text: name }),
      ),
      el("td", {}, el("div", { class: "queue-state" }, status, button)),
      COUNTS.map((s) => counts[s]),
      latency,
    );
    row = { tr, status, counts, latency, button };
    this.rows.set(name, row);
    return row;
  }

  /**
   * @param {Row} row
   * @param {QueueInfo} q
   */
  update(row, q) {
    const paused = q.paused === true;
    row.tr.dataset.paused = String(paused);
    const state = row.status.firstElementChild;
    if (state?.textContent !== (paused ? "paused" : "active")) {
      replace(
        row.status,
        paused
          ? el("span", { class: "badge q-paused", text: "paused" })
          : el("span", { class: "muted", text: "active" }),
      );
    }
    for (const s of COUNTS) {
      const n = q[s];
      row.counts[s].textContent = typeof n === "number" ? n.toLocaleString() : "—";
    }
    const ms = q.latency_ms;
    row.latency.textContent = duration(ms);
    row.latency.title = typeof ms === "number"
      ? `Oldest pending job waiting ${Math.round(ms)} ms`
      : "";
    const action = paused ? "Resume" : "Pause";
    row.button.textContent = action;
    row.button.setAttribute("aria-label", `${action} queue ${q.name}`);
    row.button.disabled = this.busy.has(q.name);
  }

  /** @param {string} name */
  async toggle(name) {
    const q = this.queues.find((x) => x.name === name);
    if (!q || this.busy.has(name)) return;
    const pause = q.paused !== true;
    this.busy.add(name);
    this.render();
    try {
      const res = await setQueuePaused(name, pause, {
        onRetry: (error, retry, of) =>
          this.show(`No answer from the queue (${error.code}); retrying ${retry}/${of}…`),
      });
      const paused = typeof res?.paused === "boolean" ? res.paused : pause;
      q.paused = paused;
      this.show(
        paused
          ? `Queue ${name} paused: running jobs finish, no new ones start.`
          : `Queue ${name} resumed.`,
      );
    } catch (error) {
      this.show(
        `${pause ? "Pause" : "Resume"} of queue ${name} failed: ${errorText(error)}`,
        "error",
      );
    } finally {
      this.busy.delete(name);
      this.render();
    }
    await this.refresh();
  }

  /**
   * @param {string} message
   * @param {"ok" | "error"} [kind]
   */
  show(message, kind = "ok") {
    this.notice.className = `notice ${kind}`;
    this.notice.textContent = message;
    this.notice.hidden = false;
  }
}
