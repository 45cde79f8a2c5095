/**
 * Ctrl-C (SIGINT), SIGTERM and SIGHUP (a closed terminal) in the long commands (`train`, `sweep`,
 * `worker`, `tune`, `lr-find`): the first signal asks the work to end cleanly, keeping what it has
 * done (a range test cut short keeps nothing); a second exits at once (a SIGTERM or SIGHUP within
 * a second of the first, or a SIGINT within 300 ms, is taken as the same one, sent to the process
 * group and forwarded again by a wrapper).
 *
 * @module
 */

/** The signals a command ends on, and what the first one asked. */
export interface Interruption {
  /** The first signal received, where one was. */
  readonly signal?: Deno.Signal;
  /** Stops listening (the default handlers again). */
  dispose(): void;
}

/**
 * A SIGTERM (or SIGHUP) this soon (ms) after the first is taken as the same one, delivered twice
 * (see {@linkcode onSignals}); a later one exits at once.
 */
export const REPEAT_MS = 1000;
/**
 * A SIGINT this soon (ms) after the first is the same Ctrl-C delivered twice: a terminal sends it
 * to the foreground process group, `deno task` and anneal both, and `deno task` forwards its own
 * to anneal ~5 ms later (the README's `npx -y deno@2.9.6 task anneal ...` exited at once at every
 * Ctrl-C: a run recorded as running, its lock left; a sweep's trial left RUNNING). Shorter than
 * SIGTERM's: a person's second Ctrl-C, meant to exit at once, comes later than this.
 */
export const SIGINT_REPEAT_MS = 300;

/** The exit code of a command a signal ended: 128 + its number. */
export function signalExitCode(signal: Deno.Signal | undefined): number {
  return signal === "SIGTERM" ? 143 : signal === "SIGHUP" ? 129 : 130;
}

/**
 * Listens for SIGINT, SIGTERM and SIGHUP: at the first, prints `anneal: SIGNAL: <doing>` (and
 * that the signal again exits at once) on stderr and calls `stop` with `SIGNAL received`; at a
 * second, the process exits at once with 128 + the signal's number, but for a SIGTERM or SIGHUP
 * within {@linkcode REPEAT_MS} of a first of its kind, or a SIGINT within
 * {@linkcode SIGINT_REPEAT_MS} of a first SIGINT: the same request delivered twice, ignored.
 *
 * @example
 * ```ts
 * import { onSignals } from "./signals.ts";
 * const interruption = onSignals("stopping after the current step", (reason) => console.log(reason));
 * interruption.dispose();
 * ```
 */
export function onSignals(doing: string, stop: (reason: string) => void): Interruption {
  const state: { signal?: Deno.Signal; dispose(): void } = { dispose: () => {} };
  const listeners: [Deno.Signal, () => void][] = [];
  /** When the first signal came (`performance.now()`). */
  let since = 0;
  // (SIGHUP: the terminal closed, an ssh session dropped; it took the run down at once, recorded
  // as running and then listed as killed, with no checkpoint of the step it stopped at)
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const listener = () => {
      // The same signal again within REPEAT_MS (SIGINT_REPEAT_MS) is the same request seen
      // twice: sent to the process group (timeout, a job scheduler, kill -TERM -PGID, a
      // terminal's Ctrl-C), it reaches this process and a wrapper that forwards it (deno task),
      // and the forwarded one took the run down at once: recorded as running, its lock left, no
      // checkpoint of its last step. A person's second Ctrl-C still exits at once.
      const window = signal === "SIGINT" ? SIGINT_REPEAT_MS : REPEAT_MS;
      const repeat = state.signal === signal && performance.now() - since < window;
      if (repeat) return;
      if (state.signal) Deno.exit(signalExitCode(signal));
      state.signal = signal;
      since = performance.now();
      // (a SIGHUP's terminal is gone: a write to it fails, EIO, which the CLI's console and
      // progress bar survive; see cli/quiet_write.ts)
      console.error(`anneal: ${signal}: ${doing} (${signal} again exits at once)`);
      stop(`${signal} received`);
    };
    try {
      Deno.addSignalListener(signal, listener);
      listeners.push([signal, listener]);
    } catch {
      // (Windows has no SIGTERM: Ctrl-C is still handled)
    }
  }
  state.dispose = () => {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  };
  return state;
}
