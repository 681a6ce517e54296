/**
 * `deno task worker`: a supervised worker process. Arguments are passed to
 * `worker_main.ts` (see there for flags and environment variables).
 *
 * @module
 */
import { superviseWorker, WORKER_MAIN } from "./supervisor.ts";

if (import.meta.main) {
  Deno.exit(await superviseWorker({ args: [WORKER_MAIN, ...Deno.args] }));
}
