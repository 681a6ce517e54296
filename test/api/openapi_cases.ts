/**
 * Seeded generators of requests around the API's boundaries, for the
 * OpenAPI agreement test. They only choose values; whether a request is
 * valid is for the published document to say. Pools mix values on both sides
 * of each limit; `usual` values come more often than `odd` ones so that both
 * valid and invalid requests are frequent.
 *
 * @module
 */
import { MAX_DELAY_MS } from "../../src/api/schemas.ts";

/** A small deterministic PRNG (mulberry32). */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
}

/** Values of one field: `usual` ones are drawn three times as often as `odd` ones. */
interface Pool {
  usual: readonly unknown[];
  odd: readonly unknown[];
}

function draw(rng: Rng, pool: Pool): unknown {
  return rng.chance(0.75) || pool.odd.length === 0 ? rng.pick(pool.usual) : rng.pick(pool.odd);
}

/** Sets optional fields: each is left out with probability `absent`, else drawn. */
function fill(
  rng: Rng,
  target: Record<string, unknown>,
  pools: Record<string, Pool>,
  absent = 0.6,
) {
  for (const [name, pool] of Object.entries(pools)) {
    if (!rng.chance(absent)) target[name] = draw(rng, pool);
  }
}

let unique = 0;
/** A string no earlier call returned (idempotency keys that do not replay by accident). */
function fresh(prefix: string): string {
  return `${prefix}-${(unique++).toString(36)}-${Date.now().toString(36)}`;
}

function deep(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

const LONG_URL = "https://example.com/" + "p".repeat(2048 - 20);

const HTTP_URLS: Pool = {
  usual: ["https://example.com/hook", "http://127.0.0.1:9/x?y=1", "HTTPS://EXAMPLE.COM/UP"],
  odd: [
    LONG_URL, // exactly 2048
    LONG_URL + "q", // 2049
    " http://example.com/padded ",
    "http://exämple.com/ä",
    "http://example.com/a b",
    "http://\texample.com/tab",
    "http:example.com",
    "http://",
    "http://example.com:99999/",
    "http://[::1",
    "ftp://example.com/file",
    "javascript:alert(1)",
    "//example.com/no-scheme",
    "example.com",
    "",
    42,
    null,
  ],
};

const DESTINATIONS: Pool = {
  usual: ["s3://bucket/output", "file:///tmp/jq-openapi-test.json"],
  odd: [
    " s3://bucket/padded",
    "mailto:ops@example.com",
    "urn:isbn:0451450523",
    "/tmp/relative.json",
    "bucket/output",
    "http:",
    "s3://[bad",
    "",
    "s3://b/" + "k".repeat(2048 - 7),
    "s3://b/" + "k".repeat(2048 - 6),
    7,
  ],
};

const EMAILS: Pool = {
  usual: ["user@example.com", "first.last+tag@mail.example.org"],
  odd: [
    "not-an-email",
    "a@x-.co",
    "a..b@example.com",
    "a@example",
    "",
    "a".repeat(243) + "@example.com",
    "a".repeat(242) + "@example.com",
    5,
  ],
};

function computePayload(rng: Rng): Record<string, unknown> {
  const p: Record<string, unknown> = {
    duration_ms: draw(rng, { usual: [0, 1, 250], odd: [600_000, 600_001, -1, 1.5, "10", null] }),
  };
  fill(rng, p, { mode: { usual: ["sleep", "cpu"], odd: ["gpu", "", 1] } });
  if (rng.chance(0.05)) delete p.duration_ms;
  return p;
}

function emailPayload(rng: Rng): Record<string, unknown> {
  const p: Record<string, unknown> = {
    to: draw(rng, EMAILS),
    from: draw(rng, EMAILS),
    subject: draw(rng, {
      usual: ["Welcome!", ""],
      odd: ["line\r\nbreak", "nul\0byte", "s".repeat(998), "s".repeat(999), 3],
    }),
    body: draw(rng, { usual: ["Thanks for signing up", ""], odd: [["not", "text"], null] }),
  };
  fill(rng, p, {
    cc: {
      usual: [["cc@example.com"], []],
      odd: [Array(50).fill("cc@example.com"), Array(51).fill("cc@example.com"), ["bad"], "x"],
    },
  }, 0.8);
  if (rng.chance(0.05)) delete p[rng.pick(["to", "from", "subject", "body"])];
  return p;
}

function webhookPayload(rng: Rng): Record<string, unknown> {
  const p: Record<string, unknown> = { url: draw(rng, HTTP_URLS) };
  fill(rng, p, {
    method: { usual: ["POST", "GET", "PUT", "HEAD"], odd: ["PATCH", "DELETE", "TRACE", "get"] },
    headers: {
      usual: [{ "X-Token": "abc" }, {}],
      odd: [{ "bad name": "v" }, { "X-Nl": "a\nb" }, { "X-Latin": "café" }, {
        "X-Long": "v".repeat(8193),
      }],
    },
    body: {
      usual: ["plain text", { event: "signup" }],
      odd: [null, [1, 2], deep(60), deep(70)],
    },
    timeout_ms: { usual: [1, 10_000], odd: [300_000, 300_001, 0, 2.5] },
  });
  return p;
}

function dataProcessPayload(rng: Rng): Record<string, unknown> {
  const p: Record<string, unknown> = {
    source_url: draw(rng, HTTP_URLS),
    operation: draw(rng, { usual: ["filter", "transform", "aggregate"], odd: ["sort", ""] }),
  };
  fill(rng, p, {
    filters: { usual: [{ status: "active" }, {}], odd: [{ "": 1 }, { ["k".repeat(257)]: 1 }, []] },
    destination: DESTINATIONS,
    fields: { usual: [["id", "user.name"]], odd: [[""], "id"] },
    rename: { usual: [{ id: "key" }], odd: [{ id: "" }] },
    group_by: { usual: ["country"], odd: ["", 3] },
    metrics: {
      usual: [[{ op: "count" }], [{ op: "sum", field: "amount", as: "total" }]],
      odd: [[{ op: "sum" }], [], [{ op: "median", field: "x" }], [{ op: "count", extra: 1 }]],
    },
    timeout_ms: { usual: [30_000], odd: [0, 300_001] },
  });
  return p;
}

const PAYLOADS: Record<string, (rng: Rng) => Record<string, unknown>> = {
  compute: computePayload,
  email: emailPayload,
  webhook: webhookPayload,
  data_process: dataProcessPayload,
};

const KNOWN_TYPES = Object.keys(PAYLOADS);

/** Sets an own enumerable property, even one named `__proto__`. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** One submit request body (also a batch item). */
export function submitBody(rng: Rng, options: { cheap?: boolean } = {}): unknown {
  if (rng.chance(0.02)) return rng.pick([null, [], "job", 1]);
  const typeRoll = rng.next();
  const type = typeRoll < 0.9
    ? (options.cheap ? "compute" : rng.pick(KNOWN_TYPES))
    : rng.pick(["fax", "", "x".repeat(129), "Email", 42]);
  const body: Record<string, unknown> = { type };
  const known = typeof type === "string" && type in PAYLOADS;
  body.payload = known ? PAYLOADS[type](rng) : { anything: true };
  if (rng.chance(0.03)) delete body.payload;
  if (rng.chance(0.03)) body.payload = rng.pick([null, "text", [1]]);
  if (rng.chance(0.03)) delete body.type;
  fill(rng, body, {
    priority: { usual: [0, 5, 100], odd: [-1, 101, 5.5, "5", null] },
    max_attempts: { usual: [1, 3, 100], odd: [0, 101, 2.5] },
    timeout_ms: { usual: [1, 60_000, 86_400_000], odd: [0, 86_400_001, -5] },
    delay_ms: { usual: [0, 60_000, MAX_DELAY_MS], odd: [MAX_DELAY_MS + 1, -1, 0.5, "10"] },
    run_at: {
      usual: ["2999-01-01T00:00:00Z", "2020-01-01T00:00:00.000Z", "2030-06-01T12:00:00+02:00"],
      odd: [
        "2024-02-30T00:00:00Z",
        "2024-01-01T00:00:00",
        "2024-01-01t00:00:00z",
        "0000-01-01T00:00:00Z",
        "tomorrow",
        "",
        1_700_000_000_000,
      ],
    },
    backoff: {
      usual: [{ kind: "exponential", base_ms: 1000, factor: 2, max_ms: 60_000, jitter: 0.1 }],
      odd: [
        { kind: "linear", base_ms: 1000, factor: 2, max_ms: 60_000, jitter: 0.1 },
        { kind: "polynomial", base_ms: 1000, factor: 2, max_ms: 60_000, jitter: 1.5 },
        { kind: "polynomial", base_ms: 1000, factor: 2, max_ms: 60_000 },
        { kind: "polynomial", base_ms: 1, factor: 1, max_ms: 1, jitter: 0, extra: true },
      ],
    },
    idempotency_key: {
      usual: [fresh("body")],
      odd: ["k".repeat(256), "k".repeat(257), "", "has space", "é", 42],
    },
  }, 0.7);
  if (rng.chance(0.05)) {
    setOwn(body, rng.pick(["extra", "__proto__", "Type", "id", "queue"]), rng.pick([1, null, "x"]));
  }
  return body;
}

/** An Idempotency-Key header value, or undefined for none. */
export function idempotencyKeyHeader(rng: Rng): string | undefined {
  if (rng.chance(0.6)) return undefined;
  return draw(rng, {
    usual: [fresh("hdr"), "a", fresh("h").padEnd(256, "x"), "a,b;c=d"],
    odd: [
      fresh("h").padEnd(257, "x"),
      "",
      "has space",
      "  padded  ",
      "\x7f",
      "caf\u00e9",
      "a\x01b",
    ],
  }) as string;
}

/** A batch body: its size and items around the limits. */
export function batchBody(rng: Rng): unknown {
  const roll = rng.next();
  if (roll < 0.04) return rng.pick([null, [], "jobs", { jobs: "x" }, { jobs: {} }, {}]);
  const size = roll < 0.08 ? 0 : roll < 0.1 ? 1000 : roll < 0.12 ? 1001 : rng.int(1, 5);
  // Large batches stay cheap to validate and store: compute jobs, few invalid ones.
  const cheap = size > 5;
  const jobs = Array.from({ length: size }, () => {
    if (cheap && rng.chance(0.995)) return { type: "compute", payload: { duration_ms: 1 } };
    return submitBody(rng, { cheap });
  });
  const body: Record<string, unknown> = { jobs };
  if (rng.chance(0.04)) body[rng.pick(["extra", "job"])] = 1;
  return body;
}

const LIMITS = {
  usual: ["1", "50", "500"],
  odd: ["0", "501", "-1", "1.5", "abc", "", "1e2", " 7", "Infinity", "10 ", "0x10"],
};

/** A `GET /jobs` query; `cursors` are ones the server handed out, by status. */
export function listQuery(rng: Rng, cursors: Map<string, string[]>): URLSearchParams {
  const q = new URLSearchParams();
  const status = rng.chance(0.2) ? undefined : draw(rng, {
    usual: ["pending", "scheduled", "running", "completed", "failed", "cancelled"],
    odd: ["", "PENDING", "dead", "failed,completed"],
  }) as string;
  if (status !== undefined) q.set("status", status);
  if (rng.chance(0.4)) {
    q.set(
      "type",
      draw(rng, {
        usual: ["compute", "email", "nope"],
        odd: ["", "t".repeat(128), "t".repeat(129)],
      }) as string,
    );
  }
  if (rng.chance(0.2)) {
    q.set(
      "group",
      draw(rng, {
        usual: ["A", "<b>g</b>", "é".repeat(128)],
        odd: ["", "g".repeat(257), "é".repeat(129)],
      }) as string,
    );
  }
  if (rng.chance(0.5)) q.set("limit", draw(rng, LIMITS) as string);
  if (rng.chance(0.4)) {
    const issued = cursors.get(status ?? "pending") ?? [];
    const cursor = issued.length && rng.chance(0.6)
      ? rng.pick(issued)
      : rng.pick(["", "c".repeat(513), "abc", "c".repeat(512), "UDA6MQ.bm90LWEtdXVpZA"]);
    q.set("cursor", cursor);
  }
  if (rng.chance(0.08)) q.set(rng.pick(["page", "Status", "offset", "cursor2"]), "1");
  return q;
}

/** A `DELETE /jobs` query. */
export function purgeQuery(rng: Rng): URLSearchParams {
  const q = new URLSearchParams();
  if (!rng.chance(0.1)) {
    q.set(
      "status",
      draw(rng, {
        usual: ["failed", "completed", "cancelled"],
        odd: ["pending", "", "running", "FAILED"],
      }) as string,
    );
  }
  if (rng.chance(0.1)) q.set(rng.pick(["all", "type", "limit"]), "1");
  return q;
}
