/**
 * The PyTorch trajectories of tests/fixtures/optimizers (generate.py) and their replay through an
 * {@linkcode Optimizer}: optimizers/conformance_test.ts replays every case on the cpu backend, the
 * wasm and WGSL kernels' tests the cases of the optimizers they fuse.
 *
 * @module
 */

import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import assert from "node:assert/strict";
import type { Optimizer } from "./optimizer.ts";
import type { OptimizerSpec } from "./spec.ts";
import { createHostOptimizer, type HostOptimizer } from "./host.ts";
import { parseOptimizerSpec } from "./parse.ts";

/**
 * A host optimizer of a spec as a test writes it (host.ts takes it resolved, as a parsed run
 * config holds it).
 */
export function hostOptimizerOf(spec: OptimizerSpec): HostOptimizer {
  return createHostOptimizer(parseOptimizerSpec(spec));
}

/** The fixtures' folder. */
export const FIXTURES = new URL("../tests/fixtures/optimizers/", import.meta.url);

// float32 agreement: |tfjs - torch| <= 1e-5 * (|torch| + floor), floor = 1% of the largest initial
// parameter magnitude. The floor (an absolute 1e-7 here, about one float32 ulp of the parameters)
// keeps entries that cross zero from demanding more than float32 rounding of the updates can give.
/** The relative agreement every step of a case that is not `exact` is held to. */
export const RELATIVE = 1e-5;
/** The floor of that agreement, a fraction of the largest initial parameter magnitude. */
export const FLOOR = 1e-2;

/** One trajectory: torch's parameters after every step and the gradients it was fed. */
export interface TrajectoryCase {
  id: string;
  spec: OptimizerSpec;
  names: string[];
  shapes: number[][];
  steps: number;
  /** The parameters before the first step and after each, little-endian float32 in base64. */
  params: string;
  /** The gradients of each step, likewise. */
  grads: string;
  /**
   * The parameters must be torch's bit for bit (NaN where torch has NaN): a case whose arithmetic
   * leaves torch's fused multiply-adds nothing to round (generate.py's fed cases), so that only
   * the per-step scalar arithmetic can differ.
   */
  exact?: boolean;
}

/** Little-endian float32 values from base64. */
export function float32s(base64: string): Float32Array {
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
export function worstError(actual: Float32Array, expected: Float32Array, floor: number): number {
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

/** The cases of trajectories.json. */
export async function loadTrajectories(): Promise<TrajectoryCase[]> {
  const file = await Deno.readTextFile(new URL("trajectories.json", FIXTURES));
  return (JSON.parse(file) as { cases: TrajectoryCase[] }).cases;
}

/**
 * Steps `create(fixture.spec)` through the case's gradients on the current backend and checks
 * every parameter after every step: to `relative` (default {@linkcode RELATIVE}), or bit for bit
 * where the case is `exact`; the parameters must move.
 */
export async function replay(
  fixture: TrajectoryCase,
  create: (spec: OptimizerSpec) => Optimizer,
  relative = RELATIVE,
): Promise<void> {
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
  // Every step's parameters are copied on the backend and read once at the end: a read a step
  // (a `mapAsync` on WebGPU, which Deno polls every 10 ms) took most of a case's time.
  const snapshots: tf.Tensor[] = [];
  try {
    for (let step = 1; step <= fixture.steps; step++) {
      const feed = fixture.shapes.map((shape, index) =>
        tf.tensor(row(grads, step - 1, index), shape)
      );
      optimizer.step(variables, feed);
      tf.dispose(feed);
      // (a copy computed now: a clone would share the variable's buffer, which a fused kernel
      // may update in place; * 1 keeps -0 and NaN)
      snapshots.push(
        tf.tidy(() => tf.mul(tf.concat(variables.map((v) => tf.reshape(v, [-1]))), 1)),
      );
    }
    const read = tf.concat(snapshots);
    const all = await read.data() as Float32Array;
    read.dispose();
    for (let step = 1; step <= fixture.steps; step++) {
      for (const [index, variable] of variables.entries()) {
        const start = (step - 1) * count + offsets[index];
        const error = worstError(
          all.subarray(start, start + sizeOf(fixture.shapes[index])),
          row(params, step, index),
          floor,
        );
        assert.ok(
          error <= (fixture.exact ? 0 : relative),
          `${fixture.id}: '${variable.name}' after step ${step} is off by ${
            error.toExponential(2)
          }`,
        );
      }
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
    tf.dispose([...variables, ...snapshots]);
  }
}
