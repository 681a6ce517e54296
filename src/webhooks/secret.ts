/**
 * Webhook secrets in the Standard Webhooks form: `whsec_` and the base64 of
 * at least 24 random bytes (`standardwebhooks` signs with the decoded bytes).
 *
 * @module
 */

/** The accepted form of a secret: `whsec_` + base64 of 24..64 bytes. */
export const SECRET_PATTERN = /^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/;

/** A fresh secret: 32 random bytes. */
export function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

/** True when `secret` is a usable `whsec_` secret (its base64 decodes to 24..64 bytes). */
export function isSecret(secret: string): boolean {
  if (!SECRET_PATTERN.test(secret)) return false;
  try {
    const n = atob(secret.slice("whsec_".length)).length;
    return n >= 24 && n <= 64;
  } catch {
    return false;
  }
}
