import assert from "node:assert/strict";
import { TestRedis } from "../helpers/redis_server.ts";
import { assertError, postJson, SPEC_EMAIL, startApi } from "./helpers.ts";

Deno.test({
  name: "Redis down: the API answers 503 quickly and /health stays 200",
  ignore: Deno.env.get("REDIS_URL") !== undefined, // needs a server we can kill
  async fn() {
    const redis = await TestRedis.start();
    const api = await startApi({ redis });
    try {
      assert.strictEqual((await postJson(api.app, "/api/v1/jobs", SPEC_EMAIL)).status, 201);
      await redis.kill();
      for (
        const request of [
          () => postJson(api.app, "/api/v1/jobs", SPEC_EMAIL),
          () => api.app.request(`/api/v1/jobs/${crypto.randomUUID()}`),
          () => api.app.request("/api/v1/stats"),
          () => api.app.request("/ready"),
        ]
      ) {
        const start = Date.now();
        const res = await request();
        const elapsed = Date.now() - start;
        const error = await assertError(res, 503, "unavailable");
        assert.doesNotMatch(error.message, /ECONNREFUSED|127\.0\.0\.1|stack/i);
        assert.ok(elapsed < 3000, `took ${elapsed} ms`);
      }
      assert.strictEqual((await api.app.request("/health")).status, 200);
      // Back up: the same app recovers without a restart.
      await redis.restart();
      const deadline = Date.now() + 10_000;
      let status = 0;
      while (Date.now() < deadline) {
        status = (await api.app.request("/ready")).status;
        if (status === 200) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.strictEqual(status, 200);
    } finally {
      await api.close();
      await redis.close();
    }
  },
});
