/**
 * Live feed: Server-Sent Events from /api/v1/events (read with `fetch`, so
 * the API key travels in a header: sse.js), falling back to polling
 * /api/v1/stats every 2 s when the stream is unavailable (and trying the
 * stream again later).
 *
 * @module
 */
import { getStats } from "./api.js";
import { authHeaders, onUnauthorized } from "./auth.js";
import { openEventStream } from "./sse.js";

const POLL_MS = 2000;
const STALE_MS = 5000;
const RETRY_SSE_MS = 30000;

/**
 * @typedef {"connecting" | "live" | "polling" | "offline"} Mode
 * @typedef {{
 *   onStats: (stats: any) => void,
 *   onJobEvent: (event: any) => void,
 *   onMode: (mode: Mode) => void,
 * }} LiveHandlers
 */

/**
 * Starts the feed; returns a function that stops it.
 *
 * @param {LiveHandlers} handlers
 * @returns {() => void}
 */
export function startLive(handlers) {
  /** @type {{close: () => void} | null} */
  let source = null;
  /** @type {ReturnType<typeof setInterval> | null} */
  let pollTimer = null;
  /** @type {ReturnType<typeof setTimeout> | null} */
  let retryTimer = null;
  let lastStatsAt = 0;
  let stopped = false;

  /** @param {Mode} mode */
  const setMode = (mode) => handlers.onMode(mode);

  const poll = async () => {
    try {
      handlers.onStats(await getStats());
      setMode("polling");
    } catch {
      setMode("offline");
    }
  };

  const startPolling = () => {
    if (pollTimer !== null || stopped) return;
    poll();
    pollTimer = setInterval(poll, POLL_MS);
    retryLater(RETRY_SSE_MS);
  };

  /** @param {number} ms */
  const retryLater = (ms) => {
    if (retryTimer !== null || stopped) return;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      openStream();
    }, ms);
  };

  const stopPolling = () => {
    if (pollTimer !== null) clearInterval(pollTimer);
    pollTimer = null;
  };

  const closeStream = () => {
    source?.close();
    source = null;
  };

  const openStream = () => {
    if (stopped) return;
    if (typeof fetch !== "function" || typeof TextDecoderStream !== "function") {
      return startPolling();
    }
    closeStream();
    if (pollTimer === null) setMode("connecting");
    const stream = openEventStream("/api/v1/events?batch=1", authHeaders(), {
      onOpen: () => {},
      onMessage: (event, data) => {
        try {
          if (event === "stats") {
            lastStatsAt = Date.now();
            stopPolling();
            setMode("live");
            handlers.onStats(JSON.parse(data));
          } else if (event === "batch") {
            // One message a second, whatever the load (sse.ts): stats and the jobs that moved.
            const batch = JSON.parse(data);
            lastStatsAt = Date.now();
            stopPolling();
            setMode("live");
            if (batch.stats) handlers.onStats(batch.stats);
            for (const e of batch.jobs ?? []) handlers.onJobEvent(e);
          } else if (event === "job") handlers.onJobEvent(JSON.parse(data));
        } catch {
          // a malformed frame: wait for the next one
        }
      },
      onClose: ({ status, retryMs }) => {
        if (source === stream) source = null;
        if (status === 401) onUnauthorized();
        // Keep the numbers fresh meanwhile; reconnect soon after a drop (as
        // EventSource would), later when refused (too many clients, no scope).
        retryLater(status === 0 ? retryMs : RETRY_SSE_MS);
        startPolling();
      },
    });
    source = stream;
  };

  // Stream open but silent (a proxy buffering it, a 503 for too many clients):
  // fall back to polling until stats flow again.
  const watchdog = setInterval(() => {
    if (Date.now() - lastStatsAt > STALE_MS) startPolling();
  }, STALE_MS);

  openStream();
  return () => {
    stopped = true;
    clearInterval(watchdog);
    stopPolling();
    if (retryTimer !== null) clearTimeout(retryTimer);
    closeStream();
  };
}
