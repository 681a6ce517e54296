/**
 * For `deno task bench --otlp local`: a trivial OTLP/HTTP receiver in the
 * bench's process that reads each export and discards it, so tracing's cost
 * is measured with a real exporter at work and no collector to install.
 *
 * @module
 */

/** A running sink: its URL (an OTLP endpoint) and what it received. */
export interface OtlpSink {
  url: string;
  requests: number;
  bytes: number;
  close(): Promise<void>;
}

/** Starts the sink on a free loopback port. */
export function startOtlpSink(): OtlpSink {
  const sink: OtlpSink = { url: "", requests: 0, bytes: 0, close: () => server.shutdown() };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = new Uint8Array(await req.arrayBuffer());
    sink.requests++;
    sink.bytes += body.length;
    // An empty ExportTraceServiceResponse: every span accepted.
    return new Response(new Uint8Array(0), {
      headers: { "content-type": "application/x-protobuf" },
    });
  });
  sink.url = `http://127.0.0.1:${server.addr.port}`;
  return sink;
}
