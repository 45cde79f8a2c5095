/**
 * Dropout's masks are seeded: a pure function of the run's seed, the step, the micro-batch within
 * the step's accumulation group and the layer. Two runs of one config train the same weights bit
 * for bit (on cpu), a run stopped and resumed those of a run never stopped, and the in-process
 * loop those of the actors.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
import * as tfl from "npm:@tensorflow/tfjs-layers@4.22.0";
import { parseConfig, type RunConfigInput } from "../config.ts";
import {
  dropout,
  dropoutDraw,
  dropoutKeepBits,
  dropoutKeys,
  dropoutMask,
  dropoutSeed,
} from "../models/dropout.ts";
import { Rng } from "../data/rng.ts";
import { forward } from "../models/forward.ts";
import { TrainingEngine } from "../runtime/engine.ts";
import { lrFind } from "../runtime/lr_find.ts";
import {
  assertLastWeights,
  lastWeightsAndSteps,
  readNdjson,
  resumeInStages,
  tempRunsDir,
  trainCollect,
  trainInProcessReleased,
} from "./_helpers.ts";

await tf.setBackend("cpu");

/** An MLP with dropout after each of its two hidden layers, on 96 synthetic rows (cpu). */
const config = {
  backend: "cpu" as const,
  epochs: 4,
  batchSize: 16,
  data: { kind: "synthetic-linear" as const, n: 96, validationSplit: 0.25 },
  model: { kind: "mlp" as const, hidden: [16, 16], dropout: 0.3 },
  optimizer: { name: "adam" as const, lr: 0.01 },
};

/** Two dropout layers side by side on one input: the model's outputs are their masks. */
function twoMasks(rate: number) {
  const input = tfl.input({ shape: [64] });
  const a = dropout({ rate, name: "a" }).apply(input) as tfl.SymbolicTensor;
  const b = dropout({ rate, name: "b" }).apply(input) as tfl.SymbolicTensor;
  const model = tfl.model({
    inputs: input,
    outputs: tfl.layers.concatenate().apply([a, b]) as tfl.SymbolicTensor,
  });
  const ones = tf.ones([4, 64]);
  const pass = (seed: number | undefined, training = true) =>
    tf.tidy(() => Array.from(forward(model, ones, training, seed).dataSync()));
  /** The masks of one pass, layer a's and layer b's. */
  const masks = (seed: number | undefined, training = true) => {
    const out = pass(seed, training);
    const rows = [0, 1, 2, 3].map((r) => out.slice(128 * r, 128 * (r + 1)));
    return [rows.flatMap((row) => row.slice(0, 64)), rows.flatMap((row) => row.slice(64))];
  };
  return { model, masks, [Symbol.dispose]: () => ones.dispose() };
}

Deno.test("a pass's masks are a pure function of its seed: the same for one (run seed, step, micro-batch), another for another step, micro-batch or run seed, and each layer its own", () => {
  using two = twoMasks(0.5);
  const [a, b] = two.masks(dropoutSeed(42, 3, 0));
  assert.deepEqual(two.masks(dropoutSeed(42, 3, 0)), [a, b], "the same seed, the same masks");
  assert.notDeepEqual(a, b, "two layers in one pass draw two masks");
  for (
    const [what, other] of [
      ["the next step", dropoutSeed(42, 4, 0)],
      ["the step's next micro-batch", dropoutSeed(42, 3, 1)],
      ["another run seed", dropoutSeed(43, 3, 0)],
    ] as const
  ) {
    const [a2, b2] = two.masks(other);
    assert.notDeepEqual(a2, a, what);
    assert.notDeepEqual(b2, b, what);
  }
  // inverted dropout, as torch's: kept units scaled by 1 / (1 - rate), about half of them kept
  assert.ok(a.every((v) => v === 0 || v === 2));
  const kept = a.filter((v) => v === 2).length;
  assert.ok(kept > 256 * 0.35 && kept < 256 * 0.65, `${kept} of 256 kept at rate 0.5`);
  // no seed named (a model run outside the engine): a new mask each pass, still not all alike
  assert.notDeepEqual(two.masks(undefined)[0], two.masks(undefined)[0]);
  // inference drops nothing, seeded or not
  assert.ok(two.masks(dropoutSeed(42, 3, 0), false).flat().every((v) => v === 1));
  assert.ok(two.masks(undefined, false).flat().every((v) => v === 1));
});

Deno.test("dropout's mask keeps each unit with probability 1 - rate; rate 0 keeps all, unscaled", () => {
  const mask = dropoutMask(dropoutSeed(7, 0, 0), 100_000, 0.2);
  const kept = mask.filter((v) => v !== 0);
  assert.ok(kept.every((v) => v === Math.fround(1 / 0.8)));
  assert.ok(Math.abs(kept.length / mask.length - 0.8) < 0.01, `${kept.length} kept`);
  assert.ok(dropoutMask(1, 50, 0).every((v) => v === 1));
  using two = twoMasks(0);
  assert.ok(two.masks(dropoutSeed(1, 0, 0)).flat().every((v) => v === 1));
});

Deno.test("dropout's mask is a hash of its seed's keys and each unit's index: unit i kept where fmix32(fmix32(i + k1) ^ k2) is at least rate * 2^32 (rounded even)", () => {
  // murmur3's finaliser, written out again here: the definition the WGSL draw must share
  const fmix = (v: number) => {
    let h = v >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    return (h ^ (h >>> 16)) >>> 0;
  };
  for (const seed of [0, 1, 42, dropoutSeed(42, 3, 1)]) {
    const [k1, k2] = dropoutKeys(seed);
    assert.deepEqual([k1, k2], new Rng(seed).state.slice(0, 2).map((v) => v >>> 0));
    const threshold = 2 * Math.round(0.3 * 2 ** 31);
    const mask = dropoutMask(seed, 2000, 0.3);
    mask.forEach((v, i) => {
      const draw = fmix((fmix((i + k1) >>> 0) ^ k2) >>> 0);
      assert.equal(draw, dropoutDraw(i, k1, k2));
      assert.equal(v !== 0, draw >= threshold, `seed ${seed}, unit ${i}`);
    });
  }
});

Deno.test("dropout's masks are unrelated across units and seeds: neighbours and consecutive steps agree as independent draws would", () => {
  const rate = 0.5;
  const masks = Array.from(
    { length: 8 },
    (_, s) => dropoutMask(dropoutSeed(3, s, 0), 20_000, rate),
  );
  // two independent units agree with probability 1/2 at rate 1/2: over 20,000 pairs, 1/2 +- 0.015
  // (4.2 standard deviations)
  const agree = (a: Float32Array, b: Float32Array, shift = 0) => {
    let n = 0;
    for (let i = 0; i + shift < a.length; i++) n += (a[i] === b[i + shift]) ? 1 : 0;
    return n / (a.length - shift);
  };
  for (let s = 0; s < masks.length; s++) {
    for (const shift of [1, 2, 32]) {
      const f = agree(masks[s], masks[s], shift);
      assert.ok(Math.abs(f - 0.5) < 0.015, `step ${s}, units ${shift} apart agree ${f}`);
    }
    for (let t = s + 1; t < masks.length; t++) {
      for (const shift of [0, 1, 7]) {
        const f = agree(masks[s], masks[t], shift);
        assert.ok(Math.abs(f - 0.5) < 0.015, `steps ${s} and ${t} (shift ${shift}) agree ${f}`);
      }
    }
  }
});

Deno.test("dropout's bits (what the WGSL step draws on the GPU) are the mask's kept units, 32 a word, the last word's spare bits 0, into a given array or a new one", () => {
  const cases: [number, number][] = [[1, 0.5], [31, 0.3], [32, 0.3], [33, 0.9], [1000, 0.05], [
    70,
    0,
  ]];
  for (const [size, rate] of cases) {
    const mask = dropoutMask(11, size, rate);
    const bits = dropoutKeepBits(11, size, rate);
    assert.equal(bits.length, Math.ceil(size / 32));
    for (let i = 0; i < 32 * bits.length; i++) {
      const bit = (bits[i >> 5] >>> (i & 31)) & 1;
      assert.equal(bit, i < size && mask[i] !== 0 ? 1 : 0, `${size} units at ${rate}: unit ${i}`);
    }
    const out = new Uint32Array(bits.length + 2).fill(7);
    dropoutKeepBits(11, size, rate, out.subarray(1));
    assert.deepEqual(Array.from(out), [7, ...bits, 7]);
  }
  assert.throws(() => dropoutKeepBits(1, 33, 0.5, new Uint32Array(1)), /1 words cannot hold 33/);
});

/**
 * A model with dropout of each kind that has it, the shape of its data, and the path its step
 * takes on cpu (the MLP's also through tfjs's ops).
 */
const kinds = [
  { model: config.model, inputShape: [2], path: "host" },
  { model: config.model, inputShape: [2], path: "tfjs", fusedModel: false },
  {
    model: { kind: "cnn" as const, filters: [2], dense: [6], dropout: 0.3 },
    inputShape: [4, 4, 1],
    path: "tfjs",
  },
  {
    model: { kind: "rnn" as const, units: 4, layers: 2, dropout: 0.3 },
    inputShape: [3, 2],
    path: "tfjs",
  },
];

for (const { model, inputShape, path, fusedModel = true } of kinds) {
  Deno.test(`the engine's step names its masks (${model.kind}, ${path}): the same gradients for the same step, others for another; evaluation drops nothing`, async () => {
    const shape = { inputShape, targetSize: 1, task: "regression" as const };
    const engine = new TrainingEngine(parseConfig({ ...config, model, fusedModel }), shape);
    // the same model without dropout (the same weights: dropout has none), in tfjs's ops too
    const plain = new TrainingEngine(
      parseConfig({ ...config, model: { ...model, dropout: 0 }, fusedModel: false }),
      shape,
    );
    try {
      assert.equal(engine.modelPath, path, engine.fusedModelReason);
      const features = inputShape.reduce((a, b) => a * b);
      const x = Float32Array.from({ length: 16 * features }, (_, i) => Math.sin(i));
      const batch = { x, y: Float32Array.from({ length: 16 }, (_, i) => i / 16), size: 16 };
      // (before a step: a step moves the cnn's batch-norm statistics)
      const evaluated = async (e: TrainingEngine) =>
        (await e.readStats([e.evaluate(batch)]))[0].loss;
      assert.equal(await evaluated(engine), await evaluated(plain));
      const gradients = async (step?: number) => {
        const pending = engine.computeGradients([batch], step);
        // (the host step's gradients are host arrays)
        const grads = pending.hostGrads ?? await Promise.all(pending.grads.map((g) => g.data()));
        assert.ok(grads.length > 0);
        const [stats] = await engine.readStats([pending]);
        engine.discardGradients(pending);
        return { loss: stats.loss, grads: grads.map((g) => Array.from(g)) };
      };
      const at5 = await gradients(5);
      assert.deepEqual(await gradients(5), at5);
      assert.notDeepEqual((await gradients(6)).grads, at5.grads);
      // without a step, the one after the last: 7 here
      assert.deepEqual(await gradients(), await gradients(7));
    } finally {
      engine.dispose();
      plain.dispose();
    }
  });
}

Deno.test("two runs of one config with dropout train the same weights and losses bit for bit; another seed trains others", async () => {
  await using runs = await tempRunsDir();
  const input = { ...config, runsDir: runs.dir };
  const first = await trainCollect(input, { runId: "first" });
  const second = await trainCollect(input, { runId: "second" });
  assert.equal(first.result.status, "completed", first.result.reason);
  const a = await lastWeightsAndSteps(first.result.runDir);
  const b = await lastWeightsAndSteps(second.result.runDir);
  assert.deepEqual(b.weights, a.weights);
  const losses = (steps: Record<string, number>[]) => steps.map((s) => s.loss);
  assert.deepEqual(losses(b.steps), losses(a.steps));
  const strip = (records: Record<string, number>[]) =>
    records.map(({ seconds: _, ...rest }) => rest);
  assert.deepEqual(
    strip(await readNdjson(`${second.result.runDir}/epochs.ndjson`)),
    strip(await readNdjson(`${first.result.runDir}/epochs.ndjson`)),
  );
  const other = await trainCollect({ ...input, seed: 7 }, { runId: "other" });
  assert.notDeepEqual((await lastWeightsAndSteps(other.result.runDir)).weights, a.weights);
});

Deno.test("a run with dropout stopped within an epoch and resumed trains the weights and losses of a run never stopped", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  // 72 training samples in batches of 16: 5 steps an epoch; steps 7 and 13 are within epochs
  const input: RunConfigInput = { ...config, runsDir: dir, gradientAccumulation: 2, batchSize: 8 };
  const straight = await trainCollect(input, { runId: "straight" });
  assert.equal(straight.result.status, "completed", straight.result.reason);
  const stopped = await trainCollect({ ...input, maxSteps: 7 }, { runId: "stopped" });
  assert.equal(stopped.result.reason, "budget: reached maxSteps = 7");
  await resumeInStages("stopped", dir, ["13", "1000"]);
  const a = await lastWeightsAndSteps(`${dir}/straight`);
  const b = await lastWeightsAndSteps(`${dir}/stopped`);
  assert.deepEqual(b.weights, a.weights);
  assert.deepEqual(b.steps.map((s) => [s.step, s.loss]), a.steps.map((s) => [s.step, s.loss]));
});

Deno.test("with dropout and gradient accumulation, the in-process loop trains the actors' weights bit for bit", async () => {
  await using runs = await tempRunsDir();
  const input = { ...config, runsDir: runs.dir, gradientAccumulation: 2, batchSize: 8 };
  const plain = await trainInProcessReleased(parseConfig(input));
  const { result } = await trainCollect(input);
  assert.equal(plain.steps, result.steps);
  await assertLastWeights(result.runDir, plain.weights);
  const epochs = await readNdjson(`${result.runDir}/epochs.ndjson`);
  epochs.forEach((e, i) =>
    assert.ok(Math.abs(e.loss - plain.losses[i]) <= 1e-6 * plain.losses[i], `epoch ${i}`)
  );
});

Deno.test("the LR range test of a model with dropout draws the same masks each time: the same curve", async () => {
  const input = { ...config, data: { ...config.data, n: 400 } };
  const curve = async () =>
    (await lrFind(input, { iterations: 60, startLr: 1e-4, endLr: 10 })).losses;
  assert.deepEqual(await curve(), await curve());
});

Deno.test("a step of micro-batches (dropout's tfjs path, gradient accumulation) frees every sum but the last: the live tensors are flat over steps", async () => {
  const shape = { inputShape: [2], targetSize: 1, task: "regression" as const };
  const engine = new TrainingEngine(
    parseConfig({ ...config, gradientAccumulation: 3, fusedModel: false }),
    shape,
  );
  try {
    const x = Float32Array.from({ length: 16 }, (_, i) => Math.sin(i));
    const batch = { x, y: Float32Array.from({ length: 8 }, (_, i) => i / 8), size: 8 };
    const live: number[] = [];
    for (let step = 0; step < 4; step++) {
      const pending = engine.computeGradients([batch, batch, batch], step);
      await engine.readStats([pending]);
      engine.applyGradients(pending, 0.01);
      live.push(tf.memory().numTensors);
    }
    // (the first step makes adam's slots)
    assert.deepEqual(live.slice(1), [live[1], live[1], live[1]], `live tensors ${live}`);
  } finally {
    engine.dispose();
  }
});
