/**
 * A job's place in its flow, in the job detail: its dependencies and its
 * dependents with their states (each opens that job), and the graph drawn
 * as SVG, one column per level (a job sits right of everything it waits
 * for). One request: `GET /flows/:id`. Everything from the API is text.
 *
 * @module
 */
import { getFlow, shortId } from "./api.js";
import { el } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const NODE_W = 150;
const NODE_H = 28;
const GAP_X = 50;
const GAP_Y = 12;

/**
 * @param {string} tag
 * @param {Record<string, string | number>} attrs
 * @param {...Node} children
 */
function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  node.append(...children);
  return node;
}

/**
 * Each node's column: the longest path to it from a job with no dependencies.
 *
 * @param {{job_id: string}[]} nodes
 * @param {{from: string, to: string}[]} edges
 * @returns {Map<string, number>}
 */
function levels(nodes, edges) {
  const level = new Map(nodes.map((n) => [n.job_id, 0]));
  // Relaxation, bounded by the node count (the graph has no cycles).
  for (let round = 0; round < nodes.length; round++) {
    let changed = false;
    for (const e of edges) {
      const next = (level.get(e.from) ?? 0) + 1;
      if (next > (level.get(e.to) ?? 0)) {
        level.set(e.to, next);
        changed = true;
      }
    }
    if (!changed) break;
  }
  return level;
}

/**
 * The graph as SVG; clicking a node opens it.
 *
 * @param {any} graph
 * @param {string} current
 * @param {(id: string) => void} onOpen
 */
function drawGraph(graph, current, onOpen) {
  /** @type {{job_id: string, type: string | null, status: string}[]} */
  const nodes = graph.nodes ?? [];
  /** @type {{from: string, to: string}[]} */
  const edges = graph.edges ?? [];
  const level = levels(nodes, edges);
  /** @type {Map<string, {x: number, y: number}>} */
  const at = new Map();
  const rows = new Map();
  for (const n of nodes) {
    const col = level.get(n.job_id) ?? 0;
    const row = rows.get(col) ?? 0;
    rows.set(col, row + 1);
    at.set(n.job_id, { x: 10 + col * (NODE_W + GAP_X), y: 10 + row * (NODE_H + GAP_Y) });
  }
  const width = 20 + (Math.max(0, ...level.values()) + 1) * (NODE_W + GAP_X);
  const height = 20 + Math.max(1, ...rows.values()) * (NODE_H + GAP_Y);
  const root = svg("svg", { width, height, role: "img", "aria-label": "Flow graph" });
  root.append(svg(
    "defs",
    {},
    svg(
      "marker",
      {
        id: "arrow",
        viewBox: "0 0 10 10",
        refX: 10,
        refY: 5,
        markerWidth: 6,
        markerHeight: 6,
        orient: "auto",
      },
      svg("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#8c959f" }),
    ),
  ));
  for (const e of edges) {
    const a = at.get(e.from);
    const b = at.get(e.to);
    if (!a || !b) continue;
    root.append(svg("line", {
      x1: a.x + NODE_W,
      y1: a.y + NODE_H / 2,
      x2: b.x,
      y2: b.y + NODE_H / 2,
    }));
  }
  for (const n of nodes) {
    const p = at.get(n.job_id);
    if (!p) continue;
    const label = `${shortId(n.job_id)} ${n.type ?? "?"}`.slice(0, 22);
    const title = svg("title", {});
    title.textContent = `${n.job_id} (${n.type ?? "unknown"}): ${n.status}`;
    const text = svg("text", { x: p.x + 6, y: p.y + 18 });
    text.textContent = label;
    const group = svg(
      "g",
      {
        class: `node s-${n.status}${n.job_id === current ? " current" : ""}`,
        "data-job": n.job_id,
        tabindex: 0,
      },
      title,
      svg("rect", { x: p.x, y: p.y, width: NODE_W, height: NODE_H, rx: 4 }),
      text,
    );
    group.addEventListener("click", () => onOpen(n.job_id));
    group.addEventListener("keydown", (event) => {
      if (event.key === "Enter") onOpen(n.job_id);
    });
    root.append(group);
  }
  return root;
}

/**
 * A list of linked jobs with their states.
 *
 * @param {string} title
 * @param {{job_id: string, type: string | null, status: string}[]} jobs
 * @param {(id: string) => void} onOpen
 * @param {string} kind
 */
function linkList(title, jobs, onOpen, kind) {
  return [
    el("h3", { text: `${title} (${jobs.length})` }),
    el(
      "ul",
      { class: "flow-links", dataset: { flow: kind } },
      jobs.map((j) =>
        el(
          "li",
          {},
          el("button", {
            type: "button",
            class: "link",
            "data-job": j.job_id,
            text: `${shortId(j.job_id)} ${j.type ?? ""}`,
            title: j.job_id,
            onclick: () => onOpen(j.job_id),
          }),
          " ",
          el("span", { class: `badge s-${j.status}`, text: j.status }),
        )
      ),
    ),
  ];
}

/** How long a graph is reused while the job's state stays the same (the detail refreshes often). */
const GRAPH_FRESH_MS = 5000;

/** @type {{id: string, status: string, at: number, graph: Promise<any>} | null} */
let lastGraph = null;

/**
 * The graph around `id`, read again when the job's state changed or the
 * last read is a few seconds old: a big flow costs a read per job.
 *
 * @param {string} id
 * @param {string} status
 */
function cachedFlow(id, status) {
  const now = Date.now();
  if (
    !lastGraph || lastGraph.id !== id || lastGraph.status !== status ||
    now - lastGraph.at > GRAPH_FRESH_MS
  ) {
    lastGraph = { id, status, at: now, graph: getFlow(id) };
    lastGraph.graph.catch(() => (lastGraph = null));
  }
  return lastGraph.graph;
}

/**
 * The flow section of job `job`'s detail, or null when it is in no flow.
 *
 * @param {any} job the job's status answer
 * @param {(id: string) => void} onOpen
 * @returns {Promise<Node | null>}
 */
export async function flowSection(job, onOpen) {
  const id = String(job.job_id ?? job.id ?? "");
  const inFlow = job.dependencies || (job.dependents && job.dependents.ids?.length);
  if (!inFlow) return null;
  const graph = await cachedFlow(id, String(job.status ?? ""));
  const byId = new Map((graph.nodes ?? []).map((/** @type {any} */ n) => [n.job_id, n]));
  const edges = graph.edges ?? [];
  const of = (/** @type {string} */ other) =>
    byId.get(other) ?? { job_id: other, type: null, status: "unknown" };
  const deps = edges.filter((/** @type {any} */ e) => e.to === id).map((/** @type {any} */ e) =>
    of(e.from)
  );
  const dependents = edges.filter((/** @type {any} */ e) => e.from === id).map((
    /** @type {any} */ e,
  ) => of(e.to));
  return el(
    "div",
    { class: "flow", dataset: { field: "flow" } },
    deps.length ? linkList("Dependencies", deps, onOpen, "dependencies") : null,
    dependents.length ? linkList("Dependents", dependents, onOpen, "dependents") : null,
    el("h3", { text: graph.truncated ? "Flow (first 2,000 jobs)" : "Flow" }),
    el("div", { class: "flow-graph" }, drawGraph(graph, id, onOpen)),
  );
}
