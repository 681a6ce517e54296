/**
 * What the routes are given, and the small helpers they share (validation
 * into 422s, a deadline on broker calls).
 *
 * @module
 */
import type { z } from "zod";
import type { Broker } from "../queue/broker.ts";
import { QueueUnavailableError } from "../queue/errors.ts";
import type { JobRegistry } from "../jobs/registry.ts";
import { zodIssues } from "../jobs/registry.ts";
import type { EventBus } from "../events/bus.ts";
import type { Logger } from "../log.ts";
import { HttpError } from "./errors.ts";

/** Dependencies of `createApp`. */
export interface ApiDeps {
  broker: Broker;
  registry: JobRegistry;
  /** Receives `enqueued` events. */
  bus?: EventBus;
  log?: Logger;
  /** Largest accepted body of a single submit; default 1 MiB (the spec's payload limit). */
  maxBodyBytes?: number;
  /** Largest accepted batch body; default 16 MiB. */
  maxBatchBodyBytes?: number;
  /**
   * Longest a request waits on the broker before answering 503. A safety
   * net over the broker's own timeouts, so a dead Redis never hangs clients.
   */
  brokerTimeoutMs?: number;
}

/** Resolved settings the routes use. */
export interface RouteDeps {
  broker: Broker;
  registry: JobRegistry;
  bus?: EventBus;
  log: Logger;
  maxBodyBytes: number;
  maxBatchBodyBytes: number;
  /** Awaits a broker call, turning a missed deadline into QueueUnavailableError. */
  call<T>(operation: Promise<T>): Promise<T>;
}

/** Races `operation` against `ms`; the loser's rejection is swallowed. */
export function withDeadline<T>(operation: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new QueueUnavailableError(`queue did not answer within ${ms} ms`)),
      ms,
    );
  });
  operation.catch(() => {}); // it may still fail after we gave up on it
  return Promise.race([operation, deadline]).finally(() => clearTimeout(timer));
}

/** Parses `value` or throws 422 `validation_error` with dotted field paths. */
export function parseOr422<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
  prefix: readonly PropertyKey[] = [],
): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new HttpError(422, "validation_error", `invalid ${what}`, {
    issues: zodIssues(parsed.error, prefix),
  });
}

/** Parses a query/path value or throws 400 with the given code. */
export function parseOr400<S extends z.ZodType>(
  schema: S,
  value: unknown,
  code: string,
  what: string,
): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new HttpError(400, code, `invalid ${what}`, { issues: zodIssues(parsed.error) });
}
