/**
 * Tenants' quotas in Redis (one HASH under the deployment's `{#}` tag,
 * tenant -> JSON), read through a per-process cache: a submit costs no read
 * for its quota, and a change reaches every API process within
 * `QUOTA_CACHE_MS`. Also the two things enforcing them needs from Redis: how
 * many jobs a tenant's queues hold waiting, and the submit-rate charge
 * (tenant_rate.lua).
 *
 * @module
 */
import { globalKeys, queueKeys } from "../queue/keys.ts";
import { type RedisClient, toQueueError, whenReady } from "../queue/connect.ts";
import { buildCall, globalConstantsArgv } from "../queue/script_contract.ts";
import { defineScripts, runScript, toNumber } from "../queue/scripts.ts";
import { DEFAULTS } from "../queue/job.ts";
import { NO_QUOTA, type Quota, quotaSchema } from "./quota.ts";
import { tenantOf } from "./names.ts";

/** How long a process trusts its copy of a quota or of a tenant's queue list. */
export const QUOTA_CACHE_MS = 1000;

function parseQuota(text: string | null | undefined): Quota {
  if (!text) return NO_QUOTA;
  try {
    const parsed = quotaSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : NO_QUOTA;
  } catch {
    return NO_QUOTA;
  }
}

/** The quota store. */
export class QuotaStore {
  readonly #client: RedisClient;
  readonly #keys;
  readonly #prefix: string;
  readonly #clock: () => number;
  readonly #quotas = new Map<string, { at: number; quota: Promise<Quota> }>();
  #queues: { at: number; names: Promise<string[]> } | null = null;
  /** Queues this process submitted to: known at once, before the next list read shows them. */
  readonly #noted = new Set<string>();
  readonly #ready: Promise<void>;
  readonly #constants;

  constructor(client: RedisClient, options: { prefix?: string; clock?: () => number } = {}) {
    this.#client = client;
    this.#prefix = options.prefix ?? "jq";
    this.#keys = globalKeys(this.#prefix);
    this.#clock = options.clock ?? Date.now;
    this.#constants = globalConstantsArgv(this.#prefix, DEFAULTS.retentionMs);
    this.#ready = defineScripts(client);
    this.#ready.catch(() => {});
  }

  async #do<T>(work: () => Promise<T>): Promise<T> {
    try {
      if (this.#client.status !== "ready") await whenReady(this.#client);
      return await work();
    } catch (error) {
      throw toQueueError(error);
    }
  }

  /** `tenant`'s quota (none when unset), at most `QUOTA_CACHE_MS` old. */
  get(tenant: string): Promise<Quota> {
    const now = this.#clock();
    const cached = this.#quotas.get(tenant);
    if (cached && now - cached.at < QUOTA_CACHE_MS) return cached.quota;
    const quota = this.#do(() => this.#client.hget(this.#keys.tenants, tenant)).then(parseQuota);
    // A failed read is not kept: the next submit asks again.
    quota.catch(() => this.#quotas.delete(tenant));
    this.#quotas.set(tenant, { at: now, quota });
    if (this.#quotas.size > 10_000) this.#quotas.delete(this.#quotas.keys().next().value!);
    return quota;
  }

  /** Reads `tenant`'s quota from Redis (no cache), or null when none was set. */
  async read(tenant: string): Promise<Quota | null> {
    const text = await this.#do(() => this.#client.hget(this.#keys.tenants, tenant));
    return text === null ? null : parseQuota(text);
  }

  /** Every tenant with a quota set, by name. */
  async list(): Promise<Array<{ name: string; quota: Quota }>> {
    const all = await this.#do(() => this.#client.hgetall(this.#keys.tenants));
    return Object.keys(all).sort().map((name) => ({ name, quota: parseQuota(all[name]) }));
  }

  /** Sets `tenant`'s quota; true when it had none before. */
  async set(tenant: string, quota: Quota): Promise<boolean> {
    this.#quotas.delete(tenant);
    const added = await this.#do(() =>
      this.#client.hset(this.#keys.tenants, tenant, JSON.stringify(quota))
    );
    return added === 1;
  }

  /** Lifts `tenant`'s quotas; false when it had none. */
  async remove(tenant: string): Promise<boolean> {
    this.#quotas.delete(tenant);
    return (await this.#do(() => this.#client.hdel(this.#keys.tenants, tenant))) === 1;
  }

  /** The known queues of `tenant`, from a list at most `QUOTA_CACHE_MS` old. */
  async queuesOf(tenant: string): Promise<string[]> {
    const now = this.#clock();
    if (!this.#queues || now - this.#queues.at >= QUOTA_CACHE_MS) {
      const names = this.#do(() => this.#client.hkeys(this.#keys.queues));
      names.catch(() => (this.#queues = null));
      this.#queues = { at: now, names };
    }
    const names = new Set([...await this.#queues.names, ...this.#noted]);
    return [...names].filter((name) => tenantOf(name) === tenant);
  }

  /** Notes that jobs were submitted to `queue` (so it exists now). */
  noteQueue(queue: string): void {
    // Bounded like the queues themselves (the registry caps their number).
    if (this.#noted.size < 10_000) this.#noted.add(queue);
  }

  /** Jobs pending, scheduled or waiting (for dependencies) in each of `queues`, in order. */
  async waitingIn(queues: readonly string[]): Promise<number[]> {
    if (queues.length === 0) return [];
    const counts = await this.#do(() =>
      Promise.all(
        queues.map((q) =>
          this.#client.hmget(queueKeys(q, this.#prefix).stats, "pending", "scheduled", "waiting")
        ),
      )
    );
    return counts.map((held) => held.reduce((sum, n) => sum + Number(n ?? 0), 0));
  }

  /**
   * Charges `cost` submits to `tenant`'s rate `max` per `perMs`: 0 when
   * charged, else the ms to wait (nothing charged), or -1 when `cost` can
   * never pass (above `max`).
   */
  async chargeRate(tenant: string, rate: { max: number; per_ms: number }, cost: number) {
    await this.#ready;
    const argv = buildCall("tenant_rate", queueKeys("default", this.#prefix), this.#constants, {
      now: this.#clock(),
      interval: rate.per_ms / rate.max,
      window: rate.per_ms,
      cost,
    }, { rate: `${this.#keys.tenantRatePrefix}${tenant}` });
    return toNumber(await this.#do(() => runScript(this.#client, "tenant_rate", argv, null)));
  }
}
