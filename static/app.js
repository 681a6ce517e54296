/**
 * Dashboard entry: wires the live feed, counts, queues panel, chart, per-type
 * table, job list, detail panel and submit form together.
 *
 * @module
 */
import { getJobTypes, getStats } from "./api.js";
import { ThroughputChart } from "./chart.js";
import { byId, el, replace } from "./dom.js";
import { renderSubmitForm } from "./form.js";
import { errorText, JobDetail, JobList } from "./jobs.js";
import { startLive } from "./live.js";
import { QueuePanel } from "./queues.js";

const STATES = ["pending", "scheduled", "running", "completed", "failed", "cancelled"];
const MODE_TEXT = {
  connecting: "Connecting…",
  live: "Live",
  polling: "Polling every 2 s",
  offline: "Offline — retrying",
};

const chart = new ThroughputChart(
  /** @type {HTMLCanvasElement} */ (byId("throughput")),
  byId("throughput-summary"),
);
const detail = new JobDetail({ onChanged: () => list.load() });
const list = new JobList({ onOpen: (id) => detail.open(id) });
const queues = new QueuePanel({ onQueues: (names) => list.setQueues(names) });

/** @type {string} */
let lastCounts = "";

/** @param {any} stats */
function renderStats(stats) {
  if (!stats || typeof stats !== "object") return;
  for (const state of [...STATES, "total", "retried"]) {
    const node = document.getElementById(`count-${state}`);
    if (node) node.textContent = formatCount(stats[state]);
  }
  chart.add(stats);
  renderByType(stats.by_type ?? {});
  queues.refresh(); // pause flags and latency are not in the stats: same cadence
  const counts = STATES.map((s) => stats[s]).join(",");
  if (counts !== lastCounts) {
    lastCounts = counts;
    list.refreshSoon();
  }
  byId("updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
}

/** @param {unknown} n */
function formatCount(n) {
  return typeof n === "number" ? n.toLocaleString() : "—";
}

/** @param {Record<string, any>} byType */
function renderByType(byType) {
  const types = Object.keys(byType).sort();
  replace(
    byId("types-body"),
    types.length === 0
      ? el("tr", {}, el("td", { colspan: STATES.length + 2, class: "muted", text: "No jobs yet." }))
      : types.map((type) =>
        el(
          "tr",
          {},
          el("th", { scope: "row", text: type }),
          STATES.map((s) => el("td", { class: "num", text: formatCount(byType[type]?.[s] ?? 0) })),
          el("td", { class: "num", text: formatCount(byType[type]?.total ?? 0) }),
        )
      ),
  );
}

/** @param {keyof typeof MODE_TEXT} mode */
function renderMode(mode) {
  const node = byId("conn");
  node.textContent = MODE_TEXT[mode] ?? mode;
  node.dataset.mode = mode;
}

async function loadTypes() {
  const box = byId("submit-box");
  try {
    const res = await getJobTypes();
    // `[...]` or `{job_types: [...]}`; the schema as `schema` or `payload_schema`.
    const raw = Array.isArray(res) ? res : Array.isArray(res?.job_types) ? res.job_types : [];
    const list_ = raw.map((/** @type {any} */ t) => ({
      ...t,
      schema: t.schema ?? t.payload_schema,
    }));
    list.setTypes(list_.map((t) => String(t.type)));
    renderSubmitForm(box, list_, (id) => {
      detail.open(id);
      list.load();
      queues.refreshSoon(); // a submit may have made a new queue
    });
  } catch (error) {
    replace(
      box,
      el("p", { class: "error-text", text: `Could not load job types: ${errorText(error)}` }),
    );
  }
}

startLive({
  onStats: renderStats,
  onJobEvent: (event) => {
    detail.onJobEvent(event);
    // Progress changes no count; everything else moves one (throttled).
    if (event?.kind !== "progress") queues.refreshSoon();
  },
  onMode: renderMode,
});
getStats().then(renderStats).catch(() => {});
loadTypes();
// The job list waits for the queue list, which picks the queue it shows.
queues.refresh().then(() => {
  if (!list.started) list.load();
});
chart.draw();
