/**
 * Webhook subscriptions, the deployment's secret and the deliveries, as the
 * API manages them (`src/api/routes/webhooks.ts`). Subscriptions live in the
 * deployment's HASH and are mirrored into the queues they cover
 * (`webhook_mirror.ts`); deliveries live in each queue's keys.
 *
 * @module
 */
import type { RedisClient } from "../queue/connect.ts";
import { toQueueError, whenReady } from "../queue/connect.ts";
import { globalKeys, queueKeys } from "../queue/keys.ts";
import { queueInId } from "../queue/job_id.ts";
import { QueueScripts } from "../queue/scripts.ts";
import { DEFAULTS } from "../queue/job.ts";
import {
  allSubscriptions,
  appliesTo,
  mirrorQueue,
  parseSubscription,
  type StoredSubscription,
} from "../queue/webhook_mirror.ts";
import { visibleTo } from "../tenants/names.ts";
import { decodeDelivery, type Delivery } from "./delivery.ts";
import { isSecret, newSecret } from "./secret.ts";
import { addWebhookStats, emptyWebhookStats, type WebhookStats } from "./stats.ts";
import type { CallbackEvent } from "./events.ts";

export type { StoredSubscription };

/** What creating a subscription takes (checked by the route's schema). */
export interface NewSubscription {
  url: string;
  events?: CallbackEvent[];
  queue?: string;
  type?: string;
  secret?: string;
}

/** Where a store's data lives and what it needs from the deployment. */
export interface WebhookStoreOptions {
  client: RedisClient;
  prefix?: string;
  /** The home queue (plain job ids belong to it). */
  homeQueue: () => Promise<string>;
  /** `WEBHOOK_SECRET` when set: then it, not a generated one, signs per-job callbacks. */
  secret?: string;
  clock?: () => number;
}

/** Most subscriptions a deployment holds (each is mirrored into the queues it covers). */
export const MAX_SUBSCRIPTIONS = 1000;

/** A delivery id: `<job id>~<n>`. */
export const DELIVERY_ID_PATTERN = /^[^~\s]{1,200}~\d{1,18}$/;

/** The queue a delivery id's job belongs to (plain UUID: the home queue). */
async function queueOfDelivery(id: string, home: () => Promise<string>): Promise<string> {
  const jobId = id.slice(0, id.lastIndexOf("~"));
  return queueInId(jobId) ?? await home();
}

/** The store. */
export class WebhookStore {
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #home: () => Promise<string>;
  readonly #envSecret: string | undefined;
  readonly #clock: () => number;
  #secret: Promise<string> | null = null;
  readonly #scripts = new Map<string, Promise<QueueScripts>>();

  constructor(options: WebhookStoreOptions) {
    this.#client = options.client;
    this.#prefix = options.prefix ?? "jq";
    this.#home = options.homeQueue;
    this.#envSecret = options.secret;
    this.#clock = options.clock ?? Date.now;
  }

  async #do<T>(work: () => Promise<T>): Promise<T> {
    try {
      if (this.#client.status !== "ready") await whenReady(this.#client);
      return await work();
    } catch (error) {
      throw toQueueError(error);
    }
  }

  /** Creates a subscription (a secret generated when none is given) and mirrors it. */
  async create(input: NewSubscription, tenant: string | null): Promise<StoredSubscription> {
    const sub: StoredSubscription = {
      id: `whsub_${crypto.randomUUID().replaceAll("-", "")}`,
      url: input.url,
      events: input.events ?? ["completed", "failed", "cancelled"],
      queue: input.queue ?? null,
      type: input.type ?? null,
      tenant,
      secret: input.secret ?? newSecret(),
      created_at: new Date(this.#clock()).toISOString(),
    };
    const keys = globalKeys(this.#prefix);
    const added = await this.#do(async () => {
      if (await this.#client.hlen(keys.webhooks) >= MAX_SUBSCRIPTIONS) return false;
      await this.#client.hset(keys.webhooks, sub.id, JSON.stringify(sub));
      return true;
    });
    if (!added) throw new TooManySubscriptionsError();
    await this.#remirror([sub], []);
    return sub;
  }

  /** The subscriptions `tenant` may see (null: all). */
  async list(tenant: string | null): Promise<StoredSubscription[]> {
    const subs = await this.#do(() => allSubscriptions(this.#client, this.#prefix));
    return subs.filter((s) => tenant === null || s.tenant === tenant)
      .sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
  }

  /** One subscription, or null when unknown or another tenant's. */
  async get(id: string, tenant: string | null): Promise<StoredSubscription | null> {
    const sub = await this.subscription(id);
    return sub && (tenant === null || sub.tenant === tenant) ? sub : null;
  }

  /** One subscription whoever owns it (the dispatcher's read). */
  async subscription(id: string): Promise<StoredSubscription | null> {
    const json = await this.#do(() => this.#client.hget(globalKeys(this.#prefix).webhooks, id));
    return parseSubscription(json);
  }

  /** Deletes a subscription; false when unknown or another tenant's. Its pending deliveries are dropped when due. */
  async remove(id: string, tenant: string | null): Promise<boolean> {
    const sub = await this.get(id, tenant);
    if (!sub) return false;
    await this.#do(() => this.#client.hdel(globalKeys(this.#prefix).webhooks, id));
    await this.#remirror([], [sub]);
    return true;
  }

  /** Mirrors added and removed subscriptions into the known queues they cover. */
  async #remirror(added: StoredSubscription[], removed: StoredSubscription[]): Promise<void> {
    await this.#do(async () => {
      const queues = await this.#client.hkeys(globalKeys(this.#prefix).queues);
      // A queue named by one is mirrored even before it has jobs (it is not known yet).
      for (const sub of [...added, ...removed]) {
        if (sub.queue !== null && !queues.includes(sub.queue)) queues.push(sub.queue);
      }
      const touched = queues.filter((q) => [...added, ...removed].some((s) => appliesTo(s, q)));
      if (touched.length === 0) return;
      const subs = await allSubscriptions(this.#client, this.#prefix);
      await Promise.all(touched.map((q) => mirrorQueue(this.#client, this.#prefix, q, subs)));
    });
  }

  /** True when the deployment's secret is `WEBHOOK_SECRET` (not a generated one). */
  get secretFromEnv(): boolean {
    return this.#envSecret !== undefined;
  }

  /**
   * The deployment's secret (signs per-job callbacks): `WEBHOOK_SECRET` when
   * set, else one generated once and kept in Redis (the first process to ask writes it).
   */
  secret(): Promise<string> {
    if (this.#envSecret) return Promise.resolve(this.#envSecret);
    this.#secret ??= this.#do(async () => {
      const key = globalKeys(this.#prefix).webhookSecret;
      await this.#client.set(key, newSecret(), "NX");
      const stored = await this.#client.get(key);
      if (!stored || !isSecret(stored)) throw new Error("the stored webhook secret is unreadable");
      return stored;
    });
    this.#secret.catch(() => (this.#secret = null));
    return this.#secret;
  }

  /** The webhook scripts of `queue` on this store's connection (made once per queue). */
  async queueScripts(queue: string): Promise<QueueScripts> {
    let scripts = this.#scripts.get(queue);
    if (!scripts) {
      scripts = QueueScripts.create(this.#client, queueKeys(queue, this.#prefix), {
        retentionMs: DEFAULTS.retentionMs,
        finishedTtlMs: DEFAULTS.retentionMs,
        eventsMaxLen: 0,
        errorHistory: 0,
      });
      this.#scripts.set(queue, scripts);
    }
    return await scripts;
  }

  /**
   * Deliveries `tenant` may see, newest first: given up (`failed`, by the time
   * given up) or still to send (`pending`, by due time), at most `limit`, of
   * one queue or every known one.
   */
  async deliveries(
    status: "failed" | "pending",
    tenant: string | null,
    limit: number,
    queue?: string,
  ): Promise<Delivery[]> {
    return await this.#do(async () => {
      const queues = queue !== undefined
        ? [queue]
        : (await this.#client.hkeys(globalKeys(this.#prefix).queues))
          .filter((q) => visibleTo(tenant, q));
      const found: Array<{ score: number; delivery: Delivery }> = [];
      for (const q of queues) {
        const keys = queueKeys(q, this.#prefix);
        const set = status === "failed" ? keys.webhookFailed : keys.webhookDue;
        const flat = await this.#client.zrevrange(set, 0, limit - 1, "WITHSCORES");
        if (flat.length === 0) continue;
        const ids = flat.filter((_, i) => i % 2 === 0);
        const records = await this.#client.hmgetBuffer(keys.webhookDeliveries, ...ids);
        ids.forEach((id, i) => {
          const bytes = records[i];
          const delivery = bytes ? decodeDelivery(id, q, bytes) : null;
          if (delivery) found.push({ score: Number(flat[i * 2 + 1]), delivery });
        });
      }
      found.sort((a, b) => b.score - a.score);
      return found.slice(0, limit).map((f) => f.delivery);
    });
  }

  /** Every queue's delivery counters, summed (`/metrics`). */
  async stats(): Promise<WebhookStats> {
    return await this.#do(async () => {
      const out = emptyWebhookStats();
      const queues = await this.#client.hkeys(globalKeys(this.#prefix).queues);
      const hashes = await Promise.all(
        queues.map((q) => this.#client.hgetall(queueKeys(q, this.#prefix).webhookStats)),
      );
      for (const hash of hashes) addWebhookStats(out, hash);
      return out;
    });
  }

  /** Sends a given-up delivery again (same id); false when it is not one `tenant` may see. */
  async redeliver(id: string, tenant: string | null): Promise<boolean> {
    if (!DELIVERY_ID_PATTERN.test(id)) return false;
    const queue = await this.#do(() => queueOfDelivery(id, this.#home));
    if (!visibleTo(tenant, queue)) return false;
    const scripts = await this.queueScripts(queue);
    try {
      await scripts.webhookRedeliver(id, this.#clock());
      return true;
    } catch (error) {
      if (error instanceof Error && error.name === "JobNotFoundError") return false;
      throw error;
    }
  }
}

/** A deployment holds `MAX_SUBSCRIPTIONS` already. */
export class TooManySubscriptionsError extends Error {
  constructor() {
    super(`a deployment holds at most ${MAX_SUBSCRIPTIONS} webhook subscriptions`);
    this.name = "TooManySubscriptionsError";
  }
}
