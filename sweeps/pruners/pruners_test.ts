import assert from "node:assert/strict";
import { ashaPruner } from "./asha.ts";
import { bracketBudgets, bracketOf, hyperbandPruner } from "./hyperband.ts";
import { medianPruner, percentile } from "./median.ts";
import type { PrunerTrial } from "./types.ts";

const curve = (id: number, values: number[], state: PrunerTrial["state"] = "COMPLETE") => ({
  id,
  state,
  intermediate: new Map(values.map((v, step) => [step, v])),
});

Deno.test("percentile interpolates linearly like numpy", () => {
  assert.equal(percentile([1, 2, 3, 4], 50), 2.5);
  assert.equal(percentile([5, 1, 3], 50), 3);
  assert.ok(Number.isNaN(percentile([], 50)));
});

Deno.test("the median of completed trials holding an infinite value is the middle value, and prunes against it", () => {
  assert.equal(percentile([1, 2, Infinity], 50), 2);
  assert.equal(percentile([-Infinity, 3, Infinity], 50), 3);
  assert.equal(percentile([Infinity, Infinity, 1], 50), Infinity);
  assert.equal(percentile([2, Infinity], 50), Infinity);
  // a completed trial whose loss ran off to Infinity at step 0
  const done = [1, 2, 3, 4, Infinity].map((v, i) => curve(i, [v]));
  const verdict = medianPruner().shouldPrune(curve(9, [3.5]), done, "minimize");
  assert.equal(verdict.prune, true);
  assert.match(verdict.reason!, /median 3 of 5 completed trials at step 0/);
  const ascent = [-Infinity, 2, 3, 4, 5].map((v, i) => curve(i, [v]));
  assert.equal(medianPruner().shouldPrune(curve(9, [2.5]), ascent, "maximize").prune, true);
  assert.equal(medianPruner().shouldPrune(curve(9, [3.5]), ascent, "maximize").prune, false);
});

Deno.test("median pruner waits for 5 completed trials, then prunes trials worse than the median", () => {
  const done = [1, 2, 3, 4, 5].map((v, i) => curve(i, [v, v / 2]));
  const bad = curve(10, [10]);
  const good = curve(11, [1.5]);
  const pruner = medianPruner();
  assert.equal(pruner.shouldPrune(bad, done.slice(0, 4), "minimize").prune, false);
  const verdict = pruner.shouldPrune(bad, done, "minimize");
  assert.equal(verdict.prune, true);
  assert.match(verdict.reason!, /median 3 of 5 completed trials at step 0/);
  assert.equal(pruner.shouldPrune(good, done, "minimize").prune, false);
  assert.equal(pruner.shouldPrune(good, done, "maximize").prune, true);
  // Running trials do not count as completed.
  const running = done.map((t) => ({ ...t, state: "RUNNING" as const }));
  assert.equal(pruner.shouldPrune(bad, running, "minimize").prune, false);
  // Warm-up steps are never pruned.
  assert.equal(medianPruner({ nWarmupSteps: 1 }).shouldPrune(bad, done, "minimize").prune, false);
});

Deno.test("median pruner compares the best value so far, so a noisy step does not prune", () => {
  const done = [1, 2, 3, 4, 5].map((v, i) => curve(i, [v, v]));
  assert.equal(medianPruner().shouldPrune(curve(9, [1, 6]), done, "minimize").prune, false);
  assert.equal(medianPruner().shouldPrune(curve(9, [NaN]), done, "minimize").prune, true);
});

Deno.test("successive halving keeps the top third at each rung", () => {
  // Rungs at steps 1, 3, 9: values at step 1 of eight others are 1..8.
  const others = [1, 2, 3, 4, 5, 6, 7, 8].map((v, i) => curve(i, [v, v], "RUNNING"));
  const pruner = ashaPruner();
  assert.equal(pruner.shouldPrune(curve(20, [0, 2.5]), others, "minimize").prune, false);
  const verdict = pruner.shouldPrune(curve(21, [0, 3.5]), others, "minimize");
  assert.equal(verdict.prune, true);
  assert.match(verdict.reason!, /rung 0 \(step 1\).*top 3 of 9/);
  // Before the first rung nothing is pruned.
  assert.equal(pruner.shouldPrune(curve(22, [100]), others, "minimize").prune, false);
  // Fewer than reductionFactor competitors: only the best goes on.
  assert.equal(pruner.shouldPrune(curve(23, [0, 1.5]), others.slice(0, 1), "minimize").prune, true);
  assert.equal(
    pruner.shouldPrune(curve(23, [0, 0.5]), others.slice(0, 1), "minimize").prune,
    false,
  );
});

Deno.test("hyperband splits trials into brackets by budget and compares only within a bracket", () => {
  const options = { minResource: 1, maxResource: 27, reductionFactor: 3 };
  const budgets = bracketBudgets(options);
  assert.equal(budgets.length, 4);
  const counts = new Array(4).fill(0);
  for (let id = 0; id < 4000; id++) counts[bracketOf(id, budgets)]++;
  const total = budgets.reduce((a, b) => a + b, 0);
  counts.forEach((c, s) => assert.ok(Math.abs(c / 4000 - budgets[s] / total) < 0.03, `${counts}`));
  const pruner = hyperbandPruner(options);
  const others = Array.from({ length: 60 }, (_, id) => curve(id, Array(30).fill(id % 7)));
  const bracket0 = Array.from({ length: 500 }, (_, i) => 100 + i).find((id) =>
    bracketOf(id, budgets) === 0
  )!;
  const verdict = pruner.shouldPrune(curve(bracket0, [50, 50]), others, "minimize");
  assert.equal(verdict.prune, true);
  assert.match(verdict.reason!, /^bracket 0:/);
  const last = Array.from({ length: 500 }, (_, i) => 100 + i).find((id) =>
    bracketOf(id, budgets) === 3
  )!;
  // Bracket 3's first rung is at step 27: a bad trial at step 1 goes on.
  assert.equal(pruner.shouldPrune(curve(last, [50, 50]), others, "minimize").prune, false);
});

Deno.test("successive halving judges a trial at a rung once, when it reaches it, as Optuna: trials that reach the rung later do not prune it", () => {
  const pruner = ashaPruner();
  // trial 1 reached rung 0 (step 1) alone, and went on
  assert.equal(pruner.shouldPrune(curve(1, [5, 5]), [], "minimize").prune, false);
  // then trial 2, running beside it, reached rung 0 with a better value
  const beside = curve(2, [1, 1], "RUNNING");
  assert.equal(pruner.shouldPrune(beside, [curve(1, [5, 5], "RUNNING")], "minimize").prune, false);
  // trial 1's step 2 reaches no new rung: it goes on (before, rung 0 was judged again, pruning it)
  assert.equal(pruner.shouldPrune(curve(1, [5, 5, 5]), [beside], "minimize").prune, false);
  // at rung 1 (step 3) it is judged again, there
  const verdict = pruner.shouldPrune(curve(1, [5, 5, 5, 5]), [curve(2, [1, 1, 1, 1])], "minimize");
  assert.equal(verdict.prune, true);
  assert.match(verdict.reason!, /at rung 1 \(step 3\)/);
  // a report that skips rungs (steps 0, then 4) is judged at each rung it passed
  const skipped = pruner.shouldPrune(
    { id: 3, intermediate: new Map([[0, 9], [4, 9]]) },
    [curve(2, [1, 1, 1, 1, 1])],
    "minimize",
  );
  assert.match(skipped.reason!, /at rung 0 \(step 1\)/);
});

Deno.test("asha: a report of an earlier step after a later one judges no rung again (the rungs passed stay passed, as Optuna's successive halving keeps them)", () => {
  const p = ashaPruner({ minResource: 1, reductionFactor: 3 });
  const curve = (id: number, v: number) => ({
    id,
    state: "COMPLETE" as const,
    intermediate: new Map([1, 2, 3, 4, 5, 6, 7, 8, 9].map((s) => [s, v])),
  });
  const trial = { id: 100, intermediate: new Map<number, number>([[9, 0.5]]) };
  assert.deepEqual(p.shouldPrune(trial, [curve(1, 0.9)], "minimize"), { prune: false });
  // better trials since, then a back-filled report of step 2: rungs 1 and 2 (steps 3 and 9)
  // were passed at step 9's report (it pruned at rung 1, "outside the top 1 of 5")
  trial.intermediate.set(2, 0.6);
  const peers = [curve(1, 0.9), curve(2, 0.1), curve(3, 0.2), curve(4, 0.3)];
  assert.deepEqual(p.shouldPrune(trial, peers, "minimize"), { prune: false });
  // the next report past them reaches rung 3 (step 27), judged as before
  const later = { id: 101, intermediate: new Map<number, number>([[3, 0.05], [9, 0.05]]) };
  assert.deepEqual(p.shouldPrune(later, peers, "minimize"), { prune: false });
  const worse = { id: 102, intermediate: new Map<number, number>([[3, 0.05], [9, 0.8]]) };
  assert.equal(p.shouldPrune(worse, peers, "minimize").prune, true);
});
