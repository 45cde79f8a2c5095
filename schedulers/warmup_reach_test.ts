import assert from "node:assert/strict";
import { parseSchedulerSpec } from "./parse.ts";
import { warmupBeyondRun } from "./warmup_reach.ts";

Deno.test("a warmup as long as the run or longer is noted with the rate it reaches and a warmup of a tenth of the run", () => {
  const spec = parseSchedulerSpec({ name: "warmupLinear", warmupSteps: 100, totalSteps: 400 });
  // 10 epochs of 8 steps: 80 steps at 0 .. 79 of a 100-step warmup
  const note = warmupBeyondRun(spec, { stepsPerEpoch: 8, epochs: 10 });
  assert.equal(
    note?.message,
    "scheduler.warmupSteps 100 is as long as the run or longer: the run takes 80 optimizer " +
      "steps, so its rate climbs to 79% of optimizer.lr at most, and never decays",
  );
  assert.deepEqual(note?.set, ["scheduler.warmupSteps=8", "scheduler.totalSteps=80"]);
  assert.match(note!.hint, /\(--set scheduler\.warmupSteps=8 --set scheduler\.totalSteps=80\)/);
  // maxSteps ends the run: its steps count
  assert.match(
    warmupBeyondRun(spec, { stepsPerEpoch: 8, epochs: 100, maxSteps: 50 })!.message,
    /the run takes 50 optimizer steps/,
  );
  // a run of exactly warmupSteps steps never reaches optimizer.lr either (step 99 of 100)
  assert.ok(warmupBeyondRun(spec, { stepsPerEpoch: 10, epochs: 10 }));
  assert.equal(warmupBeyondRun(spec, { stepsPerEpoch: 10, epochs: 11 }), undefined);
  // counted in epochs under interval "epoch"; totalSteps already the run's is not set again
  const epochs = parseSchedulerSpec({
    name: "warmupCosine",
    warmupSteps: 5,
    totalSteps: 3,
    interval: "epoch",
  });
  const byEpoch = warmupBeyondRun(epochs, { stepsPerEpoch: 13, epochs: 3 });
  assert.match(byEpoch!.message, /the run takes 3 epochs, so its rate climbs to 40% of/);
  assert.deepEqual(byEpoch!.set, ["scheduler.warmupSteps=1"]);
  // other schedules, and no schedule, have no warmup to note
  assert.equal(
    warmupBeyondRun(parseSchedulerSpec({ name: "cosine", tMax: 1000 }), {
      stepsPerEpoch: 8,
      epochs: 1,
    }),
    undefined,
  );
  assert.equal(warmupBeyondRun(undefined, { stepsPerEpoch: 8, epochs: 1 }), undefined);
});
