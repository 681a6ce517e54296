/**
 * The middleware that checks `Authorization: Bearer <key>` against a route's
 * required scope (`access.ts`). It runs before the route's handler, so a
 * refused request reads no body and writes nothing.
 *
 * - no key, or an unknown or revoked one: 401 `unauthorized` with
 *   `WWW-Authenticate: Bearer` (RFC 6750);
 * - a key without the scope: 403 `forbidden` naming it;
 * - a client address with too many failed keys lately: 429 `rate_limited`
 *   with `Retry-After` (only keys that miss the cache are counted or refused,
 *   so a good key is never slowed down by the limiter).
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import type { Authenticator, Principal } from "../../auth/authenticator.ts";
import { bearerToken } from "../../auth/bearer.ts";
import { toQueueError } from "../../queue/connect.ts";
import { HttpError } from "../errors.ts";
import type { Access } from "./access.ts";
import type { Scope } from "../../auth/scopes.ts";
import { isLoopbackHost } from "../../auth/policy.ts";
import { accessFor } from "./route_match.ts";
import { refuseCrossSite } from "./cross_site.ts";

declare module "hono" {
  interface ContextVariableMap {
    /** The caller, once a guard has checked its key (absent while auth is off). */
    principal: Principal | undefined;
  }
}

const REALM = 'Bearer realm="jobqueue"';

/** 401 for a missing (`invalid` false) or unknown/revoked (`invalid` true) key. */
export function unauthorized(message: string, invalid: boolean): HttpError {
  return new HttpError(401, "unauthorized", message, undefined, {
    "WWW-Authenticate": invalid ? `${REALM}, error="invalid_token"` : REALM,
  });
}

/** 403 for a key without `scope`. */
export function forbidden(scope: string): HttpError {
  return new HttpError(
    403,
    "forbidden",
    `this API key lacks the "${scope}" scope`,
    { required_scope: scope },
    { "WWW-Authenticate": `${REALM}, error="insufficient_scope", scope="${scope}"` },
  );
}

/** The socket peer's address (Deno.serve's handler info), or "unknown" (e.g. `app.request`). */
export function clientAddress(c: Context): string {
  const env = c.env as { remoteAddr?: { hostname?: unknown } } | undefined;
  const host = env?.remoteAddr?.hostname;
  return typeof host === "string" ? host : "unknown";
}

/**
 * The caller of `token` for `access`, or an HttpError thrown. The cached
 * case is synchronous: a busy client costs a Map lookup here.
 */
function principalFor(
  auth: Authenticator,
  c: Context,
  token: string,
  access: Access,
): Principal | Promise<Principal> {
  const cached = auth.cached(token);
  if (cached) return permitted(cached, access);
  return (async () => {
    const address = clientAddress(c);
    const wait = auth.failures.retryAfter(address);
    if (wait > 0) {
      throw new HttpError(
        429,
        "rate_limited",
        `too many failed API key attempts from this address; retry in ${wait} s`,
        undefined,
        { "Retry-After": String(wait) },
      );
    }
    let principal: Principal | null;
    try {
      principal = await auth.verify(token);
    } catch (error) {
      throw toQueueError(error);
    }
    if (!principal) {
      auth.failures.fail(address);
      throw unauthorized("unknown or revoked API key", true);
    }
    return permitted(principal, access);
  })();
}

function permitted(principal: Principal, access: Access): Principal {
  if (access !== "optional" && !principal.scopes.includes(access as Scope)) throw forbidden(access);
  return principal;
}

/**
 * While auth is off because no key exists yet, the server listens on
 * loopback only, so every legitimate request names a loopback host. A page
 * on another site can still reach it through DNS rebinding (its own name,
 * re-pointed to 127.0.0.1, makes the request same-origin): its `Host` is that
 * name, and it is refused here.
 */
function checkLoopbackName(c: Context): void {
  const host = new URL(c.req.url).hostname;
  if (isLoopbackHost(host)) return;
  throw new HttpError(
    403,
    "forbidden_host",
    "without API keys this server answers only requests to a loopback name (localhost, " +
      "127.0.0.1, [::1]); create a key to serve other names",
  );
}

/** What a route not in the access table requires: a new route is admin-only until it is listed. */
export const UNLISTED_ACCESS: Access = "admin";

/**
 * The one middleware in front of every `/api/v1/*` route: the cross-site
 * refusal of the POST routes (`cross_site.ts`), then the key check of the
 * route's entry in the access table (`route_match.ts`); a route missing from
 * the table needs `UNLISTED_ACCESS`. Without an authenticator only the
 * cross-site refusal applies.
 *
 * @example
 * ```ts
 * app.use("/api/v1/*", apiGuard(auth));
 * ```
 */
export function apiGuard(auth: Authenticator | null | undefined): MiddlewareHandler {
  return async (c, next) => {
    const method = c.req.method;
    const listed = accessFor(method, c.req.path);
    if (method === "POST" && listed !== undefined) refuseCrossSite(c);
    const access = listed ?? UNLISTED_ACCESS;
    if (!auth || access === "public" || access === "metrics") return await next();
    const on = auth.active();
    if (on === false || (on !== true && !(await on))) {
      if (auth.mode === "first_key") checkLoopbackName(c);
      return await next();
    }
    const header = c.req.raw.headers.get("authorization");
    const token = bearerToken(header);
    if (token === null) {
      if (access === "optional" && header === null) return await next();
      throw unauthorized(
        header === null
          ? "an API key is required: send Authorization: Bearer <key>"
          : "the Authorization header must be Bearer <key>",
        header !== null,
      );
    }
    const principal = principalFor(auth, c, token, access);
    c.set("principal", principal instanceof Promise ? await principal : principal);
    await next();
  };
}
