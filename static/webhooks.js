/**
 * The Webhooks view (`#/webhooks`, admin keys): the subscriptions, and the
 * deliveries given up or still to send, with their attempts, last response
 * code and last error; "Redeliver" sends a given-up one again after a
 * confirmation. URLs and errors come from outside (a receiver's answer) and
 * are shown as text only (dom.js).
 *
 * @module
 */
import { getDeliveries, getWebhooks, redeliver } from "./api.js";
import { ago, byId, el, noteRow, replace } from "./dom.js";
import { errorText } from "./jobs.js";
import { keepFocus, Polled } from "./polled.js";

/**
 * @typedef {{url: string, events: string[], queue: string | null, type: string | null,
 *   created_at: string}} Subscription
 * @typedef {{id: string, job_id: string, event: string, subscription_id: string | null,
 *   url: string | null, attempts: number, last_status: number | null,
 *   last_error: string | null, finished_at: string, failed_at: string | null}} Delivery
 */

/** @param {string | null | undefined} iso */
const time = (iso) =>
  el("time", { datetime: iso ?? undefined, title: iso ?? undefined, text: ago(iso) });

export class WebhooksPanel {
  constructor() {
    this.subs = byId("webhook-subs-body");
    this.body = byId("deliveries-body");
    this.poll = new Polled("webhooks", 5000, () => this.load());
  }

  async load() {
    const [subs, failed, pending] = await Promise.all([
      getWebhooks(),
      getDeliveries("failed"),
      getDeliveries("pending"),
    ]);
    /** @type {Subscription[]} */
    const list = Array.isArray(subs?.webhooks) ? subs.webhooks : [];
    replace(
      this.subs,
      list.length === 0
        ? noteRow(5, "No subscriptions: only jobs' own callback URLs are called.")
        : list.map((s) =>
          el(
            "tr",
            {},
            el("td", {}, el("code", { class: "url", text: String(s.url ?? "") })),
            el("td", { text: (Array.isArray(s.events) ? s.events : []).join(", ") }),
            el("td", { text: s.queue ?? "every queue" }),
            el("td", { text: s.type ?? "every type" }),
            el("td", {}, time(s.created_at)),
          )
        ),
    );
    /** @type {(d: {deliveries?: Delivery[]}, givenUp: boolean) => (Delivery & {given_up: boolean})[]} */
    const mark = (d, givenUp) => (d?.deliveries ?? []).map((x) => ({ ...x, given_up: givenUp }));
    const rows = [...mark(failed, true), ...mark(pending, false)];
    keepFocus(this.body, () =>
      replace(
        this.body,
        rows.length === 0
          ? noteRow(8, "No deliveries pending or given up: every one was delivered.")
          : rows.map((d) => this.row(d)),
      ));
  }

  /** @param {Delivery & {given_up: boolean}} d */
  row(d) {
    const id = String(d.id ?? "");
    return el(
      "tr",
      { dataset: { delivery: id } },
      el("td", {}, el("code", { text: String(d.job_id ?? "") }), el("br"), String(d.event ?? "")),
      el(
        "td",
        {},
        d.url
          ? el("code", { class: "url", text: String(d.url) })
          : `subscription ${d.subscription_id}`,
      ),
      el(
        "td",
        {},
        el("span", {
          class: `badge ${d.given_up ? "s-failed" : "s-pending"}`,
          text: d.given_up ? "given up" : "pending",
        }),
      ),
      el("td", { class: "num", text: String(d.attempts ?? 0) }),
      el("td", { class: "num", text: d.last_status === null ? "—" : String(d.last_status) }),
      el("td", { class: "error-cell", text: d.last_error ?? "—" }),
      el(
        "td",
        {},
        time(d.finished_at),
        d.failed_at ? [el("br"), "gave up ", time(d.failed_at)] : null,
      ),
      el(
        "td",
        {},
        d.given_up
          ? el("button", {
            type: "button",
            "data-needs": "admin",
            "data-key": `redeliver:${id}`,
            "aria-label": `Redeliver ${id}`,
            text: "Redeliver",
            onclick: () => this.redeliver(id),
          })
          : "—",
      ),
    );
  }

  /** @param {string} id */
  async redeliver(id) {
    if (!confirm(`Send delivery ${id} again (same webhook-id)?`)) return;
    try {
      await redeliver(id);
      this.poll.say(`Delivery ${id} is pending again.`, "ok");
    } catch (error) {
      this.poll.say(`Redeliver failed: ${errorText(error)}`, "error");
    }
    await this.poll.refresh();
  }
}
