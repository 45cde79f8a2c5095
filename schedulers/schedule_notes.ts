/**
 * Everything the start of a run says of a schedule that does not fit the run's length
 * (`reach.ts`): a warmup the run never finishes, a cosine it outlasts, a decay counted in steps
 * that takes the rate all but to 0, an anneal cut well short of its end; and of a `sequential`,
 * the same of each of its schedules over its part of the run (from its milestone to the next, or
 * to the run's end), and a schedule whose milestone the run never reaches. torch's SequentialLR
 * runs each schedule from step 0 at its milestone: a warmup, a cosine or a onecycle in it that
 * does not fit its part is as seldom meant as one at the top.
 *
 * @module
 */

import { annealBeyondRun } from "./anneal_reach.ts";
import { cosineBeyondRun, warmupCosineBeyondRun } from "./cosine_reach.ts";
import { decayBeyondRun } from "./decay_reach.ts";
import { type RunLength, scheduleSteps } from "./raises.ts";
import type { ScheduleNote } from "./reach.ts";
import type { ResolvedSchedulerSpec } from "./spec.ts";
import { warmupBeyondRun } from "./warmup_reach.ts";

/**
 * The notes of the run's start on `spec` for a run of length `run`: none where it fits.
 *
 * @example
 * ```ts
 * import { scheduleNotes } from "./schedule_notes.ts";
 * import { parseSchedulerSpec } from "./parse.ts";
 * const spec = parseSchedulerSpec({
 *   name: "sequential",
 *   schedulers: [{ name: "linear", startFactor: 0.1, totalIters: 2 }, { name: "cosine", tMax: 2 }],
 *   milestones: [2],
 * });
 * // a 10-step run: the cosine runs its 8 steps, and turns twice
 * const [note] = scheduleNotes(spec, { stepsPerEpoch: 10, epochs: 1 });
 * console.assert(note.message.startsWith("scheduler.schedulers[1] (cosine) runs the run's last 8"));
 * ```
 */
export function scheduleNotes(
  spec: ResolvedSchedulerSpec | undefined,
  run: RunLength,
): ScheduleNote[] {
  if (spec?.name !== "sequential") {
    return [
      warmupBeyondRun,
      cosineBeyondRun,
      warmupCosineBeyondRun,
      decayBeyondRun,
      annealBeyondRun,
    ]
      .map((check) => check(spec, run))
      .filter((note): note is ScheduleNote => note !== undefined);
  }
  if (run.stepsPerEpoch <= 0) return [];
  const interval = spec.interval ?? "step";
  const total = scheduleSteps(interval, run);
  const unit = interval === "epoch" ? "epoch" : "optimizer step";
  const units = (n: number) => `${n} ${unit}${n === 1 ? "" : "s"}`;
  const notes: ScheduleNote[] = [];
  spec.schedulers.forEach((child, i) => {
    const start = i === 0 ? 0 : spec.milestones[i - 1];
    const end = i === spec.schedulers.length - 1 ? Infinity : spec.milestones[i];
    const name = `scheduler.schedulers[${i}]`;
    if (start >= total) {
      notes.push({
        message: `${name} (${child.name}) starts at scheduler.milestones[${i - 1}] ${start}, ` +
          `past the run's last ${unit} (it takes ${units(total)}): it never runs`,
        hint: `lower the milestone below ${total}, or train longer`,
      });
      return;
    }
    const part = Math.min(end, total) - start;
    // its part of the run, as a run of its own: the schedule starts over at its milestone. One
    // that hands over at its milestone and fits the step there is no note (torch's warmup idiom:
    // a LinearLR of totalIters 5 up to milestone 5, where the rate becomes the next one's)
    const own = { ...child, interval } as ResolvedSchedulerSpec;
    const handsOver = end <= total;
    const where = handsOver
      ? `runs ${units(part)}, from ${start === 0 ? "the start" : `milestone ${start}`} to ` +
        `milestone ${end}`
      : start === 0
      ? `runs the whole run`
      : `runs the run's last ${units(part)}, from milestone ${start}`;
    for (
      const check of [warmupBeyondRun, cosineBeyondRun, warmupCosineBeyondRun, annealBeyondRun]
    ) {
      const note = check(own, { stepsPerEpoch: 1, epochs: part });
      if (!note || (handsOver && !check(own, { stepsPerEpoch: 1, epochs: part + 1 }))) continue;
      notes.push(inSequential(note, name, `${name} (${child.name}) ${where}`));
    }
  });
  return notes;
}

/**
 * A note on one schedule of a sequential, said of it: its fields by their path in the sequential,
 * "the run" as its part of the run, after the words that say which part that is.
 */
function inSequential(note: ScheduleNote, name: string, where: string): ScheduleNote {
  const within = (text: string) =>
    text.replace(/(--set )?scheduler\./g, `${name}.`).replaceAll("the run", "its part of the run");
  // (--set does not reach into a list: no --set of the fix to give, but the whole list's)
  return {
    message: `${where}: ${within(note.message)}`,
    hint: `${within(note.hint)} (a sequential's schedules are set in the config file, or ` +
      "whole: --set 'scheduler.schedulers=[...]')",
  };
}
