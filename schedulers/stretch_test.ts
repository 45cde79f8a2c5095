import assert from "node:assert/strict";
import { previewSchedule } from "./preview.ts";
import { type ResolvedSchedulerSpec, SchedulerSpecSchema } from "./spec.ts";
import { stretchSchedule } from "./stretch.ts";

const parse = (spec: unknown) => SchedulerSpecSchema.parse(spec) as ResolvedSchedulerSpec;
const twice = { steps: 2, epochs: 2 };

const WITH_AN_END = [
  { name: "onecycle", maxLr: 0.1, totalSteps: 100 },
  { name: "onecycle", maxLr: 0.1, totalSteps: 90, threePhase: true, annealStrategy: "linear" },
  { name: "cosine", tMax: 100, etaMin: 0.001 },
  { name: "warmupCosine", warmupSteps: 10, totalSteps: 100 },
  { name: "warmupLinear", warmupSteps: 10, totalSteps: 100 },
  { name: "polynomial", totalIters: 100, power: 2 },
  { name: "linear", startFactor: 1, endFactor: 0.01, totalIters: 100 },
  {
    name: "sequential",
    schedulers: [
      { name: "linear", startFactor: 0.1, endFactor: 1, totalIters: 10 },
      { name: "cosine", tMax: 90 },
    ],
    milestones: [10],
  },
];

Deno.test("a schedule with an end, stretched over a run twice as long, takes at step 2t the rate it took at t", () => {
  for (const input of WITH_AN_END) {
    const spec = parse(input);
    const stretched = stretchSchedule(spec, twice);
    assert.ok(stretched, input.name);
    // what it gives is a schedule the config takes as it is
    assert.deepEqual(parse(stretched), stretched, input.name);
    const before = previewSchedule(spec, 0.1, 90).lr;
    const after = previewSchedule(stretched, 0.1, 180).lr;
    for (let t = 0; t < 90; t += 7) {
      // onecycle's phase ends round to whole steps: a step's worth of difference near them
      const tolerance = input.name === "onecycle" ? 0.1 / 25 + 0.1 * 0.05 : 1e-12;
      assert.ok(
        Math.abs(after[2 * t] - before[t]) <= tolerance,
        `${input.name} at ${t}: ${before[t]} stretched ${after[2 * t]}`,
      );
    }
    // and it ends where the longer run ends, not halfway
    assert.ok(Math.abs(after[179] - before[89]) <= 0.1 * 0.05, input.name);
  }
});

Deno.test("a schedule without an end, or a run of the same length, needs no change", () => {
  for (
    const input of [
      { name: "constant" },
      { name: "step", stepSize: 30 },
      { name: "multistep", milestones: [30, 60] },
      { name: "exponential", gamma: 0.9 },
      { name: "cosineWarmRestarts", t0: 10 },
      { name: "plateau" },
    ]
  ) {
    assert.equal(stretchSchedule(parse(input), twice), undefined, input.name);
  }
  assert.equal(stretchSchedule(parse(WITH_AN_END[0]), { steps: 1, epochs: 1 }), undefined);
});

Deno.test("a schedule counted in epochs stretches by the epochs' factor, one counted in steps by the steps'", () => {
  // a batch half the size: twice the steps, the same epochs
  const smallerBatch = { steps: 2, epochs: 1 };
  const perEpoch = parse({ name: "cosine", tMax: 10, interval: "epoch" });
  assert.equal(stretchSchedule(perEpoch, smallerBatch), undefined);
  const perStep = parse({ name: "cosine", tMax: 100 });
  assert.deepEqual(stretchSchedule(perStep, smallerBatch), { ...perStep, tMax: 200 });
});

Deno.test("a shorter run's sequential keeps increasing milestones, and onecycle a length torch can divide", () => {
  const sequential = parse({
    name: "sequential",
    schedulers: [{ name: "constant" }, { name: "constant" }, { name: "cosine", tMax: 10 }],
    milestones: [2, 3],
  });
  const shorter = stretchSchedule(sequential, { steps: 0.3, epochs: 0.3 });
  assert.ok(shorter?.name === "sequential");
  assert.deepEqual(shorter.milestones, [1, 2]);
  assert.deepEqual(parse(shorter), shorter);
  // 5 steps at pctStart 0.1 doubled is 10, whose warmup ends at step 1 - 1 = 0: torch divides by
  // zero there, so the stretch takes the next length
  const onecycle = parse({ name: "onecycle", maxLr: 1, totalSteps: 5, pctStart: 0.1 });
  const longer = stretchSchedule(onecycle, twice);
  assert.ok(longer?.name === "onecycle" && longer.totalSteps >= 10);
  assert.deepEqual(parse(longer), longer);
});

Deno.test("a schedule without an end counted in steps keeps its period in epochs where an epoch takes twice the steps: the rate at step 2t is the rate at t", () => {
  // a batch half the size: twice the steps an epoch, the same epochs
  const smallerBatch = { steps: 2, epochs: 1, perEpoch: 2 };
  const periodic = [
    { name: "step", stepSize: 30, gamma: 0.5 },
    { name: "multistep", milestones: [25, 60, 61] },
    { name: "exponential", gamma: 0.97 },
    { name: "cosineWarmRestarts", t0: 10, tMult: 2, etaMin: 0.01 },
    {
      name: "cyclic",
      baseLr: 0.01,
      maxLr: 0.1,
      stepSizeUp: 7,
      stepSizeDown: 12,
      cycleMomentum: false,
    },
    {
      name: "cyclic",
      baseLr: 0.01,
      maxLr: 0.1,
      stepSizeUp: 5,
      mode: "triangular2",
      cycleMomentum: false,
    },
    { name: "constant", factor: 0.5, totalIters: 9 },
    {
      name: "sequential",
      schedulers: [{ name: "constant", factor: 0.2, totalIters: 4 }, {
        name: "step",
        stepSize: 10,
      }],
      milestones: [20],
    },
  ];
  for (const input of periodic) {
    const spec = parse(input);
    const kept = stretchSchedule(spec, smallerBatch);
    assert.ok(kept, input.name);
    assert.deepEqual(parse(kept), kept, input.name);
    const before = previewSchedule(spec, 0.1, 90).lr;
    const after = previewSchedule(kept, 0.1, 180).lr;
    for (let t = 0; t < 90; t++) {
      assert.ok(
        Math.abs(after[2 * t] - before[t]) <= 1e-12 * Math.abs(before[t]) + 1e-15,
        `${input.name} at ${t}: ${before[t]} kept ${after[2 * t]}`,
      );
    }
  }
  // counted in epochs, or more epochs of the same batches: the period stays
  assert.equal(
    stretchSchedule(parse({ name: "step", stepSize: 3, interval: "epoch" }), smallerBatch),
    undefined,
  );
  assert.equal(
    stretchSchedule(parse({ name: "step", stepSize: 30 }), { steps: 2, epochs: 2, perEpoch: 1 }),
    undefined,
  );
  // a decay factor without a root (0 or below) is kept as it is
  assert.equal(
    stretchSchedule(parse({ name: "exponential", gamma: -0.9 }), smallerBatch),
    undefined,
  );
});

Deno.test("a period in steps follows a larger batch too, whole and at least one step", () => {
  const largerBatch = { steps: 0.25, epochs: 1, perEpoch: 0.25 };
  assert.deepEqual(
    stretchSchedule(parse({ name: "step", stepSize: 30 }), largerBatch),
    parse({ name: "step", stepSize: 8 }),
  );
  const cyclic = stretchSchedule(
    parse({ name: "cyclic", baseLr: 0.01, maxLr: 0.1, stepSizeUp: 2, cycleMomentum: false }),
    largerBatch,
  );
  assert.equal((cyclic as { stepSizeUp: number }).stepSizeUp, 1);
});
