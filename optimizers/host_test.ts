/**
 * The host optimizers against the tfjs reference (`createOptimizer`): checkpoints moving between
 * the two, momentum set from outside (onecycle), the tfjs-variable interface, clipping, errors.
 * (Their PyTorch trajectories are replayed in conformance_test.ts.)
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
import assert from "node:assert/strict";
import { clipGradNorm, clipGradValue } from "./clipping.ts";
import { clipHostNorm, clipHostValue, hasHostKernel, type HostParam } from "./host.ts";
import { createOptimizer, type Optimizer } from "./optimizer.ts";
import { hostOptimizerOf } from "./_trajectories.ts";
import type { OptimizerSpec } from "./spec.ts";

await tf.setBackend("cpu");

const SHAPES = [[3, 4], [4]];
const NAMES = ["dense/kernel", "dense/bias"];

/** Deterministic values in [-1, 1). */
function values(size: number, seed: number): Float32Array {
  let state = seed;
  return Float32Array.from({ length: size }, () => {
    state = (state * 1103515245 + 12345) >>> 0;
    return state / 2 ** 31 - 1;
  });
}

function hostParams(seed: number): HostParam[] {
  return SHAPES.map((shape, i) => ({
    name: NAMES[i],
    shape,
    values: values(shape.reduce((a, b) => a * b, 1), seed + i),
  }));
}

function variables(params: HostParam[]): tf.Variable[] {
  return params.map((p) => tf.variable(tf.tensor(p.values.slice(), [...p.shape]), true, p.name));
}

function grads(step: number): Float32Array[] {
  return SHAPES.map((shape, i) => values(shape.reduce((a, b) => a * b, 1), 100 * step + i));
}

function stepReference(optimizer: Optimizer, vars: tf.Variable[], step: number, lr: number) {
  const feed = grads(step).map((g, i) => tf.tensor(g, SHAPES[i]));
  optimizer.step(vars, feed, lr);
  tf.dispose(feed);
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= 1e-5 * (Math.abs(expected[i]) + 1e-2),
      `${what}[${i}]: ${actual[i]} vs ${expected[i]}`,
    );
  }
}

const SPECS: OptimizerSpec[] = [
  { name: "sgd", lr: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 0.05 },
  { name: "adam", lr: 0.01, amsgrad: true, weightDecay: 0.1 },
  { name: "adamw", lr: 0.01, betas: [0.8, 0.99] },
  { name: "lion", lr: 0.001, weightDecay: 0.5 },
];

for (const spec of SPECS) {
  Deno.test(`host ${spec.name}: a checkpoint moves to the tfjs optimizer and back`, async () => {
    const host = hostOptimizerOf(spec);
    const reference = createOptimizer(spec);
    const params = hostParams(1);
    const vars = variables(params);
    try {
      for (let step = 1; step <= 3; step++) {
        host.stepArrays(params, grads(step), 0.01 * step);
        stepReference(reference, vars, step, 0.01 * step);
      }
      // The host state continues in a fresh tfjs optimizer, the tfjs state in a fresh host one.
      const [hostState, referenceState] = [await host.getState(), await reference.getState()];
      assert.deepEqual(
        Object.keys(hostState.slots).sort(),
        Object.keys(referenceState.slots).sort(),
      );
      assert.equal(hostState.step, 3);
      const resumedReference = createOptimizer(spec);
      resumedReference.setState(hostState);
      const resumedHost = hostOptimizerOf(spec);
      resumedHost.setState(referenceState);
      const params2 = params.map((p) => ({ ...p, values: p.values.slice() }));
      for (let step = 4; step <= 6; step++) {
        resumedHost.stepArrays(params, grads(step), 0.02);
        stepReference(resumedReference, vars, step, 0.02);
        host.stepArrays(params2, grads(step), 0.02);
      }
      params.forEach((p, i) => {
        // tfjs resumed from the host's state; the host resumed from tfjs's, and uninterrupted
        assertClose(vars[i].dataSync(), p.values, `${p.name} (tfjs resumed from host)`);
        assertClose(params2[i].values, p.values, `${p.name} (host uninterrupted)`);
      });
      // The parameters moved: an optimizer doing nothing would not pass.
      assert.ok(Math.abs(params[0].values[0] - hostParams(1)[0].values[0]) > 1e-4);
      resumedReference.dispose();
    } finally {
      reference.dispose();
      tf.dispose(vars);
    }
  });
}

Deno.test("host and tfjs adam: the state of one that took no step restores as a fresh optimizer (a rollback to the start, checkpointed at an epoch's end)", async () => {
  const spec = { name: "adam", lr: 0.01 } as const;
  const [freshHost, freshReference] = [hostOptimizerOf(spec), createOptimizer(spec)];
  const states = [await freshHost.getState(), await freshReference.getState()];
  for (const state of states) assert.deepEqual([state.step, state.slots], [0, {}]);
  // each takes the other's state: the host's steps are a fresh host optimizer's, tfjs's the host's
  const [host, reference] = [hostOptimizerOf(spec), createOptimizer(spec)];
  host.setState(states[1]);
  reference.setState(states[0]);
  const [params, expected] = [hostParams(5), hostParams(5)];
  const vars = variables(params);
  try {
    for (let step = 1; step <= 2; step++) {
      host.stepArrays(params, grads(step));
      freshHost.stepArrays(expected, grads(step));
      stepReference(reference, vars, step, spec.lr);
    }
    params.forEach((p, i) => {
      assert.deepEqual(p.values, expected[i].values, `${p.name} (host restored, as a fresh one)`);
      assertClose(vars[i].dataSync(), p.values, `${p.name} (tfjs restored, as the host)`);
    });
    // (the parameters moved: an optimizer doing nothing would not pass)
    assert.notDeepEqual(params[0].values, hostParams(5)[0].values);
  } finally {
    freshReference.dispose();
    reference.dispose();
    tf.dispose(vars);
  }
});

Deno.test("host optimizer: momentum set between steps (onecycle) as in the tfjs optimizer", () => {
  for (const spec of [{ name: "sgd", lr: 0.1, momentum: 0.9 }, { name: "adam" }] as const) {
    const host = hostOptimizerOf(spec);
    const reference = createOptimizer(spec);
    const params = hostParams(7);
    const vars = variables(params);
    for (let step = 1; step <= 4; step++) {
      host.setMomentum(0.95 - 0.05 * step);
      reference.setMomentum(0.95 - 0.05 * step);
      host.stepArrays(params, grads(step), 0.05);
      stepReference(reference, vars, step, 0.05);
    }
    params.forEach((p, i) => assertClose(p.values, vars[i].dataSync(), `${spec.name} ${p.name}`));
    assert.throws(() => host.setMomentum(-1), /momentum/);
    reference.dispose();
    tf.dispose(vars);
  }
});

Deno.test("host optimizer: step() on tfjs variables assigns new data, leaving clones intact", () => {
  const optimizer = hostOptimizerOf({ name: "sgd", lr: 0.5 });
  const variable = tf.variable(tf.tensor([1, 2, 3]), true, "w");
  const before = tf.clone(variable);
  const grad = tf.tensor([1, 1, 1]);
  optimizer.step([variable], [grad]);
  assert.deepEqual(Array.from(variable.dataSync()), [0.5, 1.5, 2.5]);
  assert.deepEqual(Array.from(before.dataSync()), [1, 2, 3]);
  tf.dispose([variable, before, grad]);
});

Deno.test("host clipping equals clipGradValue and clipGradNorm", () => {
  for (const normType of [2, 1, 3, "inf"] as const) {
    const host = grads(3);
    const tensors = host.map((g, i) => tf.tensor(g, SHAPES[i]));
    const clipped = clipGradNorm(tensors, 0.4, normType);
    const total = clipHostNorm(host, 0.4, normType);
    assert.ok(Math.abs(total - clipped.totalNorm.dataSync()[0]) < 1e-5, `total (${normType})`);
    host.forEach((g, i) => assertClose(g, clipped.grads[i].dataSync(), `norm ${normType} ${i}`));
    tf.dispose([...tensors, ...clipped.grads, clipped.totalNorm]);
  }
  const host = grads(5);
  const tensors = host.map((g, i) => tf.tensor(g, SHAPES[i]));
  const clipped = clipGradValue(tensors, 0.3);
  clipHostValue(host, 0.3);
  host.forEach((g, i) => assertClose(g, clipped[i].dataSync(), `value ${i}`));
  assert.ok(host.some((g) => g.some((v) => Math.abs(v) === Math.fround(0.3))));
  tf.dispose([...tensors, ...clipped]);
  assert.throws(() => clipHostNorm(host, -1), /'maxNorm' must be a number >= 0/);
  assert.throws(() => clipHostNorm(host, 1, 0), /'normType' must be a number > 0/);
  assert.throws(() => clipHostValue(host, Number.NaN), /'clipValue' must be a number >= 0/);
});

Deno.test("host optimizer: clear errors for what it cannot do", async () => {
  assert.ok(!hasHostKernel({ name: "adamax" }));
  assert.throws(() => hostOptimizerOf({ name: "adamax" }), /No host implementation/);
  assert.throws(() => hostOptimizerOf({ name: "sgd", lr: -1 }));
  const optimizer = hostOptimizerOf({ name: "adam" });
  const params = hostParams(3);
  assert.throws(() => optimizer.stepArrays(params, [grads(1)[0]]), /2 parameters but 1 gradients/);
  assert.throws(
    () => optimizer.stepArrays(params, [grads(1)[0], new Float32Array(3)]),
    /gradient of 'dense\/bias' has 3 values, the parameter has 4/,
  );
  assert.throws(
    () => optimizer.stepArrays(params, grads(1), Infinity),
    /'lr' must be a finite number, current value is Infinity/,
  );
  optimizer.stepArrays(params, grads(1));
  const state = await optimizer.getState();
  assert.throws(
    () => hostOptimizerOf({ name: "adamw" }).setState(state),
    /state is of a adam optimizer/,
  );
  // not a state at all: said so, not a TypeError nor "a undefined optimizer at step undefined"
  for (const bad of [null, {}, 5]) {
    assert.throws(
      () => hostOptimizerOf({ name: "adam" }).setState(bad as never),
      /the state must be an optimizer's \(an object with its name, step and slots/,
    );
  }
  const other = hostOptimizerOf({ name: "adam" });
  other.setState(state);
  const wrong = hostParams(3).map((p, i) =>
    i === 1 ? { ...p, shape: [5], values: new Float32Array(5) } : p
  );
  assert.throws(() => other.stepArrays(wrong, [grads(1)[0], new Float32Array(5)]), /slot/);
  optimizer.dispose();
  assert.throws(() => optimizer.stepArrays(params, grads(1)), /disposed/);
});
