/// <reference lib="deno.worker" />
/**
 * Entry of an extra API isolate (see `api_threads.ts`): serves the same app
 * on the same port (SO_REUSEPORT) with its own broker, answers the first
 * isolate's requests for its HTTP metrics, and relays `/metrics` scrapes to
 * it.
 *
 * @module
 */
import { createLogger } from "../log.ts";
import { defaultHttpMetrics } from "../metrics/api_metrics.ts";
import { type ApiServer, serveApi } from "./api.ts";
import {
  type FromApiThread,
  PEER_TIMEOUT_MS,
  PendingCalls,
  type ToApiThread,
} from "./api_threads.ts";

const post = (message: FromApiThread) => self.postMessage(message);
const relayed = new PendingCalls<string>();
let server: ApiServer | null = null;

/** The first isolate's `/metrics` text. */
function relayMetrics(): Promise<string> {
  const { id, reply } = relayed.open(PEER_TIMEOUT_MS * 2);
  post({ kind: "metrics_text", id });
  return reply;
}

self.onmessage = async (event: MessageEvent<ToApiThread>) => {
  const m = event.data;
  switch (m.kind) {
    case "start": {
      const log = createLogger({
        level: m.config.LOG_LEVEL,
        format: m.config.LOG_FORMAT,
        fields: { role: "api", isolate: m.index },
      });
      try {
        server = await serveApi(m.config, m.redisUrl, log, {
          peer: { port: m.port, relayMetrics },
        });
        post({ kind: "listening" });
      } catch (error) {
        post({ kind: "failed", error: String(error) });
      }
      break;
    }
    case "http_metrics":
      post({
        kind: "http_metrics",
        id: m.id,
        metrics: await defaultHttpMetrics.registry.getMetricsAsJSON(),
      });
      break;
    case "metrics_text":
      if (m.text !== undefined) relayed.settle(m.id, m.text);
      else relayed.fail(m.id, new Error(m.error ?? "metrics unavailable"));
      break;
    case "stop":
      await server?.shutdown();
      post({ kind: "stopped" });
      break;
  }
};
