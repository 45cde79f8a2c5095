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
    if (!outputGone(error)) throw error;
  }
}

/**
 * Whether `error` is a write's to an output that has gone: a closed pipe (`| head`), or a
 * terminal that hung up (a closed window, a dropped ssh session: EIO, "os error 5").
 */
export function outputGone(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe ||
    (error instanceof Error && /\(os error 5\)$/.test(error.message));
}

/**
 * Makes `console`'s writes survive their output going away: a write that fails so (see
 * {@linkcode outputGone}) mutes that stream's methods (stdout's `log`, `info`, `debug`; stderr's
 * `error`, `warn`), and the work goes on. A training run whose terminal closed threw at its next
 * `Epoch N` line, and ended recorded as running, its lock left; its SIGHUP, which stops it
 * cleanly, came after.
 */
export function survivingConsole(): void {
  const streams = [["log", "info", "debug"], ["error", "warn"]] as const;
  for (const methods of streams) {
    const originals = methods.map((method) => console[method]);
    const mute = () => methods.forEach((method) => console[method] = () => {});
    methods.forEach((method, i) => {
      console[method] = (...args: unknown[]) => {
        try {
          originals[i].apply(console, args);
        } catch (error) {
          if (!outputGone(error)) throw error;
          mute();
        }
      };
    });
  }
}
