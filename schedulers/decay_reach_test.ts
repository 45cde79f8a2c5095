import assert from "node:assert/strict";
import { decayBeyondRun } from "./decay_reach.ts";
import { parseSchedulerSpec } from "./parse.ts";

// 90 epochs of 390 steps (CIFAR at batch 128): 35,100 optimizer steps
const run = { stepsPerEpoch: 390, epochs: 90 };

Deno.test("a decay counted in steps whose numbers read as epochs, and that takes the rate under 0.001 of it, is noted", () => {
  const resnet = parseSchedulerSpec({ name: "multistep", milestones: [30, 60, 80] });
  const note = decayBeyondRun(resnet, run);
  assert.equal(
    note?.message,
    'scheduler multistep counts optimizer steps (interval "step"), 35100 in the run: its ' +
      "decays take the rate to 0.001 of optimizer.lr by the last step",
  );
  assert.equal(
    note?.hint,
    "if the milestones are epochs, as torch's MultiStepLR is most often stepped, step it once " +
      "an epoch (--set scheduler.interval=epoch)",
  );
  const step = decayBeyondRun(parseSchedulerSpec({ name: "step", stepSize: 30 }), run);
  assert.match(step!.message, /take the rate to about 1e-1169 \(0 in floats\) of optimizer\.lr/);
  assert.match(step!.hint, /^if stepSize counts epochs, as torch's StepLR/);
  const exponential = parseSchedulerSpec({ name: "exponential", gamma: 0.95 });
  assert.match(decayBeyondRun(exponential, run)!.hint, /^if gamma is a decay per epoch/);
});

Deno.test("decays that end above 0.001 of the rate, count epochs, or read as steps are not noted", () => {
  // two decays by 0.1: 0.01 of the rate, a schedule meant either way
  const two = parseSchedulerSpec({ name: "multistep", milestones: [30, 60] });
  assert.equal(decayBeyondRun(two, run), undefined);
  // stepped once an epoch, as meant
  const epochs = parseSchedulerSpec({
    name: "multistep",
    milestones: [30, 60, 80],
    interval: "epoch",
  });
  assert.equal(decayBeyondRun(epochs, run), undefined);
  // milestones past the run's epochs are steps, as written
  const steps = parseSchedulerSpec({ name: "multistep", milestones: [10000, 20000, 30000] });
  assert.equal(decayBeyondRun(steps, run), undefined);
  assert.equal(
    decayBeyondRun(parseSchedulerSpec({ name: "step", stepSize: 5000 }), run),
    undefined,
  );
  // one step an epoch: steps and epochs are one
  assert.equal(decayBeyondRun(two, { stepsPerEpoch: 1, epochs: 90 }), undefined);
  // gamma 0, negative or above 1: torch's semantics, no unit mixed up
  for (const gamma of [0, -0.5, 2]) {
    const spec = parseSchedulerSpec({ name: "step", stepSize: 30, gamma });
    assert.equal(decayBeyondRun(spec, run), undefined, `gamma ${gamma}`);
  }
  // a short run (maxSteps) ends before the decays
  assert.equal(
    decayBeyondRun(parseSchedulerSpec({ name: "step", stepSize: 30 }), { ...run, maxSteps: 60 }),
    undefined,
  );
  assert.equal(decayBeyondRun(parseSchedulerSpec({ name: "cosine", tMax: 10 }), run), undefined);
});
