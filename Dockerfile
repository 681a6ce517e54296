# One image for every role: `start` (all-in-one), `api`, `worker`, `cluster`.
# Pinned to the Deno version the project is tested with (README).
FROM denoland/deno:2.9.6

WORKDIR /app
# The managed-Redis/outbox data dir must be writable by the runtime user.
RUN mkdir -p /app/data && chown deno:deno /app/data

# Build the module cache as the user that runs the app: DENO_DIR (/deno-dir) is
# owned by `deno` in the base image, and a cache written by root would not be
# writable at run time.
USER deno

# Dependencies first, in their own layer: rebuilt only when deno.json or the lock file changes.
# Test-only packages (playwright-core drives the browser tests, ajv and the OpenAPI validator check
# the API document, smtp-server receives the email tests' mail) are dropped from the image's copy of
# the config and lock (the other pins stay as locked), then exactly what is locked is installed.
COPY deno.json deno.lock ./
RUN deno remove playwright-core ajv @seriousme/openapi-schema-validator smtp-server && \
    deno install --frozen

COPY src/ ./src/
COPY static/ ./static/
# Type-check-free cache of every entry point: the main process, the Web Worker
# threads (their entry is a data: URL that imports thread.ts) and the HEALTHCHECK.
RUN deno cache --frozen src/main.ts src/worker/thread.ts src/healthcheck.ts

# HOST: a container is reached from outside it, so the API listens on every address there, and
# then refuses to start without an API key (ADMIN_API_KEY, or AUTH=off on purpose): see the README.
ENV PORT=8080 HOST=0.0.0.0 WORKER_METRICS_PORT=9464 DATA_DIR=/app/data LOG_FORMAT=json
EXPOSE 8080 9464

# Liveness of whichever role runs: the API's /health on PORT, else the worker's
# /health next to its /metrics on WORKER_METRICS_PORT. Neither touches Redis, so
# a Redis outage does not get containers restarted.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["deno", "run", "--cached-only", "--allow-net=127.0.0.1", "--allow-env", "src/healthcheck.ts"]

ENTRYPOINT ["deno", "run", "-A", "--frozen", "--cached-only", "src/main.ts"]
CMD ["start"]
