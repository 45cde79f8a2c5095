import assert from "node:assert/strict";
import { cosineBeyondRun, warmupCosineBeyondRun } from "./cosine_reach.ts";
import { parseSchedulerSpec } from "./parse.ts";
import { createSchedule } from "./schedule.ts";

Deno.test("a cosine shorter than the run is noted: it climbs back up, as torch's does, with the fixes", () => {
  const spec = parseSchedulerSpec({ name: "cosine", tMax: 50 });
  // 50 epochs of 13 steps, stepped per step: tMax 50 reads as epochs
  const note = cosineBeyondRun(spec, { stepsPerEpoch: 13, epochs: 50 });
  assert.equal(
    note?.message,
    "scheduler.tMax 50 is shorter than the run, which takes 650 optimizer steps: after " +
      "optimizer step 50 the cosine climbs back up towards optimizer.lr, and turns 12 times " +
      "in the run, as torch's CosineAnnealingLR does",
  );
  assert.equal(
    note?.hint,
    "set tMax to the run's length (--set scheduler.tMax=650), or if tMax counts epochs, step " +
      "the cosine once an epoch (--set scheduler.interval=epoch); for restarts by design, use " +
      "cosineWarmRestarts",
  );
  // the rate does climb back: torch's closed form, as the schedule gives it
  const lr = (step: number) => createSchedule(spec, 1).lrAt(step);
  assert.ok(lr(60) > lr(50));
  // a tMax shorter than the epochs too: counting epochs would not fit either
  const short = cosineBeyondRun(parseSchedulerSpec({ name: "cosine", tMax: 20 }), {
    stepsPerEpoch: 13,
    epochs: 50,
  });
  assert.doesNotMatch(short!.hint, /interval=epoch/);
  // the run's last step is 649: tMax 649 or more ends at or after it
  for (const tMax of [649, 650, 1000, -650]) {
    const fits = parseSchedulerSpec({ name: "cosine", tMax });
    assert.equal(cosineBeyondRun(fits, { stepsPerEpoch: 13, epochs: 50 }), undefined, `${tMax}`);
  }
  // counted in epochs under interval "epoch", maxSteps ending the run
  const epochs = parseSchedulerSpec({ name: "cosine", tMax: 3, interval: "epoch" });
  assert.match(
    cosineBeyondRun(epochs, { stepsPerEpoch: 10, epochs: 100, maxSteps: 50 })!.message,
    /which takes 5 epochs: after epoch 3 the cosine climbs back up .* turns 1 time in the run/,
  );
  // restarts by design, and other schedules: nothing to note
  const restarts = parseSchedulerSpec({ name: "cosineWarmRestarts", t0: 10 });
  assert.equal(cosineBeyondRun(restarts, { stepsPerEpoch: 13, epochs: 50 }), undefined);
  assert.equal(cosineBeyondRun(undefined, { stepsPerEpoch: 13, epochs: 50 }), undefined);
});

Deno.test("a warmupCosine whose totalSteps the run outlasts is noted: its rate climbs back up, as Hugging Face's does", () => {
  const run = { stepsPerEpoch: 13, epochs: 5 };
  const spec = parseSchedulerSpec({ name: "warmupCosine", warmupSteps: 2, totalSteps: 5 });
  const note = warmupCosineBeyondRun(spec, run);
  assert.equal(
    note?.message,
    "scheduler.totalSteps 5 is shorter than the run, which takes 65 optimizer steps: after " +
      "optimizer step 5 the rate climbs back up towards optimizer.lr and falls again, as " +
      "Hugging Face's get_cosine_schedule_with_warmup does",
  );
  assert.equal(note?.hint, "set totalSteps to the run's length (--set scheduler.totalSteps=65)");
  // the rate does climb back: back at optimizer.lr at step 8
  const lr = (step: number) => createSchedule(spec, 1).lrAt(step);
  assert.ok(lr(5) < 1e-12 && Math.abs(lr(8) - 1) < 1e-12);
  // a warmup past totalSteps: 0 and optimizer.lr by turns after it
  const flips = parseSchedulerSpec({ name: "warmupCosine", warmupSteps: 10, totalSteps: 5 });
  assert.match(
    warmupCosineBeyondRun(flips, run)!.message,
    /^scheduler\.totalSteps 5 is not past scheduler\.warmupSteps 10, so its cosine lasts one optimizer step: after optimizer step 11 the rate is optimizer\.lr and 0 by turns, each optimizer step, as /,
  );
  assert.deepEqual([11, 12, 13].map((t) => Math.round(createSchedule(flips, 1).lrAt(t))), [
    0,
    1,
    0,
  ]);
  // the run's last step is 64: a cosine at 0 there, or later, is no climb; nor waves by design
  for (
    const fits of [
      { warmupSteps: 10, totalSteps: 64 },
      { warmupSteps: 10, totalSteps: 1000 },
      { warmupSteps: 2, totalSteps: 5, numCycles: 3 },
      { warmupSteps: 2, totalSteps: 5, numCycles: 0 },
    ]
  ) {
    const fitting = parseSchedulerSpec({ name: "warmupCosine", ...fits });
    assert.equal(warmupCosineBeyondRun(fitting, run), undefined, JSON.stringify(fits));
  }
  assert.equal(
    warmupCosineBeyondRun(parseSchedulerSpec({ name: "cosine", tMax: 5 }), run),
    undefined,
  );
});
