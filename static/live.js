/**
 * Live feed: Server-Sent Events from /api/v1/events, falling back to polling
 * /api/v1/stats every 2 s when the stream is unavailable (and trying the
 * stream again later).
 *
 * @module
 */
import { getStats } from "./api.js";

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
  /** @type {EventSource | null} */
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
    if (retryTimer === null && typeof EventSource === "function") {
      retryTimer = setTimeout(() => {
        retryTimer = null;
        openStream();
      }, RETRY_SSE_MS);
    }
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
    if (typeof EventSource !== "function") return startPolling();
    closeStream();
    setMode("connecting");
    const es = new EventSource("/api/v1/events");
    source = es;
    es.addEventListener("stats", (e) => {
      lastStatsAt = Date.now();
      stopPolling();
      setMode("live");
      try {
        handlers.onStats(JSON.parse(/** @type {MessageEvent} */ (e).data));
      } catch {
        // a malformed frame: wait for the next one
      }
    });
    es.addEventListener("job", (e) => {
      try {
        handlers.onJobEvent(JSON.parse(/** @type {MessageEvent} */ (e).data));
      } catch {
        // ignore malformed frames
      }
    });
    es.addEventListener("error", () => {
      // EventSource reconnects by itself; meanwhile keep the numbers fresh.
      if (es.readyState === EventSource.CLOSED) closeStream();
      startPolling();
    });
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
