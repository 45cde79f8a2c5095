/**
 * `trainInProcess` in a Worker of its own, for `bench/actor_overhead.ts`: the same plain loop as
 * in the bench's thread, but started as fresh as an actor run's trainer (a new isolate, whose
 * code V8 has not yet optimized), so that the comparison with the actors does not mix in the
 * in-process side's warm-up from earlier rounds. Receives a config; answers with the result's
 * timings, or `{ error }`.
 *
 * @module
 */
import { parseConfig, type RunConfigInput } from "../mod.ts";
import { trainInProcess } from "../runtime/in_process.ts";

declare const self: {
  onmessage: ((event: MessageEvent<RunConfigInput>) => void) | null;
  postMessage(message: unknown): void;
};

self.onmessage = async (event: MessageEvent<RunConfigInput>) => {
  try {
    const result = await trainInProcess(parseConfig(event.data));
    self.postMessage({
      seconds: result.seconds,
      stepSeconds: result.stepSeconds,
      firstWindowSeconds: result.firstWindowSeconds,
      firstWindowSteps: result.firstWindowSteps,
      steps: result.steps,
    });
  } catch (error) {
    self.postMessage({ error: String(error) });
  }
};
