/**
 * Webhook subscriptions as Redis keeps them: the deployment's HASH
 * (`GlobalKeys.webhooks`, id -> JSON) and each queue's mirror
 * (`QueueKeys.webhookSubs`, id -> `"<letters>|<type>"`), which the finishing
 * scripts read to record deliveries in the transition itself (`_webhooks.lua`).
 *
 * A subscription applies to a queue when it names that queue, or names none
 * and the queue is its tenant's (any queue for a subscription of no tenant).
 * Its creator mirrors it into every known queue it applies to; a queue's
 * first registration (`queue_registry.ts`) mirrors in the subscriptions that
 * apply to it. One of the two always sees the other (each writes its own
 * HASH before reading the other's), and the dispatcher re-mirrors everything
 * every `RESYNC_MS` as a backstop for a process that died in between.
 *
 * @module
 */
import type { RedisClient } from "./connect.ts";
import { globalKeys, queueKeys } from "./keys.ts";

/** A subscription as stored (the API's view adds nothing but hides `tenant`). */
export interface StoredSubscription {
  id: string;
  url: string;
  /** `completed`, `failed`, `cancelled`: a non-empty subset. */
  events: string[];
  /** Only this queue's jobs; null: every queue of its tenant. */
  queue: string | null;
  /** Only jobs of this type; null: every type. */
  type: string | null;
  /** The tenant whose admin key made it; null: a deployment-wide one. */
  tenant: string | null;
  /** `whsec_...`: signs its deliveries. */
  secret: string;
  created_at: string;
}

const LETTER: Record<string, string> = { completed: "c", failed: "f", cancelled: "x" };

/** The mirror's value for `sub`: the event letters and the type filter. */
export function mirrorValue(sub: Pick<StoredSubscription, "events" | "type">): string {
  const letters = ["completed", "failed", "cancelled"].filter((e) => sub.events.includes(e))
    .map((e) => LETTER[e]).join("");
  return `${letters}|${sub.type ?? ""}`;
}

/** The tenant owning a queue name (`acme/default` -> `acme`), or null. */
function tenantOfQueue(queue: string): string | null {
  const slash = queue.indexOf("/");
  return slash < 0 ? null : queue.slice(0, slash);
}

/** True when `sub` applies to jobs of `queue`. */
export function appliesTo(sub: StoredSubscription, queue: string): boolean {
  if (sub.tenant !== null && tenantOfQueue(queue) !== sub.tenant) return false;
  return sub.queue === null || sub.queue === queue;
}

/** Parses a stored subscription; null when unreadable. */
export function parseSubscription(json: string | null | undefined): StoredSubscription | null {
  if (!json) return null;
  try {
    const value = JSON.parse(json) as StoredSubscription;
    return typeof value?.id === "string" && typeof value.url === "string" ? value : null;
  } catch {
    return null;
  }
}

/** Every stored subscription. */
export async function allSubscriptions(
  client: RedisClient,
  prefix: string,
): Promise<StoredSubscription[]> {
  const raw = await client.hgetall(globalKeys(prefix).webhooks);
  const out: StoredSubscription[] = [];
  for (const json of Object.values(raw)) {
    const sub = parseSubscription(json);
    if (sub) out.push(sub);
  }
  return out;
}

/**
 * Makes `queue`'s mirror hold exactly the subscriptions of `subs` that apply
 * to it (those that do not are removed from it).
 */
export async function mirrorQueue(
  client: RedisClient,
  prefix: string,
  queue: string,
  subs: readonly StoredSubscription[],
): Promise<void> {
  const key = queueKeys(queue, prefix).webhookSubs;
  const want = new Map<string, string>();
  for (const sub of subs) if (appliesTo(sub, queue)) want.set(sub.id, mirrorValue(sub));
  const have = await client.hgetall(key);
  const stale = Object.keys(have).filter((id) => !want.has(id));
  if (stale.length > 0) await client.hdel(key, ...stale);
  const fresh = [...want].filter(([id, value]) => have[id] !== value).flat();
  if (fresh.length > 0) await client.hset(key, ...fresh);
}

/** A newly registered queue gets the subscriptions that apply to it. */
export async function mirrorNewQueue(
  client: RedisClient,
  prefix: string,
  queue: string,
): Promise<void> {
  const subs = await allSubscriptions(client, prefix);
  if (subs.some((s) => appliesTo(s, queue))) await mirrorQueue(client, prefix, queue, subs);
}
