/**
 * The Schedules panel: every recurring schedule (its name links to the
 * jobs it produced, `#/jobs?schedule=<name>`) with its cadence (in words
 * and as written), time zone, next run, last run with its job's status (a
 * link that opens the job) and pause flag, and Pause/Resume, Trigger and
 * Delete per schedule (admin scope). Reloaded every few seconds, and at once
 * after an action.
 *
 * @module
 */
import { deleteSchedule, getSchedules, scheduleAction } from "./api.js";
import { byId, el, noteRow, replace, when } from "./dom.js";
import { errorText } from "./jobs.js";
import { formatRoute } from "./router.js";

const REFRESH_MS = 5000;
const COLUMNS = 7;

/**
 * @typedef {{name: string, cron: string | null, every_ms: number | null, timezone: string,
 *   paused: boolean, next_runs: string[], last_run_at: string | null,
 *   last_job_id: string | null, last_status: string | null, type: string}} Schedule
 */

/**
 * A schedule's cadence in words ("every 5 min", "daily at 03:00"), for the
 * common shapes; anything else is said as written.
 *
 * @param {Schedule} s
 * @returns {string}
 */
export function cadenceInWords(s) {
  if (typeof s.every_ms === "number") {
    const ms = s.every_ms;
    if (ms % 86_400_000 === 0) return plural(ms / 86_400_000, "day");
    if (ms % 3_600_000 === 0) return plural(ms / 3_600_000, "hour");
    if (ms % 60_000 === 0) return plural(ms / 60_000, "minute");
    if (ms % 1000 === 0) return plural(ms / 1000, "second");
    return `every ${ms} ms`;
  }
  const fields = String(s.cron ?? "").trim().split(/\s+/);
  if (fields.length !== 5) return "cron";
  const [min, hour, dom, mon, dow] = fields;
  const any = (/** @type {string} */ f) => f === "*";
  const num = (/** @type {string} */ f) => /^\d+$/.test(f);
  const step = /^\*\/(\d+)$/;
  if ([min, hour, dom, mon, dow].every(any)) return "every minute";
  if (step.test(min) && [hour, dom, mon, dow].every(any)) {
    return plural(Number(step.exec(min)?.[1]), "minute");
  }
  if (num(min) && [hour, dom, mon, dow].every(any)) return `hourly at :${min.padStart(2, "0")}`;
  if (num(min) && num(hour) && [dom, mon].every(any)) {
    const at = `${hour.padStart(2, "0")}:${min.padStart(2, "0")}`;
    if (any(dow)) return `daily at ${at}`;
    if (dow === "1-5") return `weekdays at ${at}`;
  }
  return "cron";
}

/**
 * @param {number} n
 * @param {string} unit
 */
function plural(n, unit) {
  return n === 1 ? `every ${unit}` : `every ${n} ${unit}s`;
}

export class SchedulePanel {
  /** @param {{onOpenJob: (id: string) => void}} opts */
  constructor(opts) {
    this.onOpenJob = opts.onOpenJob;
    this.body = byId("schedules-body");
    this.notice = byId("schedules-notice");
    /** Schedules with an action in flight. @type {Set<string>} */
    this.busy = new Set();
    /** @type {ReturnType<typeof setInterval> | null} */
    this.timer = null;
    this.loading = false;
  }

  /** Loads now and every few seconds. */
  start() {
    this.refresh();
    this.timer ??= setInterval(() => this.refresh(), REFRESH_MS);
  }

  async refresh() {
    if (this.loading) return;
    this.loading = true;
    try {
      const res = await getSchedules();
      const list = Array.isArray(res?.schedules) ? res.schedules : [];
      this.render(list);
    } catch (error) {
      this.show(`Could not load schedules: ${errorText(error)}`, "error");
    } finally {
      this.loading = false;
    }
  }

  /** @param {Schedule[]} list */
  render(list) {
    if (list.length === 0) {
      replace(
        this.body,
        noteRow(
          COLUMNS,
          "No schedules yet: POST /api/v1/schedules, or defineSchedule in a job module.",
        ),
      );
      return;
    }
    replace(this.body, list.map((s) => this.row(s)));
  }

  /** @param {Schedule} s */
  row(s) {
    const written = s.cron ?? `every_ms ${s.every_ms}`;
    const last = s.last_job_id
      ? el(
        "button",
        {
          type: "button",
          class: "link",
          title: `Open job ${s.last_job_id}`,
          onclick: () => this.onOpenJob(/** @type {string} */ (s.last_job_id)),
        },
        `${when(s.last_run_at)} · ${s.last_status ?? "expired"}`,
      )
      : el("span", { class: "muted", text: "never" });
    const busy = this.busy.has(s.name);
    const action = (/** @type {string} */ label, /** @type {() => Promise<unknown>} */ run) =>
      el("button", {
        type: "button",
        "data-needs": "admin",
        disabled: busy,
        "aria-label": `${label} schedule ${s.name}`,
        onclick: () => this.act(s.name, label, run),
      }, label);
    return el(
      "tr",
      { dataset: { schedule: s.name, paused: String(s.paused === true) } },
      el(
        "th",
        { scope: "row" },
        el("a", {
          href: formatRoute({ view: "jobs", params: { schedule: s.name } }),
          title: `Jobs of schedule ${s.name}`,
          text: s.name,
        }),
      ),
      el(
        "td",
        {},
        el("span", { text: cadenceInWords(s) }),
        el("br"),
        el("code", { class: "small muted", text: written }),
      ),
      el("td", { text: s.cron ? s.timezone : "—" }),
      el("td", { text: s.next_runs?.[0] ? when(s.next_runs[0]) : "—" }),
      el("td", {}, last),
      el(
        "td",
        {},
        s.paused
          ? el("span", { class: "badge q-paused", text: "paused" })
          : el("span", { class: "muted", text: "active" }),
      ),
      el(
        "td",
        { class: "actions" },
        s.paused
          ? action("Resume", () => scheduleAction(s.name, "resume"))
          : action("Pause", () => scheduleAction(s.name, "pause")),
        action("Trigger", () => scheduleAction(s.name, "trigger")),
        action("Delete", () => deleteSchedule(s.name)),
      ),
    );
  }

  /**
   * @param {string} name
   * @param {string} label
   * @param {() => Promise<unknown>} run
   */
  async act(name, label, run) {
    if (this.busy.has(name)) return;
    if (label === "Delete" && !globalThis.confirm(`Delete schedule ${name}? Its jobs stay.`)) {
      return;
    }
    this.busy.add(name);
    try {
      await run();
      this.show(`${label}: schedule ${name} done.`);
    } catch (error) {
      this.show(`${label} of schedule ${name} failed: ${errorText(error)}`, "error");
    } finally {
      this.busy.delete(name);
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
