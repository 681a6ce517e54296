/**
 * Completion webhooks (`src/webhooks/`), admin scope:
 *
 * - `POST /webhooks` → 201, a subscription (its `secret` shown only here);
 *   422 for a bad body or a URL whose literal address the outbound guard refuses.
 * - `GET /webhooks`, `GET /webhooks/:id`, `DELETE /webhooks/:id` (200
 *   `{id, deleted: true}`).
 * - `GET /webhooks/secret` → the deployment's secret signing per-job
 *   `callback_url` deliveries (403 for a tenant's key: it signs every tenant's).
 * - `GET /webhooks/deliveries?status=failed|pending&queue=&limit=` → newest first.
 * - `POST /webhooks/deliveries/:id/redeliver` → 202: a given-up delivery is
 *   sent again with the same webhook-id; 404 when it is not a given-up one.
 *
 * A tenant's key sees and makes only its tenant's subscriptions (for its
 * queues), and its queues' deliveries; any other answers 404 as an unknown one.
 *
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { RouteDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { readJsonBody } from "../body.ts";
import { parseOr422 } from "../validation.ts";
import { callerTenant, ownName, ownPathName } from "../tenant_scope.ts";
import { createWebhookSchema, deliveriesQuerySchema } from "../webhook_schemas.ts";
import { assertWebhookUrl } from "../../webhooks/url_check.ts";
import {
  type StoredSubscription,
  TooManySubscriptionsError,
  type WebhookStore,
} from "../../webhooks/store.ts";
import type { Delivery } from "../../webhooks/delivery.ts";

/** Largest subscription body. */
export const MAX_WEBHOOK_BODY = 8 * 1024;

function store(deps: RouteDeps): WebhookStore {
  if (!deps.webhooks) {
    throw new HttpError(503, "unavailable", "webhooks are not available in this process");
  }
  return deps.webhooks;
}

/** The public view of a subscription (the secret only when asked: the create answer). */
export function subscriptionView(sub: StoredSubscription, withSecret = false) {
  return {
    id: sub.id,
    url: sub.url,
    events: sub.events,
    queue: sub.queue,
    type: sub.type,
    created_at: sub.created_at,
    ...(withSecret ? { secret: sub.secret } : {}),
  };
}

function deliveryView(d: Delivery) {
  return {
    id: d.id,
    job_id: d.jobId,
    queue: d.queue,
    event: d.event,
    subscription_id: d.subscription,
    url: d.subscription ? null : d.url,
    attempts: d.attempts,
    last_status: d.lastStatus,
    last_error: d.lastError,
    finished_at: new Date(d.finishedAt).toISOString(),
    failed_at: d.failedAt === null ? null : new Date(d.failedAt).toISOString(),
  };
}

const notFound = (what: string, id: string) =>
  new HttpError(404, "not_found", `${what} ${JSON.stringify(id.slice(0, 200))} not found`);

/** Routes of webhooks, mounted under `/api/v1`. */
export function webhookRoutes(deps: RouteDeps): Hono {
  const app = new Hono();

  app.post("/webhooks", async (c) => {
    const tenant = callerTenant(c);
    // A ticket: the body must keep the server's pace (a stalled one is 408, not a held request).
    using ticket = deps.bodies.ticket();
    const body = parseOr422(
      createWebhookSchema,
      await readJsonBody(c.req.raw, MAX_WEBHOOK_BODY, ticket),
      "webhook",
    );
    assertWebhookUrl(body.url, "url");
    if (body.queue !== undefined) body.queue = ownName(tenant, body.queue, "queue");
    let sub: StoredSubscription;
    try {
      sub = await deps.write(store(deps).create(body, tenant), "change");
    } catch (error) {
      if (error instanceof TooManySubscriptionsError) {
        throw new HttpError(409, "conflict", error.message);
      }
      throw error;
    }
    c.header("Location", `/api/v1/webhooks/${sub.id}`);
    return c.json(subscriptionView(sub, true), 201);
  });

  app.get("/webhooks", async (c) => {
    const subs = await deps.call(store(deps).list(callerTenant(c)));
    return c.json({ webhooks: subs.map((s) => subscriptionView(s)) });
  });

  app.get("/webhooks/secret", async (c) => {
    if (callerTenant(c) !== null) {
      throw new HttpError(
        403,
        "forbidden",
        "the deployment's webhook secret signs every tenant's callbacks: a tenant's key " +
          "cannot read it (subscriptions have secrets of their own)",
      );
    }
    const s = store(deps);
    const secret = await deps.call(s.secret());
    return c.json({ secret, source: s.secretFromEnv ? "env" : "generated" });
  });

  app.get("/webhooks/deliveries", async (c) => {
    const tenant = callerTenant(c);
    const query = parseOr422(deliveriesQuerySchema, c.req.query(), "query");
    const queue = query.queue === undefined ? undefined : ownPathName(tenant, query.queue, "queue");
    const found = await deps.call(store(deps).deliveries(query.status, tenant, query.limit, queue));
    return c.json({ deliveries: found.map(deliveryView) });
  });

  app.post("/webhooks/deliveries/:id/redeliver", async (c) => {
    const id = c.req.param("id");
    const done = await deps.write(store(deps).redeliver(id, callerTenant(c)), "change");
    if (!done) throw notFound("failed delivery", id);
    return c.json({ delivery_id: id, status: "pending" }, 202);
  });

  const subscriptionOf = async (c: Context) => {
    const id = c.req.param("id") ?? "";
    const sub = await deps.call(store(deps).get(id, callerTenant(c)));
    if (!sub) throw notFound("webhook", id);
    return sub;
  };

  app.get("/webhooks/:id", async (c) => c.json(subscriptionView(await subscriptionOf(c))));

  app.delete("/webhooks/:id", async (c) => {
    const sub = await subscriptionOf(c);
    await deps.write(store(deps).remove(sub.id, callerTenant(c)), "change");
    return c.json({ id: sub.id, deleted: true });
  });

  return app;
}
