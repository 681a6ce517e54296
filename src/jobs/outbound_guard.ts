/**
 * The outbound network guard: which addresses built-in job types may connect
 * to. A job's URL is chosen by whoever submits it, so without a guard any
 * caller could make a worker fetch its cloud metadata, Redis, or an admin
 * page on the private network and read the answer back from the job's result
 * (SSRF). By default only public unicast addresses are allowed; loopback,
 * private, link-local, CGNAT, multicast, unspecified, reserved and other
 * special ranges (as `ipaddr.js` classifies them), IPv4-mapped or NAT64
 * forms of those, and the cloud metadata endpoints are refused.
 *
 * The operator opens holes with `OUTBOUND_ALLOW`, a comma list whose entries
 * each allow the destinations they match:
 * - `hooks.internal` — that host name (as written in the URL), any port;
 * - `hooks.internal:8443` — that host name on that port;
 * - `10.0.0.0/8`, `127.0.0.1`, `::1` — addresses in that range (or that one), any port;
 * - `127.0.0.1:9000`, `[::1]:9000` — that address on that port;
 * - `8080` (or `:8080`) — any destination on that port.
 *
 * The checks here are pure; `guarded_http.ts` and the SMTP transport apply
 * them to the address each connection actually uses.
 *
 * @module
 */
import ipaddr from "ipaddr.js";
import { NonRetryableError } from "./definition.ts";

/** Metadata services that sit on otherwise public or unusual addresses. */
const METADATA_ADDRESSES = [
  "169.254.169.254", // AWS, GCP, Azure, OpenStack, DigitalOcean...
  "169.254.170.2", // AWS ECS task metadata
  "168.63.129.16", // Azure WireServer: a public-range address, so named here
  "100.100.100.200", // Alibaba Cloud
  "192.0.0.192", // Oracle Cloud
  "fd00:ec2::254", // AWS over IPv6
];

/** One parsed `OUTBOUND_ALLOW` entry. */
export type AllowEntry =
  | { kind: "host"; host: string; port?: number }
  | { kind: "range"; range: [ipaddr.IPv4 | ipaddr.IPv6, number]; port?: number }
  | { kind: "port"; port: number };

/** The parsed allow list. */
export interface OutboundPolicy {
  readonly allow: readonly AllowEntry[];
}

/** A destination as a connection sees it. */
export interface Destination {
  /** The host as written in the URL (lower case, IPv6 without brackets). */
  hostname: string;
  port: number;
  /** The IP address the connection uses (a resolved one for a host name). */
  address: string;
}

/** A refused destination: never worth retrying, so the job fails at once. */
export class OutboundRefusedError extends NonRetryableError {
  constructor(message: string) {
    super(message);
    this.name = "OutboundRefusedError";
  }
}

function parsePort(text: string, entry: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new Error(`OUTBOUND_ALLOW entry ${JSON.stringify(entry)}: bad port ${text}`);
  }
  return port;
}

function parseRange(text: string): [ipaddr.IPv4 | ipaddr.IPv6, number] | null {
  if (text.includes("/")) {
    if (!ipaddr.isValidCIDR(text)) return null;
    const [addr, bits] = ipaddr.parseCIDR(text);
    // A range of IPv4-mapped addresses means the IPv4 range, as addresses are compared.
    if (addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
      return [(addr as ipaddr.IPv6).toIPv4Address(), bits - 96];
    }
    return [addr, bits];
  }
  if (!isIpLiteral(text)) return null;
  const addr = ipaddr.process(text);
  return [addr, addr.kind() === "ipv4" ? 32 : 128];
}

/** Parses one entry; throws with the entry named when it is malformed. */
export function parseAllowEntry(raw: string): AllowEntry {
  const entry = raw.trim().toLowerCase();
  if (/^:?\d+$/.test(entry)) return { kind: "port", port: parsePort(entry.replace(":", ""), raw) };
  const range = parseRange(entry);
  if (range) return { kind: "range", range };
  // [v6]:port, a.b.c.d:port, cidr:port or host:port
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) {
    const inner = parseRange(bracketed[1]);
    if (!inner) throw new Error(`OUTBOUND_ALLOW entry ${JSON.stringify(raw)}: bad IPv6 address`);
    return bracketed[2] === undefined
      ? { kind: "range", range: inner }
      : { kind: "range", range: inner, port: parsePort(bracketed[2], raw) };
  }
  const colon = entry.lastIndexOf(":");
  const head = colon >= 0 ? entry.slice(0, colon) : entry;
  const port = colon >= 0 ? parsePort(entry.slice(colon + 1), raw) : undefined;
  const headRange = parseRange(head);
  if (headRange) return { kind: "range", range: headRange, port };
  if (!/^[a-z0-9_]([a-z0-9_.-]{0,252})$/.test(head) || head.includes("..")) {
    throw new Error(`OUTBOUND_ALLOW entry ${JSON.stringify(raw)}: not a host, port or CIDR`);
  }
  return { kind: "host", host: head.replace(/\.$/, ""), port };
}

const policies = new Map<string, OutboundPolicy>();

/**
 * Parses `OUTBOUND_ALLOW` entries (cached per distinct list: handlers call it per job).
 *
 * @example
 * ```ts
 * const policy = outboundPolicy(["127.0.0.1:8080", "hooks.internal", "10.0.0.0/8"]);
 * ```
 */
export function outboundPolicy(entries: readonly string[]): OutboundPolicy {
  const key = entries.join(",");
  let policy = policies.get(key);
  if (!policy) {
    policy = { allow: entries.filter((e) => e.trim() !== "").map(parseAllowEntry) };
    if (policies.size > 16) policies.clear();
    policies.set(key, policy);
  }
  return policy;
}

/** True for a URL host that is an IP address (IPv6 with or without brackets). */
export function isIpLiteral(host: string): boolean {
  const h = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  return ipaddr.IPv4.isValidFourPartDecimal(h) || (h.includes(":") && ipaddr.IPv6.isValid(h));
}

/**
 * Why `address` is not a public destination (its range name, e.g. "loopback"),
 * or null when it is one. IPv4-mapped IPv6 addresses count as their IPv4 form.
 */
export function specialRange(address: string): string | null {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.process(address.replace(/^\[|\]$/g, ""));
  } catch {
    return "invalid";
  }
  if (METADATA_ADDRESSES.some((m) => ipaddr.process(m).toString() === ip.toString())) {
    return "cloud metadata";
  }
  const range = ip.range();
  return range === "unicast" ? null : range;
}

function entryMatches(entry: AllowEntry, d: Destination): boolean {
  if (entry.kind === "port") return entry.port === d.port;
  if (entry.port !== undefined && entry.port !== d.port) return false;
  if (entry.kind === "host") return entry.host === d.hostname.toLowerCase().replace(/\.$/, "");
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.process(d.address);
  } catch {
    return false;
  }
  const [net, bits] = entry.range;
  return ip.kind() === net.kind() && ip.match(net, bits);
}

/** True when an `OUTBOUND_ALLOW` entry matches the destination. */
export function isAllowed(policy: OutboundPolicy, d: Destination): boolean {
  return policy.allow.some((e) => entryMatches(e, d));
}

function describe(d: Destination): string {
  const host = d.hostname.includes(":") ? `[${d.hostname}]` : d.hostname;
  const via = d.address === d.hostname.replace(/^\[|\]$/g, "") ? "" : ` (${d.address})`;
  return `${host}:${d.port}${via}`;
}

/**
 * Why the guard refuses `d`, or null when it may be reached: public
 * addresses always may, others only when an allow entry matches.
 */
export function refusal(policy: OutboundPolicy, d: Destination): string | null {
  const range = specialRange(d.address);
  if (range === null || isAllowed(policy, d)) return null;
  return `outbound connection to ${describe(d)} refused: ${range} address; ` +
    `the operator can allow it with OUTBOUND_ALLOW`;
}

/** Throws OutboundRefusedError when the guard refuses `d`. */
export function assertAllowed(policy: OutboundPolicy, d: Destination): void {
  const reason = refusal(policy, d);
  if (reason !== null) throw new OutboundRefusedError(reason);
}

const DEFAULT_PORTS: Record<string, number> = {
  "http:": 80,
  "https:": 443,
  "smtp:": 25,
  "smtps:": 465,
};

/** The port a URL connects to (its scheme's default when it names none). */
export function defaultPort(url: URL): number {
  return url.port ? Number(url.port) : DEFAULT_PORTS[url.protocol] ?? 80;
}

/**
 * The submit-time check: a URL whose host is an IP literal the guard refuses
 * is refused before anything is stored (host names are checked when the job
 * runs, against what they resolve to then).
 */
export function literalRefusal(policy: OutboundPolicy, url: URL): string | null {
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  if (!isIpLiteral(hostname)) return null;
  return refusal(policy, { hostname, port: defaultPort(url), address: hostname });
}
