import assert from "node:assert/strict";
import { AnnealError, parseConfig, sweepDirection } from "../mod.ts";
import { parseSpace } from "../sweeps/space.ts";
import { checkSweepMetric } from "./sweep.ts";

const ascent = { name: "adam", lr: 1e-3, maximize: true };
const split = { kind: "synthetic-linear", validationSplit: 0.25 };

Deno.test("a sweep of the loss follows optimizer.maximize: the trials push it up, so higher is better", () => {
  const maximizing = parseConfig({ optimizer: ascent, data: split });
  for (const metric of ["valLoss", "loss"]) {
    assert.deepEqual(sweepDirection({ metric, space: {} }, maximizing), { direction: "maximize" });
  }
  // the one value of a space over the flag counts as the base's
  const spaced = parseSpace({ "optimizer.maximize": { type: "choice", values: [true] } });
  const base = parseConfig({ optimizer: { name: "adam" }, data: split });
  assert.equal(sweepDirection({ metric: "valLoss", space: spaced }, base).direction, "maximize");
  // other metrics keep their name's direction; a minimizing optimizer, the loss's
  assert.equal(sweepDirection({ metric: "valMae", space: {} }, maximizing).direction, "minimize");
  assert.equal(sweepDirection({ metric: "valLoss", space: {} }, base).direction, "minimize");
  assert.equal(
    sweepDirection({ metric: "valAccuracy", space: {} }, maximizing).direction,
    "maximize",
  );
});

Deno.test("a sweep.direction against the trials' optimizer is kept, with a warning that names the fix", () => {
  const maximizing = parseConfig({ optimizer: ascent, data: split });
  const against = sweepDirection(
    { metric: "valLoss", direction: "minimize", space: {} },
    maximizing,
  );
  assert.equal(against.direction, "minimize");
  assert.equal(against.warning?.field, "sweep.direction");
  assert.match(
    against.warning!.message,
    /sweep\.direction is 'minimize' while every trial's optimizer\.maximize pushes valLoss up: the best trial is the one whose valLoss rose least/,
  );
  assert.match(against.warning!.hint, /--set sweep\.direction=maximize/);
  const descending = sweepDirection(
    { metric: "loss", direction: "maximize", space: {} },
    parseConfig({ data: split }),
  );
  assert.equal(descending.direction, "maximize");
  assert.match(descending.warning!.message, /optimizer pushes loss down .*fell least/);
  // a direction that agrees, or one for a metric the optimizer does not push, warns of nothing
  assert.deepEqual(
    sweepDirection({ metric: "valLoss", direction: "maximize", space: {} }, maximizing),
    { direction: "maximize" },
  );
  assert.deepEqual(
    sweepDirection({ metric: "valMae", direction: "maximize", space: {} }, maximizing),
    { direction: "maximize" },
  );
});

Deno.test("a sweep of the loss over a space of optimizer.maximize is refused, whatever sweep.direction says", () => {
  const base = parseConfig({ optimizer: { name: "adam" }, data: split });
  for (const type of ["choice", "grid"] as const) {
    const space = parseSpace({ "optimizer.maximize": { type, values: [true, false] } });
    for (const direction of [undefined, "maximize", "minimize"] as const) {
      assert.throws(
        () => sweepDirection({ metric: "valLoss", direction, space }, base),
        (error) => {
          assert.ok(error instanceof AnnealError && error.code === "config");
          assert.match(
            error.message,
            /Cannot optimise 'valLoss' with optimizer\.maximize in sweep\.space: the trials that maximize push valLoss up and the others push it down/,
          );
          assert.equal(error.where, 'sweep.space["optimizer.maximize"]');
          assert.match(error.hint!, /remove "optimizer\.maximize" from sweep\.space/);
          assert.match(error.hint!, /--set sweep\.metric=valMae/);
          return true;
        },
      );
    }
    // the task's metric does not depend on it
    assert.equal(sweepDirection({ metric: "valMae", space }, base).direction, "minimize");
  }
});

Deno.test("a sweep metric's suggestion changes sweep.direction only where the trials' optimizer needs it", () => {
  const hintOf = (sweep: { metric: string; direction?: "minimize" | "maximize" }, base: object) => {
    try {
      checkSweepMetric({ ...sweep, space: {} }, parseConfig({ ...base, data: split }));
    } catch (error) {
      return (error as AnnealError).hint;
    }
    assert.fail("the metric was accepted");
  };
  // maximize pushes the loss up: a sweep that maximizes it is right as it is
  assert.equal(
    hintOf({ metric: "val_los", direction: "maximize" }, { optimizer: ascent }),
    "did you mean 'valLoss'? (--set sweep.metric=valLoss)",
  );
  assert.equal(
    hintOf({ metric: "val_los", direction: "minimize" }, { optimizer: ascent }),
    "did you mean 'valLoss'? (--set sweep.metric=valLoss --set sweep.direction=maximize)",
  );
  assert.equal(
    hintOf({ metric: "val_los", direction: "maximize" }, {}),
    "did you mean 'valLoss'? (--set sweep.metric=valLoss --set sweep.direction=minimize)",
  );
});
