import assert from "node:assert/strict";
import { trialNote } from "./sweep.ts";

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
