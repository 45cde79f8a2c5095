/**
 * Timing a run through the five actors, as `anneal train` runs it.
 *
 * @module
 */
import { type RunConfigInput, train } from "../mod.ts";

/** Wall time of the training loop through the actors (from the first to the last step event). */
export async function actorSeconds(
  input: RunConfigInput,
  runsDir: string,
): Promise<{ seconds: number; steps: number }> {
  const run = train({ ...input, runsDir });
  let first = 0;
  let last = 0;
  let steps = 0;
  for await (const event of run.events()) {
    if (event.type === "plan") first = performance.now();
    if (event.type === "steps") {
      last = performance.now();
      steps += event.losses.length;
    }
  }
  await run.result;
  return { seconds: (last - first) / 1000, steps };
}
