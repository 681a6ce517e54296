/**
 * A JobContext for calling handlers directly in tests.
 *
 * @module
 */
import type { JobContext } from "../../src/jobs/definition.ts";
import { trace } from "@opentelemetry/api";

/** A context plus what the handler reported through it. */
export interface FakeContext {
  ctx: JobContext;
  progress: number[];
  logs: Array<{ level: string; message: string }>;
  controller: AbortController;
}

/** Builds a context; abort `controller` to cancel the job. */
export function fakeContext(overrides: { jobId?: string; type?: string } = {}): FakeContext {
  const controller = new AbortController();
  const progress: number[] = [];
  const logs: Array<{ level: string; message: string }> = [];
  const line = (level: string) => (message: string) => void logs.push({ level, message });
  const ctx: JobContext = {
    jobId: overrides.jobId ?? crypto.randomUUID(),
    type: overrides.type ?? "test",
    attempt: 1,
    maxAttempts: 3,
    signal: controller.signal,
    log: { debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error") },
    progress: (p) => void progress.push(p),
    dependencies: [],
    resultsOf: () => [],
    tracer: trace.getTracer("test"),
  };
  return { ctx, progress, logs, controller };
}

/** A local HTTP server on a free port, closed by `close()`. */
export function localServer(handler: (req: Request) => Response | Promise<Response>) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    close: () => server.shutdown(),
  };
}
