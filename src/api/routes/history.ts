/**
 * History from the server (issue #20's console): what the queues did per
 * minute, as the transition scripts counted it in Redis, so every tab and
 * every replica shows the same past, including what happened before it
 * was opened.
 *
 * - `GET /history?window=1h|24h` → the sum over every queue the caller may
 *   see (a tenant's key: its own).
 * - `GET /queues/:name/history?window=1h|24h` → one queue's; 404 for an
 *   unknown queue or another tenant's.
 *
 * Both answer `HistoryBody` (`history_points.ts`): 60 one-minute points for
 * `1h` (the default), 96 fifteen-minute points for `24h`. A bad `window` is
 * 422 `validation_error`. Steps already over are kept by `HistoryCache`, so
 * a poll reads only the open ones from Redis.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import type { RouteDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { checkQueueName } from "../queue_param.ts";
import { callerTenant, notFound, ownPathName } from "../tenant_scope.ts";
import { visibleTo } from "../../tenants/names.ts";
import { HistoryCache } from "../history_cache.ts";
import {
  HISTORY_WINDOWS,
  historyBody,
  type HistoryWindow,
  isHistoryWindow,
  windowRange,
} from "../history_points.ts";

/** The query's window, or the 422 naming the allowed ones. */
function windowOf(c: Context): HistoryWindow {
  const value = c.req.query("window") ?? "1h";
  if (isHistoryWindow(value)) return value;
  const message = `window is one of ${Object.keys(HISTORY_WINDOWS).join(", ")}`;
  throw new HttpError(422, "validation_error", `${message} (got ${JSON.stringify(value)})`, {
    issues: [{ path: "window", message }],
  });
}

/** Routes of the history reads, mounted under `/api/v1`. */
export function historyRoutes(deps: RouteDeps): Hono {
  const app = new Hono();
  const cache = new HistoryCache(deps.broker);

  app.get("/history", async (c) => {
    const window = windowOf(c);
    const tenant = callerTenant(c);
    const now = Date.now();
    const names = (await deps.call(deps.broker.queues()))
      .map((q) => q.name)
      .filter((name) => visibleTo(tenant, name));
    const reads = await deps.call(Promise.all(names.map((name) => cache.read(name, window, now))));
    const range = windowRange(window, now);
    c.header("Cache-Control", "no-store");
    return c.json(historyBody(null, window, range, reads.flatMap((r) => r ?? [])));
  });

  app.get("/queues/:name/history", async (c) => {
    const raw = c.req.param("name")!;
    checkQueueName(raw, "name");
    const name = ownPathName(callerTenant(c), raw, "queue");
    const window = windowOf(c);
    const now = Date.now();
    const steps = await deps.call(cache.read(name, window, now));
    if (!steps) throw notFound("queue", name);
    c.header("Cache-Control", "no-store");
    return c.json(historyBody(name, window, windowRange(window, now), steps));
  });

  return app;
}
