/**
 * HTTP(S) requests through the outbound guard (`outbound_guard.ts`), for the
 * built-in types that fetch caller-chosen URLs.
 *
 * What it guarantees: every TCP connection it opens goes to an address the
 * guard checked. A host name is resolved here (the system resolver, as any
 * other client on the machine would), every address it resolves to is
 * checked (one refused address refuses the name: a DNS answer mixing a public
 * and a private address is a rebinding trick), and the connection is made to
 * one of those checked addresses through node:http's `lookup` hook, so the
 * name is never resolved a second time where an attacker's DNS could answer
 * differently. TLS still verifies the certificate for the host name in the
 * URL. Redirects are followed here, not by the HTTP client, at most
 * `maxRedirects` hops, each hop checked the same way; a redirect to another
 * scheme than http(s) is refused.
 *
 * What it does not cover: a name the operator allowed by name in
 * OUTBOUND_ALLOW is trusted whatever it resolves to.
 *
 * It uses node:http rather than fetch because fetch has no hook between
 * resolving a name and connecting to it that keeps TLS verification intact.
 *
 * @module
 */
import http from "node:http";
import https from "node:https";
import { lookup as systemLookup } from "node:dns";
import { Readable } from "node:stream";
import type { LookupAddress } from "node:dns";
import { NonRetryableError } from "./definition.ts";
import {
  assertAllowed,
  defaultPort,
  isAllowed,
  isIpLiteral,
  type OutboundPolicy,
  OutboundRefusedError,
  refusal,
} from "./outbound_guard.ts";

/** Resolves a host name to every address it has (the system resolver by default). */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

/** The system resolver (getaddrinfo: /etc/hosts, then DNS), every address. */
export const resolveAll: Resolver = (hostname) =>
  new Promise((resolve, reject) =>
    systemLookup(hostname, { all: true }, (error, addresses) => {
      if (error) reject(error);
      else resolve(addresses);
    })
  );

/** Redirect hops followed before giving up. */
export const MAX_REDIRECTS = 5;

/** A request through the guard. */
export interface GuardedRequestInit {
  policy: OutboundPolicy;
  method?: string;
  headers?: Headers;
  body?: string;
  signal?: AbortSignal;
  maxRedirects?: number;
  /** For tests: how names resolve. */
  resolve?: Resolver;
  /** For tests: extra trusted CA certificates (PEM) for https. */
  ca?: string[];
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const FRAMING_HEADERS = new Set([
  "host",
  "connection",
  "content-length",
  "transfer-encoding",
  "keep-alive",
  "upgrade",
  "te",
  "trailer",
]);
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * Resolves `hostname` and checks every address; resolves with the checked
 * ones (a name allowed by OUTBOUND_ALLOW skips the check).
 */
export async function checkedAddresses(
  policy: OutboundPolicy,
  hostname: string,
  port: number,
  resolve: Resolver = resolveAll,
): Promise<LookupAddress[]> {
  if (isIpLiteral(hostname)) {
    const address = hostname.replace(/^\[|\]$/g, "");
    assertAllowed(policy, { hostname: address, port, address });
    return [{ address, family: address.includes(":") ? 6 : 4 }];
  }
  const addresses = await resolve(hostname);
  if (addresses.length === 0) throw new Error(`${hostname} resolved to no address`);
  if (isAllowed(policy, { hostname, port, address: "" })) return addresses;
  for (const a of addresses) {
    const reason = refusal(policy, { hostname, port, address: a.address });
    if (reason !== null) throw new OutboundRefusedError(reason);
  }
  return addresses;
}

/** One request, no redirects: connects only to `addresses`. */
function requestOnce(
  url: URL,
  addresses: LookupAddress[],
  method: string,
  headers: Headers,
  body: string | undefined,
  signal: AbortSignal | undefined,
  ca: string[] | undefined,
): Promise<http.IncomingMessage> {
  const client = url.protocol === "https:" ? https : http;
  const outgoing: Record<string, string> = {};
  headers.forEach((value, name) => {
    // As fetch does: the client, not the caller, frames the request and names the host.
    if (!FRAMING_HEADERS.has(name) && !name.startsWith("proxy-")) outgoing[name] = value;
  });
  outgoing["user-agent"] ??= `Deno/${Deno.version.deno}`;
  outgoing["accept"] ??= "*/*";
  const bytes = body === undefined ? undefined : new TextEncoder().encode(body);
  if (bytes) outgoing["content-length"] = String(bytes.byteLength);
  return new Promise((resolve, reject) => {
    const request = client.request({
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ""),
      port: defaultPort(url),
      path: `${url.pathname}${url.search}`,
      method,
      headers: outgoing,
      signal,
      agent: false, // no connection shared between jobs
      ...(ca ? { ca } : {}),
      // The connection goes to the checked addresses, never to a fresh lookup.
      lookup: ((_host: string, options: { all?: boolean }, callback: LookupCallback) => {
        if (options?.all) callback(null, addresses);
        else callback(null, addresses[0].address, addresses[0].family);
      }) as unknown as typeof systemLookup,
    }, resolve);
    request.on("error", reject);
    request.end(bytes);
  });
}

type LookupCallback = (
  error: Error | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

function toResponse(message: http.IncomingMessage, method: string, url: URL): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(message.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const status = message.statusCode ?? 502;
  const noBody = NULL_BODY.has(status) || method === "HEAD";
  if (noBody) message.resume();
  const body = noBody ? null : Readable.toWeb(message) as unknown as ReadableStream<Uint8Array>;
  const response = new Response(body, { status, statusText: message.statusMessage, headers });
  Object.defineProperty(response, "url", { value: url.href });
  return response;
}

/**
 * Sends a request through the guard and follows redirects by hand. The
 * answer's body streams (read it bounded); a refused destination rejects with
 * `OutboundRefusedError` (non-retryable), too many redirects with a
 * `NonRetryableError`.
 *
 * @example
 * ```ts
 * const res = await guardedFetch("https://hooks.example.com/x", { policy, method: "POST", body: "{}" });
 * ```
 */
export async function guardedFetch(input: string, init: GuardedRequestInit): Promise<Response> {
  const maxRedirects = init.maxRedirects ?? MAX_REDIRECTS;
  let url = new URL(input);
  let method = (init.method ?? "GET").toUpperCase();
  let headers = new Headers(init.headers);
  let body = init.body;
  for (let hop = 0;; hop++) {
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new OutboundRefusedError(`redirect to ${url.protocol} URL ${url.href} refused`);
    }
    init.signal?.throwIfAborted();
    const hostname = url.hostname.replace(/^\[|\]$/g, "");
    const addresses = await checkedAddresses(init.policy, hostname, defaultPort(url), init.resolve);
    const message = await requestOnce(url, addresses, method, headers, body, init.signal, init.ca);
    const status = message.statusCode ?? 0;
    const location = message.headers.location;
    if (!REDIRECTS.has(status) || location === undefined) return toResponse(message, method, url);
    message.resume(); // the redirect's own body is not wanted
    if (hop >= maxRedirects) {
      throw new NonRetryableError(`more than ${maxRedirects} redirects, the last to ${location}`);
    }
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw new NonRetryableError(`redirect to an invalid URL: ${location.slice(0, 200)}`);
    }
    // As fetch does: 303 (and 301/302 after a POST) become a GET without a body.
    if (
      status === 303 && method !== "HEAD" || (status === 301 || status === 302) && method === "POST"
    ) {
      method = "GET";
      body = undefined;
      headers = new Headers(headers);
      for (const h of ["content-type", "content-length", "content-encoding", "content-language"]) {
        headers.delete(h);
      }
    }
    // Credentials are not handed to another origin.
    if (next.origin !== url.origin) {
      headers = new Headers(headers);
      headers.delete("authorization");
      headers.delete("cookie");
    }
    url = next;
  }
}
