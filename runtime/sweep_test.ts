import assert from "node:assert/strict";
import {
  AnnealError,
  openStorage,
  parseConfig,
  runSweep,
  runWorker,
  sweepDirection,
  train,
} from "../mod.ts";
import type { ConfigWarning } from "../mod.ts";
import { parseSpace } from "../sweeps/space.ts";
import { PERMISSIONS_ENV } from "./actor_permissions.ts";
import { assertSweepProcessEnds, loadActorModules, TWO_TRIAL_SWEEP } from "../tests/_helpers.ts";
import {
  checkSpacePaths,
  checkSweepMetric,
  gridBudgetWarning,
  lengthSpaceWarning,
  mostEpochs,
  PARALLEL_HINT,
  rateSpaceWarning,
  STUDY_MARK,
  type StudyDefinition,
  trialConfig,
  trialsToSample,
} from "./sweep.ts";

const ascent = { name: "adam", lr: 1e-3, maximize: true };
const split = { kind: "synthetic-linear", validationSplit: 0.25 };

/** A study's definition of `base` (its sweep section aside) and `space`, as anneal sweep stores it. */
function definition(base: Record<string, unknown>, space: Record<string, unknown>) {
  const { sweep: _sweep, ...config } = parseConfig(base);
  return {
    kind: "anneal-sweep",
    sweep: { metric: "valLoss", space: parseSpace(space) },
    base: config,
  } as unknown as StudyDefinition;
}

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

Deno.test("sweepDirection refuses a metric no trial logs, naming the closest, where it took minimize", () => {
  // (the module's function: a config's sweep.metric is checked as it is parsed, one given here
  // was not, and valAcc on a classification was minimized)
  const images = parseConfig({ data: { kind: "idx", dir: "/data" } });
  const refused = (metric: unknown, base: unknown, where: string, hint: RegExp) =>
    assert.throws(
      () => sweepDirection({ metric, space: {} } as never, base as never),
      (error: unknown) =>
        error instanceof AnnealError && error.where === where && hint.test(error.hint ?? ""),
      String(metric),
    );
  refused("valAcc", images, "sweep.metric", /did you mean 'valAccuracy'\?/);
  refused("acuracy", images, "sweep.metric", /did you mean 'accuracy'\?/);
  refused("mse", parseConfig({}), "sweep.metric", /valLoss/);
  refused("lr", images, "sweep.metric", /lr-find/);
  assert.equal(sweepDirection({ metric: "valAccuracy", space: {} }, images).direction, "maximize");
  // and what a plain-JS caller may pass is refused for what it is, not with a TypeError
  refused(undefined, images, "sweep.metric", /metric: "valLoss"/);
  refused("loss", {}, "base", /parseConfig/);
  assert.throws(
    () => sweepDirection(undefined as never, images),
    (error: unknown) => error instanceof AnnealError && error.where === "sweep",
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
  // whole optimizer sections, one of them maximizing: refused so too
  const sections = parseSpace({
    optimizer: { type: "choice", values: [{ name: "adam" }, { name: "sgd", maximize: true }] },
  });
  assert.throws(
    () => sweepDirection({ metric: "valLoss", space: sections }, base),
    (error: AnnealError) =>
      /with optimizer\.maximize in some of sweep\.space's optimizer sections: the trials that maximize push valLoss up/
        .test(error.message) &&
      error.where === "sweep.space.optimizer" &&
      /keep the optimizer sections of sweep\.space that maximize in this study/.test(error.hint!),
  );
  const ascending = parseSpace({
    optimizer: { type: "choice", values: [{ name: "adam", maximize: true }, ascent] },
  });
  assert.equal(sweepDirection({ metric: "valLoss", space: ascending }, base).direction, "maximize");
  // a maximize drawn under a condition: the trials that do not draw it keep the base's
  const conditional = parseSpace({
    "optimizer.name": { type: "choice", values: ["adam", "sgd"] },
    "optimizer.maximize": { type: "choice", values: [true], when: { "optimizer.name": "sgd" } },
  });
  assert.throws(
    () => sweepDirection({ metric: "valLoss", space: conditional }, base),
    /the trials that maximize push valLoss up and the others push it down/,
  );
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

Deno.test("a space over the run's length under a schedule with a fixed end is warned before any trial", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // 48 training samples: batches of 16 take the onecycle's 6 steps, batches of 8 twice as many
    const config = parseConfig({
      backend: "cpu",
      epochs: 2,
      runsDir: dir,
      data: { ...split, n: 64 },
      scheduler: { name: "onecycle", maxLr: 0.01, totalSteps: 6 },
      sweep: {
        space: { batchSize: { type: "choice", values: [8, 16] } },
        metric: "valLoss",
        sampler: "grid",
        trials: 2,
      },
    });
    const seen: ConfigWarning[] = [];
    const result = await runSweep(config, {
      storage: `${dir}/sweeps.db`,
      study: "length",
      onWarning: (w) => seen.push(w),
    });
    assert.equal(seen.length, 1);
    assert.equal(seen[0].field, "sweep.space.batchSize");
    assert.match(seen[0].message, /samples batchSize, which changes how many steps a trial takes/);
    assert.match(
      seen[0].message,
      /onecycle schedule ends at a fixed step \(scheduler\.totalSteps = 6\)/,
    );
    assert.deepEqual(result.warnings, seen);
    // as warned: the trial of batches of 8 (12 steps) went past the end, and was refused
    const states = result.trials.map((t) => [t.params.batchSize, t.state]).sort();
    assert.deepEqual(
      states,
      [[16, "COMPLETE"], [8, "FAILED"]],
      result.trials.map((t) => `${t.params.batchSize}: ${t.state} ${t.reason}`).join("\n"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("no length warning where the schedule has no end (a period in steps under a batch size swept gets its own), is swept itself, or the length is not", () => {
  const batch = parseSpace({ batchSize: { type: "choice", values: [8, 16] } });
  const lr = parseSpace({ "optimizer.lr": { type: "logUniform", low: 1e-3, high: 1e-1 } });
  const cosine = { scheduler: { name: "cosine", tMax: 10, etaMin: 0, interval: "step" } };
  assert.ok(lengthSpaceWarning(batch, cosine));
  assert.equal(lengthSpaceWarning(lr, cosine), undefined);
  // a period counted in steps: trials at other batch sizes decay at other epochs
  const step = { scheduler: { name: "step", stepSize: 3, gamma: 0.1, interval: "step" } };
  assert.match(
    lengthSpaceWarning(batch, step)!.message,
    /samples batchSize, which changes how many steps an epoch takes, but the step schedule counts its period in steps \(scheduler\.stepSize = 3\)/,
  );
  const epochs = parseSpace({ epochs: { type: "choice", values: [2, 4] } });
  assert.equal(lengthSpaceWarning(epochs, step), undefined);
  const inEpochs = { scheduler: { ...step.scheduler, interval: "epoch" } };
  assert.equal(lengthSpaceWarning(batch, inEpochs), undefined);
  assert.equal(lengthSpaceWarning(batch, {}), undefined);
  const both = parseSpace({
    batchSize: { type: "choice", values: [8, 16] },
    "scheduler.tMax": { type: "choice", values: [10, 20] },
  });
  assert.equal(lengthSpaceWarning(both, cosine), undefined);
  // a warmup's length is not where the schedule ends
  const warm = { scheduler: { name: "warmupCosine", warmupSteps: 2, totalSteps: 10 } };
  assert.match(lengthSpaceWarning(batch, warm)!.message, /\(scheduler\.totalSteps = 10\)/);
});

Deno.test("no length warning for the steps an epoch takes under a schedule whose end is counted in epochs; a space over the epochs is warned", () => {
  const batch = parseSpace({ batchSize: { type: "choice", values: [8, 16] } });
  const epochs = parseSpace({ epochs: { type: "choice", values: [2, 4] } });
  // tMax 4 epochs: a trial of batches of 8 takes twice the steps, in the same 4 epochs
  const cosine = parseConfig({
    epochs: 4,
    scheduler: { name: "cosine", tMax: 4, interval: "epoch" },
  });
  assert.equal(lengthSpaceWarning(batch, cosine), undefined);
  assert.match(
    lengthSpaceWarning(epochs, cosine)!.message,
    /samples epochs, which changes how many steps a trial takes, but the cosine schedule ends at a fixed step \(scheduler\.tMax = 4\)/,
  );
  const warm = parseConfig({
    epochs: 4,
    scheduler: { name: "warmupCosine", warmupSteps: 1, totalSteps: 4, interval: "epoch" },
  });
  assert.equal(lengthSpaceWarning(batch, warm), undefined);
});

Deno.test("a space path that names no field of the base config is refused before any trial; one whose kind the space varies is not, where every kind drawn has it", () => {
  const mlp = { model: { kind: "mlp", hidden: [8] } };
  for (
    const [base, path, detail] of [
      [mlp, "model.hiden", /unknown field \(did you mean 'model\.hidden'\?\)/],
      [{}, "optimizer.lrr", /unknown field/],
      [{}, "model.hidden", /unknown field/], // the seed's linear model has no hidden layers
      [{}, "nosection.x", /'nosection' does not exist/],
    ] as [Record<string, unknown>, string, RegExp][]
  ) {
    try {
      checkSpacePaths(definition(base, { [path]: { type: "choice", values: [4, 8] } }));
      assert.fail(`${path} was not refused`);
    } catch (error) {
      assert.ok(error instanceof AnnealError, String(error));
      assert.match(error.message, new RegExp(`^Cannot sweep '${path.replace(".", "\\.")}': `));
      assert.match(error.message, detail);
      assert.match(error.message, /every trial would fail on it$/);
      assert.doesNotMatch(error.message, /Cannot set /, "applyParams' lead is not left half");
      assert.equal(error.where, `sweep.space["${path}"]`);
    }
  }
  // the sweep section is the study's: it was "'sweep' does not exist", of a config that has one
  assert.throws(
    () => checkSpacePaths(definition({}, { "sweep.trials": { type: "choice", values: [1, 2] } })),
    /^AnnealError: Cannot sweep 'sweep\.trials': the sweep section says how the study runs/,
  );
  // where a trial's run goes and its name are the study's: refused, not drawn for nothing
  for (const path of ["runsDir", "name"]) {
    assert.throws(
      () => checkSpacePaths(definition({}, { [path]: { type: "choice", values: ["a", "b"] } })),
      (error: AnnealError) =>
        error.where === `sweep.space.${path}` &&
        new RegExp(`^Cannot sweep '${path}': every trial's run goes to the study's directory`)
          .test(error.message) &&
        /--study NAME/.test(error.hint ?? ""),
    );
  }
  // fields that exist, and a field whose section's kind the space varies, pass
  checkSpacePaths(definition(mlp, {
    "model.dropout": { type: "uniform", low: 0, high: 0.5 },
    "optimizer.lr": { type: "logUniform", low: 1e-4, high: 0.1 },
  }));
  checkSpacePaths(definition({}, {
    "model.kind": { type: "choice", values: ["mlp", "rnn"] },
    "model.dropout": { type: "uniform", low: 0, high: 0.5 },
  }));
  // unless one of the kinds it draws has not the field: its trials would fail on it
  assert.throws(
    () =>
      checkSpacePaths(definition({}, {
        "model.kind": { type: "choice", values: ["linear", "mlp"] },
        "model.dropout": { type: "uniform", low: 0, high: 0.5 },
      })),
    (error) =>
      error instanceof AnnealError && error.where === 'sweep.space["model.dropout"]' &&
      /"linear", one of model\.kind's values, has no field 'dropout'/.test(error.message),
  );
  // a value some trials draw outside the field's range is theirs to fail, not the space's
  checkSpacePaths(
    definition({}, { "optimizer.momentum": { type: "uniform", low: -1, high: 0.9 } }),
  );
});

Deno.test("a space over optimizer.name that draws an optimizer the base config's schedule refuses is refused before any trial", () => {
  const sgd = { name: "sgd", lr: 0.01, momentum: 0.9 };
  const cyclic = { name: "cyclic", baseLr: 0.001, maxLr: 0.01, stepSizeUp: 4 };
  const onecycle = { name: "onecycle", maxLr: 0.01, totalSteps: 100 };
  for (
    const [scheduler, names, refused] of [
      [cyclic, ["sgd", "nadam"], "nadam"], // torch's CyclicLR cycles a momentum only
      [cyclic, ["rmsprop", "adam"], "adam"],
      [onecycle, ["sgd", "adadelta"], "adadelta"], // no momentum or beta1 to cycle
    ] as [Record<string, unknown>, string[], string][]
  ) {
    const space = { "optimizer.name": { type: "choice", values: names } };
    assert.throws(
      () => checkSpacePaths(definition({ optimizer: sgd, scheduler }, space)),
      (error) =>
        error instanceof AnnealError && error.where === 'sweep.space["optimizer.name"]' &&
        error.message.startsWith(
          `Cannot sweep 'optimizer.name' over "${refused}": the base config's scheduler, ` +
            "which the space does not vary, refuses it ('scheduler.cycleMomentum': must be false",
        ) && /every trial that draws it would fail$/.test(error.message) &&
        error.hint!.startsWith(
          `drop "${refused}" from optimizer.name's values, or change ` +
            "'scheduler.cycleMomentum' in the base config",
        ),
    );
  }
  // the optimizers it cycles, or a schedule that cycles none, pass; so does a space that varies
  // the schedule too (some trials may draw one that takes the optimizer)
  const space = (names: string[]) => ({ "optimizer.name": { type: "choice", values: names } });
  checkSpacePaths(definition({ optimizer: sgd, scheduler: cyclic }, space(["sgd", "rmsprop"])));
  checkSpacePaths(
    definition(
      { optimizer: sgd, scheduler: { ...cyclic, cycleMomentum: false } },
      space(["sgd", "adam", "nadam", "adadelta"]),
    ),
  );
  checkSpacePaths(definition({ optimizer: sgd, scheduler: onecycle }, space(["sgd", "nadam"])));
  checkSpacePaths(
    definition({ optimizer: sgd, scheduler: cyclic }, {
      ...space(["sgd", "adam"]),
      "scheduler.cycleMomentum": { type: "choice", values: [true, false] },
    }),
  );
});

Deno.test("the grid's budget warning counts the trials the study already has: their points are tried, and the budget leaves the rest for the untried ones", () => {
  const space = parseSpace({
    "optimizer.lr": { type: "grid", values: [0.001, 0.01, 0.1] },
    batchSize: { type: "grid", values: [8, 16] },
  });
  const point = (lr: number, batchSize: number) => ({ "optimizer.lr": lr, batchSize });
  // a new study: 3 of its 6 points in order
  const fresh = gridBudgetWarning({ space, sampler: "grid", trials: 3 });
  assert.match(
    fresh!.message,
    /^the grid has 6 points and the study 3 trials: .* so optimizer\.lr is tried at 0\.001, 0\.01 only \(of 3 values\)$/,
  );
  assert.match(fresh!.hint, /--trials 6;/);
  // three trials off the grid (another sampler's) hold none of its points: a budget of 6 runs 3
  const off = [point(0.5, 32), point(0.2, 32), point(0.3, 32)];
  const offGrid = gridBudgetWarning({ space, sampler: "grid", trials: 6 }, off);
  assert.match(
    offGrid!.message,
    /^the study's budget of 6 trials, 3 of which it already has, leaves 3 for its 6 points no trial has tried \(of the grid's 6\): .* so optimizer\.lr is tried at 0\.001, 0\.01 only \(of 3 values\)$/,
  );
  assert.match(offGrid!.hint, /--trials 9;/, "the trials so far and every grid point");
  // the study tried the last points already: what the budget leaves reaches every lr
  const last = [point(0.1, 8), point(0.1, 16)];
  const reached = gridBudgetWarning({ space, sampler: "grid", trials: 5 }, last);
  assert.match(
    reached!.message,
    /leaves 3 for its 4 points .* so the last 1 of the grid's points in its order is not run$/,
  );
  assert.equal(gridBudgetWarning({ space, sampler: "grid", trials: 6 }, last), undefined);
  // a spent budget: the study says so itself
  assert.equal(gridBudgetWarning({ space, sampler: "grid", trials: 3 }, off), undefined);
  assert.equal(gridBudgetWarning({ space, sampler: "random", trials: 3 }), undefined);
});

Deno.test("the trials a study still samples: what its budget leaves, or the grid points no trial has tried where they are fewer", () => {
  const space = parseSpace({ "optimizer.lr": { type: "grid", values: [0.001, 0.01, 0.1] } });
  const tried = [{ "optimizer.lr": 0.01 }, { "optimizer.lr": 0.5 }];
  const grid = { space, sampler: "grid" as const };
  // a budget of 10 leaves 8, and the grid 2 points (0.001, 0.1)
  assert.deepEqual(trialsToSample({ ...grid, trials: 10 }, tried), { count: 2, gridPoints: true });
  assert.deepEqual(trialsToSample({ ...grid, trials: 3 }, tried), { count: 1, gridPoints: false });
  assert.deepEqual(trialsToSample({ ...grid, trials: 2 }, tried), { count: 0, gridPoints: false });
  const every = [...tried, { "optimizer.lr": 0.001 }, { "optimizer.lr": 0.1 }];
  assert.deepEqual(trialsToSample({ ...grid, trials: 10 }, every), { count: 0, gridPoints: true });
  assert.deepEqual(
    trialsToSample({ space, sampler: "random", trials: 10 }, tried),
    { count: 8, gridPoints: false },
  );
});

Deno.test("a choice of whole sections with one a trial config refuses (a onecycle without totalSteps) is refused before any trial, where nothing else the space draws could mend it", () => {
  const sgd = { optimizer: { name: "sgd", lr: 0.01, momentum: 0.9 } };
  const cyclic = { name: "cyclic", baseLr: 0.001, maxLr: 0.05, stepSizeUp: 4 };
  const bare = { name: "onecycle", maxLr: 0.05 };
  const schedulers = (values: unknown[]) => ({ scheduler: { type: "choice", values } });
  for (
    const [space, detail] of [
      // the space's only path: every trial is the base with that section
      [
        schedulers([cyclic, { name: "cosine", tMax: 2 }, bare]),
        /'scheduler\.totalSteps': is required/,
      ],
      [
        schedulers([cyclic, { ...cyclic, stepSizeUp: 0 }]),
        /'scheduler\.stepSizeUp': must not be 0/,
      ],
      // beside another path: a field the section needs that no other path gives
      [
        { ...schedulers([cyclic, bare]), "optimizer.lr": { type: "choice", values: [0.01, 0.1] } },
        /'scheduler\.totalSteps': is required/,
      ],
    ] as [Record<string, unknown>, RegExp][]
  ) {
    assert.throws(
      () => checkSpacePaths(definition(sgd, space)),
      (error) =>
        error instanceof AnnealError && error.where === "sweep.space.scheduler" &&
        /^Cannot sweep 'scheduler' over \{/.test(error.message) && detail.test(error.message) &&
        /every trial that draws it would fail on it$/.test(error.message) &&
        error.hint!.startsWith('fix that value of sweep.space["scheduler"]'),
      JSON.stringify(space),
    );
  }
  // a cyclic under the base's adam, which has no momentum to cycle, whatever rate is drawn
  const adam = { optimizer: { name: "adam", lr: 0.01 } };
  const rates = { "optimizer.lr": { type: "logUniform", low: 1e-4, high: 0.1 } };
  assert.throws(
    () => checkSpacePaths(definition(adam, { ...schedulers([cyclic]), ...rates })),
    (error) =>
      error instanceof AnnealError && error.where === "sweep.space.scheduler" &&
      /^Cannot sweep 'scheduler' over \{"baseLr":0\.001,.*"name":"cyclic"/.test(error.message) &&
      /'scheduler\.cycleMomentum': must be false with optimizer adam/.test(error.message),
  );
  // where the space may draw an optimizer it cycles, the trials of the others are theirs to fail
  checkSpacePaths(definition(adam, {
    ...schedulers([cyclic]),
    "optimizer.name": { type: "choice", values: ["sgd", "adam"] },
  }));
  // a value another path may mend, a range's low end, and a space of valid sections pass
  // (drawn beside the cyclic too, the total steps went into it, which has no such field: every
  // trial of the cyclic failed at its start)
  checkSpacePaths(definition(sgd, {
    ...schedulers([cyclic, bare]),
    "scheduler.totalSteps": { type: "choice", values: [8, 16], when: { scheduler: [bare] } },
  }));
  checkSpacePaths(definition(sgd, {
    ...schedulers([cyclic, { ...bare, totalSteps: 8 }]),
    "optimizer.name": { type: "choice", values: ["sgd", "adam"] },
  }));
  checkSpacePaths(definition(sgd, schedulers([cyclic, { name: "cosine", tMax: 2 }])));
});

Deno.test("a choice of null for a field that takes none is refused with the base config's value to list in its place", () => {
  const base = { optimizer: { name: "adamw", lr: 0.01, weightDecay: 0.05 } };
  const space = { "optimizer.weightDecay": { type: "choice", values: [null, 0.1] } };
  assert.throws(
    () => checkSpacePaths(definition(base, space)),
    (error) =>
      error instanceof AnnealError && error.where === 'sweep.space["optimizer.weightDecay"]' &&
      // (a trial cannot leave out what it draws: the config's own words for a null are not said)
      !/leave the field out/.test(error.message) &&
      /^Cannot sweep 'optimizer\.weightDecay' over null: must be a number/.test(error.message) &&
      error.hint!.startsWith("list the base config's value, 0.05, in place of null"),
  );
  // (a field a null may be: the trial's clipping off)
  checkSpacePaths(
    definition(base, { "clipping.maxNorm": { type: "choice", values: [null, 1] } }),
  );
});

Deno.test("a space over optimizer.lr beside whole scheduler sections that ignore it (cyclic, onecycle) is warned, naming them", () => {
  const base = { optimizer: { name: "sgd", lr: 0.01, momentum: 0.9 } };
  const cyclic = { name: "cyclic", baseLr: 0.001, maxLr: 0.05, stepSizeUp: 4 };
  const onecycle = { name: "onecycle", maxLr: 0.05, totalSteps: 8 };
  const cosine = { name: "cosine", tMax: 2 };
  const space = (values: unknown[]) =>
    parseSpace({
      scheduler: { type: "choice", values },
      "optimizer.lr": { type: "logUniform", low: 1e-3, high: 0.1 },
    });
  const some = rateSpaceWarning(space([cyclic, cosine]), base);
  assert.equal(some?.field, 'sweep.space["optimizer.lr"]');
  assert.match(some!.message, /1 of its 2 scheduler sections \(cyclic\) ignores it/);
  assert.match(some!.message, /the trials that draw it train at the same rates/);
  assert.match(some!.message, /"name":"cyclic"/);
  assert.doesNotMatch(some!.message, /cosine/);
  const all = rateSpaceWarning(space([cyclic, onecycle]), base);
  assert.match(all!.message, /every one of its scheduler sections \(cyclic and onecycle\)/);
  assert.match(all!.hint, /sample optimizer\.lr only beside schedules that use it/);
  // schedules that use optimizer.lr, or no space over it: nothing to warn of
  assert.equal(rateSpaceWarning(space([cosine, { name: "step", stepSize: 1 }]), base), undefined);
  const { "optimizer.lr": _, ...alone } = space([cyclic]);
  assert.equal(rateSpaceWarning(alone, base), undefined);
});

Deno.test("the learning-rate warning of a conditional space judges the trials that draw optimizer.lr, with the schedule they draw, and names the condition", () => {
  const lr = { type: "logUniform", low: 1e-3, high: 0.1 };
  const onecycle = { name: "onecycle", maxLr: 0.05, totalSteps: 8 };
  const cosine = { name: "cosine", tMax: 2 };
  const sgd = { name: "sgd", lr: 0.01 };
  const names = { type: "choice", values: ["sgd", "adam"] };
  const warn = (space: Record<string, unknown>, base: Record<string, unknown>) =>
    rateSpaceWarning(parseSpace(space), base);
  // drawn beside the cosine section only: no trial that draws it ignores it
  const sections = { type: "choice", values: [onecycle, cosine] };
  assert.equal(
    warn({ scheduler: sections, "optimizer.lr": { ...lr, when: { scheduler: cosine } } }, {
      optimizer: sgd,
    }),
    undefined,
  );
  // (unconditional, those drawing onecycle would, and the hint now writes the condition)
  const both = warn({ scheduler: sections, "optimizer.lr": lr }, { optimizer: sgd })!;
  assert.match(both.message, /1 of its 2 scheduler sections \(onecycle\) ignores it/);
  assert.match(both.hint, /"when": \{"scheduler":\{"not":\[\{"name":"onecycle"/);
  // drawn under a condition, beside the base's onecycle: every trial that draws it ignores it
  const conditional = warn({
    "optimizer.name": names,
    "optimizer.lr": { ...lr, when: { "optimizer.name": "sgd" } },
  }, { optimizer: sgd, scheduler: onecycle })!;
  assert.equal(conditional.field, 'sweep.space["optimizer.lr"]');
  assert.match(
    conditional.message,
    /^sweep\.space samples optimizer\.lr \(when optimizer\.name is "sgd"\), but every trial that draws it trains under the base config's onecycle, which ignores it: torch's OneCycleLR takes the rates from the schedule's own maxLr/,
  );
  // the schedule drawn with sgd only: the adam trials keep the base's onecycle
  const kept = warn({
    "optimizer.name": names,
    scheduler: { type: "choice", values: [cosine], when: { "optimizer.name": "sgd" } },
    "optimizer.lr": lr,
  }, { optimizer: sgd, scheduler: onecycle })!;
  assert.match(
    kept.message,
    /samples optimizer\.lr, but the trials that draw it where optimizer\.name is "adam" train under the base config's onecycle, which ignores it/,
  );
  assert.match(kept.hint, /"optimizer\.lr": \{ \.\.\., "when": \{"optimizer\.name":"sgd"\} \}/);
  // the schedule's name, a path a condition names: the onecycle trials, and the exclusion to write
  const byName = warn({
    "scheduler.name": { type: "choice", values: ["onecycle", "cosine"] },
    "scheduler.tMax": { type: "choice", values: [4], when: { "scheduler.name": "cosine" } },
    "optimizer.lr": lr,
  }, { optimizer: sgd, scheduler: onecycle })!;
  assert.match(
    byName.message,
    /the trials that draw it where scheduler\.name is "onecycle" train under onecycle, which ignores it/,
  );
  assert.match(byName.hint, /"when": \{"scheduler\.name":\{"not":\["onecycle"\]\}\}/);
  // so written, no warning
  assert.equal(
    warn({
      "scheduler.name": { type: "choice", values: ["onecycle", "cosine"] },
      "scheduler.tMax": { type: "choice", values: [4], when: { "scheduler.name": "cosine" } },
      "optimizer.lr": { ...lr, when: { "scheduler.name": { not: "onecycle" } } },
    }, { optimizer: sgd, scheduler: onecycle }),
    undefined,
  );
});

Deno.test("the run-length warning of a conditional space judges each schedule's trials by the lengths they draw, and names the condition", () => {
  const batch = { type: "choice", values: [8, 16] };
  const names = { type: "choice", values: ["sgd", "adam"] };
  const onecycle = { name: "onecycle", maxLr: 0.05, totalSteps: 8 };
  const cosine = { name: "cosine", tMax: 20, interval: "step" };
  const base = { scheduler: onecycle };
  const warn = (space: Record<string, unknown>, on: { scheduler: unknown } = base) =>
    lengthSpaceWarning(parseSpace(space), on);
  // a batch size drawn for sgd only, under the base's onecycle: warned, saying when
  const drawn = warn({
    "optimizer.name": names,
    batchSize: { ...batch, when: { "optimizer.name": "sgd" } },
  })!;
  assert.equal(drawn.field, "sweep.space.batchSize");
  assert.match(
    drawn.message,
    /^sweep\.space samples batchSize \(when optimizer\.name is "sgd"\), which changes how many steps a trial takes, but the onecycle schedule ends at a fixed step \(scheduler\.totalSteps = 8\)/,
  );
  // whole sections drawn for sgd only: the adam trials keep the base's onecycle at both sizes
  const kept = warn({
    "optimizer.name": names,
    scheduler: { type: "choice", values: [cosine], when: { "optimizer.name": "sgd" } },
    batchSize: batch,
  })!;
  assert.match(
    kept.message,
    /samples batchSize, which changes how many steps a trial takes, but the onecycle schedule of the trials where optimizer\.name is "adam" ends at a fixed step/,
  );
  // (unconditional, a space that samples the schedule is not judged)
  assert.equal(
    warn({ scheduler: { type: "choice", values: [cosine] }, batchSize: batch }),
    undefined,
  );
  // a batch size drawn beside one section only: that section's fixed end
  const beside = warn({
    scheduler: { type: "choice", values: [onecycle, cosine] },
    batchSize: { ...batch, when: { scheduler: cosine } },
  })!;
  assert.match(
    beside.message,
    /but the cosine schedule ends at a fixed step \(scheduler\.tMax = 20\)/,
  );
  // each schedule with one batch size of its own: no trials of one schedule differ in length
  assert.equal(
    warn({
      batchSize: { type: "choice", values: [8, 64] },
      "optimizer.name": names,
      scheduler: { type: "choice", values: [cosine], when: { batchSize: 64 } },
    }),
    undefined,
  );
  // a period in steps, for the trials that draw a batch size
  const step = { name: "step", stepSize: 3, gamma: 0.1, interval: "step" };
  assert.match(
    warn({
      "optimizer.name": names,
      batchSize: { ...batch, when: { "optimizer.name": { not: "adam" } } },
    }, {
      scheduler: step,
    })!.message,
    /samples batchSize \(when optimizer\.name is not "adam"\), which changes how many steps an epoch takes, but the step schedule counts its period in steps/,
  );
});

Deno.test("a conditional space passes the up-front checks where every trial that draws a path has its field, and is refused, pointing to a condition, where some would not", () => {
  const names = { type: "choice", values: ["sgd", "adam", "rmsprop"] };
  const momentum = { type: "uniform", low: 0, high: 0.9 };
  const refusal = (base: Record<string, unknown>, space: Record<string, unknown>) => {
    try {
      checkSpacePaths(definition(base, space));
    } catch (error) {
      assert.ok(error instanceof AnnealError, String(error));
      return error;
    }
    assert.fail(`accepted ${JSON.stringify(space)}`);
  };
  // momentum for the optimizers that have it only, on an sgd base and on an adam one
  for (const optimizer of [{ name: "sgd" }, { name: "adam" }]) {
    checkSpacePaths(definition({ optimizer }, {
      "optimizer.name": names,
      "optimizer.momentum": { ...momentum, when: { "optimizer.name": ["sgd", "rmsprop"] } },
    }));
  }
  // unconditional, it is refused; the hint writes the condition of the names that have it
  const unconditional = refusal({}, { "optimizer.name": names, "optimizer.momentum": momentum });
  assert.equal(unconditional.where, 'sweep.space["optimizer.momentum"]');
  assert.match(unconditional.message, /"adam", one of optimizer\.name's values, has no field/);
  assert.match(
    unconditional.hint!,
    /^draw it only with the names that have it, with a condition: "optimizer\.momentum": \{ \.\.\., "when": \{ "optimizer\.name": \["sgd","rmsprop"\] \} \}; or drop "adam"/,
  );
  // a condition that lets adam draw it is refused too, saying so
  const allows = refusal({}, {
    "optimizer.name": names,
    "optimizer.momentum": { ...momentum, when: { "optimizer.name": ["sgd", "adam"] } },
  });
  assert.match(
    allows.message,
    /every trial that draws it \(its condition allows "adam"\) would fail/,
  );
  assert.match(allows.hint!, /"when": \{ "optimizer\.name": \["sgd","rmsprop"\] \}/);
  // a field one schedule needs, given under a condition that draws it with that schedule only
  const cosine = { scheduler: { name: "cosine", tMax: 4 } };
  const schedules = { "scheduler.name": { type: "choice", values: ["cosine", "step"] } };
  const needs = refusal(cosine, schedules);
  assert.match(
    needs.hint!,
    /add 'scheduler\.stepSize' to the space, drawn only with "step" \("scheduler\.stepSize": \{ \.\.\., "when": \{ "scheduler\.name": "step" \} \}\)/,
  );
  checkSpacePaths(definition(cosine, {
    ...schedules,
    "scheduler.stepSize": { type: "int", low: 1, high: 3, when: { "scheduler.name": "step" } },
  }));
  // the grid's budget warning names a conditional path its trials never draw
  const grid = parseSpace({
    "optimizer.name": { type: "grid", values: ["adam", "sgd"] },
    "optimizer.momentum": { type: "grid", values: [0, 0.9], when: { "optimizer.name": "sgd" } },
  });
  assert.match(
    gridBudgetWarning({ space: grid, sampler: "grid", trials: 2 })!.message,
    /the grid has 3 points and the study 2 trials: .*optimizer\.momentum is tried at 0 only \(of 2 values\)/,
  );
  assert.match(
    gridBudgetWarning({ space: grid, sampler: "grid", trials: 1 })!.message,
    /optimizer\.name is tried at "adam" only \(of 2 values\), optimizer\.momentum is not tried at all/,
  );
  // a model's dropout, for the kinds that have one
  checkSpacePaths(definition({}, {
    "model.kind": { type: "choice", values: ["linear", "mlp"] },
    "model.dropout": { ...momentum, high: 0.5, when: { "model.kind": "mlp" } },
  }));
});

Deno.test("a conditional path is judged beside the values its condition draws it with: a section every trial drawing it would fail on is refused", () => {
  const cyclic = { name: "cyclic", baseLr: 0.001, maxLr: 0.01, stepSizeUp: 4 };
  const definition = (when: Record<string, unknown>) => {
    const { sweep: _sweep, ...base } = parseConfig({ optimizer: { name: "sgd", lr: 0.01 } });
    const space = parseSpace({
      "optimizer.name": { type: "choice", values: ["sgd", "adam"] },
      scheduler: { type: "choice", values: [cyclic], when },
    });
    return {
      kind: "anneal-sweep",
      sweep: { metric: "valLoss", space },
      base,
    } as unknown as StudyDefinition;
  };
  // torch's CyclicLR cycles a momentum, which adam has not: drawn with adam only, it always fails
  assert.throws(
    () => checkSpacePaths(definition({ "optimizer.name": "adam" })),
    (error) =>
      error instanceof AnnealError && error.where === "sweep.space.scheduler" &&
      /^Cannot sweep 'scheduler' over \{"baseLr":0\.001,.*every trial that draws it would fail on it$/
        .test(error.message) &&
      /or change its condition \(optimizer\.name is "adam"\)$/.test(error.hint!),
  );
  checkSpacePaths(definition({ "optimizer.name": "sgd" }));
});

Deno.test("runSweep of a conditional space stores and trains momentum only in the sgd trials, and writes it into the best config only where the best trial drew it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = parseConfig({
      backend: "cpu",
      epochs: 1,
      runsDir: dir,
      optimizer: { name: "adam", lr: 0.05 },
      data: { ...split, n: 64 },
      sweep: {
        space: {
          "optimizer.name": { type: "choice", values: ["sgd", "adam"] },
          "optimizer.momentum": {
            type: "uniform",
            low: 0,
            high: 0.9,
            when: { "optimizer.name": "sgd" },
          },
        },
        metric: "valLoss",
        sampler: "quasiRandom",
        pruner: "none",
        trials: 4,
      },
    });
    const result = await runSweep(config, { storage: `${dir}/sweeps.db`, study: "when" });
    const names = new Set(result.trials.map((trial) => trial.params["optimizer.name"]));
    assert.deepEqual([...names].sort(), ["adam", "sgd"]);
    for (const trial of result.trials) {
      assert.equal(trial.state, "COMPLETE", trial.reason ?? "");
      const sgd = trial.params["optimizer.name"] === "sgd";
      assert.equal("optimizer.momentum" in trial.params, sgd, JSON.stringify(trial.params));
      const trained = JSON.parse(await Deno.readTextFile(`${trial.runDir}/config.json`)).optimizer;
      // (the adam base has no momentum: an sgd trial's is the one it drew)
      assert.equal(trained.momentum, trial.params["optimizer.momentum"]);
    }
    const best = result.best!;
    assert.equal(result.bestConfig!.optimizer.name, best.params["optimizer.name"]);
    assert.equal(
      (result.bestConfig!.optimizer as { momentum?: number }).momentum,
      best.params["optimizer.momentum"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("each trial after a sweep's first takes the actor Workers the one before handed back (meta.workersAhead, workersReused), with narrowed permissions too", async () => {
  const dir = await Deno.makeTempDir();
  const previous = Deno.env.get(PERMISSIONS_ENV);
  try {
    for (const permissions of ["narrow", "inherit"]) {
      Deno.env.set(PERMISSIONS_ENV, permissions);
      const config = parseConfig({
        backend: "cpu",
        epochs: 2,
        runsDir: `${dir}/${permissions}`,
        data: { ...split, n: 64 },
        sweep: {
          space: { "optimizer.lr": { type: "choice", values: [0.01, 0.02, 0.05] } },
          sampler: "grid",
          pruner: "none",
          trials: 3,
          parallel: 1,
        },
      });
      const result = await runSweep(config, { storage: `${dir}/${permissions}.db`, study: "s" });
      const taken = [];
      for (const trial of result.trials.sort((a, b) => a.number - b.number)) {
        assert.equal(trial.state, "COMPLETE", trial.reason ?? "");
        const meta = JSON.parse(await Deno.readTextFile(`${trial.runDir}/meta.json`));
        assert.equal(meta.actorPermissions, permissions);
        taken.push([meta.workersAhead, meta.workersReused]);
      }
      assert.deepEqual(taken, [[0, 0], [5, 5], [5, 5]], permissions);
    }
  } finally {
    if (previous === undefined) Deno.env.delete(PERMISSIONS_ENV);
    else Deno.env.set(PERMISSIONS_ENV, previous);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a sweep's trials on Workers runs before used train exactly as fresh runs do: an MLP's metrics, a pruned trial's and the ones after it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = parseConfig({
      backend: "wasm",
      epochs: 4,
      runsDir: dir,
      batchSize: 32,
      data: {
        kind: "csv",
        path: new URL("../examples/data/sensors.csv", import.meta.url).pathname,
        target: "state",
        task: "classification",
        normalize: "standard",
        validationSplit: 0.2,
      },
      model: { kind: "mlp", hidden: [16] },
      optimizer: { name: "adam", lr: 0.01 },
      scheduler: { name: "plateau", factor: 0.5, patience: 1 },
      sweep: {
        metric: "valLoss",
        space: { "optimizer.lr": { type: "choice", values: [0.003, 0.01, 1e-6, 0.03] } },
        sampler: "grid",
        // (each trial better than those before at its first rung, but the third: it is pruned)
        pruner: "asha",
        trials: 4,
        parallel: 1,
      },
    });
    const result = await runSweep(config, { storage: `${dir}/sweeps.db`, study: "reuse" });
    const trials = result.trials.sort((a, b) => a.number - b.number);
    assert.deepEqual(trials.map((trial) => trial.state), [
      "COMPLETE",
      "COMPLETE",
      "PRUNED",
      "COMPLETE",
    ]);
    for (const trial of trials) {
      const meta = JSON.parse(await Deno.readTextFile(`${trial.runDir}/meta.json`));
      assert.equal(meta.workersReused, trial.number === 0 ? 0 : 5, `trial ${trial.number}`);
      if (trial.state === "PRUNED") continue;
      const summary = JSON.parse(await Deno.readTextFile(`${trial.runDir}/summary.json`));
      const trained = JSON.parse(await Deno.readTextFile(`${trial.runDir}/config.json`));
      const fresh = await train({ ...trained, runsDir: `${dir}/fresh`, sweep: undefined }).result;
      assert.equal(fresh.status, "completed");
      assert.deepEqual(summary.metrics, fresh.metrics, `trial ${trial.number}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a process that ran a sweep ends once it returns: the Workers started ahead for a next trial that never came are terminated", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assertSweepProcessEnds({
      backend: "cpu",
      epochs: 1,
      runsDir: dir,
      ...TWO_TRIAL_SWEEP,
    }, "COMPLETE,COMPLETE");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a worker runs its own number of trials at once (--parallel), the study's sweep.parallel its default, and does not store it", async () => {
  const dir = await Deno.makeTempDir();
  const url = `sqlite:${dir}/sweeps.db`;
  try {
    const { sweep, ...base } = parseConfig({
      backend: "cpu",
      epochs: 1,
      runsDir: dir,
      data: { ...split, n: 64 },
      sweep: {
        space: { "optimizer.lr": { type: "choice", values: [0.01, 0.1] } },
        sampler: "grid",
        pruner: "none",
        trials: 2,
        parallel: 1,
      },
    });
    const definition = {
      kind: "anneal-sweep",
      sweep: { ...sweep!, space: parseSpace(sweep!.space) },
      base,
    };
    const storage = await openStorage(url);
    try {
      await storage.createStudy("w", "minimize", definition);
    } finally {
      await storage.close();
    }
    // the storage and the study are its arguments: in its options they were ignored
    await assert.rejects(
      () => runWorker(url, "w", { study: "beta" } as Parameters<typeof runWorker>[2]),
      (error: unknown) =>
        error instanceof AnnealError && error.code === "usage" && error.where === "study" &&
        /^Cannot run the worker with 'study' in its options: runWorker's arguments name/
          .test(error.message),
    );
    for (const parallel of [0, 33, 1.5]) {
      await assert.rejects(
        () => runWorker(url, "w", { parallel }),
        (error: unknown) =>
          error instanceof AnnealError && error.code === "usage" && error.where === "parallel" &&
          error.message.startsWith("Cannot run the worker: 'parallel' ") &&
          error.hint === PARALLEL_HINT,
      );
    }
    // Two trials' actors start at once: their modules are loaded (under deno test, type-checked)
    // first, without the supervisor's 60 s allowance for an actor to load, which two trials'
    // graphs checked at once on a cold cache exceeded on a loaded machine (every trial FAILED
    // with "did not start within 60.0 s (stalled)").
    await loadActorModules();
    const result = await runWorker(url, "w", { parallel: 2 });
    assert.deepEqual(
      result.trials.map((t) => t.state),
      ["COMPLETE", "COMPLETE"],
      result.trials.map((t) => t.reason).join("; "),
    );
    // two at a time: each trial started before the other finished (one at a time, the study's
    // sweep.parallel 1, the second starts once the first has finished)
    const [first, second] = result.trials;
    assert.ok(
      second.startedAt! < first.finishedAt! && first.startedAt! < second.finishedAt!,
      JSON.stringify(result.trials),
    );
    assert.equal(new Set(result.trials.map((t) => t.workerId)).size, 1, "one worker ran both");
    // the study keeps its sweep.parallel
    const stored = await openStorage(url);
    try {
      assert.equal(((await stored.loadStudy("w")).space as StudyDefinition).sweep.parallel, 1);
    } finally {
      await stored.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a worker takes a grid study's points in the order of the space its sweep was given (first path slowest), though the storage sorts the stored space's keys", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = parseConfig({
      backend: "cpu",
      epochs: 1,
      runsDir: dir,
      data: { kind: "synthetic-linear", n: 64 },
      sweep: {
        // "optimizer.lr" first: sorted, "batchSize" would come first and vary slowest
        space: {
          "optimizer.lr": { type: "grid", values: [0.01, 0.1, 0.3] },
          batchSize: { type: "grid", values: [16, 32] },
        },
        sampler: "grid",
        pruner: "none",
        trials: 3,
        metric: "loss",
      },
    });
    // the sweep creates the study and stops before its first trial; a worker runs them all
    const stopped = new AbortController();
    stopped.abort("stopped");
    const warnings: string[] = [];
    await runSweep(config, {
      study: "order",
      interrupt: stopped.signal,
      onWarning: (warning) => warnings.push(warning.message),
    });
    assert.match(warnings.join("\n"), /optimizer\.lr is tried at 0\.01, 0\.1 only/);
    await loadActorModules();
    const result = await runWorker(`sqlite:${dir}/sweeps.db`, "order");
    assert.deepEqual(
      result.trials.map((trial) => trial.params),
      [
        { "optimizer.lr": 0.01, batchSize: 16 },
        { "optimizer.lr": 0.01, batchSize: 32 },
        { "optimizer.lr": 0.1, batchSize: 16 },
      ],
      "the points the sweep's warning said the study takes",
    );
    assert.deepEqual(Object.keys(result.definition.sweep.space), ["optimizer.lr", "batchSize"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runWorker refuses the trials, sampler and pruner options, which a worker would ignore (it runs the study's), before opening the storage", async () => {
  for (
    const [options, named] of [
      [{ trials: 50 }, "'trials'"],
      [{ sampler: "random" as const, pruner: "asha" as const }, "'sampler', 'pruner'"],
    ] as const
  ) {
    await assert.rejects(
      // (its type has none of them: a JavaScript caller's)
      () => runWorker("sqlite:/nonexistent/anneal-sweeps.db", "w", options as never),
      (error: unknown) =>
        error instanceof AnnealError && error.code === "usage" &&
        error.message.startsWith(`Cannot run the worker with ${named}: a worker runs the study's`),
    );
  }
});

Deno.test("a trial whose parameters change early stopping's monitor takes the mode that follows it, where the base's mode was the one that followed its own; a mode set otherwise is kept", () => {
  const data = { kind: "idx", flatten: true, limit: 100, validationSplit: 0.2 };
  const plateau = { name: "plateau", factor: 0.5, patience: 1 };
  const monitors = { type: "choice", values: ["valLoss", "valAccuracy"] };
  const base = (earlyStopping: Record<string, unknown>) => ({
    data,
    model: { kind: "mlp" },
    earlyStopping: { patience: 2, ...earlyStopping },
    scheduler: plateau,
    sweep: { space: { "earlyStopping.monitor": monitors }, trials: 2, metric: "valLoss" },
  });
  const modes = (def: StudyDefinition, monitor: string) => {
    const config = trialConfig(def, { "earlyStopping.monitor": monitor });
    assert.equal(config.scheduler?.name, "plateau");
    return [config.earlyStopping.mode, (config.scheduler as { mode?: string }).mode];
  };
  // the base watches the loss (mode min by default): an accuracy drawn is watched in mode max
  const fromLoss = definition(base({}), {});
  assert.deepEqual(modes(fromLoss, "valAccuracy"), ["max", "max"]);
  assert.deepEqual(modes(fromLoss, "valLoss"), ["min", "min"]);
  // and the other way: the base watches an accuracy (max by default), a trial the loss
  const fromAccuracy = definition(base({ monitor: "valAccuracy" }), {});
  assert.deepEqual(modes(fromAccuracy, "valLoss"), ["min", "min"]);
  assert.deepEqual(modes(fromAccuracy, "valAccuracy"), ["max", "max"]);
  // a mode that is not the base monitor's own is the config's choice: kept
  const chosen = definition(base({ mode: "max" }), {});
  assert.deepEqual(modes(chosen, "valAccuracy")[0], "max");
  assert.deepEqual(modes(chosen, "valLoss")[0], "max");
  // a mode the trial's parameters set is theirs
  const config = trialConfig(fromLoss, {
    "earlyStopping.monitor": "valAccuracy",
    "earlyStopping.mode": "min",
  });
  assert.equal(config.earlyStopping.mode, "min");
});

Deno.test("a trial trains the rate it drew for optimizer.lr beside a choice of whole optimizer sections, whichever the space lists first", () => {
  const sections: { type: "choice"; values: Record<string, string | number>[] } = {
    type: "choice",
    values: [{ name: "adam" }, { name: "sgd", momentum: 0.9 }],
  };
  const lr = { type: "logUniform", low: 1e-3, high: 0.1 };
  const base = { optimizer: { name: "sgd", lr: 0.01 }, sweep: { space: {}, metric: "valLoss" } };
  for (
    const space of [{ "optimizer.lr": lr, optimizer: sections }, {
      optimizer: sections,
      "optimizer.lr": lr,
    }]
  ) {
    const def = definition(base, space);
    for (const section of sections.values) {
      // (the params as a sampler gives them: in the space's order)
      const drawn = Object.keys(space)[0] === "optimizer"
        ? { optimizer: section, "optimizer.lr": 0.05 }
        : { "optimizer.lr": 0.05, optimizer: section };
      const config = trialConfig(def, drawn);
      assert.equal(config.optimizer.name, section.name);
      assert.equal(config.optimizer.lr, 0.05, `${Object.keys(space)} ${section.name}`);
    }
  }
});

Deno.test("a field set inside whole sections a choice draws is refused before any trial where a section drawn has it not, naming the sections and the condition that mends it", () => {
  const sections = (...names: string[]) => ({
    type: "choice",
    values: names.map((name) => ({ name })),
  });
  const momentum = { type: "uniform", low: 0, high: 0.9 };
  const sgd = { optimizer: { name: "sgd", lr: 0.01 }, sweep: { space: {}, metric: "valLoss" } };
  const refusal = (base: Record<string, unknown>, space: Record<string, unknown>) => {
    try {
      checkSpacePaths(definition(base, space));
    } catch (error) {
      assert.ok(error instanceof AnnealError);
      return error;
    }
    assert.fail(`${JSON.stringify(space)} was taken`);
  };
  // (each trial that drew adam failed at its start; before, listed first, momentum was dropped)
  for (const order of [0, 1]) {
    const entries: [string, unknown][] = [
      ["optimizer.momentum", momentum],
      ["optimizer", sections("adam", "sgd")],
    ];
    const space = Object.fromEntries(order === 0 ? entries : entries.reverse());
    const error = refusal(sgd, space);
    assert.equal(error.where, 'sweep.space["optimizer.momentum"]');
    assert.match(
      error.message,
      /over \{"name":"adam"\} beside 'optimizer\.momentum': that section has no field 'momentum'/,
    );
    assert.match(error.hint!, /"when": \{ "optimizer": \{ "not": \[\{"name":"adam"\}\] \} \}/);
    // so mended, it is taken
    const mended = {
      ...space,
      "optimizer.momentum": { ...momentum, when: { optimizer: { not: [{ name: "adam" }] } } },
    };
    checkSpacePaths(definition(sgd, mended));
  }
  // every section drawn has it, the base has not: taken (set into the section drawn)
  const adam = { ...sgd, optimizer: { name: "adam", lr: 0.01 } };
  checkSpacePaths(
    definition(adam, { "optimizer.momentum": momentum, optimizer: sections("sgd", "rmsprop") }),
  );
  // none has it: a misspelling
  const misspelt = refusal(adam, {
    "optimizer.momentumm": momentum,
    optimizer: sections("sgd", "rmsprop"),
  });
  assert.match(misspelt.message, /^Cannot sweep 'optimizer\.momentumm': none of the sections/);
  assert.match(misspelt.hint!, /anneal schema/);
});

/** A project directory `proj` in `dir` with the sensors data in proj/data, and one beside it. */
async function projectDirs(dir: string) {
  const proj = `${await Deno.realPath(dir)}/proj`;
  const elsewhere = `${await Deno.realPath(dir)}/elsewhere`;
  await Deno.mkdir(`${proj}/data`, { recursive: true });
  await Deno.mkdir(elsewhere);
  await Deno.copyFile(
    new URL("../examples/data/sensors.csv", import.meta.url).pathname,
    `${proj}/data/sensors.csv`,
  );
  const config = parseConfig({
    backend: "cpu",
    epochs: 1,
    runsDir: `${dir}/runs`,
    data: { kind: "csv", path: "data/sensors.csv", target: "state", task: "classification" },
    model: { kind: "mlp", hidden: [4] },
    sweep: {
      space: { "optimizer.lr": { type: "choice", values: [0.01, 0.1] } },
      sampler: "grid",
      pruner: "none",
      trials: 2,
      metric: "loss",
    },
  });
  return { proj, elsewhere, config };
}

Deno.test("a sweep stores its base config's data paths absolute: a worker started in another directory trains its trials", async () => {
  const dir = await Deno.makeTempDir();
  const cwd = Deno.cwd();
  try {
    const { proj, elsewhere, config } = await projectDirs(dir);
    const url = `sqlite:${dir}/sweeps.db`;
    Deno.chdir(proj);
    // the sweep creates the study and stops before its first trial; a worker elsewhere runs them
    const stopped = new AbortController();
    stopped.abort("stopped");
    await runSweep(config, { storage: url, study: "rel", interrupt: stopped.signal });
    const stored = await openStorage(url);
    try {
      const { base } = (await stored.loadStudy("rel")).space as StudyDefinition;
      assert.equal((base.data as { path: string }).path, `${proj}/data/sensors.csv`);
    } finally {
      await stored.close();
    }
    Deno.chdir(elsewhere);
    await loadActorModules();
    const result = await runWorker(url, "rel");
    assert.deepEqual(
      result.trials.map((trial) => trial.state),
      ["COMPLETE", "COMPLETE"],
      result.trials.map((trial) => trial.reason).join("; "),
    );
  } finally {
    Deno.chdir(cwd);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a worker refuses a study stored by an older anneal with its data relative before it claims a trial, naming the path and where to run from; a sweep run again from there stores it absolute", async () => {
  const dir = await Deno.makeTempDir();
  const cwd = Deno.cwd();
  try {
    const { proj, elsewhere, config } = await projectDirs(dir);
    const url = `sqlite:${dir}/sweeps.db`;
    // the study as an older anneal stored it: the base's data path as written; one trial done,
    // whose run recorded the path absolute (as every run's config.json does)
    const { sweep, ...base } = config;
    const definition = {
      kind: "anneal-sweep",
      sweep: { ...sweep!, space: parseSpace(sweep!.space) },
      base,
      spaceOrder: ["optimizer.lr"],
    };
    const runDir = `${dir}/runs/old/trial-0`;
    await Deno.mkdir(runDir, { recursive: true });
    await Deno.writeTextFile(
      `${runDir}/config.json`,
      JSON.stringify({ ...base, data: { ...base.data, path: `${proj}/data/sensors.csv` } }),
    );
    const storage = await openStorage(url);
    try {
      const study = await storage.createStudy("old", "minimize", definition);
      const trial = await storage.createTrial(study.id, {
        params: { "optimizer.lr": 0.01 },
        claimBy: "w",
      });
      await storage.setTrialRun(trial!.id, runDir);
      await storage.completeTrial(trial!.id, 1);
    } finally {
      await storage.close();
    }
    Deno.chdir(elsewhere);
    await assert.rejects(
      () => runWorker(url, "old"),
      (error: unknown) =>
        error instanceof AnnealError && error.code === "file" && error.where === "data.path" &&
        error.message.startsWith(
          "Cannot join study 'old': its base config names data.path 'data/sensors.csv', a path " +
            "relative to the directory its sweep was started in",
        ) && error.message.includes(`from this directory (${elsewhere})`) &&
        error.hint!.startsWith(
          `run the worker from the directory the sweep was started in, ${proj};`,
        ),
    );
    const check = await openStorage(url);
    try {
      const trials = await check.listTrials((await check.loadStudy("old")).id);
      assert.deepEqual(trials.map((trial) => trial.state), ["COMPLETE"], "no trial claimed");
    } finally {
      await check.close();
    }
    // run again from its directory, it is the same study, stored now with the path absolute
    Deno.chdir(proj);
    const stopped = new AbortController();
    stopped.abort("stopped");
    await runSweep(config, { storage: url, study: "old", interrupt: stopped.signal });
    const again = await openStorage(url);
    try {
      const { base } = (await again.loadStudy("old")).space as StudyDefinition;
      assert.equal((base.data as { path: string }).path, `${proj}/data/sensors.csv`);
    } finally {
      await again.close();
    }
    Deno.chdir(elsewhere);
    await runWorker(url, "old", { interrupt: stopped.signal });
  } finally {
    Deno.chdir(cwd);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a uniform or logUniform range over a field of whole numbers is refused before any trial, naming an int range", () => {
  const base = { data: split };
  for (
    const [path, range, hint] of [
      [
        "epochs",
        { type: "uniform", low: 1, high: 3 },
        '"epochs": { "type": "int", "low": 1, "high": 3 }',
      ],
      [
        "batchSize",
        { type: "logUniform", low: 8, high: 64 },
        '"batchSize": { "type": "int", "low": 8, "high": 64, "log": true }',
      ],
      ["epochs", { type: "uniform", low: 1.2, high: 1.8 }, "the range holds no whole number"],
    ] as const
  ) {
    assert.throws(
      () => checkSpacePaths(definition(base, { [path]: range })),
      (error) =>
        error instanceof AnnealError && error.where === `sweep.space.${path}` &&
        new RegExp(
          `^Cannot sweep '${path}' over a ${range.type} range: it takes whole numbers, and a draw ` +
            `from \\[${range.low}, ${range.high}\\] almost never is one \\(\\S+, say\\): every ` +
            "trial would fail on it$",
        ).test(error.message) && error.hint!.includes(hint),
      `${path} ${JSON.stringify(range)}`,
    );
  }
  // a rate over a range, an int range, a uniform range of one value: as before
  checkSpacePaths(definition(base, {
    "optimizer.lr": { type: "uniform", low: 1, high: 3 },
    epochs: { type: "int", low: 1, high: 3 },
    batchSize: { type: "uniform", low: 8, high: 8 },
  }));
});

Deno.test("a range every point of which the trial config refuses is refused before the study: an int range over a list field", async () => {
  // (every trial FAILED: "'model.hidden': must be an array")
  const dir = await Deno.makeTempDir();
  try {
    const config = parseConfig({
      name: "s",
      backend: "cpu",
      epochs: 1,
      runsDir: dir,
      model: { kind: "mlp", hidden: [4] },
      data: { kind: "synthetic-linear", n: 64 },
      sweep: { space: { "model.hidden": { type: "int", low: 4, high: 16 } }, metric: "loss" },
    });
    await assert.rejects(
      () => runSweep(config, { storage: `${dir}/db.sqlite`, trials: 2 }),
      (error: AnnealError) =>
        error.code === "config" && error.where === 'sweep.space["model.hidden"]' &&
        /^Cannot sweep 'model\.hidden' over an int range from 4 to 16: the trial config refuses its ends and its middle \(4, 10, 16\): must be an array/
          .test(error.message),
    );
    await assert.rejects(() => Deno.stat(`${dir}/db.sqlite`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the pruners' resource is the most epochs a trial trains: the space's epochs where it draws them", () => {
  // (hyperband laid its brackets out to the base's 81 epochs for trials of 4: those whose first
  // rung came after epoch 4 never judged them)
  const spec = (space: Record<string, unknown>) =>
    parseConfig({ sweep: { space, metric: "loss" } }).sweep!;
  assert.equal(mostEpochs(spec({ epochs: { type: "choice", values: [4, 2] } }), 81), 4);
  assert.equal(mostEpochs(spec({ epochs: { type: "int", low: 2, high: 12 } }), 5), 12);
  assert.equal(mostEpochs(spec({ "optimizer.lr": { type: "choice", values: [0.1] } }), 5), 5);
});

Deno.test("a validation metric is refused before the study where the space draws a split of 0 for some trials", () => {
  // (a choice of [0.2, 0] was taken: the trials of split 0 failed one by one, "not among loss,
  // mae, lr")
  const base = parseConfig({ data: { kind: "synthetic-linear", n: 64, validationSplit: 0.2 } });
  const sweepOf = (values: number[]) => ({
    metric: "valLoss",
    space: parseSpace({ "data.validationSplit": { type: "choice", values } }),
  });
  assert.throws(
    () => checkSweepMetric(sweepOf([0.2, 0]), base),
    /Cannot optimise 'valLoss' in the sweep: there is no validation split/,
  );
  checkSweepMetric(sweepOf([0.2, 0.3]), base);
  // a range whose low end is 0
  assert.throws(() =>
    checkSweepMetric({
      metric: "valLoss",
      space: parseSpace({ "data.validationSplit": { type: "uniform", low: 0, high: 0.3 } }),
    }, base)
  );
});

Deno.test("a study's runs directory is refused to another study of its name in another storage (they had shared its trials' runs, best config and report); a copy of the storage goes on", async () => {
  const dir = await Deno.makeTempDir({ prefix: "anneal-study-mark-" });
  try {
    const config = parseConfig({
      backend: "cpu",
      runsDir: `${dir}/runs`,
      epochs: 1,
      ...TWO_TRIAL_SWEEP,
      sweep: { ...TWO_TRIAL_SWEEP.sweep, trials: 1 },
    });
    // (marked before the study's end, as its first trial ends: a study killed in it is marked)
    let markedFirst = false;
    const first = await runSweep(config, {
      study: "s",
      onTrial: () => {
        markedFirst ||= Deno.statSync(`${dir}/runs/s/${STUDY_MARK}`).isFile;
      },
    });
    assert.ok(markedFirst);
    const mark = JSON.parse(await Deno.readTextFile(`${dir}/runs/s/${STUDY_MARK}`));
    assert.equal(mark.study, "s");
    assert.equal(mark.createdAt, first.study.createdAt.toISOString());
    assert.equal(mark.storage, `sqlite:${dir}/runs/sweeps.db`);
    // another storage's study of the name: refused before a trial, naming both and the ways out
    await assert.rejects(
      runSweep(config, { study: "s", storage: `${dir}/other.db` }),
      (error) =>
        error instanceof AnnealError && error.code === "storage" &&
        error.message.includes(`${dir}/runs/s: that directory holds the runs of another study`) &&
        error.message.includes("holds none of that name yet") &&
        /--study s-2/.test(error.hint ?? "") &&
        error.hint!.includes(`--storage ${`sqlite:${dir}/runs/sweeps.db`}`),
    );
    assert.deepEqual(
      [...Deno.readDirSync(`${dir}/runs/s`)].filter((e) => e.isDirectory).length,
      1,
    );
    // the same study from a copy of its storage, more trials of it: it goes on
    await Deno.copyFile(`${dir}/runs/sweeps.db`, `${dir}/copy.db`);
    const more = await runSweep(
      parseConfig({ ...config, sweep: { ...config.sweep!, trials: 2 } }),
      { study: "s", storage: `${dir}/copy.db` },
    );
    assert.equal(more.trials.length, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
