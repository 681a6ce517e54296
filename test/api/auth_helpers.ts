/**
 * Shared setup of the authentication tests: the composed API app over a
 * real Redis with a key store, and keys of each scope.
 *
 * @module
 */
import { buildApiApp } from "../../src/roles/api_app.ts";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { connect, type RedisClient, whenReady } from "../../src/queue/connect.ts";
import { Authenticator, type AuthenticatorOptions } from "../../src/auth/authenticator.ts";
import { KeyStore } from "../../src/auth/key_store.ts";
import type { Scope } from "../../src/auth/scopes.ts";
import type { Hono } from "hono";
import { TestRedis } from "../helpers/redis_server.ts";
import { QuotaStore } from "../../src/tenants/quota_store.ts";
import { WebhookStore } from "../../src/webhooks/store.ts";
import type { ScheduleService } from "../../src/schedules/service.ts";

/** One API process's app with auth. */
export interface AuthApp {
  app: Hono;
  auth: Authenticator;
  store: KeyStore;
  broker: RedisBroker;
  quotas: QuotaStore;
  webhooks: WebhookStore;
  close(): Promise<void>;
}

let seq = 0;

/** Builds an app like `serveApi` does, on `redis`, in its own queue and key prefix. */
export async function authApp(
  redis: TestRedis,
  options: Partial<AuthenticatorOptions> & {
    queue?: string;
    metricsToken?: string;
    maxSseClients?: number;
    schedules?: ScheduleService;
  } = {},
): Promise<AuthApp> {
  const client: RedisClient = connect(redis.url, { commandTimeoutMs: 1000 });
  const store = new KeyStore(client);
  const auth = new Authenticator({ mode: "on", store, ...options });
  const quotas = new QuotaStore(client);
  const broker = new RedisBroker({
    url: redis.url,
    queue: options.queue ?? `auth_${Date.now().toString(36)}_${seq++}`,
    commandTimeoutMs: 1000,
  });
  const webhooks = new WebhookStore({ client, homeQueue: () => broker.homeQueue() });
  const http = buildApiApp({
    broker,
    webhooks,
    registry: await loadRegistry(),
    log: createLogger({ level: "silent" }),
    auth,
    metricsToken: options.metricsToken,
    maxSseClients: options.maxSseClients,
    quotas,
    schedules: options.schedules,
  });
  return {
    app: http.app,
    auth,
    store,
    broker,
    quotas,
    webhooks,
    async close() {
      await http.close();
      await broker.close();
      client.disconnect();
    },
  };
}

/** `Authorization` for `key`. */
export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** A fresh key with `scopes`. */
export async function keyWith(store: KeyStore, ...scopes: Scope[]): Promise<string> {
  return (await store.create({ name: `test ${scopes.join("+")}`, scopes })).key;
}

/** Empties the deployment's keys (every test shares one Redis per file). */
export async function dropKeys(redis: TestRedis): Promise<void> {
  const client = connect(redis.url);
  await whenReady(client);
  await client.del("jq:{#}:apikeys", "jq:{#}:apikeys_used");
  client.disconnect();
}
