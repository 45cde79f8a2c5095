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
    "Cannot create cosine schedule: 'tMax' must be > 0, current value is 0",
  );
  assert.equal(error.code, "config");
  assert.equal(error.where, "tMax");
  assert.ok(error.hint);
});

Deno.test("missing, mistyped, non-integer and out-of-range fields are reported", () => {
  assert.equal(
    errorOf({ name: "cosine" }).message,
    "Cannot create cosine schedule: 'tMax' is required",
  );
  assert.match(
    errorOf({ name: "cosine", tMax: "5" }).message,
    /'tMax' must be a number, current value is "5"/,
  );
  assert.match(
    errorOf({ name: "step", stepSize: 2.5 }).message,
    /'stepSize' must be an integer, current value is 2.5/,
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
  assert.equal(unknownField.message, "Cannot create cosine schedule: unknown field 'T_max'");
  assert.equal(unknownField.where, "T_max");
});

Deno.test("sequential checks its children and its milestones", () => {
  const child = errorOf({
    name: "sequential",
    schedulers: [{ name: "cosine", tMax: 0 }],
    milestones: [],
  });
  assert.equal(child.where, "schedulers[0].tMax");
  assert.match(child.message, /'schedulers\[0\]\.tMax' must be > 0, current value is 0/);
  assert.match(
    errorOf({ name: "sequential", schedulers: [{ name: "constant" }], milestones: [3] }).message,
    /'milestones' must have one entry fewer than 'schedulers'/,
  );
  assert.match(
    errorOf({
      name: "sequential",
      schedulers: [{ name: "constant" }, { name: "constant" }, { name: "constant" }],
      milestones: [5, 5],
    }).message,
    /'milestones' must be strictly increasing/,
  );
  assert.match(
    errorOf({ name: "sequential", schedulers: [{ name: "plateau" }], milestones: [] }).message,
    /'schedulers\[0\]\.name' must be one of/,
  );
});

Deno.test("onecycle refuses only a pctStart that makes torch divide by zero, saying where", () => {
  const onecycle = { name: "onecycle", maxLr: 1, totalSteps: 10 };
  assert.match(
    errorOf({ ...onecycle, pctStart: 0.1 }).message,
    /'pctStart' must not make pctStart \* totalSteps 1 \(totalSteps is 10\): torch's warmup phase would end at step 0/,
  );
  for (const pct of [{ pctStart: 1 }, { pctStart: 0.55, threePhase: true }]) {
    assert.match(
      errorOf({ ...onecycle, ...pct }).message,
      /'pctStart' must leave the last phase at least one step .* divide by zero at step 10/,
    );
  }
  // Shorter phases torch runs through: a warmup ending before step 0, a second phase past the end.
  for (const pct of [0, 0.05, 0.3, 0.6]) {
    for (const threePhase of [false, true]) {
      assert.doesNotThrow(() => parseSchedulerSpec({ ...onecycle, pctStart: pct, threePhase }));
    }
  }
});

Deno.test("a spec that is not an object is rejected", () => {
  assert.match(errorOf("cosine").message, /^Cannot create a schedule: the spec must be an object/);
});
