/**
 * Reading `Authorization: Bearer <token>` (RFC 6750), shared by the API's
 * key guard and both `/metrics` servers.
 *
 * @module
 */

/**
 * The token of `Bearer <token>`, or null (absent, another scheme, or empty).
 *
 * @example
 * ```ts
 * bearerToken("Bearer jq_abc"); // "jq_abc"
 * ```
 */
export function bearerToken(header: string | null | undefined): string | null {
  if (header === undefined || header === null || header.length < 8) return null;
  // The scheme is case-insensitive (RFC 9110 11.1).
  if (header.slice(0, 7).toLowerCase() !== "bearer ") return null;
  const token = header.slice(7).trim();
  return token.length ? token : null;
}
