/**
 * The API role's authentication: its own Redis connection for the key store
 * (the broker's is not shared: the queue core stays unaware of callers), the
 * start-up decision (`decideAuthMode`) and the log lines that say which
 * mode the process is in.
 *
 * @module
 */
import { type Config, ConfigError } from "../config.ts";
import type { Logger } from "../log.ts";
import { connect, whenReady } from "../queue/connect.ts";
import { Authenticator } from "../auth/authenticator.ts";
import { KeyStore } from "../auth/key_store.ts";
import { decideAuthMode, HOW_TO_CREATE_A_KEY, isLoopbackHost } from "../auth/policy.ts";
import { withTimeout } from "../timing/timeout.ts";
import { QuotaStore } from "../tenants/quota_store.ts";

/** The authenticator of an API process, its tenants' quotas, and how to release its connection. */
export interface ApiAuth {
  authenticator: Authenticator;
  /** Tenants' quotas, on the same connection (they only matter to keys with a tenant). */
  quotas: QuotaStore;
  close(): Promise<void>;
}

/**
 * Connects the key store, decides the mode, and logs it; throws ConfigError
 * (printed by main, exit 2) when the process must not start.
 */
export async function startApiAuth(
  config: Config,
  redisUrl: string,
  log: Logger,
): Promise<ApiAuth> {
  const client = connect(redisUrl, {
    commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
    connectionName: "jq-auth",
  });
  const store = new KeyStore(client);
  const close = () => {
    client.disconnect();
    return Promise.resolve();
  };
  let storedKeys: number | null = null;
  if (config.AUTH === "auto" && !config.ADMIN_API_KEY) {
    storedKeys = await withTimeout(
      whenReady(client).then(() => store.count()),
      config.REDIS_COMMAND_TIMEOUT_MS + 1000,
    ).catch(() => null);
  }
  const decision = decideAuthMode({
    setting: config.AUTH,
    host: config.HOST,
    adminKey: !!config.ADMIN_API_KEY,
    storedKeys,
  });
  if ("refuse" in decision) {
    await close();
    throw new ConfigError(decision.refuse);
  }
  const authenticator = new Authenticator({
    mode: decision.mode,
    store,
    adminKey: config.ADMIN_API_KEY,
    failures: { max: config.AUTH_MAX_FAILURES },
    onActivated: () => log.info("auth is on: an API key exists, every API call needs one now"),
  });
  switch (decision.mode) {
    case "first_key":
      log.info(
        `auth is off: no API key yet, serving on loopback (${config.HOST}) only; to require ` +
          `keys, ${HOW_TO_CREATE_A_KEY}`,
      );
      break;
    case "off":
      if (!isLoopbackHost(config.HOST)) {
        log.warn("auth is off (AUTH=off): anyone who can reach this port may do anything", {
          host: config.HOST,
        });
      } else log.info("auth is off (AUTH=off)");
      break;
    case "on":
      log.info("auth is on: every API call needs an API key", {
        admin_api_key: !!config.ADMIN_API_KEY,
        stored_keys: storedKeys,
      });
  }
  return { authenticator, quotas: new QuotaStore(client), close };
}
