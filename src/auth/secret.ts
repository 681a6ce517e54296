/**
 * API key secrets: `jq_<id>_<secret>`, where `id` (16 hex digits) names the
 * key's record and `secret` is 32 random bytes in base64url. Only the SHA-256
 * of the whole key is stored: the secret has 256 bits of entropy, so a plain
 * (unsalted, fast) hash cannot be reversed by guessing, and the lookup stays
 * cheap enough to run on every request that misses the cache. The id inside
 * the key finds the record in one read; the hashes are then compared in
 * constant time, so timing tells nothing about how much of a guess matched.
 *
 * @module
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

const KEY = /^jq_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/** A freshly made key: its id and the whole secret (shown once). */
export interface NewKey {
  id: string;
  key: string;
}

/**
 * Makes a new key from the platform's CSPRNG.
 *
 * @example
 * ```ts
 * const { id, key } = newKey(); // key: "jq_0123456789abcdef_..." (63 characters)
 * ```
 */
export function newKey(): NewKey {
  const id = randomBytes(8).toString("hex");
  const secret = randomBytes(32).toString("base64url");
  return { id, key: `jq_${id}_${secret}` };
}

/** The record id inside `key`, or null when `key` is not shaped like one of ours. */
export function keyId(key: string): string | null {
  return KEY.exec(key)?.[1] ?? null;
}

/** SHA-256 of `key`, hex. */
export function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/** Compares two hashes (or any two strings) in time independent of where they differ. */
export function sameHash(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  // Lengths of hex SHA-256 digests are public; a mismatch is not a timing leak.
  return x.length === y.length && timingSafeEqual(x, y);
}
