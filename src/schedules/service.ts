/**
 * What callers do with schedules (the API, the typed client, the code
 * schedules of job modules): save one after validating it whole, read them
 * with their next runs and last job, pause, resume, trigger one job now, and
 * list the jobs a schedule produced. The ticking itself is `ticker.ts`.
 *
 * @module
 */
import type { Broker } from "../queue/broker.ts";
import type { JobState } from "../queue/job.ts";
import type { JobRegistry, ValidationIssue } from "../jobs/registry.ts";
import { InvalidInputError } from "../queue/errors.ts";
import { cadenceOf, nextTicks } from "./cadence.ts";
import {
  cadenceText,
  definitionJson,
  definitionView,
  parseSchedule,
  type ScheduleDefinition,
  type ScheduleSource,
} from "./schedule.ts";
import { ScheduleNotFoundError, type ScheduleStore, type StoredSchedule } from "./store.ts";
import { ScheduleTicker, tickInput } from "./ticker.ts";
import { createLogger } from "../log.ts";

/** Refused input: 422 with each field and its reason. */
export class ScheduleValidationError extends InvalidInputError {
  constructor(readonly issues: ValidationIssue[]) {
    super(
      `invalid schedule: ${issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ")}`,
      issues[0]?.path ?? "schedule",
    );
    this.name = "ScheduleValidationError";
  }
}

/** A schedule as the API shows it. */
export interface ScheduleView extends Record<string, unknown> {
  name: string;
  paused: boolean;
  /** The next 5 ticks, ISO (fewer when it ends; none while paused). */
  next_runs: string[];
  last_run_at: string | null;
  last_tick: string | null;
  last_job_id: string | null;
  /** The last job's state now, or null (none yet, or expired). */
  last_status: JobState | null;
}

/** Schedule operations over a store, a broker and the job types. */
export class ScheduleService {
  readonly #store: ScheduleStore;
  readonly #broker: Broker;
  readonly #registry: JobRegistry;
  readonly #clock: () => number;
  /** Confirms triggered jobs the same way the loop confirms ticks. */
  readonly #confirmer: ScheduleTicker;

  constructor(options: {
    store: ScheduleStore;
    broker: Broker;
    registry: JobRegistry;
    clock?: () => number;
  }) {
    this.#store = options.store;
    this.#broker = options.broker;
    this.#registry = options.registry;
    this.#clock = options.clock ?? Date.now;
    this.#confirmer = new ScheduleTicker({
      ...options,
      log: createLogger({ level: "silent" }),
    });
  }

  /** The store underneath (the loop of the same process shares it). */
  get store(): ScheduleStore {
    return this.#store;
  }

  /**
   * Validates and saves. `create`: 409-style ScheduleExistsError when the
   * name is taken. Throws ScheduleValidationError before writing anything.
   */
  async save(
    input: unknown,
    options: { create: boolean; source?: ScheduleSource },
  ): Promise<{ outcome: "created" | "replaced" | "unchanged"; schedule: ScheduleView }> {
    const parsed = parseSchedule(input, this.#registry, options.source ?? "api");
    if (!parsed.ok) throw new ScheduleValidationError(parsed.issues);
    const d = parsed.definition;
    const now = this.#clock();
    const outcome = await this.#store.save(
      d,
      definitionJson(d),
      cadenceText(d),
      cadenceOf(d).nextAfter(now),
      options.create,
      now,
    );
    return { outcome, schedule: await this.get(d.name) };
  }

  /** One schedule's view; ScheduleNotFoundError when unknown. */
  async get(name: string): Promise<ScheduleView> {
    const stored = await this.#store.get(name);
    if (!stored) throw new ScheduleNotFoundError(name);
    return await this.#view(stored);
  }

  /** Every schedule's view, by name. */
  async list(): Promise<ScheduleView[]> {
    const all = await this.#store.list();
    return await Promise.all(all.map((s) => this.#view(s)));
  }

  /** Every stored definition, by name (the code schedules' reconciliation reads them). */
  async definitions(): Promise<ScheduleDefinition[]> {
    return (await this.#store.list()).map((s) => s.definition);
  }

  async #view(s: StoredSchedule): Promise<ScheduleView> {
    const { definition: d, state } = s;
    const cadence = cadenceOf(d);
    const from = Math.max(this.#clock(), state.next > 0 ? state.next - 1 : Infinity);
    const next = state.paused || state.next === 0 ? [] : nextTicks(cadence, from, 5);
    const last = state.last_job_id ? await this.#broker.get(state.last_job_id) : null;
    const iso = (ms: number | undefined) => ms === undefined ? null : new Date(ms).toISOString();
    return {
      ...definitionView(d),
      name: d.name,
      paused: state.paused === true,
      next_runs: next.map((t) => new Date(t).toISOString()),
      last_run_at: iso(state.last_run_at),
      last_tick: iso(state.last_tick),
      last_job_id: state.last_job_id ?? null,
      last_status: last?.status ?? null,
    };
  }

  /** Deletes; ScheduleNotFoundError when unknown. */
  async remove(name: string): Promise<void> {
    if (!await this.#store.remove(name)) throw new ScheduleNotFoundError(name);
  }

  /** Pauses or resumes; the view after. */
  async setPaused(name: string, paused: boolean): Promise<ScheduleView> {
    await this.#store.setPaused(name, paused, this.#clock());
    return await this.get(name);
  }

  /** Enqueues one job now, outside the cadence. */
  async trigger(name: string): Promise<{ job_id: string; tick: string }> {
    const stored = await this.#store.get(name);
    if (!stored) throw new ScheduleNotFoundError(name);
    const input = tickInput(this.#registry, stored.definition.job, undefined);
    if (typeof input === "string") throw new InvalidInputError(input, "type");
    const tick = this.#clock();
    const { id } = await this.#broker.enqueue(input);
    await this.#confirmer.confirm([{ name, state: stored.state, jobs: [[id, tick]] }], {
      trigger: true,
    });
    return { job_id: id, tick: new Date(tick).toISOString() };
  }

  /** The newest job ids a schedule produced (newest first); ScheduleNotFoundError when unknown. */
  async jobIds(name: string, offset: number, limit: number): Promise<string[]> {
    if (!await this.#store.get(name)) throw new ScheduleNotFoundError(name);
    return await this.#store.jobIds(name, offset, limit);
  }

  /** Which schedule and tick produced each job (null for the others). */
  async producers(ids: string[]): Promise<Array<{ schedule: string; tick: string } | null>> {
    const found = await this.#store.producers(ids);
    return found.map((p) => p && { schedule: p.schedule, tick: new Date(p.tick).toISOString() });
  }
}
