import assert from "node:assert/strict";
import { orderedParams, studyHeader, studyTotals, trialNote } from "./sweep.ts";
import { parseSpace } from "../../sweeps/space.ts";

Deno.test("a pruned trial's line names the epoch it was pruned at once, in epochs, whatever the pruner's words", () => {
  // median: its reason names the step (the trial's epoch) already
  assert.equal(
    trialNote("best value 3 is worse than the median 1 of 4 completed trials at step 2", 2),
    "best value 3 is worse than the median 1 of 4 completed trials at epoch 2",
  );
  // asha (and hyperband's brackets): the rung's step, in parentheses
  assert.equal(
    trialNote("bracket 1: value 2 at rung 1 (step 3) is outside the top 1 of 3 trials", 3),
    "bracket 1: value 2 at rung 1 (epoch 3) is outside the top 1 of 3 trials",
  );
  // a reason that names no step gets the epoch added
  assert.equal(trialNote("NaN at rung 0", 0), "NaN at rung 0 at epoch 0");
  // a failed trial's reason (no pruned step) is left alone, its steps too
  assert.equal(trialNote("diverged at step 12", null), "diverged at step 12");
});

/**
 * A stored trial as the totals (and the first line) read it: `retryOf` the chain's first trial,
 * `retries` its rank.
 */
const trial = (number: number, state: string, retryOf: number | null = null, retries = 0) => ({
  id: 100 + number,
  number,
  state: state as "COMPLETE",
  retryOf: retryOf === null ? null : 100 + retryOf,
  retries: retryOf === null ? 0 : Math.max(1, retries),
  params: {},
});

Deno.test("a study's totals count each original trial once, by how its last retry ended, and the retries that ran apart", () => {
  // no retries: every trial counts as it ended
  assert.equal(
    studyTotals([trial(0, "COMPLETE"), trial(1, "PRUNED"), trial(2, "COMPLETE")]),
    "3 trials (2 complete, 1 pruned)",
  );
  // trials 0 and 1 interrupted and run again as 3 and 4 (their FAILED records are no outcome);
  // trial 1's first retry died too, and its second (5) was pruned
  assert.equal(
    studyTotals([
      trial(0, "FAILED"),
      trial(1, "FAILED"),
      trial(2, "COMPLETE"),
      trial(3, "COMPLETE", 0),
      trial(4, "FAILED", 1, 1),
      trial(5, "PRUNED", 1, 2),
    ]),
    "3 trials (2 complete, 1 pruned); 3 retries ran (trials 3, 4, 5)",
  );
  // a retry still queued has not run: its trial is waiting
  assert.equal(
    studyTotals([trial(0, "COMPLETE"), trial(1, "FAILED"), trial(2, "WAITING", 1)]),
    "2 trials (1 complete, 1 waiting)",
  );
  // a trial that failed on its own (no retry) is a failed trial
  assert.equal(studyTotals([trial(0, "FAILED")]), "1 trial (1 failed)");
  assert.equal(studyTotals([]), "0 trials");
});

Deno.test("the sweep's first line says what a continued study holds already, and how many of its budget are left", () => {
  const sweep = {
    trials: 5,
    sampler: "random",
    pruner: "none",
    parallel: 1,
    metric: "valLoss",
    space: {},
  } as const;
  assert.equal(
    studyHeader("sw", [], sweep, "minimize", ["optimizer.lr"]),
    "sweep sw: 5 trials in the study, sampler random, pruner none, 1 at a time; minimize " +
      "valLoss over optimizer.lr",
  );
  // one trial, in the singular, and no more at once than the trials
  assert.equal(
    studyHeader("sw", [], { ...sweep, trials: 1, parallel: 4 }, "minimize", ["optimizer.lr"]),
    "sweep sw: 1 trial in the study, sampler random, pruner none, 1 at a time (parallel 4); " +
      "minimize valLoss over optimizer.lr",
  );
  assert.equal(
    studyHeader(
      "sw",
      [trial(0, "COMPLETE"), trial(1, "FAILED"), trial(2, "WAITING", 1)],
      sweep,
      "minimize",
      ["optimizer.lr"],
    ),
    "sweep sw: the study has 2 trials (1 complete, 1 waiting); its budget is 5 trials in all: " +
      "3 more to sample; sampler random, pruner none, 1 at a time; minimize valLoss over " +
      "optimizer.lr",
  );
  // a budget below what the study holds samples none
  assert.match(
    studyHeader(
      "sw",
      [trial(0, "COMPLETE"), trial(1, "COMPLETE")],
      { ...sweep, trials: 1 },
      "minimize",
      ["x"],
    ),
    /the study has 2 trials \(2 complete\); its budget is 1 trial in all: none left to sample;/,
  );
});

Deno.test("the sweep's first line counts what the grid sampler has left to sample, not what the budget leaves, as its notice does", () => {
  const sweep = {
    trials: 40,
    sampler: "grid",
    pruner: "none",
    parallel: 1,
    metric: "loss",
    space: parseSpace({ "optimizer.lr": { type: "grid", values: [0.1, 0.2, 0.3] } }),
  } as const;
  const tried = (...lrs: number[]) =>
    lrs.map((lr, number) => ({ ...trial(number, "COMPLETE"), params: { "optimizer.lr": lr } }));
  // every point tried: "37 more to sample" beside the notice "no new trial is sampled"
  assert.match(
    studyHeader("g", tried(0.1, 0.2, 0.3), sweep, "minimize", ["optimizer.lr"]),
    /its budget is 40 trials in all: none left to sample \(every grid point has a trial\); /,
  );
  assert.match(
    studyHeader("g", tried(0.2), sweep, "minimize", ["optimizer.lr"]),
    /its budget is 40 trials in all: 2 more to sample \(the grid points no trial has tried\); /,
  );
  // a budget below the points untried: what it leaves
  assert.match(
    studyHeader("g", tried(0.2), { ...sweep, trials: 2 }, "minimize", ["optimizer.lr"]),
    /its budget is 2 trials in all: 1 more to sample; /,
  );
});

Deno.test("a trial's params are printed in the order of the study's space, however its storage gave them back", () => {
  const definition = {
    sweep: { space: { "optimizer.lr": {}, batchSize: {}, "model.hidden": {} } },
  } as unknown as Parameters<typeof orderedParams>[1];
  // PostgreSQL's jsonb order (by length, then bytes), and a path the space has not last
  const stored = { batchSize: 16, extra: 1, "model.hidden": [8], "optimizer.lr": 0.1 };
  assert.deepEqual(Object.keys(orderedParams(stored, definition)), [
    "optimizer.lr",
    "batchSize",
    "model.hidden",
    "extra",
  ]);
});
