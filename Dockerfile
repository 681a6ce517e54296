# One image for every role: `start` (all-in-one), `api`, `worker`, `cluster`.
# Pinned to the Deno version the project is tested with (README).
FROM denoland/deno:2.9.6

WORKDIR /app

# Dependencies first, in their own layer: rebuilt only when the lock file changes.
COPY deno.json deno.lock ./
RUN deno install --frozen

COPY src/ ./src/
COPY static/ ./static/
# Type-check-free cache of every entry point (main process and Web Worker threads).
RUN deno cache --frozen src/main.ts src/worker/thread.ts \
    && mkdir -p /app/data && chown -R deno:deno /app/data

USER deno
ENV PORT=8080 WORKER_METRICS_PORT=9464 DATA_DIR=/app/data LOG_FORMAT=json
EXPOSE 8080 9464

# Liveness of whichever role runs: the API's /health, else the worker's metrics server.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["deno", "run", "--allow-net=127.0.0.1", "--allow-env", "src/healthcheck.ts"]

ENTRYPOINT ["deno", "run", "-A", "--frozen", "--cached-only", "src/main.ts"]
CMD ["start"]
