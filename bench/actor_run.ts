/**
 * Timing a run through the five actors, as `anneal train` runs it.
 *
 * @module
 */
import { type RunConfigInput, train } from "../mod.ts";

/**
 * Wall time of the training loop through the actors (from the plan to the last step event), and
 * the part of it the trainer spent in the steps' own work (the epochs' `stepSeconds`).
 */
export async function actorSeconds(
  input: RunConfigInput,
  runsDir: string,
): Promise<{ seconds: number; steps: number; stepSeconds: number }> {
  const run = train({ ...input, runsDir });
  let first = 0;
  let last = 0;
  let steps = 0;
  let stepSeconds = 0;
  for await (const event of run.events()) {
    if (event.type === "plan") first = performance.now();
    if (event.type === "steps") {
      last = performance.now();
      steps += event.losses.length;
    }
    if (event.type === "epoch") stepSeconds += event.stepSeconds;
  }
  await run.result;
  return { seconds: (last - first) / 1000, steps, stepSeconds };
}
