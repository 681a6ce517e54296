/**
 * Who is calling: turns a presented API key into a `Principal`, with a
 * per-process cache so that a busy client costs one Map lookup per request,
 * not a Redis round trip.
 *
 * Revocation is honoured within `maxAgeMs` (900 ms) on every process without
 * any message between them: an entry is used as is for `refreshAfterMs`
 * (400 ms), then still used while one background read re-checks the key, and
 * past `maxAgeMs` the request itself waits for that read. Under steady load
 * the background read always lands first, so no request waits; a revoked key
 * stops working once its entry is re-checked. A revoke through this process
 * drops its entries at once (`forget`).
 *
 * Modes: `on` (every request needs a key), `off` (explicit `AUTH=off`), and
 * `first_key`: off until the first key exists, then on for the rest of the
 * process's life (a laptop started without keys turns auth on by itself when
 * one is created, and never back off).
 *
 * @module
 */
import type { ApiKeyRecord, KeyStore } from "./key_store.ts";
import { type Scope, SCOPES } from "./scopes.ts";
import { hashKey, keyId, sameHash } from "./secret.ts";
import { FailLimiter, type FailLimiterOptions } from "./fail_limiter.ts";

/** The caller a key stands for. */
export interface Principal {
  /** The key's id (`env` for `ADMIN_API_KEY`). */
  id: string;
  name: string;
  scopes: readonly Scope[];
  /** Null: not confined to a tenant. */
  tenant: string | null;
}

/** How requests are checked (see the module doc). */
export type AuthMode = "on" | "off" | "first_key";

/** Options of `Authenticator`. */
export interface AuthenticatorOptions {
  mode: AuthMode;
  /** Where keys live; null: only `adminKey` (if any) is a key. */
  store: KeyStore | null;
  /** `ADMIN_API_KEY`: a key with every scope that lives in the environment, not in Redis. */
  adminKey?: string;
  /** Cache entries are re-checked in the background after this long. Default 400 ms. */
  refreshAfterMs?: number;
  /** Past this age a request waits for the re-check. Default 900 ms. */
  maxAgeMs?: number;
  /** A key's `last_used_at` is written at most this often per process. Default 60 s. */
  touchEveryMs?: number;
  /** Cached keys at most (failed lookups are never cached). Default 10 000. */
  maxEntries?: number;
  /** Failed attempts per client address. */
  failures?: FailLimiterOptions;
  /** Called once when `first_key` mode turns on. */
  onActivated?: () => void;
  now?: () => number;
}

interface Entry {
  principal: Principal;
  checkedAt: number;
  touchedAt: number;
  refreshing: boolean;
}

/** The `ADMIN_API_KEY` principal. */
export const ENV_ADMIN: Principal = Object.freeze({
  id: "env",
  name: "ADMIN_API_KEY",
  scopes: SCOPES,
  tenant: null,
});

/** The principal of a stored key. */
export function principalOf(record: ApiKeyRecord): Principal {
  return { id: record.id, name: record.name, scopes: record.scopes, tenant: record.tenant };
}

/**
 * @example
 * ```ts
 * const auth = new Authenticator({ mode: "on", store });
 * const who = auth.cached(token) ?? await auth.verify(token);
 * ```
 */
export class Authenticator {
  readonly store: KeyStore | null;
  readonly failures: FailLimiter;
  #mode: AuthMode;
  readonly #adminHash: string | null;
  readonly #refreshAfterMs: number;
  readonly #maxAgeMs: number;
  readonly #touchEveryMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #onActivated?: () => void;
  readonly #cache = new Map<string, Entry>();
  #countCheckedAt = -Infinity;
  #counting: Promise<boolean> | null = null;

  constructor(options: AuthenticatorOptions) {
    this.store = options.store;
    this.#mode = options.mode;
    this.#adminHash = options.adminKey ? hashKey(options.adminKey) : null;
    this.#refreshAfterMs = options.refreshAfterMs ?? 400;
    this.#maxAgeMs = options.maxAgeMs ?? 900;
    this.#touchEveryMs = options.touchEveryMs ?? 60_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
    this.#onActivated = options.onActivated;
    this.failures = new FailLimiter(options.failures);
  }

  /** The current mode (`first_key` becomes `on` once a key exists). */
  get mode(): AuthMode {
    return this.#mode;
  }

  /**
   * Whether requests need a key now. Synchronous except in `first_key` mode
   * when the key count is stale (then one count is shared by every caller).
   */
  active(): boolean | Promise<boolean> {
    if (this.#mode !== "first_key") return this.#mode === "on";
    const age = this.#now() - this.#countCheckedAt;
    if (age < this.#refreshAfterMs) return false;
    const counting = this.#counting ??= this.#countKeys();
    // Recently known to have none: answer now, the count refreshes behind.
    return age < this.#maxAgeMs ? false : counting;
  }

  async #countKeys(): Promise<boolean> {
    try {
      const n = this.store ? await this.store.count() : 0;
      this.#countCheckedAt = this.#now();
      if (n > 0 && this.#mode === "first_key") {
        this.#mode = "on";
        this.#onActivated?.();
      }
    } catch {
      // Redis is away: stay as we were (loopback only, and every route needs Redis anyway),
      // and ask again later rather than make every request wait for a connection.
      this.#countCheckedAt = this.#now();
    } finally {
      this.#counting = null;
    }
    return this.#mode === "on";
  }

  /** The principal of `token` when its cache entry may be used now, else null (call `verify`). */
  cached(token: string): Principal | null {
    const entry = this.#cache.get(token);
    if (!entry) return null;
    const now = this.#now();
    const age = now - entry.checkedAt;
    if (age >= this.#maxAgeMs) return null;
    if (age >= this.#refreshAfterMs && !entry.refreshing) this.#refresh(token, entry);
    if (now - entry.touchedAt >= this.#touchEveryMs) this.#touch(entry, now);
    return entry.principal;
  }

  /**
   * Looks `token` up (ADMIN_API_KEY, then the store) and caches a hit; null
   * for an unknown or revoked key. Throws when the store cannot be read.
   */
  async verify(token: string): Promise<Principal | null> {
    const now = this.#now();
    if (this.#adminHash !== null && sameHash(hashKey(token), this.#adminHash)) {
      this.#remember(token, { ...ENV_ADMIN }, Infinity, Infinity);
      return ENV_ADMIN;
    }
    if (!this.store || keyId(token) === null) return null;
    const record = await this.store.verify(token);
    if (!record) {
      this.#cache.delete(token);
      return null;
    }
    const used = record.last_used_at === null ? -Infinity : Date.parse(record.last_used_at);
    const entry = this.#remember(token, principalOf(record), now, used);
    if (now - used >= this.#touchEveryMs) this.#touch(entry, now);
    return entry.principal;
  }

  /**
   * Whether `token` still holds `scope` (for a long-lived answer such as the
   * event stream, checked again while it runs). True while auth is off.
   */
  async stillHolds(token: string | null, scope: Scope): Promise<boolean> {
    if (!(await this.active())) return true;
    if (token === null) return false;
    const principal = this.cached(token) ?? await this.verify(token);
    return principal !== null && principal.scopes.includes(scope);
  }

  /** Drops every cached entry of key `id` (after a revoke through this process). */
  forget(id: string): void {
    for (const [token, entry] of this.#cache) {
      if (entry.principal.id === id) this.#cache.delete(token);
    }
  }

  #remember(token: string, principal: Principal, checkedAt: number, touchedAt: number): Entry {
    this.#cache.delete(token);
    if (this.#cache.size >= this.#maxEntries) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    const entry: Entry = { principal, checkedAt, touchedAt, refreshing: false };
    this.#cache.set(token, entry);
    return entry;
  }

  #refresh(token: string, entry: Entry): void {
    if (!this.store) return;
    entry.refreshing = true;
    // Valid as of when the read was sent, not when its answer came:
    // a slow answer may predate a revoke.
    const sentAt = this.#now();
    this.store.get(entry.principal.id).then((record) => {
      if (!record) this.#cache.delete(token);
      else {
        entry.principal = principalOf(record);
        entry.checkedAt = sentAt;
      }
    }, () => {
      // Redis is away: the entry ages out and requests then wait for (and fail on) a read.
    }).finally(() => (entry.refreshing = false));
  }

  #touch(entry: Entry, now: number): void {
    entry.touchedAt = now;
    if (!this.store || entry.principal.id === ENV_ADMIN.id) return;
    this.store.touch(entry.principal.id, now).catch(() => {});
  }
}
