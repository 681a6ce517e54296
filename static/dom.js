/**
 * DOM helpers. Every string passed as a child becomes a text node, so data
 * from the API (payloads, results, error messages, type names) is always shown
 * as text and never parsed as HTML.
 *
 * @module
 */

/**
 * @typedef {Node | string | number | null | undefined | false} Child
 * @typedef {Record<string, unknown>} Props
 */

/**
 * Creates an element. Props: `class`, `text`, `dataset`, `on<event>` (a
 * function), booleans (present/absent attribute), anything else as an attribute.
 *
 * @param {string} tag
 * @param {Props} [props]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElement}
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = String(value);
    else if (key === "text") node.textContent = String(value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), /** @type {EventListener} */ (value));
    } else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

/**
 * Appends children (strings as text nodes).
 *
 * @param {Node} parent
 * @param {(Child | Child[])[]} children
 */
export function append(parent, children) {
  for (const child of /** @type {Child[]} */ (children.flat(Infinity))) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
}

/**
 * Replaces all children of `parent`.
 *
 * @param {Node} parent
 * @param {...(Child | Child[])} children
 */
export function replace(parent, ...children) {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, children);
}

/**
 * A table row of one cell across `columns` saying `text` (an empty table's
 * note, or a load error).
 *
 * @param {number} columns
 * @param {string} text
 * @param {string} [cls]
 */
export function noteRow(columns, text, cls = "muted") {
  return el("tr", {}, el("td", { colspan: columns, class: cls, text }));
}

/**
 * The element with `id`, or a thrown error naming it (a template mistake).
 *
 * @template {HTMLElement} T
 * @param {string} id
 * @returns {T}
 */
export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing #${id}`);
  return /** @type {T} */ (node);
}

/**
 * Pretty JSON for display (as text).
 *
 * @param {unknown} value
 * @returns {string}
 */
export function pretty(value) {
  if (value === undefined) return "—";
  try {
    return JSON.stringify(value, null, 2) ?? "—";
  } catch {
    return String(value);
  }
}

/**
 * A local date-time for an ISO timestamp, or "—".
 *
 * @param {string | null | undefined} iso
 * @returns {string}
 */
export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

/**
 * A short relative time ("12 s ago") for an ISO timestamp.
 *
 * @param {string | null | undefined} iso
 * @returns {string}
 */
export function ago(iso) {
  if (!iso) return "—";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return String(iso);
  const s = Math.round((Date.now() - t) / 1000);
  if (s < 0) return `in ${fmtSpan(-s)}`;
  return `${fmtSpan(s)} ago`;
}

/** @param {number} s */
function fmtSpan(s) {
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

/**
 * A human-readable duration: "0 ms", "850 ms", "1.2 s", "42 s", "3 min",
 * "1.5 h", "2 d"; "—" for anything but a finite number.
 *
 * @param {unknown} ms
 * @returns {string}
 */
export function duration(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "—";
  const v = Math.max(0, ms);
  if (v < 1000) return `${Math.round(v)} ms`;
  const s = v / 1000;
  if (s < 10) return `${trim(s.toFixed(1))} s`;
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${trim((s / 3600).toFixed(1))} h`;
  return `${trim((s / 86400).toFixed(1))} d`;
}

/** "2.0" -> "2". @param {string} fixed */
const trim = (fixed) => fixed.replace(/\.0$/, "");
