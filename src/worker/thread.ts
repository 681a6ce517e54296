/// <reference lib="deno.worker" />
/**
 * The Web Worker entry. Loads the job registry, then runs every job it is sent
 * concurrently (one thread serves many I/O-bound jobs), each with its own
 * AbortController, and reports results, progress and log lines back in
 * batches. It only ever talks by messages; it never sees Redis or leases.
 *
 * The pool starts it through a small generated entry that statically imports
 * the extra job modules first: a dynamic `import()` of a local file needs read
 * permission, which restricted threads do not have, but one of a module that
 * is already loaded does not.
 *
 * @module
 */
import { type JobRegistry, loadRegistry } from "../jobs/registry.ts";
import { configureJobSettings } from "../jobs/job_settings.ts";
import { executeJob } from "./execute.ts";
import {
  type AbortReason,
  type FromThread,
  type LogLine,
  type ProgressUpdate,
  type RunRequest,
  type RunResult,
  type ToThread,
} from "./messages.ts";
import { Batcher } from "../timing/batcher.ts";
import type { ThreadTracing } from "../tracing/thread_tracing.ts";
import type { WireSpan } from "../tracing/span_wire.ts";
import type { SpanLimits } from "@opentelemetry/sdk-trace";

/**
 * Tracing, when the process asked for it. The module is already loaded then
 * (the pool's entry imports it), so this import needs no permission; when
 * tracing is off nothing of the SDK is loaded here.
 */
async function startTracing(spanLimits: SpanLimits | undefined): Promise<void> {
  if (spanLimits === undefined) return;
  const { startThreadTracing } = await import("../tracing/thread_tracing.ts");
  tracing = startThreadTracing((span) => spans.push(span), spanLimits);
}

const post = (message: FromThread) => self.postMessage(message);
const results = new Batcher<RunResult>((items) => post({ kind: "results", results: items }));
const progress = new Batcher<ProgressUpdate>((items) => post({ kind: "progress", updates: items }));
const logs = new Batcher<LogLine>((items) => post({ kind: "log", lines: items }));
const hooks = {
  log: (line: LogLine) => logs.push(line),
  progress: (id: string, percent: number) => progress.push({ id, percent }),
};

/** Set at init when the process traces (`src/tracing/thread_tracing.ts`). */
let tracing: ThreadTracing | undefined;
const spans = new Batcher<WireSpan>((items) => post({ kind: "spans", spans: items }));

const running = new Map<string, AbortController>();
let registry: Promise<JobRegistry> | null = null;

function abortError(reason: AbortReason): DOMException {
  return reason === "timeout"
    ? new DOMException("job timed out", "TimeoutError")
    : new DOMException(`job aborted: ${reason}`, "AbortError");
}

async function run(request: RunRequest): Promise<void> {
  const controller = new AbortController();
  running.set(request.id, controller);
  let result: RunResult;
  try {
    const reg = await registry!;
    let definition;
    try {
      definition = reg.get(request.type);
    } catch {
      definition = undefined; // unknown type: executeJob reports it
    }
    result = await executeJob(definition, request, controller.signal, hooks, tracing);
  } catch (error) {
    result = { id: request.id, ok: false, error: String(error), retryable: true };
  }
  running.delete(request.id);
  // Progress queued before the result must not arrive after it.
  progress.flushNow();
  results.push(result);
}

// A handler's stray promise or timer callback must not take down the thread and
// every job sharing it: report it and carry on.
self.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  hooks.log({
    id: "",
    level: "error",
    message: `unhandled rejection in a job thread: ${event.reason}`,
  });
});
self.addEventListener("error", (event) => {
  event.preventDefault();
  hooks.log({
    id: "",
    level: "error",
    message: `uncaught error in a job thread: ${event.message}`,
  });
});

self.onmessage = (event: MessageEvent<ToThread>) => {
  const message = event.data;
  switch (message.kind) {
    case "init":
      // Before any handler runs: they read their settings from here.
      configureJobSettings(message.settings);
      registry = startTracing(message.tracing?.spanLimits).then(() =>
        loadRegistry(message.modules)
      );
      registry.then(
        (reg) => post({ kind: "ready", types: reg.types() }),
        (error) => post({ kind: "init_error", error: String(error) }),
      );
      break;
    case "run":
      for (const job of message.jobs) void run(job);
      break;
    case "abort":
      for (const id of message.ids) running.get(id)?.abort(abortError(message.reason));
      break;
  }
};
