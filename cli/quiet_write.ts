/**
 * Output that stops, without an error, once its reader has gone: `anneal ... | head` closes the
 * pipe, and what is left of the output has no one to read it.
 *
 * @module
 */

/** Writes `text` whole, and nothing more once the reader has gone (a closed pipe). */
export function writeQuietly(
  stream: { writeSync(bytes: Uint8Array): number },
  text: string | Uint8Array,
): void {
  let bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
  try {
    while (bytes.length > 0) bytes = bytes.subarray(stream.writeSync(bytes));
  } catch (error) {
    if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
  }
}
