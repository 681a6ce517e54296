/**
 * `client.schedules` of the typed client (`src/client.ts`): create or replace
 * a schedule with its payload typed by the job definitions like `enqueue`,
 * list them, remove one. Straight to Redis, validated exactly as the API
 * validates (`ScheduleService`).
 *
 * @module
 */
import type { z } from "zod";
import type { Broker } from "../queue/broker.ts";
import type { JobRegistry } from "../jobs/registry.ts";
import { type ScheduleInput } from "./schedule.ts";
import { ScheduleService, type ScheduleView } from "./service.ts";
import type { ScheduleStore } from "./store.ts";

/** Job definitions by type name (the client's `JobMap`). */
type Jobs = Record<string, { readonly type: string; readonly schema: z.ZodType }>;

/** A schedule of one of `M`'s types, its payload typed by that type's schema. */
export type TypedSchedule<M extends Jobs> = {
  [K in keyof M & string]:
    & Omit<ScheduleInput, "type" | "payload">
    & { type: K; payload: z.input<M[K]["schema"]> };
}[keyof M & string];

/** Schedule operations of a typed client. */
export class ClientSchedules<M extends Jobs> {
  readonly #service: ScheduleService | null;

  constructor(store: ScheduleStore | undefined, broker: Broker, registry: JobRegistry) {
    this.#service = store ? new ScheduleService({ store, broker, registry }) : null;
  }

  #svc(): ScheduleService {
    if (!this.#service) {
      throw new Error("client.schedules needs ClientOptions.schedules (a ScheduleStore)");
    }
    return this.#service;
  }

  /**
   * Creates or replaces a schedule (an unchanged one keeps its ticks).
   * Throws `ScheduleValidationError` (each field and its reason) before writing anything.
   */
  async upsert(schedule: TypedSchedule<M>): Promise<ScheduleView> {
    return (await this.#svc().save(schedule, { create: false })).schedule;
  }

  /** Every schedule, by name. */
  async list(): Promise<ScheduleView[]> {
    return await this.#svc().list();
  }

  /** Deletes a schedule; `ScheduleNotFoundError` when unknown. */
  async remove(name: string): Promise<void> {
    await this.#svc().remove(name);
  }
}
