import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import { parseSchedulerSpec } from "./parse.ts";

function errorOf(input: unknown): AnnealError {
  try {
    parseSchedulerSpec(input);
  } catch (error) {
    assert.ok(error instanceof AnnealError);
    return error;
  }
  assert.fail(`expected ${JSON.stringify(input)} to be rejected`);
}

Deno.test("parse fills PyTorch's defaults and interval 'step'", () => {
  const spec = parseSchedulerSpec({ name: "onecycle", maxLr: 0.1, totalSteps: 100 });
  assert.deepEqual(spec, {
    name: "onecycle",
    interval: "step",
    maxLr: 0.1,
    totalSteps: 100,
    pctStart: 0.3,
    annealStrategy: "cos",
    cycleMomentum: true,
    baseMomentum: 0.85,
    maxMomentum: 0.95,
    divFactor: 25,
    finalDivFactor: 1e4,
    threePhase: false,
  });
  assert.deepEqual(parseSchedulerSpec({ name: "linear" }), {
    name: "linear",
    interval: "step",
    startFactor: 1 / 3,
    endFactor: 1,
    totalIters: 5,
  });
  assert.equal(parseSchedulerSpec({ name: "plateau", interval: "epoch" }).interval, "epoch");
});

Deno.test("a bad value names the schedule, the field and the value", () => {
  const error = errorOf({ name: "cosine", tMax: 0 });
  assert.equal(
    error.message,
    "Cannot create cosine schedule: 'tMax' must not be 0: torch's CosineAnnealingLR divides by " +
      "it at step 1, which every run gets to (ZeroDivisionError), current value is 0",
  );
  assert.equal(error.code, "config");
  assert.equal(error.where, "tMax");
  assert.ok(error.hint);
});

Deno.test("missing, mistyped, non-integer and out-of-range fields are reported", () => {
  assert.equal(
    errorOf({ name: "cosine" }).message,
    "Cannot create cosine schedule: 'tMax' is required (a number)",
  );
  assert.match(
    errorOf({ name: "cosine", tMax: "5" }).message,
    /'tMax' must be a number, not the string "5" \(write it without quotes\), current value is "5"/,
  );
  assert.match(
    errorOf({ name: "cosineWarmRestarts", t0: 2.5 }).message,
    /'t0' must be a whole number, current value is 2.5/,
  );
  assert.match(
    errorOf({ name: "plateau", factor: 1 }).message,
    /'factor' must be < 1, current value is 1/,
  );
  assert.match(
    errorOf({ name: "onecycle", maxLr: 1, totalSteps: 9, annealStrategy: "exp" }).message,
    /'annealStrategy' must be one of "cos", "linear", current value is "exp"/,
  );
});

Deno.test("unknown names and unknown fields are rejected (strict objects)", () => {
  const unknownName = errorOf({ name: "cosin", tMax: 3 });
  assert.match(
    unknownName.message,
    /^Cannot create cosin schedule: 'name' must be one of .*"cosine"/,
  );
  const unknownField = errorOf({ name: "cosine", tMax: 5, T_max: 5 });
  assert.equal(
    unknownField.message,
    "Cannot create cosine schedule: unknown field 'T_max' (did you mean 'tMax'?)",
  );
  assert.match(unknownField.hint!, /^rename 'T_max' to 'tMax'/);
  assert.equal(unknownField.where, "T_max");
});

Deno.test("sequential checks its children and its milestones", () => {
  const child = errorOf({
    name: "sequential",
    schedulers: [{ name: "cosine", tMax: 0 }],
    milestones: [],
  });
  assert.equal(child.where, "schedulers[0].tMax");
  assert.match(child.message, /'schedulers\[0\]\.tMax' must not be 0: .*, current value is 0/);
  assert.match(
    errorOf({ name: "sequential", schedulers: [{ name: "constant" }], milestones: [3] }).message,
    /'milestones' must have one entry fewer than 'schedulers'/,
  );
  const three = [{ name: "constant" }, { name: "exponential", gamma: 0.5 }, { name: "constant" }];
  assert.match(
    errorOf({ name: "sequential", schedulers: three, milestones: [5, 3] }).message,
    /'milestones' must not decrease: torch 1\.13 accepts them in any order, but .* anneal refuses it/,
  );
  // equal milestones skip the schedule between them, as torch's SequentialLR does
  assert.doesNotThrow(() =>
    parseSchedulerSpec({ name: "sequential", schedulers: three, milestones: [5, 5] })
  );
  assert.match(
    errorOf({ name: "sequential", schedulers: [{ name: "plateau" }], milestones: [] }).message,
    /'schedulers\[0\]\.name' must be one of/,
  );
});

Deno.test("a sequential's schedule counting epochs under a sequential of steps is refused, not ignored", () => {
  // torch steps every child through SequentialLR.step(): the children have no interval of their
  // own, and anneal's count the sequential's. One written 'epoch' would silently count steps.
  const warmupThenEpochs = {
    name: "sequential",
    schedulers: [{ name: "linear", totalIters: 100 }, {
      name: "step",
      stepSize: 1,
      interval: "epoch",
    }],
    milestones: [100],
  };
  const error = errorOf(warmupThenEpochs);
  assert.equal(error.where, "schedulers[1].interval");
  assert.match(
    error.message,
    /'schedulers\[1\]\.interval' must not be 'epoch' in a sequential that counts steps: its schedules all count the sequential's own interval/,
  );
  // the same interval as the sequential's (written, or the default a saved config holds) runs
  const resolved = parseSchedulerSpec({ ...warmupThenEpochs, interval: "epoch" });
  assert.equal(resolved.interval, "epoch");
  assert.doesNotThrow(() =>
    parseSchedulerSpec({
      name: "sequential",
      schedulers: [{ name: "linear", interval: "step" }, { name: "exponential", gamma: 0.5 }],
      milestones: [5],
    })
  );
  assert.doesNotThrow(() => parseSchedulerSpec(resolved));
});

Deno.test("settings torch 1.13 accepts but does not act on as they read are refused, saying so", () => {
  const cases: [unknown, RegExp][] = [
    [
      { name: "step", stepSize: 2.5 },
      /'stepSize' must be a whole number: torch 1\.13 accepts a fraction, but .*every 5th for 2\.5.*; anneal refuses it, current value is 2\.5/,
    ],
    [
      { name: "multistep", milestones: [3, 4.5] },
      /'milestones\[1\]' must be a whole number: torch 1\.13 accepts .* never reached/,
    ],
    [{ name: "constant", factor: 0.5, totalIters: 1.5 }, /'totalIters' must be a whole number/],
    [{ name: "linear", totalIters: 2.5 }, /'totalIters' must be a whole number/],
    [{ name: "polynomial", totalIters: 2.5 }, /'totalIters' must be a whole number/],
    [
      {
        name: "sequential",
        schedulers: [{ name: "constant" }, { name: "exponential", gamma: 0.5 }],
        milestones: [0],
      },
      /'milestones\[0\]' must be a whole number >= 1: torch 1\.13 accepts it, but .* a step late/,
    ],
  ];
  for (const [spec, message] of cases) {
    assert.match(errorOf(spec).message, message, JSON.stringify(spec));
  }
});

Deno.test("where torch divides by zero at step 1, which every run gets to, the error says where", () => {
  const cases: [unknown, string, RegExp][] = [
    [{ name: "step", stepSize: 0 }, "stepSize", /at step 1, which every run gets to/],
    [{ name: "constant", factor: 0, totalIters: 1 }, "factor", /divides by it at step 1/],
    [{ name: "linear", startFactor: 0, totalIters: 3 }, "startFactor", /at step 1/],
    [{ name: "polynomial", power: -1, totalIters: 1 }, "power", /raises 0 to it at step 1/],
    [{ name: "onecycle", maxLr: 0.1, totalSteps: 9, divFactor: 0 }, "divFactor", /divides/],
    [
      {
        name: "sequential",
        schedulers: [{ name: "constant" }, { name: "linear", totalIters: 0 }],
        milestones: [1],
      },
      "schedulers[1].totalIters",
      /must not be 0 in a schedule after the first: torch restarts it .* closed form, which divides by totalIters at step 1 \(its milestone\), which every run gets to/,
    ],
    // a sequential's first schedule, before its milestone hands over
    [
      {
        name: "sequential",
        schedulers: [{ name: "cosine", tMax: 0 }, { name: "constant" }],
        milestones: [2],
      },
      "schedulers[0].tMax",
      /divides by it at step 1, which every run gets to, before milestone 2 hands over/,
    ],
  ];
  for (const [spec, where, message] of cases) {
    const error = errorOf(spec);
    assert.equal(error.where, where, JSON.stringify(spec));
    assert.match(error.message, message, JSON.stringify(spec));
  }
});

Deno.test("where torch raises at a later step, the spec parses: the run's length decides (raises.ts)", () => {
  const exponential = { name: "exponential", gamma: 0.5 };
  for (
    const spec of [
      { name: "constant", factor: 0, totalIters: 3 },
      { name: "polynomial", power: -1, totalIters: 4 },
      { name: "onecycle", maxLr: 1, totalSteps: 10, pctStart: 1 },
      // a sequential's schedule handed over before it raises, one before its milestone hands
      // over, one restarted at a later milestone, and its last
      {
        name: "sequential",
        schedulers: [{ name: "cosine", tMax: 0 }, exponential],
        milestones: [1],
      },
      {
        name: "sequential",
        schedulers: [exponential, { name: "constant", factor: 0, totalIters: 5 }, exponential],
        milestones: [2, 8],
      },
      {
        name: "sequential",
        schedulers: [exponential, { name: "linear", totalIters: 0 }],
        milestones: [4],
      },
      {
        name: "sequential",
        schedulers: [exponential, { name: "constant", factor: 0, totalIters: 5 }],
        milestones: [2],
      },
    ]
  ) assert.doesNotThrow(() => parseSchedulerSpec(spec), JSON.stringify(spec));
});

Deno.test("settings torch 1.13 runs are accepted: negative, zero and empty ones included", () => {
  for (
    const spec of [
      { name: "exponential", gamma: -0.5 },
      { name: "step", stepSize: -3, gamma: -1 },
      { name: "multistep", milestones: [] },
      { name: "multistep", milestones: [-1, 4, 2, 4], gamma: 2 },
      { name: "constant", factor: 0 },
      { name: "cosine", tMax: -4, etaMin: -0.01 },
      { name: "cosineWarmRestarts", t0: 3, etaMin: -0.01 },
      { name: "linear", startFactor: 0, totalIters: 0 },
      { name: "polynomial", totalIters: -2, power: -1 },
      { name: "onecycle", maxLr: -0.1, totalSteps: 9, divFactor: -5, baseMomentum: 1.5 },
      { name: "plateau", factor: -0.5, patience: -1, cooldown: 1.5, minLr: -0.01, eps: -1 },
      { name: "warmupCosine", warmupSteps: -2, totalSteps: 0, numCycles: -0.5 },
      { name: "warmupLinear", warmupSteps: 2.5, totalSteps: 7.5 },
    ]
  ) assert.doesNotThrow(() => parseSchedulerSpec(spec), JSON.stringify(spec));
});

Deno.test("onecycle refuses as it is parsed only a pctStart that makes torch divide by zero when built", () => {
  const onecycle = { name: "onecycle", maxLr: 1, totalSteps: 10 };
  assert.match(
    errorOf({ ...onecycle, pctStart: 0.1 }).message,
    /'pctStart' must not make pctStart \* totalSteps 1 \(totalSteps is 10\): torch's warmup phase would end at step 0/,
  );
  // Shorter phases torch runs through: a warmup ending before step 0, a second phase past the end;
  // a last phase of no length divides by zero only at step totalSteps (see raises_test.ts).
  for (const pct of [0, 0.05, 0.3, 0.6, 1]) {
    for (const threePhase of [false, true]) {
      assert.doesNotThrow(() => parseSchedulerSpec({ ...onecycle, pctStart: pct, threePhase }));
    }
  }
});

Deno.test("a spec that is not an object is rejected, its hint showing one (not naming a field '')", () => {
  for (const spec of ["cosine", undefined, [1]]) {
    const error = errorOf(spec);
    assert.match(error.message, /^Cannot create a schedule: the spec must be an object/);
    assert.match(
      error.hint ?? "",
      /^give a schedule as an object .*\{ name: "cosine", tMax: 100 \}/,
    );
  }
});

Deno.test("a misspelt required field is named as unknown, with the name meant, not as the one it leaves missing", () => {
  const error = errorOf({ name: "step", stepsize: 3 });
  assert.equal(
    error.message,
    "Cannot create step schedule: unknown field 'stepsize' (did you mean 'stepSize'?)",
  );
  assert.equal(error.where, "stepsize");
  assert.match(error.hint ?? "", /rename 'stepsize' to 'stepSize'/);
  // a required field missing alone is still named so
  assert.match(errorOf({ name: "step" }).message, /'stepSize' is required/);
});
