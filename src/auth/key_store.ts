/**
 * API keys in Redis, under the deployment's global hash tag (`globalKeys`):
 * one HASH of records (id -> JSON without the secret, only its SHA-256) and
 * one HASH of last-use times, written apart so that a use (at most once a
 * minute per key and process) is one HSET and never rewrites the record.
 *
 * Both HASHes share the `{#}` tag, so the MULTI of a revoke is one Cluster slot.
 *
 * @module
 */
import { z } from "zod";
import { globalKeys } from "../queue/keys.ts";
import { type RedisClient, whenReady } from "../queue/connect.ts";
import { normalizeScopes, type Scope, SCOPES } from "./scopes.ts";
import { hashKey, keyId, newKey, sameHash } from "./secret.ts";

/** A key as clients see it (never its secret or hash). */
export interface ApiKeyRecord {
  id: string;
  name: string;
  scopes: Scope[];
  /** The tenant the key is confined to; null: the whole deployment. */
  tenant: string | null;
  /** ISO-8601. */
  created_at: string;
  /** ISO-8601 of the last use seen (updated at most about once a minute); null: never used. */
  last_used_at: string | null;
}

/** What creating a key needs. */
export interface NewKeyInput {
  name: string;
  scopes: readonly Scope[];
  tenant?: string | null;
}

/** Longest key name. */
export const MAX_KEY_NAME = 100;

const stored = z.object({
  name: z.string(),
  scopes: z.array(z.enum(SCOPES)),
  tenant: z.string().nullable(),
  created_at: z.number(),
  hash: z.string(),
});
type Stored = z.infer<typeof stored>;

function parseStored(text: string | null): Stored | null {
  if (text === null) return null;
  try {
    const parsed = stored.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

function toRecord(id: string, s: Stored, usedMs: number | null): ApiKeyRecord {
  return {
    id,
    name: s.name,
    scopes: normalizeScopes(s.scopes),
    tenant: s.tenant,
    created_at: new Date(s.created_at).toISOString(),
    last_used_at: usedMs === null ? null : new Date(usedMs).toISOString(),
  };
}

function usedAt(text: string | null | undefined): number | null {
  const n = Number(text);
  return text && Number.isFinite(n) ? n : null;
}

/**
 * The key store.
 *
 * @example
 * ```ts
 * const store = new KeyStore(connect("redis://127.0.0.1:6379"));
 * const { key } = await store.create({ name: "ci", scopes: ["submit"] });
 * (await store.verify(key))?.scopes; // ["submit"]
 * ```
 */
export class KeyStore {
  readonly #client: RedisClient;
  readonly #records: string;
  readonly #used: string;

  constructor(client: RedisClient, prefix = "jq") {
    this.#client = client;
    const keys = globalKeys(prefix);
    this.#records = keys.apiKeys;
    this.#used = keys.apiKeysUsed;
  }

  /**
   * The client once connected (or after the short wait): clients have no
   * offline queue, so a command sent while (re)connecting would fail at once.
   */
  async #redis(): Promise<RedisClient> {
    await whenReady(this.#client);
    return this.#client;
  }

  /** Creates a key; the returned `key` is the only copy of its secret. */
  async create(input: NewKeyInput): Promise<{ record: ApiKeyRecord; key: string }> {
    const redis = await this.#redis();
    const name = input.name.trim();
    if (name.length === 0 || name.length > MAX_KEY_NAME) {
      throw new Error(`a key name is 1..${MAX_KEY_NAME} characters`);
    }
    const scopes = normalizeScopes(input.scopes);
    if (scopes.length === 0) throw new Error("a key needs at least one scope");
    for (;;) {
      const { id, key } = newKey();
      const value: Stored = {
        name,
        scopes,
        tenant: input.tenant ?? null,
        created_at: Date.now(),
        hash: hashKey(key),
      };
      // 64 random bits: a clash is all but impossible, and HSETNX makes it harmless.
      if (await redis.hsetnx(this.#records, id, JSON.stringify(value))) {
        return { record: toRecord(id, value, null), key };
      }
    }
  }

  /** The key's record when `key` is a live key, else null. */
  async verify(key: string): Promise<ApiKeyRecord | null> {
    const redis = await this.#redis();
    const id = keyId(key);
    if (id === null) return null;
    const [record, used] = await Promise.all([
      redis.hget(this.#records, id),
      redis.hget(this.#used, id),
    ]);
    const s = parseStored(record);
    if (!s || !sameHash(s.hash, hashKey(key))) return null;
    return toRecord(id, s, usedAt(used));
  }

  /** One key's record (no secret), or null when unknown or revoked. */
  async get(id: string): Promise<ApiKeyRecord | null> {
    const redis = await this.#redis();
    const [record, used] = await Promise.all([
      redis.hget(this.#records, id),
      redis.hget(this.#used, id),
    ]);
    const s = parseStored(record);
    return s ? toRecord(id, s, usedAt(used)) : null;
  }

  /** Every key, oldest first. */
  async list(): Promise<ApiKeyRecord[]> {
    const redis = await this.#redis();
    const [records, used] = await Promise.all([
      redis.hgetall(this.#records),
      redis.hgetall(this.#used),
    ]);
    const out: ApiKeyRecord[] = [];
    for (const [id, text] of Object.entries(records)) {
      const s = parseStored(text);
      if (s) out.push(toRecord(id, s, usedAt(used[id])));
    }
    // A use recorded while its key was being revoked leaves a field behind: drop it.
    const orphans = Object.keys(used).filter((id) => !(id in records));
    if (orphans.length) await redis.hdel(this.#used, ...orphans);
    return out.sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
  }

  /** Revokes a key; false when there was none with that id. */
  async revoke(id: string): Promise<boolean> {
    const redis = await this.#redis();
    const results = await redis.multi().hdel(this.#records, id).hdel(this.#used, id).exec();
    const first = results?.[0];
    if (first?.[0]) throw first[0];
    return Number(first?.[1]) === 1;
  }

  /** How many keys exist. */
  async count(): Promise<number> {
    const redis = await this.#redis();
    return await redis.hlen(this.#records);
  }

  /** Records a use of key `id` at `atMs`. */
  async touch(id: string, atMs: number): Promise<void> {
    const redis = await this.#redis();
    await redis.hset(this.#used, id, String(atMs));
  }
}
