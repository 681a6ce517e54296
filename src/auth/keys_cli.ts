/**
 * `deno task keys`: API keys from the command line, for the first key (no
 * key exists yet to call `POST /api/v1/keys` with) and for scripts.
 *
 * ```sh
 * deno task keys create --name ops [--scopes submit,read,admin] [--tenant acme] [--json]
 * deno task keys list [--json]
 * deno task keys revoke <id>
 * ```
 *
 * It finds Redis as `deno task start` does (`REDIS_URL`, else 127.0.0.1:6379,
 * else the managed redis-server in `DATA_DIR/redis`, started for the command
 * and stopped after it), so a key made before the first start is there when
 * the service starts. `create` prints the key alone on stdout (shown once:
 * `KEY=$(deno task keys create --name ci)`), the rest on stderr.
 *
 * @module
 */
import { ConfigError, loadConfig, processEnv } from "../config.ts";
import { findOrStartRedis, NoRedisError } from "../local_redis.ts";
import { connect, whenReady } from "../queue/connect.ts";
import { KeyStore } from "./key_store.ts";
import { parseScopes, SCOPES } from "./scopes.ts";
import { TENANT_NAME, TENANT_NAME_RULE } from "../tenants/names.ts";

const USAGE = `usage:
  deno task keys create --name <name> [--scopes ${SCOPES.join(",")}] [--tenant <tenant>] [--json]
  deno task keys list [--json]
  deno task keys revoke <id>`;

/** `--flag value` pairs and the remaining words. */
function parse(args: string[]): { flags: Map<string, string>; words: string[] } {
  const flags = new Map<string, string>();
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--json") flags.set("json", "true");
    else if (arg.startsWith("--")) {
      const [name, inline] = arg.slice(2).split("=", 2);
      const value = inline ?? args[++i];
      if (value === undefined) throw new ConfigError(`--${name} needs a value\n${USAGE}`);
      flags.set(name, value);
    } else words.push(arg);
  }
  return { flags, words };
}

async function run(store: KeyStore, args: string[]): Promise<number> {
  const { flags, words } = parse(args);
  const [command, ...rest] = words;
  const json = flags.has("json");
  switch (command) {
    case "create": {
      const name = flags.get("name");
      if (!name) throw new ConfigError(`create needs --name\n${USAGE}`);
      let scopes;
      try {
        scopes = parseScopes(flags.get("scopes") ?? SCOPES.join(","));
      } catch (error) {
        throw new ConfigError((error as Error).message);
      }
      const tenant = flags.get("tenant") ?? null;
      if (tenant !== null && !TENANT_NAME.test(tenant)) {
        throw new ConfigError(`--tenant: ${TENANT_NAME_RULE}`);
      }
      const { record, key } = await store.create({ name, scopes, tenant });
      if (json) console.log(JSON.stringify({ ...record, key }));
      else {
        console.error(
          `created API key ${record.id} (${record.name}) with scopes ${record.scopes.join(", ")}${
            record.tenant ? `, confined to tenant ${record.tenant}` : ""
          }; ` +
            "this is the only time it is shown:",
        );
        console.log(key);
      }
      return 0;
    }
    case "list": {
      const keys = await store.list();
      if (json) console.log(JSON.stringify({ keys }));
      else if (keys.length === 0) console.error("no API keys");
      else {
        for (const k of keys) {
          console.log(
            [k.id, k.name, k.scopes.join(","), k.created_at, k.last_used_at ?? "never"].join("\t"),
          );
        }
      }
      return 0;
    }
    case "revoke": {
      const [id] = rest;
      if (!id) throw new ConfigError(`revoke needs a key id\n${USAGE}`);
      if (!(await store.revoke(id))) {
        console.error(`no API key ${id}`);
        return 1;
      }
      console.error(`revoked API key ${id}: every API process refuses it within a second`);
      return 0;
    }
    default:
      console.error(USAGE);
      return 2;
  }
}

if (import.meta.main) {
  let code: number;
  try {
    const config = loadConfig([], processEnv());
    const redis = await findOrStartRedis(config.REDIS_URL, config.DATA_DIR);
    const client = connect(redis.url, { commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS });
    try {
      await whenReady(client, 3000);
      code = await run(new KeyStore(client), Deno.args);
    } finally {
      client.disconnect();
      await redis.stop();
    }
  } catch (error) {
    if (error instanceof ConfigError || error instanceof NoRedisError) {
      console.error(error.message);
      code = 2;
    } else {
      console.error("failed:", error instanceof Error ? error.message : error);
      code = 1;
    }
  }
  Deno.exit(code);
}
