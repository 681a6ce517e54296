/**
 * `deno task jq <command>`: the terminal's and scripts' way to the HTTP API,
 * with a key (`JQ_URL`, default `http://127.0.0.1:8080`; `JQ_API_KEY`).
 * Tables by default, the API's JSON as-is with `--json`; exit 0 on success,
 * 1 with one line on stderr when a call fails (the API's error message, or
 * why it could not be reached), 2 for a command line it cannot run.
 *
 * ```sh
 * deno task jq stats
 * deno task jq jobs list --status failed --queue default --limit 20
 * JQ_API_KEY=$KEY deno task jq workers --json
 * ```
 *
 * @module
 */
import { Args } from "./args.ts";
import { ApiClient, DEFAULT_URL } from "./api_client.ts";
import {
  type Context,
  jobs,
  keys,
  type Output,
  queues,
  schedules,
  stats,
  workers,
} from "./commands.ts";
import { CliError, UsageError } from "./errors.ts";

/** The usage text (`--help`, and after a usage error). */
export const USAGE = `usage: deno task jq <command> [--json]

  stats [--queue NAME]                 counts by state (now and lifetime), per queue
  queues                               every queue: paused, counts, latency
  queues pause|resume NAME             pause or resume a queue (admin)
  jobs list [--status S] [--queue Q] [--type T] [--limit N] [--cursor C]
  jobs show ID                         one job: payload, result, errors
  jobs retry ID                        requeue a failed or cancelled job (admin)
  jobs cancel ID                       cancel a job (admin)
  schedules [list]                     recurring schedules and their next run
  schedules trigger|pause|resume NAME  (admin)
  workers                              registered worker processes (live, stale, draining)
  workers drain ID                     ask one to finish its jobs and exit (admin)
  keys list                            API keys (admin)
  keys create --name N [--scopes submit,read,admin] [--tenant T]   (default: every scope)
  keys revoke ID

environment: JQ_URL (default ${DEFAULT_URL}), JQ_API_KEY (sent as a Bearer key)`;

const COMMANDS: Record<string, (ctx: Context) => Promise<void>> = {
  stats,
  queues,
  jobs,
  schedules,
  workers,
  keys,
};

/** Where a run reads its settings and writes its output (the process's, or a test's). */
export interface CliIo extends Output {
  err(text: string): void;
  env(name: string): string | undefined;
}

/** Runs one command line; resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    const args = Args.parse(argv);
    const asked = args.has("help");
    const command = args.words.shift();
    if (asked || command === "help") {
      io.out(USAGE);
      return 0;
    }
    if (command === undefined) {
      io.err(USAGE);
      return 2;
    }
    const run = COMMANDS[command];
    if (!run) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    const json = args.has("json");
    const api = new ApiClient(io.env("JQ_URL") || DEFAULT_URL, io.env("JQ_API_KEY"));
    await run({ api, args, io, json });
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`jq: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    if (error instanceof CliError) {
      io.err(`jq: ${error.message}`);
      return 1;
    }
    io.err(`jq: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

if (import.meta.main) {
  const code = await runCli(Deno.args, {
    out: (text) => console.log(text),
    err: (text) => console.error(text),
    env: (name) => Deno.env.get(name),
  });
  Deno.exit(code);
}
