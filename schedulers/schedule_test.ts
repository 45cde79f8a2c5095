import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import { restartPosition } from "./cosine.ts";
import { createSchedule } from "./schedule.ts";

const range = (n: number) => Array.from({ length: n }, (_, t) => t);
const assertNear = (actual: number | undefined, expected: number) =>
  assert.ok(
    Math.abs((actual ?? Number.NaN) - expected) <= 1e-12 * Math.abs(expected),
    `${actual} != ${expected}`,
  );

Deno.test("cosine reaches etaMin at tMax and mirrors back up past it", () => {
  const schedule = createSchedule({ name: "cosine", tMax: 20, etaMin: 0.001 }, 0.1);
  assert.equal(schedule.lrAt(20), 0.001);
  for (const k of range(20)) {
    assert.ok(Math.abs(schedule.lrAt(20 + k) - schedule.lrAt(20 - k)) < 1e-15, `k=${k}`);
  }
  assert.ok(Math.abs(schedule.lrAt(40) - 0.1) < 1e-15);
});

Deno.test("warm restarts with tMult 2 restart at 5, 15, 35 and 75 steps", () => {
  const schedule = createSchedule({ name: "cosineWarmRestarts", t0: 5, tMult: 2 }, 0.1);
  const restarts = range(80).filter((t) => t > 0 && schedule.lrAt(t) > schedule.lrAt(t - 1));
  assert.deepEqual(restarts, [5, 15, 35, 75]);
  for (const t of restarts) assert.equal(schedule.lrAt(t), 0.1);
});

Deno.test("restartPosition agrees with torch's incremental T_cur / T_i bookkeeping", () => {
  for (const [t0, tMult] of [[1, 1], [3, 1], [1, 2], [5, 2], [2, 3], [4, 5]]) {
    let tCur = 0;
    let tI = t0;
    for (const t of range(500)) {
      if (t > 0) {
        tCur += 1;
        if (tCur >= tI) {
          tCur -= tI;
          tI *= tMult;
        }
      }
      assert.deepEqual(
        restartPosition(t, t0, tMult),
        { tCur, tI },
        `t0=${t0} tMult=${tMult} t=${t}`,
      );
    }
  }
});

Deno.test("polynomial decays to zero at totalIters and stays there", () => {
  const schedule = createSchedule({ name: "polynomial", totalIters: 10, power: 2 }, 0.1);
  assert.ok(schedule.lrAt(9) > 0);
  for (const t of [10, 11, 100]) assert.equal(schedule.lrAt(t), 0);
});

Deno.test("linear goes from startFactor to endFactor over totalIters, then holds", () => {
  const schedule = createSchedule(
    { name: "linear", startFactor: 0.25, endFactor: 0.75, totalIters: 10 },
    0.2,
  );
  assert.equal(schedule.lrAt(0), 0.05);
  assert.ok(Math.abs(schedule.lrAt(5) - 0.1) < 1e-15);
  assertNear(schedule.lrAt(10), 0.15);
  assert.equal(schedule.lrAt(1000), schedule.lrAt(10));
});

Deno.test("onecycle ignores baseLr, peaks at maxLr and cycles momentum inversely", () => {
  const spec = { name: "onecycle", maxLr: 1, totalSteps: 100 } as const;
  const a = createSchedule(spec, 0.1);
  const b = createSchedule(spec, 123);
  assert.deepEqual(range(101).map(a.lrAt), range(101).map(b.lrAt));
  assertNear(a.lrAt(0), 1 / 25);
  const peak = range(101).reduce((best, t) => (a.lrAt(t) > a.lrAt(best) ? t : best), 0);
  assert.equal(peak, 29); // pctStart * totalSteps - 1
  assertNear(a.lrAt(peak), 1);
  assertNear(a.momentumAt?.(0), 0.95);
  assertNear(a.momentumAt?.(peak), 0.85);
  assert.ok(Math.abs(a.lrAt(99) - 1 / 25 / 1e4) < 1e-15);
});

Deno.test("a schedule has no rate where torch raises, or past it: onecycle past totalSteps, a later raise", () => {
  const onecycle = createSchedule({ name: "onecycle", maxLr: 1, totalSteps: 10 }, 0.1);
  assert.doesNotThrow(() => onecycle.lrAt(10));
  assert.doesNotThrow(() => onecycle.momentumAt!(10));
  for (const step of [11, 12]) {
    assert.throws(() => onecycle.lrAt(step), (error: unknown) => {
      assert.ok(error instanceof AnnealError && error.where === "totalSteps");
      assert.match(
        error.message,
        new RegExp(
          `^Cannot compute onecycle schedule at step ${step}: 'totalSteps' .* raises at step 11`,
        ),
      );
      return true;
    });
  }
  const constant = createSchedule({ name: "constant", factor: 0, totalIters: 4 }, 0.1);
  assert.deepEqual([0, 1, 2, 3].map(constant.lrAt), [0, 0, 0, 0]);
  assert.throws(() => constant.lrAt(4), /'factor' must be > 0 .* divides by it at step 4/);
});

Deno.test("only momentum-cycling schedules have momentumAt", () => {
  assert.equal(createSchedule({ name: "cosine", tMax: 5 }, 0.1).momentumAt, undefined);
  assert.equal(
    createSchedule({ name: "onecycle", maxLr: 1, totalSteps: 10, cycleMomentum: false }, 0.1)
      .momentumAt,
    undefined,
  );
  const alone = createSchedule({
    name: "sequential",
    schedulers: [{ name: "onecycle", maxLr: 1, totalSteps: 10 }],
    milestones: [],
  }, 0.1);
  assert.equal(alone.momentumAt?.(0), 0.95);
});

// torch's OneCycleLR overwrites the optimizer's initial_lr, which SequentialLR's other children
// start from: with maxLr 0.2, [constant(factor 0.5), onecycle] gives 0.004 (0.2 / 25 * 0.5) in
// torch 1.13 from step 0, not 0.05 (0.1 * 0.5). anneal refuses the combination rather than train
// with other rates than torch would.
Deno.test("sequential refuses onecycle beside other schedules, naming the child", () => {
  for (
    const [schedulers, index] of [
      [[{ name: "constant", factor: 0.5, totalIters: 5 }, {
        name: "onecycle",
        maxLr: 0.2,
        totalSteps: 40,
      }], 1],
      [
        [{ name: "onecycle", maxLr: 1, totalSteps: 10, cycleMomentum: false }, {
          name: "constant",
        }],
        0,
      ],
    ] as const
  ) {
    assert.throws(
      () =>
        createSchedule({ name: "sequential", schedulers: [...schedulers], milestones: [5] }, 0.1),
      (error: unknown) => {
        assert.ok(error instanceof AnnealError);
        assert.equal(error.where, `schedulers[${index}].name`);
        assert.match(
          error.message,
          /cannot be onecycle beside other schedules: torch 1\.13 accepts it/,
        );
        assert.match(error.message, /use onecycle on its own/);
        return true;
      },
    );
  }
});

Deno.test("sequential restarts each child at its milestone", () => {
  const warmup = { name: "linear", startFactor: 0.1, totalIters: 10 } as const;
  const decay = { name: "step", stepSize: 3, gamma: 0.5 } as const;
  const joined = createSchedule({
    name: "sequential",
    schedulers: [warmup, decay],
    milestones: [7],
  }, 1);
  const first = createSchedule(warmup, 1);
  const second = createSchedule(decay, 1);
  for (const t of range(7)) assert.equal(joined.lrAt(t), first.lrAt(t));
  for (const t of range(30)) assert.equal(joined.lrAt(7 + t), second.lrAt(t));
});

Deno.test("createSchedule keeps the interval and validates baseLr, t and plateau", () => {
  assert.equal(createSchedule({ name: "constant", interval: "epoch" }, 0.1).interval, "epoch");
  assert.equal(createSchedule({ name: "constant" }, 0.1).interval, "step");
  assert.throws(
    () => createSchedule({ name: "constant" }, -1),
    /'baseLr' must be a finite number >= 0/,
  );
  assert.throws(() => createSchedule({ name: "plateau" }, 0.1), /depends on metrics/);
  const schedule = createSchedule({ name: "constant" }, 0.1);
  assert.throws(() => schedule.lrAt(-1), /'t' must be an integer >= 0, current value is -1/);
  assert.throws(() => schedule.lrAt(1.5), /current value is 1.5/);
});
