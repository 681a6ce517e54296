/**
 * Reads at most N bytes of a stream, so a handler fetching an untrusted URL
 * cannot be made to buffer gigabytes.
 *
 * @module
 */

/** What was read and whether the stream had more. */
export interface BoundedRead {
  bytes: Uint8Array;
  /** True when the stream had more than `maxBytes`; the rest was not read. */
  truncated: boolean;
}

/**
 * Reads up to `maxBytes` from `stream`, then cancels it.
 *
 * @example
 * ```ts
 * const { bytes, truncated } = await readBounded(response.body, 4096);
 * ```
 */
export async function readBounded(
  stream: ReadableStream<Uint8Array> | null,
  maxBytes: number,
): Promise<BoundedRead> {
  if (!stream) return { bytes: new Uint8Array(0), truncated: false };
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      if (size + value.byteLength > maxBytes) {
        chunks.push(value.subarray(0, maxBytes - size));
        size = maxBytes;
        truncated = true;
        break;
      }
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    if (truncated) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { bytes, truncated };
}
