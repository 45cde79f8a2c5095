/**
 * Adam and AdamW as one SIMD kernel per parameter on wasm (`createOptimizer(spec, { fusedKernels:
 * true })`) against the reference chain of tfjs ops on the same backend: weights and saved state
 * after several steps, with amsgrad, L2 and decoupled decay, maximize, param groups, momentum
 * moved between steps, a negative rate (a schedule's) and sizes that are not multiples of 4; and
 * against torch 1.13's trajectories.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { selectBackend } from "./backend.ts";
import { loadTrajectories, replay } from "../optimizers/_trajectories.ts";
import { createOptimizer, hasFusedKernels, type Optimizer } from "../optimizers/optimizer.ts";
import type { OptimizerSpec } from "../optimizers/spec.ts";
import { parseConfig } from "../config.ts";
import { TrainingEngine } from "./engine.ts";

const SHAPES = [[7, 5], [5], [3, 3, 2, 4]];

const SPECS: OptimizerSpec[] = [
  { name: "adam", lr: 0.01 },
  { name: "adam", lr: 0.02, betas: [0.8, 0.95], amsgrad: true, weightDecay: 0.3, eps: 1e-6 },
  {
    name: "adamw",
    lr: 0.01,
    weightDecay: 0.5,
    amsgrad: true,
    paramGroups: [{ match: "^p2$", lrMultiplier: 0.5 }],
  },
  { name: "adam", lr: 0.02, weightDecay: 0.05, amsgrad: true, maximize: true },
  { name: "adamw", lr: 0.01, weightDecay: 0.5, maximize: true },
];

function run(spec: OptimizerSpec, fused: boolean, prefix: string) {
  const variables = SHAPES.map((shape, i) => {
    const initial = tf.randomNormal(shape, 0, 1, "float32", 10 + i);
    const variable = tf.variable(initial, true, `${prefix}${i}`);
    initial.dispose();
    return variable;
  });
  const optimizer: Optimizer = createOptimizer(spec, { fusedKernels: fused });
  for (let step = 1; step <= 5; step++) {
    optimizer.setMomentum(0.9 - 0.02 * step);
    const grads = SHAPES.map((shape, i) => tf.randomNormal(shape, 0, 1, "float32", 100 * step + i));
    // a schedule's rate, negative at step 3 (torch uses a negative rate as it is)
    optimizer.step(variables, grads, step === 3 ? -0.02 : 0.01 * step);
    tf.dispose(grads);
  }
  return { variables, optimizer };
}

Deno.test("fused Adam/AdamW on wasm equal the reference chain, weights and state", async () => {
  await selectBackend("wasm");
  assert.ok(hasFusedKernels({ name: "adamw" }) && !hasFusedKernels({ name: "rmsprop" }));
  for (const spec of SPECS) {
    // same variable names on both sides (the state is keyed by them): one side at a time
    const reference = run(spec, false, "p");
    const expected = reference.variables.map((v) => Array.from(v.dataSync()));
    const expectedState = await reference.optimizer.getState();
    reference.optimizer.dispose();
    tf.dispose(reference.variables);
    const before = tf.memory().numTensors;
    const fused = run(spec, true, "p");
    fused.variables.forEach((v, i) => {
      const got = v.dataSync();
      expected[i].forEach((e, j) =>
        assert.ok(
          Math.abs(got[j] - e) <= 1e-6 * Math.max(1, Math.abs(e)),
          `${spec.name} ${v.name}[${j}]: ${got[j]} vs ${e}`,
        )
      );
    });
    const state = await fused.optimizer.getState();
    assert.deepEqual(Object.keys(state.slots).sort(), Object.keys(expectedState.slots).sort());
    for (const [key, slot] of Object.entries(state.slots)) {
      slot.values.forEach((value, j) => {
        const e = expectedState.slots[key].values[j];
        assert.ok(Math.abs(value - e) <= 1e-6 * Math.max(1, Math.abs(e)), `${key}[${j}]`);
      });
    }
    // one step more makes no tensors beyond the new slots and weights it replaces
    const grads = SHAPES.map((shape) => tf.ones(shape));
    const count = tf.memory().numTensors;
    fused.optimizer.step(fused.variables, grads);
    assert.equal(tf.memory().numTensors, count);
    tf.dispose(grads);
    fused.optimizer.dispose();
    tf.dispose(fused.variables);
    assert.equal(tf.memory().numTensors, before);
  }
});

Deno.test("fused Adam/AdamW on wasm follow PyTorch's trajectories (torch 1.13 fixtures)", async () => {
  await selectBackend("wasm");
  const cases = (await loadTrajectories()).filter((c) =>
    (c.spec.name === "adam" || c.spec.name === "adamw") && hasFusedKernels(c.spec)
  );
  assert.ok(cases.length >= 9, `${cases.length} adam and adamw cases`);
  for (const fixture of cases) {
    await replay(fixture, (spec) => createOptimizer(spec, { fusedKernels: true }));
  }
});

Deno.test("fused Adam/AdamW on wasm take v's (1 - beta2) * g² as torch does, finite where g² overflows float32", async () => {
  // torch 1.13's exp_avg_sq.addcmul_(g, g, value=1 - beta2) is ((1 - beta2) * g) * g: 1e37 for a
  // gradient of 1e20, where fl(g²) is Infinity (and the step 0). p = [1, -2, 3, 4, 1] (a vector
  // of 4 and the scalar tail), grad [1e20, 0.5, 1e20, 1e20, 1e20], lr 0.1, three steps: torch's
  // first two coordinates and its exp_avg_sq.
  await selectBackend("wasm");
  const specs: [OptimizerSpec, number[][]][] = [
    [{ name: "adam", lr: 0.1 }, [[0.9, -2.1], [0.8, -2.2], [0.7, -2.3]]],
    [{ name: "adam", lr: 0.1, amsgrad: true }, [[0.9, -2.1], [0.8, -2.2], [0.7, -2.3]]],
    [
      { name: "adamw", lr: 0.1, weightDecay: 0.01, noDecay: [] },
      [[0.899, -2.098], [0.798101, -2.1959019], [0.6973029, -2.2937059]],
    ],
  ];
  for (const [index, [spec, torch]] of specs.entries()) {
    const param = tf.variable(tf.tensor1d([1, -2, 3, 4, 1]), true, `overflow${index}`);
    const optimizer = createOptimizer(spec, { fusedKernels: true });
    const grad = tf.tensor1d([1e20, 0.5, 1e20, 1e20, 1e20]);
    for (const want of torch) {
      optimizer.step([param], [grad]);
      const got = param.dataSync();
      want.forEach((w, i) =>
        assert.ok(Math.abs(got[i] - w) <= 1e-6 * Math.max(1, Math.abs(w)), `${got[i]}, torch ${w}`)
      );
      // the tail (the scalar loop) as the vector lanes
      assert.equal(got[4], got[0]);
    }
    const { slots } = await optimizer.getState();
    const sq = slots[`${param.name}/exp_avg_sq`].values;
    for (const i of [0, 4]) {
      assert.ok(Math.abs(sq[i] - 2.997001352649904e37) <= 1e-6 * 2.997e37, `${sq[i]}`);
    }
    optimizer.dispose();
    tf.dispose([param, grad]);
  }
});

Deno.test("fused Adam/AdamW on wasm keep an infinite parameter infinite, adding no L2 term of 0 * p", async () => {
  // torch 1.13 adds the L2 term (grad.add(param, alpha=wd)) only when weight_decay != 0, and
  // AdamW never: p = -Infinity stays -Infinity, where 0 * p would make the gradient NaN. p = [-inf,
  // 1, 2, 3, -inf] (a vector of 4 and the scalar tail), grad 0.5, lr 0.1, two steps: torch's p.
  await selectBackend("wasm");
  const specs: [OptimizerSpec, number[]][] = [
    [{ name: "adamw", lr: 0.1, weightDecay: 0.01, noDecay: [] }, [0.798101, 1.7961020, 2.7941031]],
    [{ name: "adam", lr: 0.1 }, [0.8, 1.8, 2.8]],
    [
      { name: "adamw", lr: 0.1, weightDecay: 0.01, noDecay: [], maximize: true },
      [1.197901, 2.1959019, 3.1939027],
    ],
  ];
  for (const [index, [spec, torch]] of specs.entries()) {
    const param = tf.variable(tf.tensor1d([-Infinity, 1, 2, 3, -Infinity]), true, `inf${index}`);
    const optimizer = createOptimizer(spec, { fusedKernels: true });
    const grad = tf.fill([5], 0.5);
    optimizer.step([param], [grad]);
    optimizer.step([param], [grad]);
    const got = Array.from(param.dataSync());
    assert.equal(got[0], -Infinity, `${spec.name}: ${got}`);
    assert.equal(got[4], -Infinity, `${spec.name}: ${got}`);
    torch.forEach((w, i) =>
      assert.ok(Math.abs(got[i + 1] - w) <= 1e-6 * Math.abs(w), `${got[i + 1]}, torch ${w}`)
    );
    optimizer.dispose();
    tf.dispose([param, grad]);
  }
});

Deno.test("the engine steps Adam and SGD with their SIMD kernels on wasm, tfjs's ops when told not to", async () => {
  await selectBackend("wasm");
  const shape = {
    inputShape: [8, 8, 1],
    targetSize: 1,
    task: "classification" as const,
    numClasses: 3,
  };
  for (const optimizer of [{ name: "adam" }, { name: "sgd", lr: 0.01, momentum: 0.9 }] as const) {
    for (const [fusedOptimizer, path] of [[true, "simd"], [false, "tfjs"]] as const) {
      const engine = new TrainingEngine(
        parseConfig({ backend: "wasm", model: { kind: "cnn" }, optimizer, fusedOptimizer }),
        shape,
      );
      assert.equal(
        engine.optimizerPath,
        path,
        `${optimizer.name}, fusedOptimizer ${fusedOptimizer}`,
      );
      engine.dispose();
    }
  }
});
