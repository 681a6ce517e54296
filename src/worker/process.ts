/**
 * One worker process: Redis broker, job registry, thread pool, runner,
 * signal handling and (optionally) a /metrics server, wired together.
 * `worker_main.ts` is its command-line entry; the all-in-one start can call
 * `runWorkerProcess` too, but should prefer a supervised child process: after
 * a hard timeout the process must exit to get rid of the stuck thread.
 *
 * @module
 */
import { RESTARTS_ENV } from "./supervisor.ts";
import { isOwnerId, OWNER_ENV } from "../queue/liveness.ts";
import { RedisBroker } from "../queue/redis_broker.ts";
import { Registry } from "prom-client";
import { LegacyDataError } from "../queue/queue_registry.ts";
import { describeSelection, type QueueSelection } from "../queue/queue_selection.ts";
import { loadRegistry } from "../jobs/registry.ts";
import { declaredLimits } from "../limits/declared.ts";
import { permissionsFor } from "../jobs/definition.ts";
import { type JobSettings, jobSettings } from "../jobs/job_settings.ts";
import { EventBus } from "../events/bus.ts";
import type { Observer } from "../events/lifecycle.ts";
import { LogObserver } from "../events/log_observer.ts";
import { createLogger, type Logger } from "../log.ts";
import {
  type MetricsServer,
  serveWorkerMetrics,
  WorkerMetrics,
} from "../metrics/worker_metrics.ts";
import { resolveModules, ThreadPool } from "./pool.ts";
import { Runner } from "./runner.ts";
import { type Schedules, startSchedules } from "../schedules/runtime.ts";
import { type DispatcherOptions, WebhookDispatcher } from "../webhooks/dispatcher.ts";
import { ScheduleMetrics } from "../metrics/schedule_metrics.ts";
import { processEnv } from "../config.ts";
import { startTracing } from "../tracing/process_tracing.ts";
import { workerTracing } from "../tracing/attempt_spans.ts";
import { queueInId } from "../queue/job_id.ts";

/** Settings of a worker process. Durations in ms. */
export interface WorkerProcessOptions {
  redisUrl: string;
  /** The default queue (`QUEUE`). */
  queue?: string;
  /** The queues served (`WORKER_QUEUES`); default the default queue alone. */
  serve?: QueueSelection;
  concurrency: number;
  /** Threads per permission group. */
  threads: number;
  /** Extra job modules (paths relative to the cwd, or URLs). */
  modules?: string[];
  /**
   * What the built-in types obey (output folder, outbox, SMTP, outbound
   * allow list); their thread permissions derive from it. Default: this
   * process's `jobSettings()`.
   */
  jobSettings?: JobSettings;
  leaseMs?: number;
  drainMs?: number;
  hardTimeoutGraceMs?: number;
  maxJobs?: number;
  maxRssMb?: number;
  /** Port for GET /metrics; 0 or absent: no server. */
  metricsPort?: number;
  /** Address /metrics listens on; default loopback (`WORKER_METRICS_HOST`). */
  metricsHost?: string;
  /** Bearer token /metrics asks for (`METRICS_TOKEN`); absent: none. */
  metricsToken?: string;
  /** How long finished jobs are kept (RETENTION_MS): completions and maintenance apply it. */
  retentionMs?: number;
  /** Run the scheduler loop of recurring schedules here (`SCHEDULER`); default true. */
  scheduler?: boolean;
  /** Per-command Redis deadline (REDIS_COMMAND_TIMEOUT_MS). */
  commandTimeoutMs?: number;
  /**
   * Completion webhooks sent from this process (`src/webhooks/`): its
   * settings, or false for none. Default: on, with the defaults.
   */
  webhooks?: false | Omit<DispatcherOptions, "url" | "log" | "homeQueue">;
  /** Extra lifecycle observers (logging, tests). */
  observers?: Observer[];
  log?: Logger;
  /** Install SIGTERM/SIGINT handlers (default true). */
  handleSignals?: boolean;
  /**
   * This process's lease-owner id; default the one its supervisor gave it
   * (`OWNER_ENV`), else a fresh one.
   */
  owner?: string;
}

/** A started worker process: stop it, or wait for its exit code. */
export interface WorkerProcess {
  readonly runner: Runner;
  /** Resolves with the code the process should exit with (0, 75 recycle, 1 crash). */
  readonly exitCode: Promise<number>;
  /** Graceful stop, like SIGTERM. */
  stop(): void;
}

/**
 * Starts a worker and resolves once it is claiming.
 *
 * @example
 * ```ts
 * const worker = await startWorkerProcess({ redisUrl, concurrency: 50, threads: 2 });
 * Deno.exit(await worker.exitCode);
 * ```
 */
export async function startWorkerProcess(options: WorkerProcessOptions): Promise<WorkerProcess> {
  const log = options.log ?? createLogger({ fields: { role: "worker", pid: Deno.pid } });
  // Listen before the slow start-up steps, so an early SIGTERM is a clean stop.
  let runner: Runner | null = null;
  let stopRequested = false;
  const stop = () => {
    stopRequested = true;
    runner?.stop();
  };
  const signals: Deno.Signal[] = options.handleSignals === false ? [] : ["SIGTERM", "SIGINT"];
  const onSignal = () => {
    log.info("signal received; draining", { drain_ms: options.drainMs });
    stop();
  };
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  const removeListeners = () => {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
  };

  const modules = resolveModules(options.modules ?? []);
  let registry;
  try {
    registry = await loadRegistry(modules);
  } catch (error) {
    removeListeners();
    throw error;
  }
  const bus = new EventBus((observer, event, error) =>
    log.warn("observer failed", { observer: observer.name, event: event.kind, error })
  );
  // A job's lines carry its trace ids while this process holds it.
  bus.subscribe(new LogObserver(log, (id) => runner?.traceOf(id) ?? null));
  for (const observer of options.observers ?? []) bus.subscribe(observer);
  const broker = new RedisBroker({
    url: options.redisUrl,
    queue: options.queue,
    serve: options.serve,
    retentionMs: options.retentionMs,
    commandTimeoutMs: options.commandTimeoutMs,
    // The transitions this process makes, as its scripts wrote them.
    onEvents: (events) => bus.emitAll(events),
    owner: options.owner ?? ownerFromSupervisor(),
  });

  // The types' declared limits hold from this worker's first claim (a bad one stops the start).
  let declared;
  try {
    declared = declaredLimits(registry.list());
  } catch (error) {
    removeListeners();
    await broker.close();
    throw error;
  }
  await broker.declareLimits(declared).catch((error) =>
    log.warn("declared limits not recorded; the ones in Redis apply", { error })
  );
  // Data this release cannot take over is said at start, not only per claim.
  broker.homeQueue().catch((error) => {
    if (error instanceof LegacyDataError) log.error(error.message);
  });
  // Any number of processes run the loop; each tick still makes one job (src/schedules/).
  const scheduleMetrics = new ScheduleMetrics();
  const schedules: Schedules | null = options.scheduler === false ? null : await startSchedules({
    url: options.redisUrl,
    broker,
    registry,
    log,
    retentionMs: options.retentionMs,
    commandTimeoutMs: options.commandTimeoutMs,
    observer: scheduleMetrics.observer,
    modules,
  });
  const definitions = registry;
  // Resolved once: the threads' permissions and what their handlers obey must agree.
  const settings = options.jobSettings ?? jobSettings();
  // Any number of processes send webhooks; each attempt is leased to one (src/webhooks/).
  const webhooks = options.webhooks === false ? null : new WebhookDispatcher({
    outboundAllow: settings.outboundAllow,
    commandTimeoutMs: options.commandTimeoutMs,
    ...options.webhooks,
    url: options.redisUrl,
    log,
    homeQueue: () => broker.homeQueue(),
    // The runner's list of queues: no read of its own, so the idle wait can be long.
    queues: () => broker.knownQueues(),
  });
  webhooks?.start();
  // Off (null, no SDK loaded, no per-job work) unless an OTLP endpoint is configured.
  const tracing = await startTracing({ service: "jobqueue-worker", env: processEnv(), log });
  let home = broker.defaultQueue;
  if (tracing) broker.homeQueue().then((name) => home = name, () => {});
  const started = new Runner({
    broker,
    log,
    definitionOf: (type) => definitions.get(type),
    pool: (events) =>
      new ThreadPool({
        threads: options.threads,
        modules,
        permissionsOf: (type) => permissionsFor(definitions.get(type), settings),
        settings,
        events,
        tracing: tracing ? { spanLimits: tracing.spanLimits } : undefined,
      }),
    tracing: tracing ? workerTracing(tracing, (id) => queueInId(id) ?? home) : undefined,
    concurrency: options.concurrency,
    leaseMs: options.leaseMs,
    drainMs: options.drainMs,
    hardTimeoutGraceMs: options.hardTimeoutGraceMs,
    maxJobs: options.maxJobs,
    maxRssMb: options.maxRssMb,
  });
  runner = started;
  if (stopRequested) started.stop();

  // Threads boot (~50–100 ms) before the first claim, not while jobs wait on them.
  await started.warm();
  const served = describeSelection(
    options.serve ?? { queues: [{ name: broker.defaultQueue, weight: 1 }], order: "strict" },
  );
  const server = serveMetrics(options, started, bus, served, log, scheduleMetrics);
  log.info("worker started", {
    queues: served,
    owner: broker.owner,
    concurrency: options.concurrency,
    threads: options.threads,
    types: registry.types(),
  });
  const exitCode = (async () => {
    try {
      return await started.run();
    } finally {
      removeListeners();
      await server?.shutdown().catch(() => {});
      await schedules?.close().catch(() => {});
      await webhooks?.stop().catch(() => {});
      await broker.close().catch(() => {});
      // After the drain: the last attempts' spans are among those flushed.
      await tracing?.shutdown();
    }
  })();
  exitCode.then((code) => log.info("worker stopped", { exit_code: code }), () => {});
  return { runner: started, exitCode, stop };
}

/** Starts /metrics for this process; a port already taken costs the metrics, not the worker. */
function serveMetrics(
  options: WorkerProcessOptions,
  runner: Runner,
  bus: EventBus,
  queues: string,
  log: Logger,
  scheduleMetrics: ScheduleMetrics,
): MetricsServer | null {
  const port = options.metricsPort ?? 0;
  if (!port) return null;
  const recycles = restartsSoFar();
  const metrics = new WorkerMetrics({
    pool: () => ({ ...runner.snapshot(), recycles }),
    defaultLabels: { queues },
  });
  bus.subscribe(metrics.observer);
  try {
    return serveWorkerMetrics(port, Registry.merge([metrics.registry, scheduleMetrics.registry]), {
      hostname: options.metricsHost,
      token: options.metricsToken,
    });
  } catch (error) {
    log.warn("worker metrics server not started", { port, error });
    return null;
  }
}

/** The owner id the supervisor gave this process, when it gave a valid one. */
function ownerFromSupervisor(): string | undefined {
  try {
    const id = Deno.env.get(OWNER_ENV);
    return id && isOwnerId(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/** How often the supervisor replaced this worker slot's process before this one. */
function restartsSoFar(): number {
  try {
    const n = Number(Deno.env.get(RESTARTS_ENV) ?? "0");
    return Number.isInteger(n) && n >= 0 ? n : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs a worker process to the end and returns its exit code; the caller
 * must `Deno.exit` with it.
 */
export async function runWorkerProcess(options: WorkerProcessOptions): Promise<number> {
  const worker = await startWorkerProcess(options);
  try {
    return await worker.exitCode;
  } catch (error) {
    (options.log ?? createLogger()).error("worker failed", { error });
    return 1;
  }
}
