/**
 * The job list's columns and rows. What a list shows depends on its state:
 * a failed job's error, a scheduled job's time to run (and a "Run now"
 * button), a finished job's end. A row is built once per job and updated in
 * place (`updateRow`), so a live refresh never takes the focus off its
 * buttons nor moves it under the pointer.
 *
 * @module
 */
import { jobId, shortId } from "./api.js";
import { ago, el, replace, when } from "./dom.js";

/** States whose jobs can be cancelled (selected for a bulk cancel). */
export const CANCELLABLE = new Set(["pending", "scheduled", "running", "waiting"]);
/** Finished states: their jobs can be deleted (selected for a bulk delete). */
export const DELETABLE = new Set(["completed", "failed", "cancelled"]);

const HEAD = {
  id: "ID",
  queue: "Queue",
  type: "Type",
  status: "Status",
  attempts: "Attempts",
  priority: "Priority",
  created: "Created",
  finished: "Finished",
  runs_at: "Runs at",
  error: "Error",
  action: "Action",
};

/** @typedef {keyof typeof HEAD} Column */

/**
 * The columns of a list of `state` ("search": an id search, any state).
 *
 * @param {string} state
 * @returns {Column[]}
 */
export function columnsFor(state) {
  /** @type {Column[]} */
  const cols = ["id", "queue", "type", "status", "attempts", "priority"];
  if (state === "scheduled") cols.push("runs_at", "action");
  else if (state === "failed") cols.push("finished", "error");
  else if (state === "completed" || state === "cancelled") cols.push("finished");
  else cols.push("created");
  return cols;
}

/** @param {Column[]} cols */
export function headRow(cols) {
  return el("tr", {}, cols.map((c) => el("th", { scope: "col", text: HEAD[c] })));
}

/** The first line of an error, short enough for a cell. @param {unknown} error */
function errorLine(error) {
  const text = typeof error === "string" ? error : "";
  const line = text.split("\n", 1)[0];
  return line.length > 120 ? `${line.slice(0, 119)}…` : line;
}

/**
 * @typedef {{tr: HTMLElement, cells: Partial<Record<Column, HTMLElement>>,
 *   select: HTMLInputElement | null, status: string}} Row
 * @typedef {{onOpen: (id: string) => void, onRunNow: (id: string) => void,
 *   onSelect: (id: string, on: boolean) => void, selectable: boolean,
 *   selected: boolean}} RowHooks
 */

/**
 * A row of `job` with `cols`.
 *
 * @param {any} job
 * @param {Column[]} cols
 * @param {RowHooks} hooks
 * @returns {Row}
 */
export function buildRow(job, cols, hooks) {
  const id = jobId(job);
  /** @type {Row["cells"]} */
  const cells = {};
  let select = null;
  const tr = el("tr", { dataset: { jobId: id } });
  for (const col of cols) {
    const td = el("td", { class: col === "attempts" || col === "priority" ? "num" : undefined });
    if (col === "id") {
      if (hooks.selectable) {
        select = /** @type {HTMLInputElement} */ (el("input", {
          type: "checkbox",
          class: "pick",
          "data-needs": "admin",
          "aria-label": `Select job ${id}`,
          checked: hooks.selected,
          onchange: (/** @type {Event} */ e) =>
            hooks.onSelect(id, /** @type {HTMLInputElement} */ (e.target).checked),
        }));
        td.append(select);
      }
      td.append(el("button", {
        type: "button",
        class: "link",
        title: `Show job ${id}`,
        "aria-label": `Show job ${id}`,
        onclick: () => hooks.onOpen(id),
        text: shortId(id),
      }));
    } else if (col === "action") {
      td.append(el("button", {
        type: "button",
        "data-needs": "admin",
        "aria-label": `Run job ${id} now`,
        onclick: () => hooks.onRunNow(id),
        text: "Run now",
      }));
    } else if (col === "error") td.className = "error-cell";
    cells[col] = td;
    tr.append(td);
  }
  const row = { tr, cells, select, status: "" };
  updateRow(row, job);
  return row;
}

/**
 * Writes `job`'s values into `row`, touching only cells whose text changed.
 *
 * @param {Row} row
 * @param {any} job
 */
export function updateRow(row, job) {
  const set = (/** @type {Column} */ col, /** @type {string} */ text, title = "") => {
    const td = row.cells[col];
    if (!td) return;
    if (td.textContent !== text) td.textContent = text;
    if (td.title !== title) td.title = title;
  };
  set("queue", String(job.queue ?? ""));
  set("type", String(job.type ?? ""));
  const status = String(job.status ?? "");
  if (row.cells.status && row.status !== status) {
    replace(row.cells.status, el("span", { class: `badge s-${status}`, text: status }));
  }
  row.status = status;
  set("attempts", `${job.attempts ?? 0}/${job.max_attempts ?? "?"}`);
  set("priority", String(job.priority ?? ""));
  set("created", ago(job.created_at), job.created_at ?? "");
  set("finished", ago(job.completed_at), job.completed_at ?? "");
  set(
    "runs_at",
    job.scheduled_for ? `${when(job.scheduled_for)} (${ago(job.scheduled_for)})` : "—",
  );
  set("error", errorLine(job.error), typeof job.error === "string" ? job.error : "");
  delete row.tr.dataset.stale;
}
