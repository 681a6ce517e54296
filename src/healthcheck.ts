/**
 * Container HEALTHCHECK: exits 0 when this container's role answers. The API
 * (and `start`) serve /health on PORT; a worker serves /health next to its
 * /metrics on WORKER_METRICS_PORT. Either answering 200 means alive.
 *
 * @module
 */
const ports = [Deno.env.get("PORT") ?? "8080", Deno.env.get("WORKER_METRICS_PORT") ?? "9464"];

async function healthy(port: string): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, {
      signal: AbortSignal.timeout(2000),
    });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

const results = await Promise.all(ports.map(healthy));
Deno.exit(results.some(Boolean) ? 0 : 1);
