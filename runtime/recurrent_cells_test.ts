/**
 * The recurrent cells' kernels (`recurrent_cells.ts`), on wasm (SIMD) and on cpu (TypeScript):
 * each step's values against a float64 reference of the same float32 inputs (and tfjs's ops
 * beside it, to the same bound), at unit counts that are and are not multiples of 4 (the SIMD
 * kernels' last units one by one), with NaN, infinities and large and tiny pre-activations; the
 * gradients against tfjs's autodiff of its own ops; and LSTM and GRU models trained through the
 * engine with the kernels and without.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { selectBackend } from "./backend.ts";
import {
  GRU_CELL,
  LSTM_CELL,
  registerRecurrentCells,
  registerWasmRecurrentCells,
} from "./recurrent_cells.ts";
import { parseConfig } from "../config.ts";
import { type DataShape, TrainingEngine } from "./engine.ts";
import { Rng } from "../data/rng.ts";

const BACKENDS = ["wasm", "cpu"] as const;

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** `n` float32 values, normal with sd `scale`, with `specials` written over the first ones. */
function values(rng: Rng, n: number, scale: number, specials: number[] = []): Float32Array {
  const out = Float32Array.from({ length: n }, () => rng.normal() * scale);
  specials.forEach((v, i) => i < n && (out[i] = v));
  return out;
}

/** Within float32 rounding of a few operations: 1e-6 of the value, or of 1. */
function near(got: ArrayLike<number>, want: ArrayLike<number>, what: string, bound = 1e-6) {
  assert.equal(got.length, want.length, what);
  for (let k = 0; k < want.length; k++) {
    if (Number.isNaN(want[k])) {
      assert.ok(Number.isNaN(got[k]), `${what}[${k}]: ${got[k]}, want NaN`);
      continue;
    }
    const err = Math.abs(got[k] - want[k]);
    assert.ok(
      err <= bound * Math.max(1, Math.abs(want[k])),
      `${what}[${k}]: ${got[k]} vs ${want[k]}`,
    );
  }
}

/** Pre-activations a step can meet, the first of each row's gates: NaN, infinities, saturation. */
const SPECIALS = [NaN, Infinity, -Infinity, 100, -100, 30, -30, 1e-8, -1e-8, 0, -0, 0.625, -0.625];
const SHAPES: [number, number][] = [[1, 1], [3, 4], [2, 5], [5, 13], [4, 16]];

/** An LSTM step in float64 from float32 inputs (torch's gates i, f, g, o). */
function lstmReference(z: Float32Array, c: Float32Array, rows: number, units: number) {
  const h = new Float64Array(rows * units);
  const cn = new Float64Array(rows * units);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < units; j++) {
      const at = (g: number) => z[r * 4 * units + g * units + j];
      const next = sigmoid(at(1)) * c[r * units + j] + sigmoid(at(0)) * Math.tanh(at(2));
      cn[r * units + j] = next;
      h[r * units + j] = sigmoid(at(3)) * Math.tanh(next);
    }
  }
  return { h, cn };
}

/** A GRU step in float64 from float32 inputs (torch's, gates in tfjs's order z, r, n). */
function gruReference(
  xp: Float32Array,
  hp: Float32Array,
  h: Float32Array,
  rows: number,
  units: number,
) {
  const out = new Float64Array(rows * units);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < units; j++) {
      const at = (p: Float32Array, g: number) => p[r * 3 * units + g * units + j];
      const z = sigmoid(at(xp, 0) + at(hp, 0));
      const rr = sigmoid(at(xp, 1) + at(hp, 1));
      const n = Math.tanh(at(xp, 2) + rr * at(hp, 2));
      out[r * units + j] = n + z * (h[r * units + j] - n);
    }
  }
  return out;
}

/** tfjs's ops for the steps, as models/recurrent.ts runs them where the kernels are not. */
function lstmOps(z: tf.Tensor2D, c: tf.Tensor2D): tf.Tensor[] {
  const [i, f, g, o] = tf.split(z, 4, 1);
  const next = tf.add(tf.mul(tf.sigmoid(f), c), tf.mul(tf.sigmoid(i), tf.tanh(g)));
  return [tf.mul(tf.sigmoid(o), tf.tanh(next)), next];
}
function gruOps(xp: tf.Tensor2D, hp: tf.Tensor2D, h: tf.Tensor2D): tf.Tensor {
  const [xz, xr, xn] = tf.split(xp, 3, 1);
  const [hz, hr, hn] = tf.split(hp, 3, 1);
  const z = tf.sigmoid(tf.add(xz, hz));
  const r = tf.sigmoid(tf.add(xr, hr));
  const n = tf.tanh(tf.add(xn, tf.mul(r, hn)));
  return tf.add(n, tf.mul(z, tf.sub(h, n)));
}
const lstmKernel = (z: tf.Tensor, c: tf.Tensor) =>
  tf.engine().runKernel(LSTM_CELL, { z, c }, {}) as tf.Tensor[];
const gruKernel = (xp: tf.Tensor, hp: tf.Tensor, h: tf.Tensor) =>
  tf.engine().runKernel(GRU_CELL, { xp, hp, h }, {}) as tf.Tensor;

for (const backend of BACKENDS) {
  Deno.test(`the LSTM cell's kernel gives torch's step to float32 rounding, NaN and infinities as the exact functions give them (${backend})`, async () => {
    await selectBackend(backend);
    registerRecurrentCells();
    registerWasmRecurrentCells();
    assert.ok(tf.getKernel(LSTM_CELL, backend), `registered with the ${backend} backend`);
    const rng = new Rng(1);
    for (const [rows, units] of SHAPES) {
      // the specials in every gate of the first row, a NaN in a cell state
      const zv = values(rng, rows * 4 * units, 3);
      for (let g = 0; g < 4; g++) {
        SPECIALS.slice(0, units).forEach((v, j) => zv[g * units + j] = v);
      }
      const cv = values(rng, rows * units, 2, rows > 1 ? [] : []);
      if (rows > 2) cv[units + units - 1] = NaN;
      const { h, cn } = lstmReference(zv, cv, rows, units);
      const z = tf.tensor2d(zv, [rows, 4 * units]);
      const c = tf.tensor2d(cv, [rows, units]);
      const what = `${rows}x${units}`;
      const [kh, kcn] = lstmKernel(z, c);
      near(await kh.data(), h, `${what} kernel h`);
      near(await kcn.data(), cn, `${what} kernel cn`);
      const [oh, ocn] = lstmOps(z, c);
      near(await oh.data(), h, `${what} tfjs ops h`);
      near(await ocn.data(), cn, `${what} tfjs ops cn`);
      tf.dispose([z, c, kh, kcn, oh, ocn]);
    }
  });

  Deno.test(`the GRU cell's kernel gives torch's step to float32 rounding, NaN and infinities as the exact functions give them (${backend})`, async () => {
    await selectBackend(backend);
    registerRecurrentCells();
    registerWasmRecurrentCells();
    assert.ok(tf.getKernel(GRU_CELL, backend), `registered with the ${backend} backend`);
    const rng = new Rng(2);
    for (const [rows, units] of SHAPES) {
      const xv = values(rng, rows * 3 * units, 3);
      const hpv = values(rng, rows * 3 * units, 3);
      for (let g = 0; g < 3; g++) {
        SPECIALS.slice(0, units).forEach((v, j) => xv[g * units + j] = v);
      }
      const hv = values(rng, rows * units, 1);
      if (rows > 2) hv[units + units - 1] = NaN;
      const want = gruReference(xv, hpv, hv, rows, units);
      const [xp, hp] = [xv, hpv].map((v) => tf.tensor2d(v, [rows, 3 * units]));
      const h = tf.tensor2d(hv, [rows, units]);
      const what = `${rows}x${units}`;
      const out = gruKernel(xp, hp, h);
      near(await out.data(), want, `${what} kernel`);
      const ops = gruOps(xp, hp, h);
      near(await ops.data(), want, `${what} tfjs ops`);
      tf.dispose([xp, hp, h, out, ops]);
    }
  });

  Deno.test(`the cells' gradients equal tfjs's autodiff of its own ops, for each output alone and both (${backend})`, async () => {
    await selectBackend(backend);
    registerRecurrentCells();
    registerWasmRecurrentCells();
    const rng = new Rng(3);
    for (const [rows, units] of SHAPES) {
      const what = `${rows}x${units}`;
      const z = tf.tensor2d(values(rng, rows * 4 * units, 2), [rows, 4 * units]);
      const c = tf.tensor2d(values(rng, rows * units, 1), [rows, units]);
      const [wh, wc] = [0, 1].map(() => tf.tensor2d(values(rng, rows * units, 1), [rows, units]));
      // (which outputs the loss takes: h alone, the cell state alone, both)
      for (const [useH, useC] of [[1, 0], [0, 1], [1, 1]]) {
        const loss =
          (cell: (z: tf.Tensor, c: tf.Tensor) => tf.Tensor[]) => (zz: tf.Tensor, cc: tf.Tensor) => {
            const [h, cn] = cell(zz, cc);
            return tf.add(
              tf.sum(tf.mul(h, tf.mul(wh, useH))),
              tf.sum(tf.mul(cn, tf.mul(wc, useC))),
            );
          };
        const kernel = tf.grads(loss(lstmKernel))([z, c]);
        const ops = tf.grads(loss((a, b) => lstmOps(a as tf.Tensor2D, b as tf.Tensor2D)))([z, c]);
        for (const [k, name] of ["dz", "dc"].entries()) {
          near(
            await kernel[k].data(),
            await ops[k].data(),
            `lstm ${what} (${useH}, ${useC}) ${name}`,
            2e-6,
          );
        }
        tf.dispose([...kernel, ...ops]);
      }
      const [xp, hp] = [0, 1].map(() =>
        tf.tensor2d(values(rng, rows * 3 * units, 2), [rows, 3 * units])
      );
      const h = tf.tensor2d(values(rng, rows * units, 1), [rows, units]);
      const gruLoss =
        (cell: (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.Tensor) =>
        (a: tf.Tensor, b: tf.Tensor, cc: tf.Tensor) => tf.sum(tf.mul(cell(a, b, cc), wh));
      const kernel = tf.grads(gruLoss(gruKernel))([xp, hp, h]);
      const ops = tf.grads(
        gruLoss((a, b, cc) => gruOps(a as tf.Tensor2D, b as tf.Tensor2D, cc as tf.Tensor2D)),
      )([xp, hp, h]);
      for (const [k, name] of ["dxp", "dhp", "dh"].entries()) {
        near(await kernel[k].data(), await ops[k].data(), `gru ${what} ${name}`, 2e-6);
      }
      tf.dispose([z, c, wh, wc, xp, hp, h, ...kernel, ...ops]);
    }
  });
}

const SEQUENCES: DataShape = {
  inputShape: [7, 3],
  targetSize: 1,
  task: "classification",
  numClasses: 4,
};

for (
  const [cell, units, layers, backend] of [
    ["lstm", 6, 2, "wasm"],
    ["gru", 5, 2, "wasm"],
    ["lstm", 9, 1, "wasm"],
    ["gru", 8, 1, "wasm"],
    ["lstm", 5, 2, "cpu"],
    ["gru", 7, 2, "cpu"],
  ] as const
) {
  Deno.test(`an rnn of ${layers} ${cell.toUpperCase()} layers of ${units} units trains on ${backend} with the cell's kernel as with tfjs's ops`, async () => {
    await selectBackend(backend);
    const kernelName = cell === "lstm" ? LSTM_CELL : GRU_CELL;
    const config = parseConfig({
      backend,
      seed: 3,
      model: { kind: "rnn", cell, units, layers, dropout: layers > 1 ? 0.2 : 0 },
      optimizer: { name: "adam", lr: 0.01 },
      clipping: { maxNorm: 1 },
    });
    const rng = new Rng(4);
    const batches = [0, 1, 2].map(() => {
      const size = 10;
      return {
        x: values(rng, size * 21, 1),
        y: Float32Array.from({ length: size }, () => Math.floor(rng.float() * 4)),
        size,
      };
    });
    const run = async () => {
      const engine = new TrainingEngine(config, SEQUENCES);
      try {
        const losses: number[] = [];
        for (const batch of batches) {
          const step = engine.computeGradients([batch]);
          engine.applyGradients(step, 0.01, 1);
          const [values] = await engine.readStats([step]);
          losses.push(values.loss, values.gradNorm);
        }
        return { losses, weights: Object.values(await engine.readWeights()).map((w) => w.values) };
      } finally {
        engine.dispose();
      }
    };
    // the kernel runs (its calls counted), then tfjs's ops with it unregistered
    registerRecurrentCells();
    registerWasmRecurrentCells();
    const kernel = tf.getKernel(kernelName, backend)!;
    const profile = await tf.profile(run);
    const fused = profile.result as Awaited<ReturnType<typeof run>>;
    const calls = profile.kernels.filter((k) => k.name === kernelName).length;
    assert.ok(calls >= 3 * 7 * layers, `the kernel ran each step of each layer: ${calls} calls`);
    tf.unregisterKernel(kernelName, backend);
    let ops;
    try {
      ops = await run();
    } finally {
      tf.registerKernel(kernel);
    }
    near(fused.losses, ops.losses, `${cell} losses and norms`, 1e-5);
    fused.weights.forEach((w, i) => near(w, ops.weights[i], `${cell} weight ${i}`, 1e-5));
  });
}
