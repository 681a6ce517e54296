/**
 * Views with their own URLs, in the hash (`#/jobs?state=failed`), so a link
 * can be shared, a reload keeps the page, and the browser's back button
 * walks the views. The server serves one index.html whatever the hash.
 *
 * - `#/` overview (every panel), `#/queues`, `#/queues/<name>`, `#/jobs`,
 *   `#/schedules`, `#/flows`, `#/limits`, `#/workers`, `#/webhooks`, `#/redis`;
 * - `#/jobs/<id>`: one job's detail. Opened from a view it shows over that
 *   view (remembered in `history.state`, which a reload keeps); followed as
 *   a link it stands alone;
 * - the job list's filters (`state`, `queue`, `type`, `group`, `schedule`,
 *   `q`) ride on any view
 *   that shows the list. Changing a filter replaces the entry (no history
 *   step per click); changing the view adds one.
 *
 * A new view is a `VIEWS` entry and `data-views` on its sections (index.html).
 *
 * @module
 */

/** Every view: its path head and title. */
export const VIEWS = {
  overview: { path: "", title: "Overview" },
  queues: { path: "queues", title: "Queues" },
  queue: { path: "queues", title: "Queue" },
  jobs: { path: "jobs", title: "Jobs" },
  job: { path: "jobs", title: "Job" },
  schedules: { path: "schedules", title: "Schedules" },
  flows: { path: "flows", title: "Flows" },
  limits: { path: "limits", title: "Flow control" },
  workers: { path: "workers", title: "Workers" },
  webhooks: { path: "webhooks", title: "Webhooks" },
  redis: { path: "redis", title: "Redis" },
};

/** The job list's filters kept in the URL. */
export const FILTERS = ["state", "queue", "type", "group", "schedule", "q"];

/**
 * @typedef {{view: keyof typeof VIEWS, name?: string, id?: string,
 *   params: Record<string, string>}} Route
 */

/**
 * Reads a hash (`#/queues/reports?state=failed`) as a route; anything
 * unknown is the overview.
 *
 * @param {string} hash
 * @returns {Route}
 */
export function parseRoute(hash) {
  const text = hash.replace(/^#\/?/, "");
  const [path, query = ""] = text.split("?", 2);
  const parts = path.split("/").filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  /** @type {Record<string, string>} */
  const params = {};
  for (const [k, v] of new URLSearchParams(query)) if (FILTERS.includes(k) && v) params[k] = v;
  const [head, rest] = parts;
  if (head === "queues" && rest) return { view: "queue", name: rest, params };
  if (head === "jobs" && rest) return { view: "job", id: rest, params };
  if (head && head in VIEWS && head !== "queue" && head !== "job") {
    return { view: /** @type {Route["view"]} */ (head), params };
  }
  return { view: "overview", params };
}

/**
 * The hash of a route (the inverse of `parseRoute`).
 *
 * @param {Route} route
 * @returns {string}
 */
export function formatRoute(route) {
  const head = VIEWS[route.view]?.path ?? "";
  const tail = route.view === "queue" ? route.name : route.view === "job" ? route.id : undefined;
  const path = tail ? `${head}/${encodeURIComponent(tail)}` : head;
  const query = new URLSearchParams();
  for (const k of FILTERS) if (route.params?.[k]) query.set(k, route.params[k]);
  const q = query.toString();
  return `#/${path}${q ? `?${q}` : ""}`;
}

/** The route of the page now. */
export const currentRoute = () => parseRoute(location.hash);

/** @type {((route: Route) => void) | null} */
let onChange = null;
let shown = "";

/** Calls `handler` with the route now and on every change (links, back, forward). */
export function startRouter(/** @type {(route: Route) => void} */ handler) {
  onChange = handler;
  const fire = () => {
    if (location.hash === shown) return;
    shown = location.hash;
    handler(currentRoute());
  };
  globalThis.addEventListener("popstate", fire);
  globalThis.addEventListener("hashchange", fire);
  fire();
}

/**
 * Goes to `route`: a new history entry, or (`replace`) the current one
 * rewritten, as filter changes do. `state` is kept with the entry.
 *
 * @param {Route} route
 * @param {{replace?: boolean, state?: unknown, silent?: boolean}} [options]
 *   `silent`: the page already shows it (a filter the list applied itself)
 */
export function navigate(route, options = {}) {
  const hash = formatRoute(route);
  if (hash === location.hash && !options.replace) return;
  const state = options.state ?? (options.replace ? history.state : null);
  if (options.replace) history.replaceState(state, "", hash);
  else history.pushState(state, "", hash);
  shown = location.hash;
  if (!options.silent) onChange?.(currentRoute());
}
