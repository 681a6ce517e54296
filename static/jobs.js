/**
 * The job detail panel (`#/jobs/<id>`) with its actions: payload, result,
 * progress, error history, schedule, trace id, dependencies and dependents
 * (flow.js).
 * Everything from the API is rendered as text.
 *
 * @module
 */
import { ApiError, cancelJob, getJob, jobId, retryJob, runJobNow } from "./api.js";
import { byId, el, pretty, replace, when } from "./dom.js";
import { flowSection } from "./flow.js";

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

/** The detail panel of one job. */
export class JobDetail {
  /** @param {{onChanged: () => void, onClose: () => void}} opts */
  constructor(opts) {
    this.onChanged = opts.onChanged;
    this.onClose = opts.onClose;
    this.panel = byId("detail");
    this.content = byId("detail-content");
    this.notice = byId("detail-notice");
    /** @type {string | null} */
    this.id = null;
    /** @type {any} */
    this.job = null;
    /** @type {ReturnType<typeof setInterval> | null} */
    this.timer = null;
    byId("detail-close").addEventListener("click", () => this.onClose());
  }

  /** Whether a job is shown. */
  get isOpen() {
    return this.id !== null;
  }

  /** @param {string} id */
  async open(id) {
    if (this.id === id && !this.panel.hidden) return;
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
    if (job.schedule) {
      facts.push([
        "Schedule",
        `${job.schedule}${job.schedule_tick ? ` · tick ${job.schedule_tick}` : ""}`,
      ]);
    }
    if (job.group) facts.push(["Group", String(job.group)]);
    // The trace id finds the submit's and every attempt's spans in the tracing backend.
    facts.push(["Trace", job.trace_id ? el("code", { text: String(job.trace_id) }) : "—"]);
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
    if (status === "scheduled") {
      actions.append(el("button", {
        type: "button",
        "data-needs": "admin",
        text: "Run now",
        onclick: () => this.act("run"),
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
      el(
        "dl",
        { class: "facts" },
        facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)]),
      ),
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

  /** @param {"cancel" | "retry" | "run"} action */
  async act(action) {
    const id = this.id;
    if (!id) return;
    const words = {
      cancel: [`Cancel job ${id}? A running job is asked to stop.`, "Cancel requested.", "Cancel"],
      retry: [`Retry job ${id} with fresh attempts?`, "Job requeued.", "Retry"],
      run: [`Run scheduled job ${id} now, ahead of its time?`, "Job pending: it runs now.", "Run"],
    }[action];
    if (!confirm(words[0])) return;
    try {
      if (action === "cancel") await cancelJob(id);
      else if (action === "retry") await retryJob(id);
      else await runJobNow(id);
      notice(this.notice, words[1]);
      await this.refresh();
      this.onChanged();
    } catch (error) {
      notice(this.notice, `${words[2]} failed: ${errorText(error)}`, "error");
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
