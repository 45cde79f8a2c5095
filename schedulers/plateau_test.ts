import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import { initPlateau, type PlateauSpecInput, type PlateauState, stepPlateau } from "./plateau.ts";

function feed(spec: Parameters<typeof stepPlateau>[0], baseLr: number, metrics: number[]) {
  const states: PlateauState[] = [initPlateau(spec, baseLr)];
  for (const metric of metrics) states.push(stepPlateau(spec, states.at(-1)!, metric));
  return states;
}

Deno.test("plateau reduces the rate after more than `patience` bad metrics", () => {
  const spec = { name: "plateau", patience: 2, factor: 0.5 } as const;
  const lrs = feed(spec, 1, [1, 1, 1, 1, 1, 1, 1]).map((s) => s.lr);
  assert.deepEqual(lrs, [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25]);
});

Deno.test("plateau ignores bad metrics during cooldown", () => {
  const spec = { name: "plateau", patience: 0, factor: 0.5, cooldown: 2 } as const;
  const states = feed(spec, 1, [1, 2, 2, 2, 2]);
  assert.deepEqual(states.map((s) => s.lr), [1, 1, 0.5, 0.5, 0.5, 0.25]);
  assert.deepEqual(states.map((s) => s.cooldownCounter), [0, 0, 2, 1, 0, 2]);
});

Deno.test("plateau's relative threshold needs an improvement by that fraction", () => {
  const spec = { name: "plateau", patience: 0, threshold: 0.1 } as const;
  const [, first, smallGain, bigGain] = feed(spec, 1, [1, 0.95, 0.85]);
  assert.equal(first.best, 1);
  assert.equal(smallGain.best, 1);
  assert.equal(smallGain.lr, 0.1);
  assert.equal(bigGain.best, 0.85);
});

Deno.test("plateau in max mode with an absolute threshold", () => {
  const spec = {
    name: "plateau",
    mode: "max",
    thresholdMode: "abs",
    threshold: 0.5,
    patience: 0,
  } as const;
  const states = feed(spec, 1, [1, 1.4, 1.6]);
  assert.deepEqual(states.map((s) => s.best), [null, 1, 1, 1.6]);
  assert.equal(states[2].lr, 0.1);
});

Deno.test("plateau never goes below minLr and skips reductions smaller than eps", () => {
  const spec = { name: "plateau", patience: 0, factor: 0.5, minLr: 0.3, eps: 0.1 } as const;
  const lrs = feed(spec, 1, [1, 1, 1, 1]).map((s) => s.lr);
  // 1 -> 0.5 (drop 0.5 > eps) -> max(0.25, 0.3) = 0.3 (drop 0.2 > eps) -> 0.3 (drop 0 <= eps)
  assert.deepEqual(lrs, [1, 1, 0.5, 0.3, 0.3]);
});

Deno.test("plateau state survives a JSON round trip at every step", () => {
  const spec = { name: "plateau", patience: 1, cooldown: 1 } as const;
  const metrics = [3, 2, 2.5, 2.4, 2.6, 1, 1, 1];
  let direct = initPlateau(spec, 0.1);
  let viaJson = initPlateau(spec, 0.1);
  for (const metric of metrics) {
    direct = stepPlateau(spec, direct, metric);
    viaJson = stepPlateau(spec, JSON.parse(JSON.stringify(viaJson)), metric);
    assert.deepEqual(viaJson, direct);
  }
  assert.ok(direct.lr < 0.1);
});

Deno.test("a NaN metric counts as a bad epoch, as in torch", () => {
  const spec = { name: "plateau", patience: 0 } as const;
  const states = feed(spec, 1, [1, Number.NaN]);
  assert.equal(states[2].best, 1);
  assert.equal(states[2].lr, 0.1);
});

Deno.test("initPlateau and stepPlateau refuse another schedule's spec and a metric that is not a number", () => {
  const refused = (call: () => unknown, where: string, text: RegExp) =>
    assert.throws(call, (error: unknown) => {
      assert.ok(error instanceof AnnealError, String(error));
      assert.equal(error.where, where);
      assert.match(`${error.message} ${error.hint}`, text);
      return true;
    });
  // (a step spec was stepped as a plateau without its settings: the rate never cut)
  const step = { name: "step", stepSize: 1 } as unknown as PlateauSpecInput;
  refused(() => initPlateau(step, 1), "name", /with a step spec.*createSchedule/);
  const spec = { name: "plateau", patience: 1, factor: 0.5 } as const;
  refused(() => stepPlateau(step, initPlateau(spec, 1), 1), "name", /take a plateau spec/);
  // (a string was compared as one, and kept as the best)
  refused(
    () => stepPlateau(spec, initPlateau(spec, 1), "0.5" as unknown as number),
    "metric",
    /must be a number, current value is "0.5"/,
  );
  // NaN is a metric, never better (torch's): a bad epoch
  assert.equal(stepPlateau(spec, initPlateau(spec, 1), NaN).numBadEpochs, 1);
});

Deno.test("stepPlateau refuses a state that is not a plateau state, naming the field (from plain JS)", () => {
  const spec = { name: "plateau", patience: 1 } as const;
  // ({} stepped to a state without an lr; null threw a TypeError)
  assert.throws(
    () => stepPlateau(spec, {} as never, 1),
    /^AnnealError: Cannot step the plateau schedule: its state's 'lr' must be a number, current value is undefined$/,
  );
  assert.throws(
    () => stepPlateau(spec, null as never, 1),
    /its state must be an object, current value is null/,
  );
  assert.throws(
    () => stepPlateau(spec, { ...initPlateau(spec, 0.1), numBadEpochs: "1" } as never, 1),
    /'numBadEpochs' must be a number, current value is "1"/,
  );
  // a state the schedule gave goes on as before
  assert.equal(stepPlateau(spec, initPlateau(spec, 0.1), 1).lr, 0.1);
});
