/**
 * The job list: one queue's jobs in one state (type and group filters,
 * search by id or id prefix, cursor pages with the filter's total), or the
 * jobs one schedule produced (any state unless one is picked), its bulk
 * actions (retry the dead, cancel selected live jobs, delete selected
 * finished ones) and a scheduled job's "Run now". No counter keeps a group's
 * or a schedule's jobs: those pages show no total.
 *
 * Live without disruption: a count change does not redraw the list. The
 * first page is read again and the rows shown are updated in place; rows
 * that left the filter are dimmed, not removed; jobs that arrived are
 * announced by a "N new jobs" button that loads them when the user asks
 * (as asynqmon does). So a focused button keeps its focus and no row moves
 * under the pointer. Only an empty list fills itself.
 *
 * @module
 */
import {
  cancelJobs,
  deleteJobs,
  findJobs,
  getSchedules,
  jobId,
  listJobs,
  purgeFailed,
  retryAllFailed,
  runJobNow,
} from "./api.js";
import { byId, el, noteRow, replace } from "./dom.js";
import { errorText } from "./jobs.js";
import { buildRow, CANCELLABLE, columnsFor, DELETABLE, headRow, updateRow } from "./job_rows.js";

const PAGE_SIZE = 20;
/** A full job id: a UUID, or `<queue>:<UUID>`. */
const FULL_ID = /^(?:[^:\s]+:)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PREFIX = /^[0-9a-f-]{1,36}$/;

/**
 * @typedef {{state?: string, queue?: string, type?: string, group?: string,
 *   schedule?: string, q?: string}} Filters
 * @typedef {import("./job_rows.js").Row} Row
 */

export class JobList {
  /**
   * @param {{onOpen: (id: string) => void, onFilters: (filters: Filters) => void}} opts
   */
  constructor(opts) {
    this.onOpen = opts.onOpen;
    this.onFilters = opts.onFilters;
    this.queueSelect = /** @type {HTMLSelectElement} */ (byId("filter-queue"));
    this.stateSelect = /** @type {HTMLSelectElement} */ (byId("filter-state"));
    this.typeSelect = /** @type {HTMLSelectElement} */ (byId("filter-type"));
    this.search = /** @type {HTMLInputElement} */ (byId("job-search"));
    this.groupInput = /** @type {HTMLInputElement} */ (byId("filter-group"));
    this.scheduleInput = /** @type {HTMLInputElement} */ (byId("filter-schedule"));
    /** A schedule's jobs in every state: offered only while a schedule is the filter. */
    this.anyState = el("option", { value: "", text: "Any state" });
    /** When the schedule names were last read (for the field's suggestions). */
    this.namesAt = 0;
    this.head = byId("jobs-head");
    this.body = byId("jobs-body");
    this.info = byId("jobs-info");
    this.prev = /** @type {HTMLButtonElement} */ (byId("jobs-prev"));
    this.next = /** @type {HTMLButtonElement} */ (byId("jobs-next"));
    this.purge = /** @type {HTMLButtonElement} */ (byId("purge-failed"));
    this.retryAll = /** @type {HTMLButtonElement} */ (byId("retry-failed"));
    this.cancelSelected = /** @type {HTMLButtonElement} */ (byId("cancel-selected"));
    this.deleteSelected = /** @type {HTMLButtonElement} */ (byId("delete-selected"));
    this.fresh = /** @type {HTMLButtonElement} */ (byId("jobs-new"));
    this.notice = byId("jobs-notice");
    /** Cursors of the pages before the current one. @type {(string | null)[]} */
    this.history = [];
    /** @type {string | null} */
    this.cursor = null;
    /** @type {string | null} */
    this.nextCursor = null;
    /** The id prefix searched for ("" when listing). */
    this.query = "";
    /** Whether a load was ever asked for. */
    this.started = false;
    /** Answers of older requests are dropped. */
    this.seq = 0;
    /** @type {Map<string, Row>} */
    this.rows = new Map();
    /** @type {Set<string>} */
    this.selected = new Set();
    /** @type {string[]} */
    this.cols = [];
    /** The filter's total when the rows were loaded. */
    this.loadedTotal = 0;
    /** The queue the URL asked for, kept until the queue list offers it. */
    this.wantedQueue = "";
    this.queueNames = "";
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.throttle = null;
    this.peeking = false;

    const changed = () => {
      this.query = "";
      this.search.value = "";
      this.wantedQueue = this.queueSelect.value;
      this.reset();
      this.onFilters(this.filters());
    };
    this.queueSelect.addEventListener("change", changed);
    this.stateSelect.addEventListener("change", changed);
    this.typeSelect.addEventListener("change", changed);
    this.groupInput.addEventListener("change", changed);
    this.scheduleInput.addEventListener("change", () => {
      this.offerAnyState();
      changed();
    });
    // Suggestions, read when asked for: a datalist narrows thousands of names as one types.
    this.scheduleInput.addEventListener("focus", () => this.suggestSchedules());
    byId("job-search-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.find(this.search.value.trim());
    });
    this.next.addEventListener("click", () => {
      if (!this.nextCursor) return;
      this.history.push(this.cursor);
      this.cursor = this.nextCursor;
      this.load();
    });
    this.prev.addEventListener("click", () => {
      if (this.history.length === 0) return;
      this.cursor = this.history.pop() ?? null;
      this.load();
    });
    this.fresh.addEventListener("click", async () => {
      await this.reset();
      /** @type {HTMLElement | null} */ (this.body.querySelector("button"))?.focus();
    });
    this.purge.addEventListener("click", () => this.purgeDead());
    this.retryAll.addEventListener("click", () => this.retryDead());
    this.cancelSelected.addEventListener("click", () => this.cancelPicked());
    this.deleteSelected.addEventListener("click", () => this.deletePicked());
  }

  /** @returns {Filters} */
  filters() {
    return {
      state: this.stateSelect.value,
      queue: this.queueSelect.value || undefined,
      type: this.typeSelect.value || undefined,
      group: this.groupInput.value || undefined,
      schedule: this.scheduleInput.value.trim() || undefined,
      q: this.query || undefined,
    };
  }

  /**
   * The state select's "Any state" while a schedule is the filter (its jobs
   * are listed in every state); without one, a list is of one state. A
   * schedule's jobs come from its own queue and type: those selects rest.
   */
  offerAnyState() {
    const on = this.scheduleInput.value.trim() !== "";
    if (on && !this.anyState.isConnected) {
      // A schedule just picked: all its jobs first (a state narrows them after).
      this.stateSelect.prepend(this.anyState);
      this.stateSelect.value = "";
    }
    if (!on && this.anyState.isConnected) {
      const was = this.stateSelect.value;
      this.anyState.remove();
      if (was === "") this.stateSelect.value = "completed";
    }
    this.queueSelect.disabled = on;
    this.typeSelect.disabled = on;
  }

  /** Fills the schedule field's suggestions (at most every 30 s). */
  async suggestSchedules() {
    if (Date.now() - this.namesAt < 30_000) return;
    this.namesAt = Date.now();
    try {
      const res = await getSchedules();
      const names = (Array.isArray(res?.schedules) ? res.schedules : []).map((
        /** @type {{name: string}} */ s,
      ) => String(s.name));
      replace(
        byId("schedule-names"),
        names.map((/** @type {string} */ name) => el("option", { value: name })),
      );
    } catch {
      this.namesAt = 0; // suggestions only: the field still takes any name
    }
  }

  /**
   * Applies the URL's filters (a reload, a shared link, the back button);
   * loads when they differ from what is shown.
   *
   * @param {Filters} f
   */
  setFilters(f) {
    const before = JSON.stringify(this.filters());
    this.groupInput.value = f.group ?? "";
    this.scheduleInput.value = f.schedule ?? "";
    this.offerAnyState();
    // A schedule's jobs: every state unless the URL names one.
    const state = f.state ?? (f.schedule ? "" : "completed");
    if ([...this.stateSelect.options].some((o) => o.value === state)) {
      this.stateSelect.value = state;
    }
    if (f.queue) {
      this.wantedQueue = f.queue;
      this.offerQueue(f.queue);
      this.queueSelect.value = f.queue;
    } else if (this.wantedQueue) {
      // No queue in the URL: the usual choice, as on a first visit.
      this.wantedQueue = "";
      const names = this.queueNames.split("\n").filter(Boolean);
      this.queueSelect.value = names.includes("default") ? "default" : names[0] ?? "";
    }
    if (f.type) {
      if (![...this.typeSelect.options].some((o) => o.value === f.type)) {
        this.typeSelect.append(el("option", { value: f.type, text: f.type }));
      }
      this.typeSelect.value = f.type;
    } else this.typeSelect.value = "";
    this.query = f.q && PREFIX.test(f.q) ? f.q : "";
    this.search.value = this.query;
    if (this.started && JSON.stringify(this.filters()) !== before) this.reset();
  }

  /** @param {string} name */
  offerQueue(name) {
    if (![...this.queueSelect.options].some((o) => o.value === name)) {
      this.queueSelect.append(el("option", { value: name, text: name }));
    }
  }

  /**
   * Offers these queues in the filter. Keeps the queue the URL named or the
   * chosen one; else picks "default" if there is one, else the first.
   *
   * @param {string[]} names
   */
  setQueues(names) {
    if (names.length === 0 || names.join("\n") === this.queueNames) return;
    this.queueNames = names.join("\n");
    const current = this.queueSelect.value;
    replace(this.queueSelect, names.map((name) => el("option", { value: name, text: name })));
    const wanted = this.wantedQueue || current;
    if (wanted && !names.includes(wanted) && this.wantedQueue) this.offerQueue(wanted);
    const chosen = wanted && (names.includes(wanted) || this.wantedQueue)
      ? wanted
      : names.includes("default")
      ? "default"
      : names[0];
    this.queueSelect.value = chosen;
    if (chosen !== current && this.started) this.reset();
  }

  /** @param {string[]} types */
  setTypes(types) {
    const current = this.typeSelect.value;
    replace(
      this.typeSelect,
      el("option", { value: "", text: "All types" }),
      types.map((t) => el("option", { value: t, text: t })),
    );
    if (current && !types.includes(current)) {
      this.typeSelect.append(el("option", { value: current, text: current }));
    }
    this.typeSelect.value = current;
  }

  /** Back to the first page, loaded now. */
  reset() {
    this.history = [];
    this.cursor = null;
    return this.load();
  }

  /** @param {string} text what the search box holds */
  find(text) {
    if (FULL_ID.test(text)) {
      this.onOpen(text);
      return;
    }
    if (text !== "" && !PREFIX.test(text.toLowerCase())) {
      this.say(`"${text}" is not a job id: use its first characters (0-9, a-f).`, "error");
      return;
    }
    this.query = text.toLowerCase();
    this.reset();
    this.onFilters(this.filters());
  }

  /** A live change: refreshes the first page in place soon (later pages stay put while read). */
  refreshSoon() {
    if (this.cursor !== null || this.query || this.throttle !== null) return;
    this.throttle = setTimeout(() => {
      this.throttle = null;
      this.peek();
    }, 500);
  }

  /** Reads the first page again and updates what is shown in place (see the module doc). */
  async peek() {
    if (this.rows.size === 0) return this.load();
    if (this.peeking) return;
    this.peeking = true;
    const seq = this.seq;
    try {
      const page = await this.fetchPage();
      if (seq !== this.seq || this.cursor !== null || this.query) return;
      const jobs = Array.isArray(page?.jobs) ? page.jobs : [];
      const seen = new Set();
      let arrived = 0;
      for (const job of jobs) {
        const id = jobId(job);
        seen.add(id);
        const row = this.rows.get(id);
        if (row) updateRow(row, job);
        else arrived++;
      }
      for (const [id, row] of this.rows) {
        if (!seen.has(id)) row.tr.dataset.stale = "true";
      }
      const total = typeof page?.total === "number" ? page.total : null;
      const grown = total === null ? 0 : total - this.loadedTotal;
      this.announce(Math.max(arrived, grown));
      if (total !== null) this.showInfo(total);
    } catch {
      // the next change tries again; a full load says what failed
    } finally {
      this.peeking = false;
    }
  }

  /** @param {number} n jobs not shown yet */
  announce(n) {
    this.fresh.hidden = n <= 0;
    const text = `${n.toLocaleString()} new job${n === 1 ? "" : "s"}: show`;
    if (n > 0 && this.fresh.textContent !== text) this.fresh.textContent = text;
  }

  fetchPage() {
    const f = this.filters();
    return listJobs({
      status: f.state || undefined,
      ...(f.schedule ? { schedule: f.schedule } : { queue: f.queue, type: f.type }),
      group: f.group,
      limit: PAGE_SIZE,
      cursor: this.cursor,
    });
  }

  /** Loads the page asked for and redraws the list (a filter, a page, "N new", an action). */
  async load() {
    this.started = true;
    const seq = ++this.seq;
    const f = this.filters();
    const state = String(f.state);
    // "Retry all" and "Purge" reach the whole queue: not offered over a narrower list.
    const narrowed = !!(this.query || f.group || f.schedule);
    this.purge.hidden = state !== "failed" || narrowed;
    this.retryAll.hidden = state !== "failed" || narrowed;
    this.cancelSelected.hidden = !CANCELLABLE.has(state) || !!this.query;
    this.deleteSelected.hidden = !DELETABLE.has(state) || !!this.query;
    this.body.setAttribute("aria-busy", "true");
    try {
      const page = this.query
        ? await findJobs(this.query, f.queue, f.group)
        : await this.fetchPage();
      if (seq !== this.seq) return;
      this.nextCursor = this.query || !page || !("next_cursor" in page)
        ? null
        : page.next_cursor ?? null;
      const jobs = Array.isArray(page?.jobs) ? page.jobs : [];
      this.render(jobs, this.query || !state ? "search" : state);
      const total = typeof page?.total === "number" ? page.total : null;
      this.loadedTotal = total ?? jobs.length;
      this.announce(0);
      if (this.query) {
        this.info.textContent = `${jobs.length} job(s) whose id starts with ${this.query}` +
          (page?.truncated ? " (search stopped early: a longer prefix finds more)" : "");
      } else {
        this.showInfo(total);
        // A group's page reads a bounded number of jobs: it may stop short with more to come.
        if (page?.truncated) this.info.textContent += " (this page stopped early: Next reads on)";
      }
      this.prev.disabled = this.history.length === 0;
      this.next.disabled = !this.nextCursor;
    } catch (error) {
      if (seq !== this.seq) return;
      this.rows.clear();
      replace(
        this.body,
        noteRow(this.cols.length || 7, `Could not load jobs: ${errorText(error)}`, "error-text"),
      );
    } finally {
      if (seq === this.seq) this.body.removeAttribute("aria-busy");
    }
  }

  /** @param {number | null} total null: unknown (a group's or a schedule's jobs) */
  showInfo(total) {
    const from = this.history.length * PAGE_SIZE;
    const shown = this.rows.size;
    const of = total === null ? "" : ` of ${total.toLocaleString()}`;
    const range = shown === 0 ? "0" : `${from + 1}–${from + shown}`;
    this.info.textContent = `Page ${this.history.length + 1} · ${range}${of} jobs`;
  }

  /**
   * @param {any[]} jobs
   * @param {string} state
   */
  render(jobs, state) {
    const cols = columnsFor(state);
    if (cols.join() !== this.cols.join()) {
      this.cols = cols;
      replace(this.head, headRow(cols));
    }
    const selectable = CANCELLABLE.has(state) || DELETABLE.has(state);
    const ids = new Set(jobs.map(jobId));
    for (const id of this.selected) if (!ids.has(id) || !selectable) this.selected.delete(id);
    this.rows.clear();
    for (const job of jobs) {
      const id = jobId(job);
      this.rows.set(
        id,
        buildRow(job, cols, {
          onOpen: this.onOpen,
          onRunNow: (jid) => this.runNow(jid),
          onSelect: (jid, on) => {
            if (on) this.selected.add(jid);
            else this.selected.delete(jid);
            this.showSelection();
          },
          selectable,
          selected: this.selected.has(id),
        }),
      );
    }
    const f = this.filters();
    replace(
      this.body,
      jobs.length === 0
        ? noteRow(
          cols.length,
          this.query
            ? `No job of this queue has an id starting with ${this.query}.`
            : `No ${state || "matching"} jobs` +
              (f.schedule ? ` of schedule ${f.schedule}` : f.queue ? ` in queue ${f.queue}` : "") +
              (f.group ? ` in group ${f.group}` : "") + ".",
        )
        : [...this.rows.values()].map((r) => r.tr),
    );
    this.showSelection();
  }

  showSelection() {
    const n = this.selected.size;
    this.cancelSelected.disabled = n === 0;
    this.cancelSelected.textContent = n === 0 ? "Cancel selected" : `Cancel ${n} selected`;
    this.deleteSelected.disabled = n === 0;
    this.deleteSelected.textContent = n === 0 ? "Delete selected" : `Delete ${n} selected`;
  }

  /**
   * @param {string} message
   * @param {"ok" | "error"} [kind]
   */
  say(message, kind = "ok") {
    this.notice.className = `notice ${kind}`;
    this.notice.textContent = message;
    this.notice.hidden = false;
  }

  /** @param {string} id */
  async runNow(id) {
    if (!confirm(`Run scheduled job ${id} now, ahead of its time?`)) return;
    try {
      await runJobNow(id);
      this.say(`Job ${id} is pending: it runs as soon as a worker is free.`);
    } catch (error) {
      this.say(`Run now failed: ${errorText(error)}`, "error");
    }
    await this.load();
  }

  async retryDead() {
    const { queue, type } = this.filters();
    const what = `every dead job${type ? ` of type ${type}` : ""} in queue ${queue ?? "default"}`;
    if (!confirm(`Retry ${what} with fresh attempts?`)) return;
    try {
      const res = await retryAllFailed(queue, type);
      this.say(
        `Requeued ${Number(res?.retried ?? 0).toLocaleString()} job(s).` +
          (res?.more ? " More remain: retry again." : ""),
      );
    } catch (error) {
      this.say(`Retry failed: ${errorText(error)}`, "error");
    }
    await this.reset();
  }

  async cancelPicked() {
    const ids = [...this.selected];
    if (ids.length === 0) return;
    if (!confirm(`Cancel ${ids.length} selected job(s)? Running ones are asked to stop.`)) return;
    try {
      const res = await cancelJobs(ids);
      const refused = Number(res?.refused ?? 0);
      this.say(
        `Cancelled ${Number(res?.cancelled ?? 0)} job(s)` +
          (refused ? `; ${refused} refused (finished meanwhile, or unknown).` : "."),
        refused ? "error" : "ok",
      );
      this.selected.clear();
    } catch (error) {
      this.say(`Cancel failed: ${errorText(error)}`, "error");
    }
    await this.load();
  }

  async deletePicked() {
    const ids = [...this.selected];
    if (ids.length === 0) return;
    if (!confirm(`Delete ${ids.length} selected job(s) for good? This cannot be undone.`)) return;
    try {
      const res = await deleteJobs(ids);
      const refused = (res?.results ?? []).filter((/** @type {any} */ r) => r.error);
      this.say(
        `Deleted ${Number(res?.deleted ?? 0)} job(s)` +
          (refused.length
            ? `; ${refused.length} refused: ${refused[0].error.message}${
              refused.length > 1 ? " …" : ""
            }`
            : "."),
        refused.length ? "error" : "ok",
      );
      this.selected.clear();
    } catch (error) {
      this.say(`Delete failed: ${errorText(error)}`, "error");
    }
    await this.load();
  }

  async purgeDead() {
    const queue = this.queueSelect.value;
    const where = queue ? `of queue ${queue}` : "of every queue";
    if (!confirm(`Delete every job in the dead set (failed) ${where}? This cannot be undone.`)) {
      return;
    }
    try {
      const res = await purgeFailed(queue || undefined);
      const n = res?.purged ?? res?.deleted ?? res?.count;
      this.say(n === undefined ? "Dead jobs purged." : `Purged ${n} dead job(s).`);
    } catch (error) {
      this.say(`Purge failed: ${errorText(error)}`, "error");
    }
    await this.reset();
  }
}
