/**
 * A log sink for worker processes that writes stdout lines in batches. The
 * healthy path of a job logs at debug, so at the default level a worker
 * writes little; but whenever it does write a line per job or more (e.g.
 * `LOG_LEVEL=debug`: enqueued, started, progress and completed lines; or
 * handlers logging through `ctx.log`), each `console.log` is its own
 * synchronous write, ~8–10 µs per line to a pipe (measured on Deno 2.9.6),
 * which at two lines per job was a quarter of the worker's CPU per job. Here
 * lines queue and leave in one write once the current task's microtasks are
 * done (~0.5 µs per line), or at once past `maxBufferedChars`.
 *
 * Warnings and errors still go to stderr at once, after whatever stdout lines
 * came before them, so the relative order of the two streams is kept. Call
 * `flush()` before `Deno.exit`; an `unload` listener also flushes.
 *
 * @module
 */
import type { LogLevel, LogSink } from "../log.ts";
import { afterMicrotasks } from "../timing/after_microtasks.ts";

/** A sink and its flush. */
export interface BufferedSink {
  sink: LogSink;
  /** Writes every queued stdout line now. */
  flush(): void;
}

/** Where a buffered sink writes; tests replace the real streams. */
export interface SinkTargets {
  stdout(bytes: Uint8Array): void;
  stderr(bytes: Uint8Array): void;
}

function writeAll(file: { writeSync(p: Uint8Array): number }, bytes: Uint8Array): void {
  try {
    let off = 0;
    while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
  } catch {
    // A closed or broken pipe loses the logs, never the worker.
  }
}

const STD_TARGETS: SinkTargets = {
  stdout: (bytes) => writeAll(Deno.stdout, bytes),
  stderr: (bytes) => writeAll(Deno.stderr, bytes),
};

/**
 * Creates a buffered sink.
 *
 * @example
 * ```ts
 * const out = bufferedSink();
 * const log = createLogger({ sink: out.sink });
 * log.info("worker started");
 * out.flush();
 * Deno.exit(0);
 * ```
 */
export function bufferedSink(
  targets: SinkTargets = STD_TARGETS,
  maxBufferedChars = 64 * 1024,
): BufferedSink {
  const encoder = new TextEncoder();
  let lines: string[] = [];
  let chars = 0;
  let scheduled = false;
  const flush = () => {
    if (lines.length === 0) return;
    const text = lines.join("\n") + "\n";
    lines = [];
    chars = 0;
    targets.stdout(encoder.encode(text));
  };
  const onTask = () => {
    scheduled = false;
    flush();
  };
  const sink: LogSink = (line: string, level: LogLevel) => {
    if (level === "error" || level === "warn") {
      flush();
      targets.stderr(encoder.encode(line + "\n"));
      return;
    }
    lines.push(line);
    chars += line.length;
    if (chars >= maxBufferedChars) flush();
    else if (!scheduled) {
      scheduled = true;
      afterMicrotasks(onTask);
    }
  };
  if (targets === STD_TARGETS) globalThis.addEventListener("unload", flush);
  return { sink, flush };
}
