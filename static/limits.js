/**
 * The Flow control panel: every limit in force (GET /api/v1/limits, admin
 * scope), with what it holds back now (parked jobs), the held-back claims
 * by reason, and a type's circuit breaker. Refreshed every few seconds; a
 * key without the admin scope gets the panel hidden, not an error.
 *
 * @module
 */
import { ApiError, getLimits } from "./api.js";
import { byId, el, noteRow, replace } from "./dom.js";
import { errorText } from "./jobs.js";

const COLUMNS = 7;
const EVERY_MS = 5000;

/** @param {any} limit */
function describe(limit) {
  const parts = [];
  if (limit?.rate) parts.push(`${limit.rate.max} / ${limit.rate.per_ms} ms`);
  if (limit?.concurrency) parts.push(`${limit.concurrency} at once`);
  if (limit?.circuit) parts.push(`breaker at ${Math.round(limit.circuit.failure_rate * 100)} %`);
  if (limit?.per_group) parts.push("per group");
  return parts.join(", ") || "—";
}

export class LimitsPanel {
  constructor() {
    this.section = byId("limits");
    this.body = byId("limits-body");
    this.notice = byId("limits-notice");
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.timer = null;
  }

  start() {
    this.refresh();
  }

  async refresh() {
    if (this.timer !== null) clearTimeout(this.timer);
    try {
      const res = await getLimits();
      this.notice.hidden = true;
      this.render(Array.isArray(res?.limits) ? res.limits : []);
    } catch (error) {
      if (error instanceof ApiError && (error.status === 403 || error.status === 401)) {
        this.section.hidden = true; // limits are an admin's view
        return;
      }
      this.notice.textContent = `Could not load limits: ${errorText(error)}`;
      this.notice.hidden = false;
    }
    this.timer = setTimeout(() => this.refresh(), EVERY_MS);
  }

  /** @param {any[]} limits */
  render(limits) {
    if (limits.length === 0) {
      replace(
        this.body,
        noteRow(COLUMNS, "No limits: every job starts as soon as a worker is free."),
      );
      return;
    }
    replace(
      this.body,
      limits.map((l) => {
        const claims = l.held?.claims ?? {};
        const circuit = l.held?.circuit;
        return el(
          "tr",
          {},
          el("td", { text: `${l.scope} ${l.name}` }),
          el("td", { text: describe(l.limit) }),
          el("td", { text: l.source === "code" ? "code" : "API" }),
          el("td", { class: "num", text: l.held?.jobs === null ? "—" : String(l.held?.jobs ?? 0) }),
          el("td", {
            class: "num",
            text: `${claims.rate ?? 0} / ${claims.concurrency ?? 0} / ${claims.paused ?? 0} / ` +
              `${claims.circuit ?? 0}`,
          }),
          el("td", { text: circuit ? circuit.state.replace("_", "-") : "—" }),
          el("td", { class: "num", text: circuit ? String(circuit.transitions) : "—" }),
        );
      }),
    );
  }
}
