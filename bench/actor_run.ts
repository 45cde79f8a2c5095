/**
 * Timing a run through the five actors, as `anneal train` runs it.
 *
 * @module
 */
import { type RunConfigInput, train } from "../mod.ts";
import type { SpareActors } from "../runtime/actor_workers.ts";
import { trainWithSpares } from "../runtime/supervisor.ts";

/** What {@link actorSeconds} measures. */
export interface ActorTiming {
  /** Wall time from the plan event to the last step event. */
  seconds: number;
  steps: number;
  /** Of `seconds`, the trainer's time in the steps' own work (the epochs' `stepSeconds`). */
  stepSeconds: number;
  /**
   * Of `seconds`, the time to the first step event (the first window of steps: compiling and
   * first allocations in a new Worker); the rest is the warm loop.
   */
  firstWindowSeconds: number;
  /** Steps in that first window. */
  firstWindowSteps: number;
}

/**
 * Times a run through the five actors, as `anneal train` runs it; with `spares`, as a sweep's
 * trial: in the Workers the run before handed back there (their modules loaded, their code warm).
 */
export async function actorSeconds(
  input: RunConfigInput,
  runsDir: string,
  spares?: SpareActors,
): Promise<ActorTiming> {
  const run = spares
    ? trainWithSpares(spares, { ...input, runsDir })
    : train({ ...input, runsDir });
  let first = 0;
  let last = 0;
  let steps = 0;
  let stepSeconds = 0;
  let firstWindow: { at: number; steps: number } | undefined;
  for await (const event of run.events()) {
    if (event.type === "plan") first = performance.now();
    if (event.type === "steps") {
      last = performance.now();
      steps += event.losses.length;
      firstWindow ??= { at: last, steps };
    }
    if (event.type === "epoch") stepSeconds += event.stepSeconds;
  }
  await run.result;
  return {
    seconds: (last - first) / 1000,
    steps,
    stepSeconds,
    firstWindowSeconds: ((firstWindow?.at ?? first) - first) / 1000,
    firstWindowSteps: firstWindow?.steps ?? 0,
  };
}
