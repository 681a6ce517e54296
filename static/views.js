/**
 * Shows the view a route names: the sections whose `data-views` lists it,
 * the nav link marked current, the job list's filters from the URL, and the
 * job detail where the user opened it (right after the section the click
 * came from, not at the bottom of the page).
 *
 * The detail's route (`#/jobs/<id>`) remembers, in `history.state`, the view
 * it was opened over (`from`) and the section it came from (`opener`); a
 * reload keeps both. Closing it (its button, Escape) goes back to that view.
 *
 * @module
 */
import { byId } from "./dom.js";
import { currentRoute, formatRoute, navigate, parseRoute, VIEWS } from "./router.js";

/**
 * @typedef {import("./router.js").Route} Route
 * @typedef {{list: import("./job_list.js").JobList, detail: import("./jobs.js").JobDetail,
 *   queues: import("./queues.js").QueuePanel, history: import("./chart.js").HistoryPanel,
 *   polled: import("./polled.js").Polled[]}} Parts
 */

/** @returns {{from?: string, opener?: string}} */
const detailState = () => {
  const s = history.state;
  return s && typeof s === "object" ? s : {};
};

/** The view under the route (a detail's: the one it was opened over, else none). */
function baseOf(/** @type {Route} */ route) {
  if (route.view !== "job") return route;
  const from = detailState().from;
  return from ? parseRoute(from) : null;
}

/** The list filters a view implies (a queue page's queue, the flows view's state). */
function listFilters(/** @type {Route} */ base) {
  const params = { ...base.params };
  if (base.view === "queue") params.queue = base.name ?? "";
  if (base.view === "flows") params.state = "waiting";
  return params;
}

/**
 * @param {Route} route
 * @param {Parts} parts
 */
export function showView(route, parts) {
  const base = baseOf(route);
  const view = base?.view ?? "job";
  document.body.dataset.view = view;
  for (const section of document.querySelectorAll("main > section[data-views]")) {
    const views = (/** @type {HTMLElement} */ (section).dataset.views ?? "").split(" ");
    section.toggleAttribute("data-off", !views.includes(view));
  }
  // Panels read by nobody else poll only while their view shows them.
  for (const p of parts.polled) p.setVisible(!p.section.hasAttribute("data-off"));
  const navView = view === "queue" ? "queues" : view === "job" ? "jobs" : view;
  for (const a of document.querySelectorAll("#views a")) {
    const here = /** @type {HTMLElement} */ (a).dataset.view === navView;
    if (here) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  parts.queues.focus(view === "queue" ? base?.name ?? null : null);
  // After the sections are shown: the history loads only while its panel is.
  parts.history.focus(view === "queue" ? base?.name ?? null : null);
  byId("queue-field").toggleAttribute("data-off", view === "queue");
  if (base) parts.list.setFilters(listFilters(base));
  const name = view === "queue" ? `Queue ${base?.name}` : VIEWS[view].title;
  document.title = route.view === "job"
    ? `Job ${route.id} · Job queue`
    : `${name} · Job queue dashboard`;
  if (route.view === "job" && route.id) {
    placeDetail(base ? detailState().opener : undefined);
    parts.detail.open(route.id);
  } else {
    parts.detail.close();
  }
}

/** Puts the detail right after the section `opener` (shown), else first in the page. */
function placeDetail(/** @type {string | undefined} */ opener) {
  const panel = byId("detail");
  const after = opener ? document.getElementById(opener) : null;
  if (after && !after.hasAttribute("data-off") && !after.hidden) {
    if (after.nextElementSibling !== panel) after.after(panel);
  } else if (panel.parentElement?.firstElementChild !== panel) {
    byId("main").prepend(panel);
  }
}

/**
 * Opens job `id` over the view shown, placed after section `opener`.
 *
 * @param {string} id
 * @param {string} opener the id of the section the user opened it from
 */
export function openJob(id, opener) {
  const now = currentRoute();
  const from = now.view === "job" ? detailState().from : location.hash || "#/";
  navigate({ view: "job", id, params: {} }, { state: { from, opener } });
}

/** Closes the detail: back to the view it was opened over, else to the job list. */
export function closeDetail() {
  const { from } = detailState();
  if (currentRoute().view !== "job") return;
  if (from) navigate(parseRoute(from), { state: null });
  else navigate({ view: "jobs", params: {} });
}

/**
 * The job list's filters changed by the user: the URL follows (the entry is
 * rewritten, not added); under a detail, the view it was opened over does.
 *
 * @param {import("./job_list.js").Filters} filters
 */
export function listFiltersChanged(filters) {
  const now = currentRoute();
  const base = baseOf(now);
  if (!base) return;
  /** @type {Record<string, string>} */
  const params = {};
  for (const [k, v] of Object.entries(filters)) if (v) params[k] = v;
  if (base.view === "queue") delete params.queue;
  if (base.view === "flows") delete params.state;
  const next = { ...base, params };
  if (now.view === "job") {
    history.replaceState({ ...detailState(), from: formatRoute(next) }, "", location.hash);
  } else {
    navigate(next, { replace: true, silent: true });
  }
}
