/**
 * SGD as one SIMD kernel per parameter on wasm (`createOptimizer(spec, { fusedKernels: true })`)
 * against the reference chain of tfjs ops on the same backend, bit for bit: weights and saved
 * momentum buffers after several steps, with maximize, L2 decay, dampening, Nesterov, param
 * groups, a momentum moved between steps (from 0, back to 0 and up again, as onecycle may), a
 * negative rate and sizes that are not multiples of 4; and against torch 1.13's trajectories.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { selectBackend } from "./backend.ts";
import { loadTrajectories, replay } from "../optimizers/_trajectories.ts";
import { createOptimizer, hasFusedKernels, type Optimizer } from "../optimizers/optimizer.ts";
import type { OptimizerSpec } from "../optimizers/spec.ts";

const SHAPES = [[7, 5], [5], [3, 3, 2, 4], [1]];

const SPECS: OptimizerSpec[] = [
  { name: "sgd", lr: 0.05 },
  { name: "sgd", lr: 0.05, momentum: 0.9 },
  { name: "sgd", lr: 0.03, momentum: 0.8, dampening: 0.3, weightDecay: 0.2 },
  { name: "sgd", lr: 0.02, momentum: 0.9, nesterov: true, weightDecay: 0.01, maximize: true },
  {
    name: "sgd",
    lr: 0.04,
    momentum: 0.5,
    weightDecay: 0.1,
    paramGroups: [{ match: "^q2$", lrMultiplier: 0.5, weightDecay: 0 }],
  },
];

/** Momentum by step: `spec`'s own, or one that starts at 0, rises, returns to 0 and rises again. */
const MOVED = [0, 0.9, 0.85, 0, 0.7, 0.95];

function run(spec: OptimizerSpec, fused: boolean, moveMomentum: boolean) {
  const variables = SHAPES.map((shape, i) => {
    const initial = tf.randomNormal(shape, 0, 1, "float32", 10 + i);
    const variable = tf.variable(initial, true, `q${i}`);
    initial.dispose();
    return variable;
  });
  const optimizer: Optimizer = createOptimizer(spec, { fusedKernels: fused });
  for (let step = 1; step <= MOVED.length; step++) {
    if (moveMomentum) optimizer.setMomentum(MOVED[step - 1]);
    const grads = SHAPES.map((shape, i) => tf.randomNormal(shape, 0, 1, "float32", 100 * step + i));
    // a schedule's rate, negative at step 3 (torch uses a negative rate as it is)
    optimizer.step(variables, grads, step === 3 ? -0.02 : 0.01 * step);
    tf.dispose(grads);
  }
  return { variables, optimizer };
}

const bits = (values: ArrayLike<number>) =>
  Array.from(new Uint32Array(Float32Array.from(values).buffer));

Deno.test("fused SGD on wasm equals the reference chain bit for bit, weights and state", async () => {
  await selectBackend("wasm");
  assert.ok(hasFusedKernels({ name: "sgd" }) && !hasFusedKernels({ name: "rmsprop" }));
  for (const spec of SPECS) {
    for (const moveMomentum of [false, true]) {
      const label = `${JSON.stringify(spec)}${moveMomentum ? ", momentum moved" : ""}`;
      // same variable names on both sides (the state is keyed by them): one side at a time
      const reference = run(spec, false, moveMomentum);
      const expected = reference.variables.map((v) => bits(v.dataSync()));
      const expectedState = await reference.optimizer.getState();
      reference.optimizer.dispose();
      tf.dispose(reference.variables);
      const before = tf.memory().numTensors;
      const fused = run(spec, true, moveMomentum);
      fused.variables.forEach((v, i) =>
        assert.deepEqual(bits(v.dataSync()), expected[i], `${label}: ${v.name}`)
      );
      const state = await fused.optimizer.getState();
      assert.deepEqual(Object.keys(state.slots).sort(), Object.keys(expectedState.slots).sort());
      for (const [key, slot] of Object.entries(state.slots)) {
        assert.deepEqual(
          bits(slot.values),
          bits(expectedState.slots[key].values),
          `${label}: ${key}`,
        );
      }
      assert.equal(state.momentum, expectedState.momentum);
      // one step more makes no tensors beyond the new slots and weights it replaces
      const grads = SHAPES.map((shape) => tf.ones(shape));
      const count = tf.memory().numTensors;
      fused.optimizer.step(fused.variables, grads);
      assert.equal(tf.memory().numTensors, count, label);
      tf.dispose(grads);
      fused.optimizer.dispose();
      tf.dispose(fused.variables);
      assert.equal(tf.memory().numTensors, before, label);
    }
  }
});

Deno.test("fused SGD on wasm follows PyTorch's trajectories (torch 1.13 fixtures)", async () => {
  await selectBackend("wasm");
  const cases = (await loadTrajectories()).filter((c) => c.spec.name === "sgd");
  assert.ok(cases.length >= 3, `${cases.length} sgd cases`);
  for (const fixture of cases) {
    await replay(fixture, (spec) => createOptimizer(spec, { fusedKernels: true }));
  }
});

Deno.test("fused SGD on wasm: NaN, infinities and -0 as the reference chain gives them", async () => {
  // p and g of 9 values (two vectors of 4 and the scalar tail), special values in each
  await selectBackend("wasm");
  const p = [-Infinity, 1, -0, 3, NaN, 0, 2, Infinity, -0];
  const g = [0.5, NaN, -0, Infinity, 1, -0, -Infinity, 0.25, 0];
  for (const spec of SPECS.slice(1, 4)) {
    const results = [false, true].map((fused) => {
      const param = tf.variable(tf.tensor1d(p), true, "special");
      const optimizer = createOptimizer(spec, { fusedKernels: fused });
      const grad = tf.tensor1d(g);
      optimizer.step([param], [grad]);
      optimizer.step([param], [grad]);
      const values = bits(param.dataSync());
      optimizer.dispose();
      tf.dispose([param, grad]);
      return values;
    });
    // NaN payloads aside (a NaN is a NaN): every other value to the bit
    const isNan = (b: number) => (b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0;
    results[1].forEach((b, i) =>
      assert.ok(
        b === results[0][i] || (isNan(b) && isNan(results[0][i])),
        `${JSON.stringify(spec)}[${i}]`,
      )
    );
  }
});

Deno.test("fused SGD on wasm adds a weight decay too small for float32 as the chain does (p * 0)", async () => {
  // 1e-46 rounds to 0 in float32, but is not 0: the chain (and torch) still add p * 0, NaN
  // for an infinite weight; a kernel that tested the rounded decay skipped it
  await selectBackend("wasm");
  const spec: OptimizerSpec = { name: "sgd", lr: 0.1, weightDecay: 1e-46 };
  const results = [false, true].map((fused) => {
    const param = tf.variable(tf.tensor2d([[Infinity, -0], [1, 2]]), true, "tiny_decay/kernel");
    const optimizer = createOptimizer(spec, { fusedKernels: fused });
    const grad = tf.zeros([2, 2]);
    optimizer.step([param], [grad]);
    const values = Array.from(param.dataSync());
    optimizer.dispose();
    tf.dispose([param, grad]);
    return values;
  });
  assert.ok(Number.isNaN(results[0][0]), `the chain: ${results[0]}`);
  assert.deepEqual(results[1].map(String), results[0].map(String));
});
