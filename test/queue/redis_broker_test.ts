/** Runs the shared broker suite against `RedisBroker` on a real redis-server. */
import { brokerSuite } from "./broker_suite.ts";
import { redisHarness } from "./redis_harness.ts";

brokerSuite("RedisBroker", () => redisHarness());
