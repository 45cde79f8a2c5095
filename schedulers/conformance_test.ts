/**
 * Conformance with PyTorch 1.13: every schedule in
 * `tests/fixtures/schedulers/torch_schedules.json` (made by `generate.py` beside it) must agree
 * with torch to 1e-5 relative error at every step, learning rate and momentum.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseSchedulerSpec } from "./parse.ts";
import { previewSchedule } from "./preview.ts";
import { checkScheduleReach } from "./raises.ts";
import { SCHEDULER_NAMES, type SchedulerSpec, SchedulerSpecSchema } from "./spec.ts";

interface FixtureCase {
  id: string;
  spec: SchedulerSpec;
  baseLr: number;
  steps: number;
  metrics?: number[];
  lr: number[];
  momentum?: number[];
}

/** OneCycleLR over a grid of totalSteps and pctStart: where torch raises, and at which step. */
interface OnecycleDomain {
  totalSteps: number[];
  pctStart: number[];
  raises: { totalSteps: number; pctStart: number; threePhase: boolean; step: number }[];
}

const fixture: { torch: string; cases: FixtureCase[]; onecycleDomain: OnecycleDomain } = JSON
  .parse(
    await Deno.readTextFile(
      new URL("../tests/fixtures/schedulers/torch_schedules.json", import.meta.url),
    ),
  );

function assertClose(actual: number[], expected: number[], label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  for (const [t, want] of expected.entries()) {
    const got = actual[t];
    // Relative 1e-5; the absolute 1e-15 only lets exact zeros (e.g. polynomial's end) match.
    const tolerance = 1e-5 * Math.max(Math.abs(got), Math.abs(want)) + 1e-15;
    assert.ok(
      Math.abs(got - want) <= tolerance,
      `${label} at t=${t}: anneal ${got}, torch ${want}`,
    );
  }
}

Deno.test("torch fixtures cover every scheduler name with at least 40 steps each", () => {
  const names = new Set(fixture.cases.map((c) => c.spec.name));
  for (const name of SCHEDULER_NAMES) assert.ok(names.has(name), `no fixture for ${name}`);
  for (const c of fixture.cases) assert.ok(c.lr.length >= 40, `${c.id} has ${c.lr.length}`);
});

for (const c of fixture.cases) {
  Deno.test(`${c.id} matches torch ${fixture.torch} step by step`, () => {
    const preview = previewSchedule(c.spec, c.baseLr, c.steps, c.metrics);
    assertClose(preview.lr, c.lr, `${c.id} lr`);
    if (c.momentum) {
      assert.ok(preview.momentum, `${c.id}: momentum expected`);
      assertClose(preview.momentum, c.momentum, `${c.id} momentum`);
    } else {
      assert.equal(preview.momentum, undefined, `${c.id}: no momentum expected`);
    }
  });
}

Deno.test(`onecycle refuses exactly the pctStart and totalSteps for which torch ${fixture.torch} divides by zero, where a run gets there`, () => {
  const { totalSteps, pctStart, raises } = fixture.onecycleDomain;
  const key = (total: number, pct: number, threePhase: boolean) => `${total} ${pct} ${threePhase}`;
  const torchRaises = new Map(raises.map((r) => [key(r.totalSteps, r.pctStart, r.threePhase), r]));
  // a run that steps the schedule `steps` times: undefined when it trains, else why not
  const run = (spec: SchedulerSpec, steps: number) => {
    try {
      checkScheduleReach(parseSchedulerSpec(spec), { stepsPerEpoch: 1, epochs: steps });
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  };
  for (const total of totalSteps) {
    for (const pct of pctStart) {
      for (const threePhase of [false, true]) {
        const spec = { name: "onecycle", maxLr: 0.1, totalSteps: total, pctStart: pct, threePhase };
        const label = JSON.stringify(spec);
        const raised = torchRaises.get(key(total, pct, threePhase));
        // built, or stepped once, which every run does: refused as it is parsed
        const early = raised !== undefined && raised.step <= 1;
        const parsed = SchedulerSpecSchema.safeParse(spec).success;
        assert.equal(
          !parsed,
          early,
          `${label}: torch ${raised ? `raises at step ${raised.step}` : "runs every step"}, ` +
            `anneal ${parsed ? "accepts it" : "refuses it"}`,
        );
        if (early) continue;
        // torch runs it to its raise (else to totalSteps, and raises one step past it); a run
        // that ends before trains, at finite rates; one that gets there is refused, saying where
        const raisesAt = raised?.step ?? total + 1;
        assert.equal(run(spec as SchedulerSpec, raisesAt - 1), undefined, label);
        const preview = previewSchedule(spec as SchedulerSpec, 0.1, raisesAt);
        assert.ok(preview.lr.every(Number.isFinite), label);
        assert.match(
          run(spec as SchedulerSpec, raisesAt) ?? "",
          new RegExp(` at step ${raisesAt}\\b`),
        );
      }
    }
  }
});
