import assert from "node:assert/strict";
import {
  initScheduler as initResolved,
  lrAtStep,
  onEpochEnded,
  onScale,
  onStepsTaken,
  PLAN_AHEAD,
  planFrom,
  replanFrom,
  snapshot,
} from "./scheduler.ts";
import fc from "npm:fast-check@4.10.2";
import { parseSchedulerSpec, previewSchedule, type SchedulerSpec } from "../schedulers/mod.ts";

/**
 * The scheduler's state for a spec as a user writes it (the actor's Worker takes it parsed, from
 * the run's config).
 */
function initScheduler(
  spec: SchedulerSpec | undefined,
  ...rest: Parameters<typeof initResolved> extends [unknown, ...infer R] ? R : never
) {
  return initResolved(spec === undefined ? undefined : parseSchedulerSpec(spec), ...rest);
}

Deno.test("the scheduler's plans equal the schedule's closed form, and never pass the run's last step", () => {
  const total = PLAN_AHEAD + 100;
  const spec = { name: "onecycle" as const, maxLr: 0.1, totalSteps: total };
  const state = initScheduler(spec, 0.01, 10, "valLoss", undefined, total);
  const expected = previewSchedule(spec, 0.01, total);
  const first = planFrom(state, 0);
  assert.equal(first.lr.length, PLAN_AHEAD);
  assert.deepEqual(first.lr, expected.lr.slice(0, PLAN_AHEAD));
  assert.deepEqual(first.momentum, expected.momentum!.slice(0, PLAN_AHEAD));
  assert.equal(onStepsTaken(state, 10), undefined, "still far from the end of the plan");
  const next = onStepsTaken(state, PLAN_AHEAD / 2)!;
  assert.equal(next.fromStep, PLAN_AHEAD);
  assert.equal(
    next.lr.length,
    total - PLAN_AHEAD,
    "clamped at totalSteps (onecycle is undefined past it)",
  );
  assert.deepEqual(next.lr, expected.lr.slice(PLAN_AHEAD));
  assert.equal(onStepsTaken(state, total - 1), undefined);
});

Deno.test("epoch-interval schedules change the LR once per epoch", () => {
  const state = initScheduler(
    { name: "step", stepSize: 1, gamma: 0.5, interval: "epoch" },
    0.1,
    4,
    "valLoss",
  );
  assert.deepEqual([0, 3, 4, 8].map((s) => lrAtStep(state, s).lr), [0.1, 0.1, 0.05, 0.025]);
});

Deno.test("plateau lowers the LR at an epoch end and bumps the plan version", () => {
  const state = initScheduler({ name: "plateau", patience: 0, factor: 0.5 }, 0.1, 5, "valLoss");
  const a = onEpochEnded(state, { type: "EpochEnded", epoch: 0, step: 5, metrics: { valLoss: 1 } });
  assert.equal(a.plan.lr[0], 0.1);
  const b = onEpochEnded(state, {
    type: "EpochEnded",
    epoch: 1,
    step: 10,
    metrics: { valLoss: 1 },
  });
  assert.equal(b.plan.lr[0], 0.05);
  assert.ok(b.plan.version > a.plan.version);
});

Deno.test("plateau is not moved by an epoch end a late rollback discards (its metrics are of weights undone)", () => {
  const state = initScheduler({ name: "plateau", patience: 0, factor: 0.5 }, 0.1, 5, "valLoss");
  onEpochEnded(state, { type: "EpochEnded", epoch: 0, step: 5, metrics: { valLoss: 1 } });
  const discarded = onEpochEnded(state, {
    type: "EpochEnded",
    epoch: 1,
    step: 10,
    metrics: { valLoss: 5 },
    discarded: true,
  });
  assert.equal(discarded.plan.lr[0], 0.1);
  const next = onEpochEnded(state, {
    type: "EpochEnded",
    epoch: 2,
    step: 15,
    metrics: { valLoss: 2 },
  });
  assert.equal(next.plan.lr[0], 0.05);
});

Deno.test("plateau watching a validation metric without a validation split watches the training one", () => {
  // What early stopping watches too: valAccuracy reads accuracy. The loss falls as the accuracy
  // rises, so a plateau in mode max that read the loss would reduce the rate at every epoch.
  const spec = { name: "plateau" as const, mode: "max" as const, patience: 0, factor: 0.5 };
  const state = initScheduler(spec, 0.1, 5, "valAccuracy");
  const epochs = [[1.1, 0.3], [0.9, 0.5], [0.7, 0.6], [0.6, 0.6]];
  const rates = epochs.map(([loss, accuracy], epoch) =>
    onEpochEnded(state, {
      type: "EpochEnded",
      epoch,
      step: 5 * (epoch + 1),
      metrics: { loss, accuracy, lr: 0.1 },
    }).plan.lr[0]
  );
  assert.deepEqual(rates, [0.1, 0.1, 0.1, 0.05], "reduced only when the accuracy stopped rising");
  // With a validation split the validation metric is watched, as named.
  const split = initScheduler(spec, 0.1, 5, "valAccuracy");
  for (const [epoch, valAccuracy] of [0.5, 0.5].entries()) {
    const metrics = { loss: 1 - epoch, accuracy: 0.5 + epoch, valAccuracy };
    const lr = onEpochEnded(split, { type: "EpochEnded", epoch, step: 5, metrics }).plan.lr[0];
    assert.equal(lr, epoch === 0 ? 0.1 : 0.05);
  }
});

Deno.test("a NaN rollback scales every later learning rate by the factor", () => {
  const state = initScheduler({ name: "cosine", tMax: 10 }, 0.1, 5, "valLoss");
  const before = lrAtStep(state, 3).lr;
  const plan = onScale(state, 0.1, 3);
  assert.ok(Math.abs(plan.lr[0] - before * 0.1) < 1e-12);
});

Deno.test("a NaN rollback scales onecycle's planned rates too, alone or as a sequential's, whatever optimizer.lr is", () => {
  // onecycle's rates come from its maxLr: an optimizer lr of 0 must not hide the cut
  const onecycle = { name: "onecycle" as const, maxLr: 0.5, totalSteps: 40 };
  const sequential = {
    name: "sequential" as const,
    schedulers: [onecycle],
    milestones: [],
  } as unknown as Parameters<typeof initScheduler>[0];
  for (const spec of [onecycle, sequential]) {
    const state = initScheduler(spec, 0, 5, "valLoss", undefined, 40);
    const before = planFrom(state, 7).lr;
    assert.ok(before.every((lr) => lr > 0), "the cycle's own rates, not 0 from optimizer.lr");
    const plan = onScale(state, 0.1, 7);
    assert.equal(plan.fromStep, 7);
    assert.equal(plan.lr.length, before.length);
    plan.lr.forEach((lr, i) => assert.ok(Math.abs(lr - before[i] * 0.1) < 1e-12, `step ${7 + i}`));
    // and again: the cuts compound, and a resumed run keeps them (scale is in the snapshot)
    onScale(state, 0.1, 20);
    const fresh = lrAtStep(initScheduler(spec, 0, 5, "valLoss", undefined, 40), 20).lr;
    const resumed = initScheduler(spec, 0, 5, "valLoss", snapshot(state), 40);
    assert.ok(Math.abs(lrAtStep(resumed, 20).lr - fresh * 0.01) < 1e-12);
  }
});

Deno.test("replanFrom: no epoch end before it changes a plateau's rate (random runs)", () => {
  fc.assert(
    fc.property(
      fc.record({
        // torch checks none of these but factor < 1: negative and fractional ones too
        patience: fc.constantFrom(-1, 0, 1, 1.5, 2, 4),
        cooldown: fc.constantFrom(-1, 0, 1, 1.5, 3),
        factor: fc.constantFrom(-0.5, 0, 0.1, 0.5),
        minLr: fc.constantFrom(-0.01, 0, 0.01),
        eps: fc.constantFrom(-0.01, 0, 1e-8),
        mode: fc.constantFrom("min" as const, "max" as const),
        threshold: fc.constantFrom(-0.1, 0, 1e-4, 0.1),
        thresholdMode: fc.constantFrom("rel" as const, "abs" as const),
      }),
      fc.array(
        fc.oneof(fc.double({ min: -3, max: 3, noNaN: true }), fc.constantFrom(NaN, 0, 1)),
        { minLength: 1, maxLength: 40 },
      ),
      (options, series) => {
        const state = initScheduler({ name: "plateau", ...options }, 0.1, 5, "valLoss");
        const guards: (number | null)[] = [];
        let lr = lrAtStep(state, 0).lr;
        for (const [epoch, valLoss] of series.entries()) {
          const answer = onEpochEnded(state, {
            type: "EpochEnded",
            epoch,
            step: 5 * (epoch + 1),
            metrics: { valLoss },
          });
          if (answer.plan.lr[0] !== lr) {
            for (const from of guards) {
              assert.ok(from !== null && epoch >= from, `epoch ${epoch} replans, guard ${from}`);
            }
          }
          lr = answer.plan.lr[0];
          guards.push(answer.replanFrom);
        }
      },
    ),
    { numRuns: 3000 },
  );
});

Deno.test("replanFrom: schedules fixed in advance never need an epoch end's answer", () => {
  const state = initScheduler({ name: "cosine", tMax: 10 }, 0.1, 5, "valLoss");
  const answer = onEpochEnded(state, { type: "EpochEnded", epoch: 0, step: 5, metrics: {} });
  assert.equal(answer.replanFrom, null);
  const plateau = initScheduler({ name: "plateau", patience: 2 }, 0.1, 5, "valLoss");
  const first = onEpochEnded(plateau, {
    type: "EpochEnded",
    epoch: 0,
    step: 5,
    metrics: { valLoss: 1 },
  });
  assert.equal(first.replanFrom, 3, "epochs 1, 2, 3 flat: more than 2 bad epochs");
  assert.equal(replanFrom(plateau, 0), 3);
});

Deno.test("replanFrom of a huge plateau patience is found at once, after patience + 1 flat epochs", () => {
  // (each flat epoch was stepped one by one: seconds an epoch end at a patience of 1e7)
  for (const [patience, cooldown] of [[0, 0], [2, 0], [2.5, 3], [-1, 2], [1e9, 0], [1e9, 4]]) {
    const spec = { name: "plateau" as const, patience, cooldown };
    const state = initScheduler(spec, 0.1, 5, "valLoss");
    const started = performance.now();
    const answer = onEpochEnded(state, {
      type: "EpochEnded",
      epoch: 0,
      step: 5,
      metrics: { valLoss: 1 },
    });
    // epoch 0 set the best; the reduction comes at the first epoch with more than patience bad
    // epochs (a negative patience: at once)
    const bad = Math.max(0, Math.floor(patience)) + 1;
    assert.equal(answer.replanFrom, bad, `patience ${patience}, cooldown ${cooldown}`);
    assert.ok(performance.now() - started < 5_000);
  }
});
