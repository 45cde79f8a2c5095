/**
 * Replays the PyTorch trajectories of tests/fixtures/optimizers (made by generate.py from
 * torch.optim 1.13, and from reference implementations of Lion, LAMB and Adafactor) and checks
 * every parameter after every step, on the cpu backend in float32: to 1e-5 (torch's CPU kernels
 * fuse multiply-adds that tfjs rounds twice), or bit for bit where the fixture says `exact`.
 *
 * @module
 */

import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
import assert from "node:assert/strict";
import { clipGradNorm } from "./clipping.ts";
import { createHostOptimizer, hasHostKernel } from "./host.ts";
import { createOptimizer, type Optimizer } from "./optimizer.ts";
import type { OptimizerSpec } from "./spec.ts";

await tf.setBackend("cpu");

const FIXTURES = new URL("../tests/fixtures/optimizers/", import.meta.url);
// float32 agreement: |tfjs - torch| <= 1e-5 * (|torch| + floor), floor = 1% of the largest initial
// parameter magnitude. The floor (an absolute 1e-7 here, about one float32 ulp of the parameters)
// keeps entries that cross zero from demanding more than float32 rounding of the updates can give.
const RELATIVE = 1e-5;
const FLOOR = 1e-2;

interface TrajectoryCase {
  id: string;
  spec: OptimizerSpec;
  names: string[];
  shapes: number[][];
  steps: number;
  params: string;
  grads: string;
  /**
   * The parameters must be torch's bit for bit (NaN where torch has NaN): a case whose arithmetic
   * leaves torch's fused multiply-adds nothing to round (generate.py's fed cases), so that only
   * the per-step scalar arithmetic can differ.
   */
  exact?: boolean;
}

interface ClipCase {
  maxNorm: number;
  normType: number | "inf";
  shapes: number[][];
  grads: string[];
  clipped: string[];
  totalNorm: number;
}

function float32s(base64: string): Float32Array {
  const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}

function sizeOf(shape: number[]): number {
  return shape.reduce((product, size) => product * size, 1);
}

/**
 * Largest |actual - expected| / (|expected| + floor) over the arrays (NaN when anneal has a NaN
 * torch has not); where torch has NaN (RMSprop's alpha > 1), anneal must have NaN too.
 */
function worstError(actual: Float32Array, expected: Float32Array, floor: number): number {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    if (Number.isNaN(expected[i])) {
      if (!Number.isNaN(actual[i])) return Infinity;
      continue;
    }
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / (Math.abs(expected[i]) + floor));
  }
  return worst;
}

const trajectories = JSON.parse(
  await Deno.readTextFile(new URL("trajectories.json", FIXTURES)),
) as { cases: TrajectoryCase[] };

function replay(fixture: TrajectoryCase, create: (spec: OptimizerSpec) => Optimizer): void {
  const count = fixture.shapes.reduce((sum, shape) => sum + sizeOf(shape), 0);
  const params = float32s(fixture.params);
  const grads = float32s(fixture.grads);
  let offset = 0;
  const offsets = fixture.shapes.map((shape) => (offset += sizeOf(shape)) - sizeOf(shape));
  const row = (array: Float32Array, step: number, index: number) =>
    array.subarray(
      step * count + offsets[index],
      step * count + offsets[index] + sizeOf(fixture.shapes[index]),
    );
  const floor = FLOOR * Math.max(...params.subarray(0, count).map(Math.abs));
  const variables = fixture.shapes.map((shape, index) =>
    tf.variable(tf.tensor(row(params, 0, index), shape), true, fixture.names[index])
  );
  const optimizer = create(fixture.spec);
  try {
    for (let step = 1; step <= fixture.steps; step++) {
      const feed = fixture.shapes.map((shape, index) =>
        tf.tensor(row(grads, step - 1, index), shape)
      );
      optimizer.step(variables, feed);
      tf.dispose(feed);
      variables.forEach((variable, index) => {
        const error = worstError(
          variable.dataSync() as Float32Array,
          row(params, step, index),
          floor,
        );
        assert.ok(
          error <= (fixture.exact ? 0 : RELATIVE),
          `${fixture.id}: '${variable.name}' after step ${step} is off by ${
            error.toExponential(2)
          }`,
        );
      });
    }
    // A trajectory that barely moves would be matched by an optimizer that does nothing.
    const moved = Math.max(
      ...variables.map((_, index) =>
        worstError(row(params, 0, index), row(params, fixture.steps, index), floor)
      ),
    );
    assert.ok(moved > 1e-2, `${fixture.id}: the parameters barely moved`);
  } finally {
    optimizer.dispose();
    tf.dispose(variables);
  }
}

for (const fixture of trajectories.cases) {
  Deno.test(
    `${fixture.id} follows PyTorch's trajectory for ${fixture.steps} steps${
      fixture.exact ? ", bit for bit" : ""
    }`,
    () => replay(fixture, createOptimizer),
  );
  if (hasHostKernel(fixture.spec)) {
    Deno.test(
      `${fixture.id} on the host optimizer follows PyTorch's trajectory for ${fixture.steps} steps`,
      () => replay(fixture, createHostOptimizer),
    );
  }
}

const clipCases = JSON.parse(
  await Deno.readTextFile(new URL("clip_grad_norm.json", FIXTURES)),
) as { cases: ClipCase[] };

for (const fixture of clipCases.cases) {
  Deno.test(`clipGradNorm matches clip_grad_norm_ (maxNorm ${fixture.maxNorm}, norm ${fixture.normType})`, () => {
    const inputs = fixture.shapes.map((shape, index) =>
      tf.tensor(float32s(fixture.grads[index]), shape)
    );
    const { grads, totalNorm } = clipGradNorm(inputs, fixture.maxNorm, fixture.normType);
    assert.ok(
      Math.abs(totalNorm.dataSync()[0] - fixture.totalNorm) <= RELATIVE * fixture.totalNorm,
    );
    grads.forEach((grad, index) => {
      const error = worstError(
        grad.dataSync() as Float32Array,
        float32s(fixture.clipped[index]),
        1e-7,
      );
      assert.ok(error <= RELATIVE, `gradient ${index} is off by ${error}`);
    });
    tf.dispose([...inputs, ...grads, totalNorm]);
  });
}
