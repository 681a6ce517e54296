/**
 * A webhook receiver for the tests: an HTTP server on 127.0.0.1 that
 * verifies every request's signature with the `standardwebhooks` package
 * (a request that does not verify is recorded as such and answered 400), and
 * answers as the test scripts it (e.g. 503 twice, then 200).
 *
 * @module
 */
import { Webhook } from "standardwebhooks";

/** One request the receiver got. */
export interface Received {
  id: string;
  timestamp: string;
  verified: boolean;
  /** The verified payload (null when it did not verify). */
  body: { type: string; timestamp: string; data: Record<string, unknown> } | null;
  status: number;
  at: number;
}

/** A running receiver. */
export interface Receiver {
  url: string;
  received: Received[];
  /** Resolves once `n` requests were answered 2xx. */
  accepted(n: number, timeoutMs?: number): Promise<Received[]>;
  /** Resolves once `n` requests arrived (any answer). */
  requests(n: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/**
 * Starts a receiver verifying with `secret`; `answer(n)` is the status of
 * the n-th request (0-based; default 200).
 */
export function startReceiver(
  secret: string | (() => string),
  answer: (n: number, id: string) => number | { status: number; headers?: Record<string, string> } =
    () => 200,
): Receiver {
  const received: Received[] = [];
  const waiters: Array<() => void> = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const text = await req.text();
    const headers = Object.fromEntries(req.headers);
    let body: Received["body"] = null;
    try {
      const key = typeof secret === "string" ? secret : secret();
      body = new Webhook(key).verify(text, headers) as Received["body"];
    } catch {
      body = null;
    }
    const scripted = answer(received.length, headers["webhook-id"] ?? "");
    const reply = typeof scripted === "number" ? { status: scripted } : scripted;
    const status = body ? reply.status : 400;
    received.push({
      id: headers["webhook-id"] ?? "",
      timestamp: headers["webhook-timestamp"] ?? "",
      verified: body !== null,
      body,
      status,
      at: Date.now(),
    });
    for (const w of waiters.splice(0)) w();
    return new Response(status < 300 ? "ok" : "no", { status, headers: reply.headers });
  });
  const until = async (check: () => boolean, timeoutMs: number, what: string) => {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) {
        throw new Error(`receiver: ${what} not reached; got ${JSON.stringify(received)}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  };
  return {
    url: `http://127.0.0.1:${server.addr.port}/hook`,
    received,
    async accepted(n, timeoutMs = 10_000) {
      const ok = () => received.filter((r) => r.status < 300);
      await until(() => ok().length >= n, timeoutMs, `${n} accepted`);
      return ok();
    },
    async requests(n, timeoutMs = 10_000) {
      await until(() => received.length >= n, timeoutMs, `${n} requests`);
      return received;
    },
    async close() {
      await server.shutdown();
    },
  };
}
