/**
 * Server-Sent Events over `fetch`, so the stream can carry the API key in an
 * `Authorization` header (EventSource cannot set headers, and a key in the
 * URL would end up in logs and history). Parses the text/event-stream format
 * (`event:`, `data:`, `id:`, `retry:`, comments) as the HTML standard does.
 *
 * @module
 */

/**
 * @typedef {{
 *   onOpen: () => void,
 *   onMessage: (event: string, data: string, id: string) => void,
 *   onClose: (info: {status: number, retryMs: number}) => void,
 * }} StreamHandlers
 */

/**
 * Opens `url` as an event stream; `onClose` fires once when it ends (a
 * non-200 answer: its status; a drop: status 0), unless `close()` was called.
 *
 * @param {string} url
 * @param {Record<string, string>} headers
 * @param {StreamHandlers} handlers
 * @returns {{close: () => void}}
 */
export function openEventStream(url, headers, handlers) {
  const abort = new AbortController();
  let closed = false;
  let retryMs = 2000;
  const finish = (/** @type {number} */ status) => {
    if (closed) return;
    closed = true;
    handlers.onClose({ status, retryMs });
  };
  (async () => {
    const res = await fetch(url, {
      headers: { accept: "text/event-stream", ...headers },
      signal: abort.signal,
      cache: "no-store",
    });
    if (res.status !== 200 || !res.body) {
      await res.body?.cancel().catch(() => {});
      return finish(res.status);
    }
    handlers.onOpen();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let event = "";
    let data = [];
    let id = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop() ?? ""; // an unfinished line waits for the next chunk
      for (const line of lines) {
        if (line === "") {
          if (data.length) handlers.onMessage(event || "message", data.join("\n"), id);
          event = "";
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue; // a comment (keep-alive)
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let text = colon < 0 ? "" : line.slice(colon + 1);
        if (text.startsWith(" ")) text = text.slice(1);
        if (field === "event") event = text;
        else if (field === "data") data.push(text);
        else if (field === "id") id = text;
        else if (field === "retry" && /^\d+$/.test(text)) retryMs = Number(text);
      }
    }
    finish(0);
  })().catch(() => finish(0));
  return {
    close() {
      closed = true;
      abort.abort();
    },
  };
}
