/**
 * Flow control's cluster-wide series, from `GET /api/v1/limits`'s data
 * (`Broker.limits()`) at scrape time: held-back work per limit and each
 * type's circuit breaker.
 *
 * @module
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { LimitEntry } from "../limits/limit_store.ts";

const STATE_CODE = { closed: 0, half_open: 1, open: 2 } as const;

/** The flow-control series of one registry. */
export class LimitMetrics {
  readonly #heldJobs: Gauge<"scope" | "name">;
  readonly #heldClaims: Counter<"scope" | "name" | "reason">;
  readonly #circuitState: Gauge<"scope" | "name">;
  readonly #transitions: Counter<"scope" | "name">;

  constructor(registry: Registry) {
    const registers = [registry];
    this.#heldJobs = new Gauge({
      name: "jobqueue_limit_held_jobs",
      help: "Ready jobs of a type parked now by its limit, waiting for room (cluster-wide).",
      labelNames: ["scope", "name"] as const,
      registers,
    });
    this.#heldClaims = new Counter({
      name: "jobqueue_limit_held_back_claims_total",
      help: "Claims that found ready work held back by a limit, by reason " +
        "(rate, concurrency, paused, circuit), cluster-wide.",
      labelNames: ["scope", "name", "reason"] as const,
      registers,
    });
    this.#circuitState = new Gauge({
      name: "jobqueue_circuit_state",
      help: "A type's circuit breaker: 0 closed, 1 half-open, 2 open (the worst over its queues).",
      labelNames: ["scope", "name"] as const,
      registers,
    });
    this.#transitions = new Counter({
      name: "jobqueue_circuit_transitions_total",
      help: "Transitions of a type's circuit breaker, cluster-wide.",
      labelNames: ["scope", "name"] as const,
      registers,
    });
  }

  /** Rebuilds every series from `entries` (counters hold Redis' totals). */
  update(entries: readonly LimitEntry[]): void {
    this.#heldJobs.reset();
    this.#heldClaims.reset();
    this.#circuitState.reset();
    this.#transitions.reset();
    for (const { scope, name, held } of entries) {
      if (held.jobs !== null) this.#heldJobs.set({ scope, name }, held.jobs);
      for (const [reason, n] of Object.entries(held.claims)) {
        this.#heldClaims.inc({ scope, name, reason }, n);
      }
      if (held.circuit) {
        this.#circuitState.set({ scope, name }, STATE_CODE[held.circuit.state]);
        this.#transitions.inc({ scope, name }, held.circuit.transitions);
      }
    }
  }
}
