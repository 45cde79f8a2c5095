import assert from "node:assert/strict";
import { parseSchedulerSpec } from "./parse.ts";
import { scheduleReach } from "./reach.ts";

const cosine = parseSchedulerSpec({ name: "cosine", tMax: 100 });
const byEpoch = parseSchedulerSpec({ name: "cosine", tMax: 100, interval: "epoch" });

Deno.test("a run's reach counts its optimizer steps, or its epochs under interval epoch, maxSteps ending it", () => {
  assert.deepEqual(scheduleReach(cosine, { stepsPerEpoch: 8, epochs: 10 }), {
    steps: 80,
    unit: "optimizer step",
    length: "80 optimizer steps",
  });
  assert.equal(
    scheduleReach(cosine, { stepsPerEpoch: 8, epochs: 10, maxSteps: 1 })?.length,
    "1 optimizer step",
  );
  // 20 steps of epochs of 8: into its third epoch
  assert.deepEqual(scheduleReach(byEpoch, { stepsPerEpoch: 8, epochs: 10, maxSteps: 20 }), {
    steps: 3,
    unit: "epoch",
    length: "3 epochs",
  });
  assert.equal(scheduleReach(byEpoch, { stepsPerEpoch: 8, epochs: 1 })?.length, "1 epoch");
});

Deno.test("a run of unknown length, or one that steps the schedule at no step, has no reach", () => {
  assert.equal(scheduleReach(cosine, { stepsPerEpoch: 0, epochs: 10 }), undefined);
  assert.equal(scheduleReach(cosine, { stepsPerEpoch: 8, epochs: 0 }), undefined);
  assert.equal(scheduleReach(byEpoch, { stepsPerEpoch: 8, epochs: 10, maxSteps: 0 }), undefined);
});
