/**
 * Replays the PyTorch trajectories of tests/fixtures/optimizers (made by generate.py from
 * torch.optim 1.13, and from reference implementations of Lion, LAMB and Adafactor) and checks
 * every parameter after every step, on the cpu backend in float32: to 1e-5 (torch's CPU kernels
 * fuse multiply-adds that tfjs rounds twice), or bit for bit where the fixture says `exact`; the
 * host optimizer, which fuses them as torch does, bit for bit.
 *
 * @module
 */

import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
import assert from "node:assert/strict";
import {
  FIXTURES,
  float32s,
  hostOptimizerOf,
  loadTrajectories,
  RELATIVE,
  replay,
  worstError,
} from "./_trajectories.ts";
import { clipGradNorm } from "./clipping.ts";
import { hasHostKernel } from "./host.ts";
import { createOptimizer } from "./optimizer.ts";

await tf.setBackend("cpu");

interface ClipCase {
  maxNorm: number;
  normType: number | "inf";
  shapes: number[][];
  grads: string[];
  clipped: string[];
  totalNorm: number;
}

const trajectories = await loadTrajectories();

for (const fixture of trajectories) {
  Deno.test(
    `${fixture.id} follows PyTorch's trajectory for ${fixture.steps} steps${
      fixture.exact ? ", bit for bit" : ""
    }`,
    () => replay(fixture, createOptimizer),
  );
  if (hasHostKernel(fixture.spec)) {
    // The host optimizer rounds as torch's AVX2 kernels round (generate.py's torch has them),
    // fused multiply-adds included, which tfjs's separate ops cannot: bit for bit.
    Deno.test(
      `${fixture.id} on the host optimizer follows PyTorch's trajectory for ${fixture.steps} steps, bit for bit`,
      () => replay({ ...fixture, exact: true }, hostOptimizerOf),
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
