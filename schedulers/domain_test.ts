/**
 * torch 1.13's own verdict on the edges of every schedule's settings, from
 * tests/fixtures/schedulers/torch_domain.json (generate.py): negative, zero and above-1 values,
 * fractional step counts, empty, unsorted, repeated and negative milestones, each schedule on its
 * own and as a sequential's later schedule (which torch restarts with its closed form), and drawn
 * sequentials of two to four of those edges handed over at any step. anneal must
 * refuse every setting torch raises for when built or at step 1 (which every run gets to) as it
 * parses it; one torch raises for at a later step, in a run that gets to that step, and not in a
 * shorter one, which trains at torch's rates. Every other setting runs to torch's learning rates
 * (and momenta) unless anneal refuses it on purpose, which its error must say ("torch 1.13
 * accepts ..."). onecycle's and cyclic's momenta are judged with the optimizer they go into.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseConfig } from "../config.ts";
import { parseSchedulerSpec } from "./parse.ts";
import { previewSchedule } from "./preview.ts";
import { checkScheduleReach } from "./raises.ts";
import { SCHEDULER_NAMES, type SchedulerSpec } from "./spec.ts";
import { DELIBERATE, refusal } from "../tests/_refusal.ts";

interface DomainCase {
  spec: SchedulerSpec;
  /** Where torch raised: the scheduler step (0: when built) and its error. */
  raises?: { step: number; error: string };
  /** torch's rates, t = 0 .. (before the step it raises at, where it does). */
  lr?: number[];
  momentum?: number[];
}

const fixture: {
  torch: string;
  baseLr: number;
  metrics: number[];
  schedules: DomainCase[];
  cycledMomentum: (DomainCase & { optimizer: "sgd" | "adam" | "rmsprop" })[];
} = JSON.parse(
  await Deno.readTextFile(
    new URL("../tests/fixtures/schedulers/torch_domain.json", import.meta.url),
  ),
);

function assertClose(actual: number[], expected: number[], label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  expected.forEach((want, t) => {
    // closed forms against torch's recursive ones: rounding only
    const tolerance = 1e-9 * Math.max(Math.abs(actual[t]), Math.abs(want)) + 1e-15;
    assert.ok(
      Math.abs(actual[t] - want) <= tolerance,
      `${label} at t=${t}: anneal ${actual[t]}, torch ${want}`,
    );
  });
}

/**
 * The schedule a case is about: a sequential made to restart a schedule (after a plain constant,
 * at step 2) counts as that one.
 */
function groupOf({ spec }: DomainCase): string {
  if (spec.name !== "sequential") return spec.name;
  const [first, later] = spec.schedulers;
  const plain = first.name === "constant" && Object.keys(first).length === 1;
  return plain && later ? `${later.name}, restarted by a sequential` : spec.name;
}

/** The step an error says torch raises at ("at step 5"), if it names one. */
function stepNamed(message: string): number | undefined {
  const named = message.match(/ at step (\d+)/);
  return named ? Number(named[1]) : undefined;
}

const groups = Map.groupBy(fixture.schedules, groupOf);

Deno.test(`the domain fixture covers every schedule, and torch ${fixture.torch} raises for some of each`, () => {
  for (const name of SCHEDULER_NAMES) assert.ok(groups.has(name), `no domain cases for ${name}`);
  // every schedule can go below 0 somewhere in its domain but the warmups, which clamp at 0
  const negative = new Set(
    fixture.schedules.filter((c) => c.lr?.some((lr) => lr < 0)).map(groupOf),
  );
  for (const name of ["step", "multistep", "exponential", "cosine", "onecycle", "plateau"]) {
    assert.ok(negative.has(name), `no negative rates for ${name}`);
  }
  // a sequential hands over before a schedule gets to the step torch raises at, and after
  const handedOver = (raises: boolean) =>
    fixture.schedules.some((c) =>
      c.spec.name === "sequential" && !!c.raises === raises &&
      c.spec.schedulers.some((s) => s.name === "constant" && s.factor === 0 && s.totalIters! > 0)
    );
  assert.ok(handedOver(false) && handedOver(true), "no sequential hands over around a raise");
  // torch raises later than step 1 (where the run's length decides), for a schedule on its own,
  // restarted by a sequential, and for onecycle stepped past its end
  const later = fixture.schedules.filter((c) => c.raises && c.raises.step > 1);
  for (const group of ["constant", "polynomial", "onecycle", "sequential"]) {
    assert.ok(later.some((c) => groupOf(c) === group), `no later raise for ${group}`);
  }
  assert.ok(later.some((c) => /Tried to step/.test(c.raises!.error)), "no onecycle past its end");
});

/** anneal's verdict on a run that steps `spec` `steps` times: undefined when it trains. */
function runRefusal(spec: SchedulerSpec, steps: number): string | undefined {
  return refusal(() =>
    checkScheduleReach(parseSchedulerSpec(spec), { stepsPerEpoch: 1, epochs: steps })
  );
}

for (const [group, cases] of groups) {
  Deno.test(`${group}: anneal refuses what torch ${fixture.torch} raises for where a run gets there, and runs the rest as torch does or says why not`, () => {
    let compared = 0;
    for (const c of cases) {
      const label = JSON.stringify(c.spec);
      const refused = refusal(() => parseSchedulerSpec(c.spec));
      if (refused !== undefined && DELIBERATE.test(refused)) continue;
      if (c.raises && c.raises.step <= 1) {
        // raised when built, or at step 1, which every run gets to: refused as it is parsed
        assert.ok(
          refused !== undefined,
          `${label}: torch raises at step ${c.raises.step} (${c.raises.error}), anneal accepts it`,
        );
        const named = stepNamed(refused);
        if (named !== undefined) {
          assert.equal(named, c.raises.step, `${label}: torch raises at another step: ${refused}`);
        }
        continue;
      }
      assert.equal(refused, undefined, `${label}: torch runs it, anneal refuses it`);
      // a run that steps the schedule as often as torch did here trains, at torch's rates
      const stepped = c.lr!.length - 1;
      assert.equal(runRefusal(c.spec, stepped), undefined, `${label}: ${stepped} steps`);
      const preview = previewSchedule(c.spec, fixture.baseLr, c.lr!.length, fixture.metrics);
      assertClose(preview.lr, c.lr!, `${label} lr`);
      if (c.momentum) assertClose(preview.momentum ?? [], c.momentum, `${label} momentum`);
      compared++;
      if (!c.raises) continue;
      // one step more gets to where torch raises: refused, naming that step
      const longer = runRefusal(c.spec, c.raises.step);
      assert.ok(
        longer !== undefined,
        `${label}: torch raises at step ${c.raises.step} (${c.raises.error}), a run of ` +
          `${c.raises.step} steps is accepted`,
      );
      assert.equal(stepNamed(longer), c.raises.step, `${label}: ${longer}`);
      assert.match(longer, /the run gets there: it takes \d+ optimizer steps/, label);
    }
    assert.ok(compared > 0, `${group}: no setting run against torch`);
  });
}

Deno.test(`onecycle's and cyclic's momenta: a run config refuses what torch ${fixture.torch}'s optimizers fail on, and says why it refuses the rest`, () => {
  for (const c of fixture.cycledMomentum) {
    const optimizer = c.optimizer === "sgd"
      ? { name: "sgd", lr: 0.1, momentum: 0.9 }
      : { name: c.optimizer, lr: 0.1 };
    const label = `${c.optimizer} with ${JSON.stringify(c.spec)}`;
    const refused = refusal(() => parseConfig({ optimizer, scheduler: c.spec }));
    if (c.raises) {
      assert.ok(
        refused !== undefined,
        `${label}: torch raises (${c.raises.error}), anneal accepts`,
      );
    } else if (refused !== undefined) {
      assert.match(refused, DELIBERATE, `${label}: torch runs it, anneal refuses it`);
    }
  }
  // what each optimizer takes: sgd and rmsprop any momentum >= 0, the Adam family a beta1 < 1
  const accepted = (optimizer: string, base: number, max: number) =>
    fixture.cycledMomentum.some((c) =>
      c.optimizer === optimizer && c.spec.name === "onecycle" && c.spec.baseMomentum === base &&
      c.spec.maxMomentum === max && !c.raises
    ) && refusal(() =>
        parseConfig({
          optimizer: { name: optimizer, lr: 0.1 },
          scheduler: {
            name: "onecycle",
            maxLr: 0.1,
            totalSteps: 10,
            baseMomentum: base,
            maxMomentum: max,
          },
        })
      ) === undefined;
  assert.ok(accepted("sgd", 1.5, 0) && accepted("rmsprop", 1.5, 1) && accepted("adam", 0, 0.95));
  assert.ok(!accepted("adam", 0.85, 1.5) && !accepted("sgd", -0.5, 0.95));
  // CyclicLR: torch raises for Adam (no "momentum") and for RMSprop's momentum rising from 0
  // (KeyError); the fixture has both, and SGD's momenta run as torch runs them
  const cyclic = (optimizer: string, raises: boolean) =>
    fixture.cycledMomentum.filter((c) =>
      c.optimizer === optimizer && c.spec.name === "cyclic" && !!c.raises === raises
    );
  assert.ok(cyclic("adam", true).length > 0 && cyclic("adam", false).length === 0);
  assert.ok(cyclic("rmsprop", true).some((c) => /KeyError/.test(c.raises!.error)));
  const run = cyclic("sgd", false).filter((c) =>
    refusal(() =>
      parseConfig({ optimizer: { name: "sgd", lr: 0.1, momentum: 0.9 }, scheduler: c.spec })
    ) === undefined
  );
  assert.ok(run.length >= 3);
  for (const c of run) {
    const preview = previewSchedule(c.spec, fixture.baseLr, c.lr!.length);
    assertClose(preview.momentum ?? [], c.momentum!, `sgd with ${JSON.stringify(c.spec)} momentum`);
  }
});
