import assert from "node:assert/strict";
import { AnnealError } from "../../errors.ts";
import { ashaPruner } from "./asha.ts";
import { hyperbandPruner } from "./hyperband.ts";
import { medianPruner } from "./median.ts";
import { prunerNamed } from "./named.ts";
import type { Pruner, PrunerTrial } from "./types.ts";

/** Curves of 10 steps, from a fixed linear congruential sequence. */
function curves(count: number, seed: number): PrunerTrial[] {
  let state = seed;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
  return Array.from({ length: count }, (_, id) => {
    const level = next();
    return {
      id,
      state: id % 3 === 0 ? "RUNNING" as const : "COMPLETE" as const,
      intermediate: new Map(Array.from({ length: 10 }, (_, step) => [step, level + next() / 4])),
    };
  });
}

/** Each pruner's verdict on each trial at each of its steps, against the others. */
function verdicts(pruner: Pruner, trials: PrunerTrial[]): string[] {
  return trials.flatMap((trial) =>
    [...trial.intermediate.keys()].map((last) => {
      const upTo = new Map([...trial.intermediate].filter(([step]) => step <= last));
      const verdict = pruner.shouldPrune(
        { ...trial, state: "RUNNING", intermediate: upTo },
        trials,
        "minimize",
      );
      return `${trial.id}@${last}:${verdict.prune ? verdict.reason : "-"}`;
    })
  );
}

Deno.test("prunerNamed builds each pruner with the caller's defaults under its options, each pruner taking its own settings", () => {
  const trials = curves(40, 7);
  const pruned = (list: string[]) => list.filter((v) => !v.endsWith(":-")).length;
  // a sweep's defaults (resources in epochs) give the pruners runSweep built before
  const sweep = { maxResource: 9, minResource: 1, reductionFactor: 3 };
  const cases: [Pruner, Pruner][] = [
    [prunerNamed("median", {}, sweep), medianPruner()],
    [prunerNamed("asha", {}, sweep), ashaPruner({ minResource: 1, reductionFactor: 3 })],
    [prunerNamed("hyperband", {}, sweep), hyperbandPruner(sweep)],
    // optimize's: the user's options over each pruner's own defaults
    [prunerNamed("median", { nStartupTrials: 2 }), medianPruner({ nStartupTrials: 2 })],
    [prunerNamed("asha", { reductionFactor: 2 }, sweep), ashaPruner({ reductionFactor: 2 })],
    [prunerNamed("hyperband", { maxResource: 3 }, sweep), hyperbandPruner({ maxResource: 3 })],
  ];
  for (const [named, direct] of cases) {
    const expected = verdicts(direct, trials);
    assert.ok(pruned(expected) > 0, `${direct.name} prunes some of the trials`);
    assert.deepEqual(verdicts(named, trials), expected, direct.name);
  }
  // the options differ from the defaults where given: asha at rate 2 is not asha at rate 3
  assert.notDeepEqual(verdicts(cases[4][0], trials), verdicts(cases[1][0], trials));
  // a setting given as undefined keeps the default
  assert.deepEqual(
    verdicts(prunerNamed("asha", { reductionFactor: undefined }, sweep), trials),
    verdicts(cases[1][1], trials),
  );
  assert.equal(prunerNamed("none", { nStartupTrials: 1 }, sweep).name, "none");
  assert.throws(
    () => prunerNamed("hyperband", { minResource: 1 }),
    (error: unknown) => error instanceof AnnealError && /maxResource > 0/.test(error.message),
  );
});
