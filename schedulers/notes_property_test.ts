/**
 * The notes a run's start gives on its schedule (a warmup longer than the run, a cosine shorter
 * than it, a decay that takes the rate all but to 0, a schedule cut before its end) are advice:
 * for every schedule a run accepts (`checkScheduleReach` lets it train), they compute without
 * throwing, and so do the rates the run trains at. fast-check draws the schedules from their
 * settings' edges (0, negative, one step, longer than the run) and the runs' lengths; a note
 * that computed a rate at a step where torch raises (a polynomial of a negative power at its
 * totalIters) refused a run torch trains.
 *
 * @module
 */
import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { parseSchedulerSpec } from "./parse.ts";
import { checkScheduleReach, scheduleSteps } from "./raises.ts";
import { warmupBeyondRun } from "./warmup_reach.ts";
import { cosineBeyondRun } from "./cosine_reach.ts";
import { decayBeyondRun } from "./decay_reach.ts";
import { annealBeyondRun } from "./anneal_reach.ts";
import { resolvedSchedule } from "./closed_form.ts";

/** A setting drawn from `values`, or left out (its default) a third of the time. */
const optional = <T>(values: T[]) => fc.option(fc.constantFrom(...values), { freq: 3 });

const schedule = fc.oneof(
  fc.record({ name: fc.constant("step"), stepSize: fc.constantFrom(0, 1, 2, 5, 100) }),
  fc.record({
    name: fc.constant("multistep"),
    milestones: fc.constantFrom([], [1], [0, 3], [5, 5], [2, 40]),
    gamma: optional([0, -1, 0.5, 2]),
  }),
  fc.record({ name: fc.constant("exponential"), gamma: fc.constantFrom(0, -0.9, 0.5, 1, 1.1) }),
  fc.record({
    name: fc.constant("cosine"),
    tMax: fc.constantFrom(0, 1, -5, 3, 100),
    etaMin: optional([0, 0.1, -0.1, 1, 0.01]),
  }),
  fc.record({
    name: fc.constant("cosineWarmRestarts"),
    t0: fc.constantFrom(1, 3, 100),
    tMult: optional([1, 2, 3]),
    etaMin: optional([0, 0.1, -0.1, 1]),
  }),
  fc.record({
    name: fc.constant("linear"),
    startFactor: optional([0, 0.3, 1, 1e-9]),
    endFactor: optional([0, 1, 0.5]),
    totalIters: optional([0, 1, 5, 100]),
  }),
  fc.record({
    name: fc.constant("constant"),
    factor: optional([0, 0.5, 1]),
    totalIters: optional([0, 1, 5, 100]),
  }),
  fc.record({
    name: fc.constant("polynomial"),
    totalIters: optional([0, 1, 4, 100]),
    power: optional([-1, -0.5, 0, 0.5, 1, 2]),
  }),
  fc.record({
    name: fc.constant("onecycle"),
    maxLr: fc.constantFrom(0.1, 1, 1e-9, 10),
    totalSteps: fc.constantFrom(1, 2, 3, 10, 100),
    pctStart: optional([0, 1e-9, 0.3, 0.5, 1]),
    annealStrategy: optional(["cos", "linear"]),
    threePhase: optional([true, false]),
    divFactor: optional([0, 1, 25, 1e-9]),
    finalDivFactor: optional([0, 1, 1e4]),
  }),
  fc.record({
    name: fc.constantFrom("warmupCosine", "warmupLinear"),
    warmupSteps: fc.constantFrom(0, 1, 5, 100),
    totalSteps: fc.constantFrom(0, 1, 5, 7, 100),
  }),
  fc.record({
    name: fc.constant("warmupCosine"),
    warmupSteps: fc.constantFrom(0, 1, 5),
    totalSteps: fc.constantFrom(1, 5, 100),
    numCycles: fc.constantFrom(0, 0.5, 1, -0.5, 2.25),
  }),
  fc.record({
    name: fc.constant("cyclic"),
    baseLr: fc.constantFrom(0.001, 0, 0.1),
    maxLr: fc.constantFrom(0.01, 0.1, 0.001),
    stepSizeUp: optional([1, 3, 2000]),
    stepSizeDown: optional([1, 5]),
    mode: optional(["triangular", "triangular2", "exp_range"]),
    gamma: optional([0.5, 0.99, 1, 1.5]),
  }),
);

const cases = fc.record({
  spec: schedule,
  interval: fc.constantFrom("step", "epoch"),
  run: fc.record({
    stepsPerEpoch: fc.constantFrom(1, 4, 13),
    epochs: fc.constantFrom(1, 2, 5, 30),
    maxSteps: fc.option(fc.constantFrom(1, 4, 50), { nil: undefined }),
  }),
});

/** The drawn settings without those left out (fast-check's `null`). */
const written = (spec: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(spec).filter(([, value]) => value !== null));

Deno.test("every schedule a run accepts gets its start's notes and its rates without an error", () => {
  let accepted = 0;
  fc.assert(
    fc.property(cases, ({ spec: drawn, interval, run }) => {
      let spec;
      try {
        spec = parseSchedulerSpec({ ...written(drawn), interval });
        checkScheduleReach(spec, run);
      } catch {
        return; // refused when parsed, or at the run's start: torch raises within the run
      }
      accepted++;
      for (const note of [warmupBeyondRun, cosineBeyondRun, decayBeyondRun, annealBeyondRun]) {
        note(spec, run);
      }
      const schedule = resolvedSchedule(spec, 0.01);
      for (let t = 0; t < scheduleSteps(spec.interval ?? "step", run); t++) {
        const lr = schedule.lrAt(t);
        assert.ok(Number.isFinite(lr), `step ${t}: lr ${lr}`);
      }
    }),
    { numRuns: 3000, seed: 20261207 },
  );
  // (the draws reach the runs that train, not only refusals)
  assert.ok(accepted > 1500, `${accepted} of 3000 accepted`);
});
