/** Runs the shared flow suite against `RedisBroker` on a real redis-server. */
import { flowSuite } from "./flow_suite.ts";
import { redisHarness } from "./redis_harness.ts";

flowSuite("RedisBroker", () => redisHarness());
