/**
 * The CLI's last resort against a process held up after its command finished. The CLI lets the
 * process end by itself (`Deno.exit()` while a terminated Worker's WebGPU device was still being
 * torn down crashed it on a real GPU), but a Worker whose thread does not end when terminated (one
 * seen here: a trainer that never finished loading its modules, its thread idle; or one blocked in
 * a system call) holds it up for good. Long after every wait of a run's end, it exits.
 *
 * @module
 */

/** How long after its command finished the process may still be running before it is ended. */
export const EXIT_GUARD_MS = 30_000;

/**
 * Ends the process with `code` if it is still running `ms` after this call, saying why; a process
 * that ends by itself before is not held up by it (an unref'd timer).
 *
 * @example
 * ```ts
 * import { exitIfHeld } from "./exit_guard.ts";
 * exitIfHeld(0); // nothing holds this process: it ends now, as it would have
 * ```
 */
export function exitIfHeld(code: number, ms = EXIT_GUARD_MS): void {
  const timer = setTimeout(() => {
    console.error(
      `anneal: the command finished ${ms / 1000} s ago, but a thread it started has not ended ` +
        `(a Worker that did not stop when terminated): exiting with status ${code}`,
    );
    Deno.exit(code);
  }, ms);
  Deno.unrefTimer(timer);
}
