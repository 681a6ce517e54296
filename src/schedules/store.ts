/**
 * The schedules' Redis storage: the only module that calls the schedule
 * scripts (`schedule_*.lua`), through the same contract as the queue's
 * (`script_contract.ts`). Every key is the deployment's (`GlobalKeys`, hash
 * tag `{#}`), so each script touches one Cluster slot; the jobs the ticks
 * produce are enqueued by the broker into their own queue's slot.
 *
 * @module
 */
import { type RedisClient, toQueueError, whenReady } from "../queue/connect.ts";
import { InvalidInputError, JobNotFoundError } from "../queue/errors.ts";
import { type GlobalKeys, globalKeys, queueKeys } from "../queue/keys.ts";
import {
  type Arg,
  type ArgsOf,
  buildCall,
  type CallKeysOf,
  globalConstantsArgv,
  type ScriptName,
} from "../queue/script_contract.ts";
import { defineScripts, runScript, toNumber } from "../queue/scripts.ts";
import { DEFAULTS } from "../queue/job.ts";
import { readDefinition, type ScheduleDefinition } from "./schedule.ts";
import { readState, type ScheduleState } from "./state.ts";

/** Job ids kept in each schedule's index (`GET /jobs?schedule=`). */
export const SCHEDULE_JOBS_KEPT = 1000;

/** Thrown for an unknown schedule name (the API's 404). */
export class ScheduleNotFoundError extends JobNotFoundError {
  constructor(readonly scheduleName: string) {
    super(scheduleName);
    this.message = `schedule ${JSON.stringify(scheduleName)} not found`;
    this.name = "ScheduleNotFoundError";
  }
}

/** Thrown when creating a schedule whose name is taken (the API's 409). */
export class ScheduleExistsError extends InvalidInputError {
  constructor(readonly scheduleName: string) {
    super(`schedule ${JSON.stringify(scheduleName)} already exists`, "name");
    this.name = "ScheduleExistsError";
  }
}

/** A stored schedule: its definition and tick state. */
export interface StoredSchedule {
  definition: ScheduleDefinition;
  state: ScheduleState;
}

/** One state write of `cas`. */
export interface StateWrite {
  name: string;
  /** The version read. */
  version: number;
  state: ScheduleState;
  /** Due score to set; -1 takes the schedule out of the due set. */
  due: number;
  /** Jobs to add to the schedule's index: [job id, tick ms]. */
  jobs?: Array<[string, number]>;
}

/** Options of a `ScheduleStore`. */
export interface ScheduleStoreOptions {
  client: RedisClient;
  prefix?: string;
  /** The job index drops entries older than this (the jobs are gone by then). Default 24 h. */
  retentionMs?: number;
}

/** Typed access to the schedules in Redis. */
export class ScheduleStore {
  readonly keys: GlobalKeys;
  readonly #client: RedisClient;
  readonly #constants: Arg[];
  readonly #ready: Promise<void>;

  constructor(options: ScheduleStoreOptions) {
    this.#client = options.client;
    this.keys = globalKeys(options.prefix ?? "jq");
    // No schedule script touches a queue key; retention bounds their job index.
    this.#constants = globalConstantsArgv(
      options.prefix ?? "jq",
      options.retentionMs ?? DEFAULTS.retentionMs,
    );
    this.#ready = defineScripts(this.#client);
    this.#ready.catch(() => {});
  }

  /** The Redis client (the loop duplicates it for its subscription). */
  get client(): RedisClient {
    return this.#client;
  }

  async #run<N extends ScriptName>(
    name: N,
    args: ArgsOf<N>,
    callKeys: CallKeysOf<N>,
    rest: readonly Arg[] = [],
  ): Promise<unknown> {
    await this.#ready;
    // The queue keys argument is never read: every key of these scripts is a per-call key.
    const argv = buildCall(name, queueKeys("default"), this.#constants, args, callKeys, rest);
    return await runScript(this.#client, name, argv, null);
  }

  /** A plain read, its connection failures turned into the queue's typed errors. */
  async #read<T>(read: () => Promise<T>): Promise<T> {
    try {
      // No offline queue (connect.ts): wait out a (re)connection first, as scripts do.
      if (this.#client.status !== "ready") await whenReady(this.#client);
      return await read();
    } catch (error) {
      throw toQueueError(error);
    }
  }

  #jobsOf(name: string): string {
    return `${this.keys.scheduleJobsPrefix}${name}`;
  }

  /**
   * Creates (`create`: refusing a taken name) or replaces a schedule. Returns
   * "created", "replaced" or "unchanged".
   */
  async save(
    definition: ScheduleDefinition,
    json: string,
    cadence: string,
    firstTick: number | null,
    create: boolean,
    now: number,
  ): Promise<"created" | "replaced" | "unchanged"> {
    let code: number;
    try {
      code = toNumber(
        await this.#run("schedule_save", {
          now,
          name: definition.name,
          definition: json,
          cadence,
          firstTick: firstTick ?? 0,
          create: create ? "1" : "0",
          channel: this.keys.scheduleChannel,
        }, {
          schedules: this.keys.schedules,
          scheduleState: this.keys.scheduleState,
          scheduleDue: this.keys.scheduleDue,
        }),
      );
    } catch (error) {
      if (error instanceof InvalidInputError && /already exists/.test(error.message)) {
        throw new ScheduleExistsError(definition.name);
      }
      throw error;
    }
    return code === 1 ? "created" : code === 2 ? "replaced" : "unchanged";
  }

  /** Deletes a schedule; false when it did not exist. */
  async remove(name: string): Promise<boolean> {
    return toNumber(
      await this.#run("schedule_remove", { name, channel: this.keys.scheduleChannel }, {
        schedules: this.keys.schedules,
        scheduleState: this.keys.scheduleState,
        scheduleDue: this.keys.scheduleDue,
        scheduleJobs: this.keys.scheduleJobs,
        jobsOfSchedule: this.#jobsOf(name),
      }),
    ) === 1;
  }

  /** Pauses or resumes; true when the flag changed. Throws ScheduleNotFoundError. */
  async setPaused(name: string, paused: boolean, now: number): Promise<boolean> {
    try {
      return toNumber(
        await this.#run("schedule_pause", {
          now,
          name,
          paused: paused ? "1" : "0",
          channel: this.keys.scheduleChannel,
        }, {
          schedules: this.keys.schedules,
          scheduleState: this.keys.scheduleState,
          scheduleDue: this.keys.scheduleDue,
        }),
      ) === 1;
    } catch (error) {
      if (error instanceof JobNotFoundError) throw new ScheduleNotFoundError(name);
      throw error;
    }
  }

  /**
   * The schedules due by `now` (at most `limit`), or when none is, the epoch
   * ms the earliest will be (null: no schedule is waiting at all).
   */
  async due(
    now: number,
    limit: number,
  ): Promise<
    { due: Array<StoredSchedule & { name: string }>; broken: string[]; earliest: number | null }
  > {
    const [items, earliest] = await this.#run("schedule_due", { now, limit }, {
      scheduleDue: this.keys.scheduleDue,
      schedules: this.keys.schedules,
      scheduleState: this.keys.scheduleState,
    }) as [Array<string | false | null>, number | string];
    const due: Array<StoredSchedule & { name: string }> = [];
    const broken: string[] = [];
    for (let i = 0; i < items.length; i += 3) {
      const name = String(items[i]);
      const definition = items[i + 1] ? readDefinition(String(items[i + 1])) : null;
      const state = readState(items[i + 2] ? String(items[i + 2]) : null);
      if (definition && state) due.push({ name, definition, state });
      else broken.push(name);
    }
    const at = toNumber(earliest);
    return { due, broken, earliest: items.length === 0 && at >= 0 ? at : null };
  }

  /** Compare-and-set of many states in one call: per write, true when it was written. */
  async cas(writes: StateWrite[], now: number): Promise<boolean[]> {
    if (writes.length === 0) return [];
    const rest: Arg[] = [];
    for (const w of writes) {
      rest.push(
        w.name,
        w.version,
        JSON.stringify(w.state),
        w.due,
        w.jobs && w.jobs.length > 0 ? JSON.stringify(w.jobs) : "",
      );
    }
    const reply = await this.#run("schedule_cas", {
      now,
      kept: SCHEDULE_JOBS_KEPT,
      jobsPrefix: this.keys.scheduleJobsPrefix,
    }, {
      scheduleState: this.keys.scheduleState,
      scheduleDue: this.keys.scheduleDue,
      scheduleJobs: this.keys.scheduleJobs,
    }, rest) as unknown[];
    return reply.map((r) => toNumber(r) === 1);
  }

  /** One schedule, or null. */
  async get(name: string): Promise<StoredSchedule | null> {
    const [def, state] = await this.#read(() =>
      Promise.all([
        this.#client.hget(this.keys.schedules, name),
        this.#client.hget(this.keys.scheduleState, name),
      ])
    );
    const definition = def ? readDefinition(def) : null;
    const parsed = readState(state);
    return definition && parsed ? { definition, state: parsed } : null;
  }

  /** Every schedule, by name. */
  async list(): Promise<StoredSchedule[]> {
    const [defs, states] = await this.#read(() =>
      Promise.all([
        this.#client.hgetall(this.keys.schedules),
        this.#client.hgetall(this.keys.scheduleState),
      ])
    );
    const out: StoredSchedule[] = [];
    for (const name of Object.keys(defs).sort()) {
      const definition = readDefinition(defs[name]);
      const state = readState(states[name] ?? null);
      if (definition && state) out.push({ definition, state });
    }
    return out;
  }

  /** The newest job ids of a schedule (newest first), from `offset`. */
  async jobIds(name: string, offset: number, limit: number): Promise<string[]> {
    return await this.#read(() =>
      this.#client.zrevrange(this.#jobsOf(name), offset, offset + limit - 1)
    );
  }

  /** The schedule and tick that produced each job, where one did. */
  async producers(ids: string[]): Promise<Array<{ schedule: string; tick: number } | null>> {
    if (ids.length === 0) return [];
    const values = await this.#read(() => this.#client.hmget(this.keys.scheduleJobs, ...ids));
    return values.map((v) => {
      if (!v) return null;
      try {
        const [schedule, tick] = JSON.parse(v) as [string, number];
        return { schedule, tick };
      } catch {
        return null;
      }
    });
  }
}
