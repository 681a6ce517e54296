/**
 * A panel that reads its data only while its view is shown, again every
 * few seconds, and says why it is empty when the read fails. Worker
 * processes, webhooks and Redis are read by nobody else on the page, so
 * polling them on a hidden view would cost Redis for nothing.
 *
 * A redraw keeps the focus: the focused control's `data-key` is looked up
 * again in the new rows, so a "Drain" button under the keyboard stays there.
 *
 * @module
 */
import { byId } from "./dom.js";
import { errorText } from "./jobs.js";

export class Polled {
  /**
   * @param {string} sectionId the section shown by the view
   * @param {number} everyMs
   * @param {() => Promise<void>} load reads and renders; a throw is shown in the notice
   */
  constructor(sectionId, everyMs, load) {
    this.section = byId(sectionId);
    this.notice = byId(`${sectionId}-notice`);
    this.everyMs = everyMs;
    this.load = load;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.timer = null;
    this.on = false;
  }

  /** Starts (or stops) the reads with the view. @param {boolean} on */
  setVisible(on) {
    if (on === this.on) return;
    this.on = on;
    if (on) this.refresh();
    else if (this.timer !== null) clearTimeout(this.timer);
  }

  async refresh() {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    try {
      await this.load();
      if (this.notice.dataset.kind !== "ok") this.notice.hidden = true;
    } catch (error) {
      this.say(`Could not load: ${errorText(error)}`, "error");
    }
    // Two refreshes may overlap (an action's, the timer's): one timer survives them.
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = this.on ? setTimeout(() => this.refresh(), this.everyMs) : null;
  }

  /**
   * @param {string} text
   * @param {"ok" | "error"} kind
   */
  say(text, kind) {
    this.notice.className = `notice ${kind}`;
    this.notice.dataset.kind = kind;
    this.notice.textContent = text;
    this.notice.hidden = false;
  }
}

/**
 * Runs `render` (which replaces `box`'s content) and puts the focus back on
 * the control with the same `data-key`, if one had it.
 *
 * @param {HTMLElement} box
 * @param {() => void} render
 */
export function keepFocus(box, render) {
  const active = document.activeElement;
  const key = active instanceof HTMLElement && box.contains(active) ? active.dataset.key : null;
  render();
  if (key) {
    /** @type {HTMLElement | null} */ (box.querySelector(`[data-key="${CSS.escape(key)}"]`))
      ?.focus();
  }
}

/**
 * Bytes as "12.3 MB".
 *
 * @param {unknown} n
 */
export function bytes(n) {
  if (typeof n !== "number" || !Number.isFinite(n)) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}
