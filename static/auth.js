/**
 * The dashboard's API key: kept in `sessionStorage` (gone when the tab
 * closes), sent as `Authorization: Bearer` by every request (api.js and the
 * event stream). No cookies: a request another site makes the browser send
 * carries nothing that could act for the user.
 *
 * What the key may do is said by `GET /api/v1/auth`; `applyScopes` marks the
 * page (`<body data-can-submit data-can-read data-can-admin>`), and
 * style.css hides every element marked `data-needs="<scope>"` the key lacks.
 *
 * @module
 */

const STORAGE = "jobqueue.apiKey";

/** @returns {string | null} */
export function storedKey() {
  try {
    return sessionStorage.getItem(STORAGE);
  } catch {
    return null; // storage disabled: the key is asked for again
  }
}

/** @param {string} key */
export function storeKey(key) {
  try {
    sessionStorage.setItem(STORAGE, key);
  } catch {
    // storage disabled: this page load still uses it (authHeaders reads `current`)
  }
  current = key;
}

export function forgetKey() {
  try {
    sessionStorage.removeItem(STORAGE);
  } catch {
    // nothing stored
  }
  current = null;
}

/** @type {string | null} */
let current = storedKey();

/**
 * The Authorization header for the stored key, or none.
 *
 * @returns {Record<string, string>}
 */
export function authHeaders() {
  return current ? { authorization: `Bearer ${current}` } : {};
}

/**
 * @typedef {{auth: "on" | "off", key: {id: string, name: string, scopes: string[],
 *   tenant: string | null} | null}} Identity
 */

/**
 * Asks the server who the stored key (or `key`) is. Resolves with the
 * identity; a 401 (unknown or revoked key) resolves with `{auth: "on", key:
 * null, rejected: true}`.
 *
 * @param {string | null} [key]
 * @returns {Promise<Identity & {rejected?: boolean}>}
 */
export async function whoAmI(key = current) {
  /** @type {Record<string, string>} */
  const headers = key ? { authorization: `Bearer ${key}` } : {};
  const res = await fetch("/api/v1/auth", { headers: { accept: "application/json", ...headers } });
  if (res.status === 401) {
    await res.body?.cancel();
    return { auth: "on", key: null, rejected: true };
  }
  if (res.status === 429) {
    await res.body?.cancel();
    const wait = res.headers.get("retry-after") ?? "a few";
    throw new Error(`too many refused keys from this address: try again in ${wait} s`);
  }
  if (!res.ok) throw new Error(`GET /api/v1/auth answered ${res.status}`);
  return await res.json();
}

/** The scopes the page may use: all of them while auth is off. */
export const SCOPES = ["submit", "read", "admin"];

/**
 * Marks the page with what `identity` may do.
 *
 * @param {Identity} identity
 * @returns {Set<string>}
 */
export function applyScopes(identity) {
  const scopes = new Set(identity.auth === "off" ? SCOPES : identity.key?.scopes ?? []);
  for (const scope of SCOPES) {
    document.body.toggleAttribute(`data-can-${scope}`, scopes.has(scope));
  }
  return scopes;
}

/** Tells the page a request was refused for its key (revoked meanwhile): it asks again. */
export function onUnauthorized() {
  globalThis.dispatchEvent(new CustomEvent("jobqueue:unauthorized"));
}
