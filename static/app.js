/**
 * Dashboard entry: wires the live feed, counts, queues panel, history, per-type
 * table, job list, detail panel and submit form together, and shows the
 * view the URL names (router.js, views.js).
 *
 * @module
 */
import { getJobTypes, getStats } from "./api.js";
import { applyScopes, forgetKey, storeKey, whoAmI } from "./auth.js";
import { HistoryPanel } from "./chart.js";
import { byId, el, replace } from "./dom.js";
import { renderSubmitForm } from "./form.js";
import { errorText, JobDetail } from "./jobs.js";
import { JobList } from "./job_list.js";
import { startLive } from "./live.js";
import { startRouter } from "./router.js";
import { closeDetail, listFiltersChanged, openJob, showView } from "./views.js";
import { QueuePanel } from "./queues.js";
import { LimitsPanel } from "./limits.js";
import { SchedulePanel } from "./schedules.js";
import { WorkersPanel } from "./workers.js";
import { WebhooksPanel } from "./webhooks.js";
import { RedisPanel } from "./redis.js";

const STATES = [
  "pending",
  "scheduled",
  "running",
  "completed",
  "failed",
  "cancelled",
  "waiting",
];
const MODE_TEXT = {
  connecting: "Connecting…",
  live: "Live",
  polling: "Polling every 2 s",
  offline: "Offline — retrying",
};

const history = new HistoryPanel();
const detail = new JobDetail({ onChanged: () => list.load(), onClose: () => closeDetail() });
const list = new JobList({
  onOpen: (id) => openJob(id, "jobs"),
  onFilters: (filters) => listFiltersChanged(filters),
});
const queues = new QueuePanel({ onQueues: (names) => list.setQueues(names) });
const schedules = new SchedulePanel({ onOpenJob: (id) => openJob(id, "schedules") });
const limits = new LimitsPanel();
// Each reads only while its view is shown (views.js).
const polled = [new WorkersPanel().poll, new WebhooksPanel().poll, new RedisPanel().poll];

/** @type {string} */
let lastCounts = "";

/** @param {any} stats */
function renderStats(stats) {
  if (!stats || typeof stats !== "object") return;
  const lifetime = ["completed_total", "failed_total", "cancelled_total"];
  for (const state of [...STATES, "total", "retried", ...lifetime]) {
    const node = document.getElementById(`count-${state}`);
    if (node) node.textContent = formatCount(stats[state]);
  }
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
    list.setTypes(list_.map((/** @type {{type: unknown}} */ t) => String(t.type)));
    renderSubmitForm(box, list_, (id) => {
      openJob(id, "submit");
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

function start() {
  startRouter((route) => showView(route, { list, detail, queues, history, polled }));
  document.addEventListener("keydown", (e) => {
    // Escape closes the job detail (the only overlay), wherever the focus is.
    if (e.key === "Escape" && detail.isOpen && !e.defaultPrevented) closeDetail();
  });
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
  schedules.start();
  limits.start();
  // The job list waits for the queue list, which picks the queue it shows.
  queues.refresh().then(() => {
    if (!list.started) list.load();
  });
}

/** Shows the key form; a key the server accepts is stored and the page starts over with it. */
function askForKey(/** @type {boolean} */ rejected) {
  byId("main").hidden = true;
  renderMode("offline");
  byId("conn").textContent = "API key needed";
  const prompt = byId("auth-prompt");
  const form = /** @type {HTMLFormElement} */ (byId("auth-form"));
  const input = /** @type {HTMLInputElement} */ (byId("auth-key"));
  const error = byId("auth-error");
  const say = (/** @type {string} */ text) => {
    error.textContent = text;
    error.hidden = false;
  };
  prompt.hidden = false;
  if (rejected) say("The stored key was refused (revoked or unknown): enter another one.");
  input.focus();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    try {
      const who = await whoAmI(key);
      if (who.auth === "on" && !who.key) return say("This key was refused: unknown or revoked.");
      storeKey(key);
      location.reload();
    } catch (err) {
      say(String(err instanceof Error ? err.message : err));
    }
  });
}

/** Header line: whose key this is and what it may do. */
function showKey(/** @type {import("./auth.js").Identity} */ identity) {
  if (!identity.key) return;
  const box = byId("auth-status");
  // A tenant's key sees its tenant's queues, jobs and schedules only: say so.
  const tenant = identity.key.tenant ? ` · tenant ${identity.key.tenant} only` : "";
  byId("auth-who").textContent = `Key “${identity.key.name}” · may ${
    identity.key.scopes.join(", ") || "nothing"
  }${tenant}`;
  box.hidden = false;
  byId("auth-forget").addEventListener("click", () => {
    forgetKey();
    location.reload();
  });
}

async function boot() {
  /** @type {Awaited<ReturnType<typeof whoAmI>>} */
  let identity;
  try {
    identity = await whoAmI();
  } catch {
    // The server does not answer: start as before; the feed shows it offline and retries.
    identity = { auth: "off", key: null };
  }
  if (identity.auth === "on" && !identity.key) {
    forgetKey();
    return askForKey(identity.rejected === true);
  }
  const scopes = applyScopes(identity);
  showKey(identity);
  // A key revoked while the page is open: ask again.
  globalThis.addEventListener("jobqueue:unauthorized", () => {
    forgetKey();
    location.reload();
  }, { once: true });
  if (!scopes.has("read")) {
    byId("main").hidden = true;
    renderMode("offline");
    byId("conn").textContent = "No read scope";
    const note = byId("scope-notice");
    note.textContent = "This key may not read jobs, queues or statistics (it lacks the read " +
      "scope), so there is nothing to show. Use a key with the read scope.";
    note.hidden = false;
    return;
  }
  start();
}

boot();
