/**
 * The job list (one queue's jobs by state, with queue and type filters and
 * cursor pagination) and the job detail panel with its actions. Everything
 * from the API is rendered as text.
 *
 * @module
 */
import {
  ApiError,
  cancelJob,
  getJob,
  jobId,
  listJobs,
  purgeFailed,
  retryJob,
  shortId,
} from "./api.js";
import { ago, byId, el, noteRow, pretty, replace, when } from "./dom.js";
import { flowSection } from "./flow.js";

const PAGE_SIZE = 20;
const COLUMNS = 7;
const FINISHED = new Set(["completed", "failed", "cancelled"]);

/** @param {string} status */
const badge = (status) => el("span", { class: `badge s-${status}`, text: status });

/**
 * @param {HTMLElement} box
 * @param {string} message
 * @param {"ok" | "error"} [kind]
 */
function notice(box, message, kind = "ok") {
  box.className = `notice ${kind}`;
  box.textContent = message;
  box.hidden = false;
}

/** The job list section. */
export class JobList {
  /** @param {{onOpen: (id: string) => void}} opts */
  constructor(opts) {
    this.onOpen = opts.onOpen;
    this.queueSelect = /** @type {HTMLSelectElement} */ (byId("filter-queue"));
    this.stateSelect = /** @type {HTMLSelectElement} */ (byId("filter-state"));
    this.typeSelect = /** @type {HTMLSelectElement} */ (byId("filter-type"));
    this.body = byId("jobs-body");
    this.info = byId("jobs-info");
    this.prev = /** @type {HTMLButtonElement} */ (byId("jobs-prev"));
    this.next = /** @type {HTMLButtonElement} */ (byId("jobs-next"));
    this.purge = /** @type {HTMLButtonElement} */ (byId("purge-failed"));
    this.notice = byId("jobs-notice");
    /** Cursors of the pages before the current one. @type {(string | null)[]} */
    this.history = [];
    /** @type {string | null} */
    this.cursor = null;
    /** @type {string | null} */
    this.nextCursor = null;
    this.loading = false;
    this.again = false;
    /** Whether a load was ever asked for. */
    this.started = false;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.throttle = null;
    /** The queue names the select offers, joined (to rebuild it only on a change). */
    this.queueNames = "";

    const reset = () => {
      this.history = [];
      this.cursor = null;
      this.load();
    };
    this.reset = reset;
    this.queueSelect.addEventListener("change", reset);
    this.stateSelect.addEventListener("change", reset);
    this.typeSelect.addEventListener("change", reset);
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
    this.purge.addEventListener("click", async () => {
      const queue = this.queueSelect.value;
      const where = queue ? `of queue ${queue}` : "of every queue";
      if (!confirm(`Delete every job in the dead set (failed) ${where}? This cannot be undone.`)) {
        return;
      }
      try {
        const res = await purgeFailed(queue || undefined);
        const n = res?.purged ?? res?.deleted ?? res?.count;
        notice(this.notice, n === undefined ? "Dead jobs purged." : `Purged ${n} dead job(s).`);
        reset();
      } catch (error) {
        notice(this.notice, `Purge failed: ${errorText(error)}`, "error");
      }
    });
  }

  /**
   * Offers these queues in the filter. Keeps the chosen queue while it is
   * listed; else picks "default" if there is one, else the first. The value
   * "" (no queue list yet) lists the deployment's default queue.
   *
   * @param {string[]} names
   */
  setQueues(names) {
    if (names.length === 0 || names.join("\n") === this.queueNames) return;
    this.queueNames = names.join("\n");
    const current = this.queueSelect.value;
    replace(this.queueSelect, names.map((name) => el("option", { value: name, text: name })));
    const chosen = names.includes(current)
      ? current
      : names.includes("default")
      ? "default"
      : names[0];
    this.queueSelect.value = chosen;
    if (chosen !== current) this.reset();
  }

  /** @param {string[]} types */
  setTypes(types) {
    const current = this.typeSelect.value;
    replace(
      this.typeSelect,
      el("option", { value: "", text: "All types" }),
      types.map((t) => el("option", { value: t, text: t })),
    );
    if (types.includes(current)) this.typeSelect.value = current;
  }

  /** Refreshes the first page soon (live updates); later pages stay put while read. */
  refreshSoon() {
    if (this.cursor !== null || this.throttle !== null) return;
    this.throttle = setTimeout(() => {
      this.throttle = null;
      this.load();
    }, 500);
  }

  async load() {
    this.started = true;
    if (this.loading) {
      this.again = true;
      return;
    }
    this.loading = true;
    const state = this.stateSelect.value;
    const queue = this.queueSelect.value;
    this.purge.hidden = state !== "failed";
    this.body.setAttribute("aria-busy", "true");
    try {
      const page = await listJobs({
        status: state,
        queue: queue || undefined,
        type: this.typeSelect.value || undefined,
        limit: PAGE_SIZE,
        cursor: this.cursor,
      });
      this.nextCursor = page?.next_cursor ?? null;
      const jobs = Array.isArray(page?.jobs) ? page.jobs : [];
      replace(
        this.body,
        jobs.length === 0
          ? noteRow(COLUMNS, queue ? `No ${state} jobs in queue ${queue}.` : `No ${state} jobs.`)
          : jobs.map((job) => this.row(job)),
      );
      const pageNo = this.history.length + 1;
      this.info.textContent = `Page ${pageNo} · ${jobs.length} job(s)`;
      this.prev.disabled = this.history.length === 0;
      this.next.disabled = !this.nextCursor;
    } catch (error) {
      replace(
        this.body,
        noteRow(COLUMNS, `Could not load jobs: ${errorText(error)}`, "error-text"),
      );
    } finally {
      this.body.removeAttribute("aria-busy");
      this.loading = false;
      if (this.again) {
        this.again = false;
        this.load();
      }
    }
  }

  /** @param {any} job */
  row(job) {
    const id = jobId(job);
    const open = el("button", {
      type: "button",
      class: "link",
      title: `Show job ${id}`,
      "aria-label": `Show job ${id}`,
      onclick: () => this.onOpen(id),
      text: shortId(id),
    });
    return el(
      "tr",
      { dataset: { jobId: id } },
      el("td", {}, open),
      el("td", { text: job.queue ?? "" }),
      el("td", { text: job.type ?? "" }),
      el("td", {}, badge(String(job.status ?? ""))),
      el("td", { class: "num", text: `${job.attempts ?? 0}/${job.max_attempts ?? "?"}` }),
      el("td", { class: "num", text: String(job.priority ?? "") }),
      el("td", { title: job.created_at ?? "", text: ago(job.created_at) }),
    );
  }
}

/** The detail panel of one job. */
export class JobDetail {
  /** @param {{onChanged: () => void}} opts */
  constructor(opts) {
    this.onChanged = opts.onChanged;
    this.panel = byId("detail");
    this.content = byId("detail-content");
    this.notice = byId("detail-notice");
    /** @type {string | null} */
    this.id = null;
    /** @type {any} */
    this.job = null;
    /** @type {ReturnType<typeof setInterval> | null} */
    this.timer = null;
    byId("detail-close").addEventListener("click", () => this.close());
  }

  /** @param {string} id */
  async open(id) {
    this.id = id;
    this.notice.hidden = true;
    this.panel.hidden = false;
    replace(this.content, el("p", { class: "muted", text: "Loading…" }));
    await this.refresh();
    byId("detail-title").focus();
    if (this.timer === null) {
      // Safety net besides live events: a running job's progress, a lost stream.
      this.timer = setInterval(() => {
        if (this.job && !FINISHED.has(this.job.status)) this.refresh();
      }, 2000);
    }
  }

  close() {
    this.id = null;
    this.job = null;
    this.panel.hidden = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** @param {any} event a lifecycle event from the stream */
  onJobEvent(event) {
    if (this.id && event?.job_id === this.id) this.refresh();
  }

  async refresh() {
    const id = this.id;
    if (!id) return;
    try {
      const job = await getJob(id);
      if (id !== this.id) return;
      this.job = job?.job ?? job;
      this.render();
    } catch (error) {
      if (id !== this.id) return;
      replace(
        this.content,
        el("p", { class: "error-text", text: `Could not load job ${id}: ${errorText(error)}` }),
      );
    }
  }

  render() {
    const job = this.job;
    const id = jobId(job);
    const status = String(job.status ?? "");
    const progress = typeof job.progress === "number" ? job.progress : null;
    /** @type {[string, Node | string][]} */
    const facts = [
      ["ID", el("code", { text: id })],
      ["Queue", String(job.queue ?? "—")],
      ["Type", String(job.type ?? "")],
      ["Status", badge(status)],
      ["Attempts", `${job.attempts ?? 0} of ${job.max_attempts ?? "?"}`],
      ["Priority", String(job.priority ?? "")],
      [
        "Progress",
        progress === null ? "—" : el(
          "span",
          { class: "progress" },
          el("progress", { max: 100, value: progress, "aria-label": "Progress" }),
          ` ${Math.round(progress)}%`,
        ),
      ],
      ["Created", timeCell(job.created_at)],
      ["Scheduled for", timeCell(job.scheduled_for)],
      ["Started", timeCell(job.started_at)],
      ["Finished", timeCell(job.completed_at)],
      ["Timeout", job.timeout_ms ? `${job.timeout_ms} ms` : "—"],
    ];
    if (job.lease_expires_at) facts.push(["Lease until", timeCell(job.lease_expires_at)]);
    if (job.cancel_requested) facts.push(["Cancel", "requested"]);
    if (job.dependencies) {
      const d = job.dependencies;
      facts.push([
        "Dependencies",
        `${d.completed} completed, ${d.failed} failed, ${d.pending} pending of ${d.total}` +
        ` (on failure: ${job.on_dependency_failure ?? "fail"})`,
      ]);
    }

    const history = Array.isArray(job.error_history) ? job.error_history : [];
    // Its flow (dependencies, dependents, graph) arrives with a request of its own.
    const flowBox = el("div");
    flowSection(job, (other) => this.open(other)).then((node) => {
      if (node && this.job === job) replace(flowBox, node);
    }, (error) => {
      if (this.job === job) {
        replace(flowBox, el("p", { class: "error-text", text: `Flow: ${errorText(error)}` }));
      }
    });
    const actions = el("div", { class: "actions" });
    if (["pending", "scheduled", "running", "waiting"].includes(status)) {
      actions.append(el("button", {
        type: "button",
        class: "danger",
        "data-needs": "admin",
        text: "Cancel job",
        onclick: () => this.act("cancel"),
      }));
    }
    if (status === "failed" || status === "cancelled") {
      actions.append(el("button", {
        type: "button",
        "data-needs": "admin",
        text: "Retry job",
        onclick: () => this.act("retry"),
      }));
    }
    replace(
      this.content,
      el("dl", { class: "facts" }, facts.map(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)])),
      actions,
      job.error
        ? [
          el("h3", { text: "Last error" }),
          el("pre", { class: "error-text", text: String(job.error) }),
        ]
        : null,
      el("h3", { text: "Payload" }),
      el("pre", { class: "json", "data-field": "payload", text: pretty(job.payload) }),
      el("h3", { text: "Result" }),
      el("pre", { class: "json", "data-field": "result", text: pretty(job.result ?? null) }),
      flowBox,
      history.length === 0 ? null : [
        el("h3", { text: `Error history (${history.length})` }),
        el(
          "div",
          { class: "table-wrap" },
          el(
            "table",
            {},
            el(
              "thead",
              {},
              el(
                "tr",
                {},
                el("th", { text: "Attempt" }),
                el("th", { text: "At" }),
                el("th", { text: "Message" }),
              ),
            ),
            el(
              "tbody",
              {},
              history.map((/** @type {any} */ h) =>
                el(
                  "tr",
                  {},
                  el("td", { class: "num", text: String(h.attempt ?? "") }),
                  el("td", {}, timeCell(h.at)),
                  el("td", { text: String(h.message ?? "") }),
                )
              ),
            ),
          ),
        ),
      ],
    );
  }

  /** @param {"cancel" | "retry"} action */
  async act(action) {
    const id = this.id;
    if (!id) return;
    const question = action === "cancel"
      ? `Cancel job ${id}? A running job is asked to stop.`
      : `Retry job ${id} with fresh attempts?`;
    if (!confirm(question)) return;
    try {
      if (action === "cancel") await cancelJob(id);
      else await retryJob(id);
      notice(this.notice, action === "cancel" ? "Cancel requested." : "Job requeued.");
      await this.refresh();
      this.onChanged();
    } catch (error) {
      notice(
        this.notice,
        `${action === "cancel" ? "Cancel" : "Retry"} failed: ${errorText(error)}`,
        "error",
      );
    }
  }
}

/** @param {string | null | undefined} iso */
function timeCell(iso) {
  return el("time", { datetime: iso ?? undefined, title: iso ?? undefined, text: when(iso) });
}

/** @param {unknown} error */
export function errorText(error) {
  if (error instanceof ApiError) {
    return `${error.message}${error.status ? ` (HTTP ${error.status})` : ""}`;
  }
  return error instanceof Error ? error.message : String(error);
}
