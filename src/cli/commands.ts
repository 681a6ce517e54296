/**
 * The CLI's commands: each calls one API route and prints its answer as a
 * table (default) or as the API's JSON, unchanged (`--json`).
 *
 * @module
 */
import type { Args } from "./args.ts";
import { type ApiClient, isObject, type JsonObject, type JsonValue } from "./api_client.ts";
import { UsageError } from "./errors.ts";
import { SCOPES } from "../auth/scopes.ts";
import { bytes, duration, fields, table } from "./table.ts";

/** What a command prints to. */
export interface Output {
  out(text: string): void;
}

/** One run: the client, the arguments left after the command's words, the output. */
export interface Context {
  api: ApiClient;
  args: Args;
  io: Output;
  json: boolean;
}

const V1 = "/api/v1";
const seg = (s: string) => encodeURIComponent(s);

/** A cell: strings as they are, null/undefined as "-", the rest as compact JSON. */
function cell(value: JsonValue | undefined): string {
  if (value === null || value === undefined || value === "") return "-";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

function list(answer: JsonObject, key: string): JsonObject[] {
  const value = answer[key];
  return Array.isArray(value) ? value.filter(isObject) : [];
}

function num(value: JsonValue | undefined): number {
  return typeof value === "number" ? value : 0;
}

/** Exactly `n` words after the command (`NAME`, `ID`), else a usage error naming them. */
function words(ctx: Context, names: string[]): string[] {
  const got = ctx.args.words;
  if (got.length !== names.length) {
    throw new UsageError(
      names.length === 0
        ? `unexpected argument ${JSON.stringify(got[0])}`
        : `expected ${names.join(" ")}`,
    );
  }
  return got;
}

function print(ctx: Context, answer: JsonObject, human: () => string): void {
  ctx.io.out(ctx.json ? JSON.stringify(answer, null, 2) : human());
}

/** `stats`: counts by state now and over the lifetime, then per queue. */
export async function stats(ctx: Context): Promise<void> {
  words(ctx, []);
  const queue = ctx.args.take("queue");
  ctx.args.done();
  const answer = await ctx.api.call("GET", `${V1}/stats${queue ? `?queue=${seg(queue)}` : ""}`);
  print(ctx, answer, () => {
    const states = [
      "pending",
      "scheduled",
      "running",
      "waiting",
      "completed",
      "failed",
      "cancelled",
    ];
    const lifetime: Record<string, string> = {
      completed: "completed_total",
      failed: "failed_total",
      cancelled: "cancelled_total",
    };
    const totals = table(
      ["STATE", "NOW", "LIFETIME"],
      states.map((
        s,
      ) => [s, String(num(answer[s])), lifetime[s] ? String(num(answer[lifetime[s]])) : ""]),
    );
    const byQueue = isObject(answer.by_queue) ? Object.entries(answer.by_queue) : [];
    const queues = table(
      ["QUEUE", "PENDING", "SCHEDULED", "RUNNING", "COMPLETED", "FAILED"],
      byQueue.map(([name, c]) => {
        const o = isObject(c) ? c : {};
        return [
          name,
          ...["pending", "scheduled", "running", "completed", "failed"].map((k) =>
            String(num(o[k]))
          ),
        ];
      }),
    );
    return `${totals}\nretried (lifetime): ${num(answer.retried_total)}\n\n${queues}`;
  });
}

/** `queues`, `queues pause NAME`, `queues resume NAME`. */
export async function queues(ctx: Context): Promise<void> {
  const [action, ...rest] = ctx.args.words;
  if (action === "pause" || action === "resume") {
    ctx.args.words.splice(0, 1);
    const [name] = words(ctx, ["NAME"]);
    ctx.args.done();
    const answer = await ctx.api.call("POST", `${V1}/queues/${seg(name)}/${action}`);
    print(ctx, answer, () => `queue ${cell(answer.name)} ${answer.paused ? "paused" : "resumed"}`);
    return;
  }
  if (action !== undefined) {
    throw new UsageError(
      `unknown queues command ${JSON.stringify(action)}${rest.length ? " …" : ""}`,
    );
  }
  ctx.args.done();
  const answer = await ctx.api.call("GET", `${V1}/queues`);
  print(ctx, answer, () =>
    table(
      ["QUEUE", "PAUSED", "PENDING", "SCHEDULED", "RUNNING", "COMPLETED", "FAILED", "LATENCY"],
      list(answer, "queues").map((q) => [
        cell(q.name),
        q.paused ? "yes" : "no",
        ...["pending", "scheduled", "running", "completed", "failed"].map((k) => String(num(q[k]))),
        duration(num(q.latency_ms)),
      ]),
    ));
}

/** `jobs list|show|retry|cancel`. */
export async function jobs(ctx: Context): Promise<void> {
  const action = ctx.args.words.shift();
  switch (action) {
    case "list":
      return await jobsList(ctx);
    case "show": {
      const [id] = words(ctx, ["ID"]);
      ctx.args.done();
      const job = await ctx.api.call("GET", `${V1}/jobs/${seg(id)}`);
      print(ctx, job, () => fields(Object.entries(job).map(([k, v]) => [k, cell(v)] as const)));
      return;
    }
    case "retry": {
      const [id] = words(ctx, ["ID"]);
      ctx.args.done();
      const answer = await ctx.api.call("POST", `${V1}/jobs/${seg(id)}/retry`);
      print(ctx, answer, () => `job ${id} requeued: ${cell(answer.status)}`);
      return;
    }
    case "cancel": {
      const [id] = words(ctx, ["ID"]);
      ctx.args.done();
      const answer = await ctx.api.call("DELETE", `${V1}/jobs/${seg(id)}`);
      print(ctx, answer, () => `job ${id}: ${cell(answer.status)}`);
      return;
    }
    default:
      throw new UsageError(
        action === undefined
          ? "jobs needs list, show, retry or cancel"
          : `unknown jobs command ${JSON.stringify(action)}`,
      );
  }
}

async function jobsList(ctx: Context): Promise<void> {
  words(ctx, []);
  const query = new URLSearchParams();
  for (const name of ["status", "queue", "type", "limit", "cursor"]) {
    const value = ctx.args.take(name);
    if (value !== undefined) query.set(name, value);
  }
  ctx.args.done();
  const q = query.size > 0 ? `?${query}` : "";
  const answer = await ctx.api.call("GET", `${V1}/jobs${q}`);
  print(ctx, answer, () => {
    const rows = list(answer, "jobs").map((j) => [
      cell(j.job_id),
      cell(j.type),
      cell(j.status),
      `${num(j.attempts)}/${num(j.max_attempts)}`,
      cell(j.created_at),
      // What an operator looks for first: why it failed, or when it will run.
      j.error !== null && j.error !== undefined
        ? cell(j.error).slice(0, 60)
        : j.scheduled_for
        ? `runs at ${cell(j.scheduled_for)}`
        : "-",
    ]);
    const more = typeof answer.next_cursor === "string"
      ? `\nmore: --cursor ${answer.next_cursor}`
      : "";
    return table(["ID", "TYPE", "STATUS", "ATTEMPTS", "CREATED", "ERROR / NEXT RUN"], rows) + more;
  });
}

/** `schedules list|trigger|pause|resume`. */
export async function schedules(ctx: Context): Promise<void> {
  const action = ctx.args.words.shift() ?? "list";
  if (action === "list") {
    words(ctx, []);
    ctx.args.done();
    const answer = await ctx.api.call("GET", `${V1}/schedules`);
    print(ctx, answer, () =>
      table(
        ["NAME", "CADENCE", "TYPE", "PAUSED", "NEXT RUN", "LAST RUN", "LAST STATUS"],
        list(answer, "schedules").map((s) => [
          cell(s.name),
          typeof s.cron === "string"
            ? `cron ${s.cron}${s.timezone && s.timezone !== "UTC" ? ` (${s.timezone})` : ""}`
            : `every ${duration(num(s.every_ms))}`,
          cell(s.type),
          s.paused ? "yes" : "no",
          cell(Array.isArray(s.next_runs) ? s.next_runs[0] : null),
          cell(s.last_run_at),
          cell(s.last_status),
        ]),
      ));
    return;
  }
  if (action !== "trigger" && action !== "pause" && action !== "resume") {
    throw new UsageError(`unknown schedules command ${JSON.stringify(action)}`);
  }
  const [name] = words(ctx, ["NAME"]);
  ctx.args.done();
  const answer = await ctx.api.call("POST", `${V1}/schedules/${seg(name)}/${action}`);
  print(
    ctx,
    answer,
    () =>
      action === "trigger"
        ? `schedule ${name} triggered: job ${cell(answer.job_id)}`
        : `schedule ${name} ${answer.paused ? "paused" : "resumed"}`,
  );
}

/** `workers`, `workers drain ID`. */
export async function workers(ctx: Context): Promise<void> {
  const action = ctx.args.words.shift();
  if (action === "drain") {
    const [id] = words(ctx, ["ID"]);
    ctx.args.done();
    const answer = await ctx.api.call("POST", `${V1}/workers/${seg(id)}/drain`);
    print(
      ctx,
      answer,
      () =>
        `worker ${id}: drain ${answer.already_requested ? "was already requested" : "requested"}`,
    );
    return;
  }
  if (action !== undefined) {
    throw new UsageError(`unknown workers command ${JSON.stringify(action)}`);
  }
  ctx.args.done();
  const answer = await ctx.api.call("GET", `${V1}/workers`);
  print(ctx, answer, () =>
    table(
      ["ID", "HOST", "PID", "QUEUES", "BUSY", "RSS", "UPTIME", "VERSION", "STATE"],
      list(answer, "workers").map((w) => [
        cell(w.id),
        cell(w.host),
        String(num(w.pid)),
        Array.isArray(w.queues)
          ? w.queues.filter(isObject).map((q) => `${cell(q.name)}:${num(q.weight)}`).join(",")
          : "*",
        `${num(w.in_flight)}/${num(w.concurrency)}`,
        bytes(num(w.rss_bytes)),
        duration(num(w.uptime_ms)),
        cell(w.version),
        w.stale ? "stale" : w.draining ? "draining" : "live",
      ]),
    ));
}

/** `keys create|list|revoke` through the API's key routes (admin scope). */
export async function keys(ctx: Context): Promise<void> {
  const action = ctx.args.words.shift();
  switch (action) {
    case "create": {
      words(ctx, []);
      const name = ctx.args.take("name");
      if (!name) throw new UsageError("keys create needs --name");
      const scopes = ctx.args.take("scopes");
      const tenant = ctx.args.take("tenant");
      ctx.args.done();
      // Every scope unless told, as `deno task keys create` does.
      const body: Record<string, unknown> = {
        name,
        scopes: (scopes ?? SCOPES.join(",")).split(",").map((s) => s.trim()).filter(Boolean),
      };
      if (tenant !== undefined) body.tenant = tenant;
      const answer = await ctx.api.call("POST", `${V1}/keys`, body);
      print(
        ctx,
        answer,
        () => `${keyFields(answer)}\nkey (shown once, keep it now): ${cell(answer.key)}`,
      );
      return;
    }
    case "list": {
      words(ctx, []);
      ctx.args.done();
      const answer = await ctx.api.call("GET", `${V1}/keys`);
      print(ctx, answer, () =>
        table(
          ["ID", "NAME", "SCOPES", "TENANT", "CREATED", "LAST USED"],
          list(answer, "keys").map((k) => [
            cell(k.id),
            cell(k.name),
            Array.isArray(k.scopes) ? k.scopes.join(",") : "-",
            cell(k.tenant),
            cell(k.created_at),
            cell(k.last_used_at),
          ]),
        ));
      return;
    }
    case "revoke": {
      const [id] = words(ctx, ["ID"]);
      ctx.args.done();
      const answer = await ctx.api.call("DELETE", `${V1}/keys/${seg(id)}`);
      print(ctx, answer, () => `key ${id} revoked`);
      return;
    }
    default:
      throw new UsageError(
        action === undefined
          ? "keys needs create, list or revoke"
          : `unknown keys command ${JSON.stringify(action)}`,
      );
  }
}

function keyFields(k: JsonObject): string {
  return fields([
    ["id", cell(k.id)],
    ["name", cell(k.name)],
    ["scopes", Array.isArray(k.scopes) ? k.scopes.join(",") : "-"],
    ["tenant", cell(k.tenant)],
  ]);
}
