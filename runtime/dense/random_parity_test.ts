/**
 * Randomized parity of the fast paths: fast-check draws whole cases (model, task, optimizer and
 * its hyperparameters, clipping, gradient accumulation, micro-batch sizes) from the configs the
 * dense steps accept, and each is trained through the fast path and through tfjs's own ops side
 * by side (`checkParity`): gradients, losses, metrics, norms and weights must agree at every step.
 * The hand-written cases (`PARITY_CASES`, `conv_test.ts`) pin the paths' known corners; these look
 * for the corners nobody wrote down: odd widths, a layer of one unit, batches of one, a class
 * count that is not a power of two, kernels larger than a map. The mixed-precision properties
 * hold the same models' float16 steps to their float32 steps instead (`checkMixedPrecision`).
 *
 * A few cases a run (fixed seed, so CI is repeatable); more with `ANNEAL_PARITY_RUNS=N`, another
 * draw with `ANNEAL_PARITY_SEED=S`. A failure prints the case and the seed that replays it.
 *
 * @module
 */
import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { releaseWebGpu, selectBackend } from "../backend.ts";
import { type DataShape, outputUnits } from "../engine.ts";
import { checkMixedPrecision, checkParity, checkWebGpuParity, type ParityCase } from "./_parity.ts";
import { productSplit, SPLIT_MIN_K } from "./dispatch.ts";
import { hostStepMaxWork } from "./host_program.ts";

const RUNS = Number(Deno.env.get("ANNEAL_PARITY_RUNS") ?? 0);
const SEED = Number(Deno.env.get("ANNEAL_PARITY_SEED") ?? 20261201);

/** fast-check's settings for `defaultRuns` cases (or ANNEAL_PARITY_RUNS). */
const settings = (defaultRuns: number) => ({
  numRuns: RUNS > 0 ? RUNS : defaultRuns,
  seed: SEED,
  // A case trains two engines for a few steps on llvmpipe: shrinking would take minutes. The
  // failing case itself is printed whole.
  endOnFailure: true,
});

/**
 * The smallest magnitude the tolerances are relative to. A bias's gradient is a mean of terms of
 * the loss's scale (~0.1-1) that can cancel to ~1e-4, whose rounding (~1e-8, summed in another
 * order than tfjs's) is then more than 2e-5 of that mean (measured: 3e-8 on a mean of 3.4e-4,
 * a binary head after accumulation of a batch of one); a conv bias under batch norm has a gradient
 * of zero up to such rounding. So gradients are compared to 2e-5 of at least 1e-2: an error of
 * 2e-7, far below a wrong index's or a missed term's.
 */
const SUM_FLOOR = 1e-2;

/** A learning rate on a log scale between `low` and `high`. */
const logRate = (low: number, high: number) =>
  fc.double({ min: Math.log10(low), max: Math.log10(high), noNaN: true }).map((e) =>
    Number((10 ** e).toPrecision(3))
  );
const fraction = (min: number, max: number) =>
  fc.double({ min, max, noNaN: true }).map((v) => Math.min(max, Number(v.toFixed(3))));

/**
 * The optimizers with an update of anneal's own (sgd, adam, adamw, lion) and two in tfjs's ops on
 * WebGPU (rmsprop, adagrad), which the host step updates itself.
 */
const optimizer = (withAdaptive: boolean) => {
  const sgd = fc.record({
    name: fc.constant("sgd"),
    lr: logRate(1e-3, 0.2),
    momentum: fc.oneof(fc.constant(0), fraction(0.1, 0.95)),
    weightDecay: fc.oneof(fc.constant(0), fraction(0, 0.1)),
    nesterov: fc.boolean(),
    dampening: fc.oneof(fc.constant(0), fraction(0, 0.5)),
    maximize: fc.boolean(),
  }).map((o) =>
    // torch: nesterov needs momentum and no dampening
    o.nesterov ? { ...o, momentum: o.momentum || 0.9, dampening: 0 } : o
  );
  const adamLike = (name: string) =>
    fc.record({
      name: fc.constant(name),
      lr: logRate(1e-4, 0.02),
      betas: fc.tuple(fraction(0.5, 0.95), fraction(0.9, 0.999)),
      eps: fc.constantFrom(1e-8, 1e-6, 1e-3),
      weightDecay: fc.oneof(fc.constant(0), fraction(0, 0.1)),
      amsgrad: fc.boolean(),
      maximize: fc.boolean(),
    });
  const lion = fc.record({
    name: fc.constant("lion"),
    lr: logRate(1e-4, 3e-3),
    betas: fc.tuple(fraction(0.5, 0.95), fraction(0.9, 0.999)),
    weightDecay: fc.oneof(fc.constant(0), fraction(0, 0.2)),
  });
  // updates in tfjs's ops on the reference path (on the host step its own loops), with an
  // eps of 1e-3 or more: with torch's 1e-8 (1e-10) the first step moves a weight by about lr
  // times its gradient over the gradient's own magnitude, so a gradient near zero moves it by up
  // to lr on rounding alone (500 cases each of six seeds: four failed, at a second step's
  // gradient or in the weights, each at an rmsprop or adagrad case; drawn with one step only, the
  // weights still failed).
  // With eps >= 1e-3 a small gradient's step is about lr times it over eps: rounding stays
  // rounding.
  const others = fc.oneof(
    fc.record({
      name: fc.constant("rmsprop"),
      lr: logRate(1e-4, 0.01),
      eps: fc.constantFrom(1e-3, 1e-2),
      maximize: fc.boolean(),
    }),
    fc.record({
      name: fc.constant("adagrad"),
      lr: logRate(1e-3, 0.1),
      eps: fc.constantFrom(1e-3, 1e-2),
      maximize: fc.boolean(),
    }),
  );
  return withAdaptive
    ? fc.oneof(sgd, adamLike("adam"), adamLike("adamw"), lion, others)
    : fc.oneof(sgd);
};

/** No clipping, by global norm (2 or inf), by value, or both. */
const clipping = fc.oneof(
  fc.constant({}),
  fc.record({ maxNorm: fraction(0.01, 2), normType: fc.constantFrom(2, "inf") }),
  fc.record({ value: fraction(0.01, 0.5) }),
  fc.record({ value: fraction(0.01, 0.5), maxNorm: fraction(0.01, 2) }),
);

/** A task and its targets, and the data shape for inputs of `inputShape`. */
const task = (inputShape: number[]): fc.Arbitrary<DataShape> =>
  fc.oneof(
    fc.integer({ min: 2, max: 11 }).map((numClasses) => ({
      inputShape,
      targetSize: 1,
      task: "classification" as const,
      numClasses,
    })),
    fc.constant({ inputShape, targetSize: 1, task: "binary" as const }),
    fc.integer({ min: 1, max: 4 }).map((targetSize) => ({
      inputShape,
      targetSize,
      task: "regression" as const,
    })),
  );

/**
 * 2-4 steps of `accumulation` micro-batches of `min`-`max` samples (the last step may have
 * fewer micro-batches).
 */
const steps = (accumulation: number, max: number, min = 1) =>
  fc.array(fc.integer({ min, max }), {
    minLength: 2 * accumulation,
    maxLength: 4 * accumulation,
  }).chain((sizes) =>
    fc.integer({ min: 1, max: accumulation }).map((lastMicro) => {
      const out: number[][] = [];
      for (let i = 0; i < sizes.length; i += accumulation) {
        out.push(sizes.slice(i, i + accumulation));
      }
      // An epoch's last step can hold fewer micro-batches than the accumulation.
      out[out.length - 1] = out[out.length - 1].slice(0, lastMicro);
      return out;
    })
  );

/** What a drawn case's model, optimizer and clipping were drawn with. */
interface Drawn {
  inputShape: number[];
  optimizer: Record<string, unknown>;
  clipping: Record<string, unknown>;
  accumulation: number;
}

/**
 * A case of `model` from its drawn settings `c`: a task for its inputs, and its steps'
 * micro-batches of `minSize` to `maxSize` samples.
 */
const drawnCase = (c: Drawn, model: Record<string, unknown>, maxSize: number, minSize = 1) =>
  fc.record({ shape: task(c.inputShape), steps: steps(c.accumulation, maxSize, minSize) }).map((
    { shape, steps },
  ): ParityCase => ({
    name: JSON.stringify({ ...c, shape, steps }),
    config: {
      model,
      optimizer: c.optimizer,
      clipping: c.clipping,
      gradientAccumulation: c.accumulation,
    },
    shape,
    steps,
    floor: SUM_FLOOR,
  }));

/** No dropout, or a rate of 0.05-0.8 (the steps draw tfjs's path's masks). */
const dropoutRate = fc.oneof(fc.constant(0), fraction(0.05, 0.8));

/** Linear models and MLPs (the activations the dense steps run, dropout) on flat or 2-D inputs. */
const denseCase: fc.Arbitrary<ParityCase> = fc.record({
  model: fc.oneof(
    fc.constant({ kind: "linear" }),
    fc.record({
      kind: fc.constant("mlp"),
      hidden: fc.array(fc.integer({ min: 1, max: 48 }), { minLength: 1, maxLength: 3 }),
      activation: fc.constantFrom("relu", "tanh", "sigmoid", "gelu"),
      dropout: dropoutRate,
    }),
  ),
  inputShape: fc.oneof(
    fc.tuple(fc.integer({ min: 1, max: 40 })),
    fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 })),
  ),
  optimizer: optimizer(true),
  clipping,
  accumulation: fc.integer({ min: 1, max: 3 }),
}).chain((c) => drawnCase(c, c.model, 40));

/** A linear model or an MLP of 1-3 layers of 1-40 units (few output tiles: see splitCase). */
const narrowModel = fc.oneof(
  fc.constant({ kind: "linear" }),
  fc.record({
    kind: fc.constant("mlp"),
    hidden: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 3 }),
    activation: fc.constantFrom("relu", "tanh", "sigmoid", "gelu"),
    dropout: dropoutRate,
  }),
);

/**
 * Models whose products the WGSL step splits along K (`productSplit`: under SPLIT_MAX_TILES
 * output tiles over K >= SPLIT_MIN_K; see split_test.ts), three kinds:
 * - wide: the first layer's forward product over 1024-1300 features, micro-batches of 1-16;
 * - tall: micro-batches of 1000-1100 samples of 1-40 features, whose weight gradients sum over
 *   their rows (one under 1024 rows takes one slice through the same dispatches);
 * - an LSTM or GRU over 8-16 steps, whose kernels' gradients sum over the rows times the steps
 *   (from just under 1024 up).
 * Widths, tasks, clipping and accumulation are drawn as for the other cases; the optimizers are
 * sgd's variants. Over a thousand weights, one whose gradient is near zero is likely, and an
 * adaptive optimizer's first step (lr times the gradient over its own magnitude, near zero its
 * rounding over eps) moves it by up to lr on rounding alone (measured: weights 1.5e-4 apart after
 * one rmsprop step from gradients 7e-8 apart, each within 3e-7 of float64 on its own weights).
 */
const splitCase: fc.Arbitrary<ParityCase> = fc.oneof(
  fc.record({
    model: narrowModel,
    inputShape: fc.tuple(fc.integer({ min: SPLIT_MIN_K, max: 1300 })),
    optimizer: optimizer(false),
    clipping,
    accumulation: fc.integer({ min: 1, max: 2 }),
  }).chain((c) => drawnCase(c, c.model, 16)),
  fc.record({
    model: narrowModel,
    inputShape: fc.tuple(fc.integer({ min: 1, max: 40 })),
    optimizer: optimizer(false),
    clipping,
    accumulation: fc.integer({ min: 1, max: 2 }),
  }).chain((c) => drawnCase(c, c.model, 1100, 1000)),
  // (an rnn's kernel gradients sum over the micro-batch's rows times its steps)
  fc.record({
    cell: fc.constantFrom("lstm", "gru"),
    units: fc.integer({ min: 1, max: 24 }),
    layers: fc.integer({ min: 1, max: 2 }),
    inputShape: fc.tuple(fc.integer({ min: 8, max: 16 }), fc.integer({ min: 1, max: 5 })),
    optimizer: optimizer(false),
    clipping,
    accumulation: fc.integer({ min: 1, max: 2 }),
  }).chain((c) =>
    drawnCase(
      c,
      { kind: "rnn", cell: c.cell, units: c.units, layers: c.layers },
      140,
      Math.ceil(SPLIT_MIN_K / c.inputShape[0]) - 10,
    )
  ),
);

/**
 * MLPs with batch norm (the WGSL step's; float32): 1-3 hidden layers of 2-40 units, any
 * activation, dropout or none, micro-batches of 8-40 samples. SGD, and each hidden layer's bias
 * held near zero (see ParityCase.zeroGrads): batch norm takes its mean out, so its gradient is
 * rounding, which adaptive optimizers turn into steps of +-lr. Over fewer rows batch norm
 * amplifies rounding by 1 / sqrt(variance + eps), the variance of a few values being small:
 * micro-batches of 2 (drawn) put a layer's kernel gradient 3.3e-5 of its scale apart, past 2e-5.
 * And 4-40 input features: over one, batch norm undoes any change of a unit's weight but through
 * eps, so the first kernel's gradient is the small difference of large terms (drawn: -0.13294
 * against -0.13299, where the step before agreed; with 3 features the same case passes).
 * A hidden layer with another after it has 8-40 units, and dropout is at most 0.5 where there is
 * such a layer: a narrow one under heavy dropout can give every sample of a micro-batch the same
 * output (2 units at 0.8 behind relu: 0 for a sample 81 times in 100, for all 11 of a micro-batch
 * about once in 10), the next batch norm's input then constant. Its x - mean is then 0 in anneal's
 * shifted sums, as in exact arithmetic, and an ulp off in tfjs's `moments` (and in torch's float32
 * run: a constant 0.7234 over 13 samples normalized to -1.5e-5 where beta was 1.3e-6), which
 * decides the relu after it at its kink: ANNEAL_PARITY_SEED 1213 drew hidden [2, 27] at dropout
 * 0.8, a beta's gradient 0.084 in both of anneal's steps and 0 in tfjs's.
 */
const normCase: fc.Arbitrary<ParityCase> = fc.record({
  hidden: fc.tuple(
    fc.array(fc.integer({ min: 8, max: 40 }), { maxLength: 2 }),
    fc.integer({ min: 2, max: 40 }),
  ).map(([before, last]) => [...before, last]),
  activation: fc.constantFrom("relu", "tanh", "sigmoid", "gelu"),
  dropout: dropoutRate,
  inputShape: fc.tuple(fc.integer({ min: 4, max: 40 })),
  optimizer: optimizer(false),
  clipping,
  accumulation: fc.integer({ min: 1, max: 2 }),
}).map((c) => ({ ...c, dropout: c.hidden.length > 1 ? Math.min(c.dropout, 0.5) : c.dropout }))
  .chain((c) =>
    drawnCase(
      c,
      {
        kind: "mlp",
        hidden: c.hidden,
        activation: c.activation,
        dropout: c.dropout,
        batchNorm: true,
      },
      40,
      8,
    ).map((drawn) => ({
      ...drawn,
      // (batch norm's own gradients are of the loss's scale, as in the cnn cases)
      floor: 1,
      zeroGrads: c.hidden.map((_, i) => 4 * i + 1),
    }))
  );

/**
 * cnn models the WGSL step runs: 1-2 conv blocks, kernels of 1-5, pools that fit the maps, with
 * or without batch norm (then sgd: under batch norm a conv bias's gradient is rounding noise,
 * which adaptive optimizers turn into steps of +-lr), a dense layer or none, dropout or none.
 */
const cnnCase: fc.Arbitrary<ParityCase> = fc.record({
  filters: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 2 }),
  kernelSize: fc.integer({ min: 1, max: 5 }),
  pool: fc.integer({ min: 1, max: 3 }),
  batchNorm: fc.boolean(),
  dense: fc.oneof(fc.constant([]), fc.tuple(fc.integer({ min: 1, max: 12 }))),
  dropout: dropoutRate,
  height: fc.integer({ min: 3, max: 12 }),
  width: fc.integer({ min: 3, max: 12 }),
  channels: fc.integer({ min: 0, max: 3 }), // 0: grey 2-D images
  accumulation: fc.integer({ min: 1, max: 2 }),
  clipping,
}).filter((c) => {
  // every block's pool must fit its map
  let [h, w] = [c.height, c.width];
  for (const _ of c.filters) {
    if (c.pool > h || c.pool > w) return false;
    [h, w] = [Math.floor(h / c.pool), Math.floor(w / c.pool)];
  }
  return true;
}).chain((c) => {
  const inputShape = c.channels === 0 ? [c.height, c.width] : [c.height, c.width, c.channels];
  return fc.record({
    shape: task(inputShape),
    steps: steps(c.accumulation, 12),
    optimizer: optimizer(!c.batchNorm),
  }).map(({ shape, steps, optimizer }) => ({
    name: JSON.stringify({ ...c, shape, steps, optimizer }),
    config: {
      model: {
        kind: "cnn",
        filters: c.filters,
        kernelSize: c.kernelSize,
        pool: c.pool,
        batchNorm: c.batchNorm,
        dense: c.dense,
        dropout: c.dropout,
      },
      optimizer,
      clipping: c.clipping,
      gradientAccumulation: c.accumulation,
    },
    shape,
    steps,
    // Under batch norm a conv bias's gradient is zero but for the rounding of a sum over every
    // position of the batch, amplified by 1/sqrt(variance) where a micro-batch of one image has
    // few positions (measured: 2.3e-7 apart over 108 positions, 3e-6 over 32): 2e-5 of 1. Batch
    // norm's own gradients are of the loss's scale and are held to their own.
    floor: c.batchNorm ? 1 : SUM_FLOOR,
    // (each block's conv kernel, conv bias, batch norm's gamma and beta)
    zeroGrads: c.batchNorm ? c.filters.map((_, block) => 4 * block + 1) : undefined,
  }));
});

/**
 * rnn models the WGSL step runs: 1-3 stacked LSTM or GRU layers of 1-70 units (around the step
 * kernels' workgroups of 16 units, and past 64), dropout between them or none, sequences of 1-6
 * steps of 1-5 features (or a flat vector: steps of one).
 * SGD only: a gradient summed through the steps and gates rounds apart by ~2e-7 of the loss's
 * scale, which for a weight whose gradient is small (a cancelling sum) is a part in a thousand
 * of it, and Adam, AdamW and Lion step by about lr whatever the gradient's size (drawn: 1.6e-5
 * apart after two Adam steps of 0.02, a weight of 0.06). The hand-written cases run them
 * (recurrent_test.ts), on gradients that do not cancel.
 */
const rnnCase: fc.Arbitrary<ParityCase> = fc.record({
  cell: fc.constantFrom("lstm", "gru"),
  units: fc.oneof(
    fc.integer({ min: 1, max: 12 }),
    fc.integer({ min: 15, max: 36 }),
    fc.integer({ min: 60, max: 70 }),
  ),
  layers: fc.integer({ min: 1, max: 3 }),
  dropout: dropoutRate,
  inputShape: fc.oneof(
    fc.tuple(fc.integer({ min: 1, max: 6 })),
    fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 5 })),
  ),
  optimizer: optimizer(false),
  clipping,
  accumulation: fc.integer({ min: 1, max: 2 }),
}).chain((c) =>
  drawnCase(
    c,
    { kind: "rnn", cell: c.cell, units: c.units, layers: c.layers, dropout: c.dropout },
    12,
  )
);

/** Runs `check` on `runs` drawn cases; a failure names the case and the seed. */
async function property(
  cases: fc.Arbitrary<ParityCase>,
  runs: number,
  check: (c: ParityCase) => Promise<void>,
): Promise<void> {
  await fc.assert(fc.asyncProperty(cases, async (c) => await check(c)), settings(runs));
}

Deno.test("random cases: the host dense step matches tfjs on wasm", async () => {
  await selectBackend("wasm", "mlp");
  await property(denseCase, 30, (c) => checkParity(c, "wasm", "host"));
});

Deno.test("random cases: the dense WGSL step matches tfjs on WebGPU", async () => {
  await selectBackend("webgpu", "mlp");
  await property(denseCase, 12, checkWebGpuParity);
});

/**
 * Whether `c`'s first layer has a product `productSplit` splits at its largest micro-batch: the
 * forward one over the inputs, or the kernel's gradient over the rows (an rnn's rows times its
 * steps, its kernel's columns its gates).
 */
function firstLayerSplits(c: ParityCase): boolean {
  const model = c.config.model as {
    kind: string;
    hidden?: number[];
    cell?: string;
    units?: number;
  };
  const shape = c.shape;
  const rows = Math.max(...c.steps.flat());
  if (model.kind === "rnn") {
    const [steps, features] = shape.inputShape;
    const columns = (model.cell === "lstm" ? 4 : 3) * model.units!;
    return productSplit(features, columns, rows * steps)[0] > 1;
  }
  const inputs = shape.inputShape.reduce((a, b) => a * b, 1);
  const units = model.hidden?.[0] ?? outputUnits(shape);
  return productSplit(rows, units, inputs)[0] > 1 || productSplit(inputs, units, rows)[0] > 1;
}

Deno.test("random cases: the WGSL step's products split along K match tfjs on WebGPU", async () => {
  await selectBackend("webgpu", "mlp");
  let splits = 0;
  await property(splitCase, 6, async (c) => {
    if (firstLayerSplits(c)) splits++;
    await checkWebGpuParity(c);
  });
  // (the draw is made to split: a change of productSplit's thresholds must not leave it untested)
  assert.ok(splits > 0, "no drawn case had a split product");
});

Deno.test("random cases: the host dense step with an MLP's batch norm matches tfjs on wasm", async () => {
  await selectBackend("wasm", "mlp");
  // (the cases the host step takes: its work at the config's batch size, 16, within its bound)
  const small = normCase.filter((c) => {
    const { hidden, activation } = c.config.model as { hidden: number[]; activation?: string };
    const widths = [c.shape.inputShape[0], ...hidden, outputUnits(c.shape)];
    const work = widths.slice(1).reduce((n, w, i) => n + widths[i] * w, 0);
    return 16 * work <= hostStepMaxWork(widths.length - 1, activation === "gelu");
  });
  await property(small, 10, (c) => checkParity(c, "wasm", "host"));
});

Deno.test("random cases: the WGSL step with an MLP's batch norm matches tfjs on WebGPU", async () => {
  await selectBackend("webgpu", "mlp");
  await property(normCase, 6, checkWebGpuParity);
});

Deno.test("random cases: the WGSL conv step matches tfjs on WebGPU", async () => {
  await selectBackend("webgpu", "cnn");
  await property(cnnCase, 10, checkWebGpuParity);
});

Deno.test("random cases: the WGSL recurrent step matches tfjs on WebGPU", async () => {
  await selectBackend("webgpu", "rnn");
  await property(rnnCase, 10, checkWebGpuParity);
});

/**
 * The rnn cases under mixed precision (float16 projections and saved gates, and with even units
 * the states and output sequences; a GRU of odd units all float32), held to the same step in
 * float32 (`checkMixedPrecision`: losses, norms, weights and an evaluation within 1%).
 */
const mixedRnnCase: fc.Arbitrary<ParityCase> = rnnCase;

/**
 * MLPs under mixed precision (their hidden activations float16 where a width is even, float32
 * where it is odd), held to the same step in float32 as the rnn cases are; sgd's variants, as
 * there.
 */
const mixedMlpCase: fc.Arbitrary<ParityCase> = denseCase.filter((c) =>
  (c.config.model as { kind: string }).kind === "mlp" &&
  (c.config.optimizer as { name: string }).name === "sgd"
);

Deno.test("random cases: mixed precision in the dense WGSL step trains like float32 to half rounding", async () => {
  await selectBackend("webgpu", "mlp");
  await property(mixedMlpCase, 6, (c) => checkMixedPrecision(c, undefined, false));
});

/**
 * cnns under mixed precision (their conv blocks' outputs and dense activations float16 where a
 * filter count or width is even, float32 where it is odd), held to the same step in float32;
 * sgd's variants, as the other mixed cases, and no batch norm: over a drawn model's few and
 * near-constant values a channel's deviation can be far below its mean, and normalizing divides
 * float16's rounding of the stored convolution output (~5e-4 of its size) by that deviation (the
 * same drawn models with their widths made even failed at 2 of 9 seeds of 20 cases, by 5% of a
 * first step's gradient norm); the hand-written mixed cases with batch norm are in conv_test.ts.
 */
const mixedCnnCase: fc.Arbitrary<ParityCase> = cnnCase.filter((c) =>
  (c.config.optimizer as { name: string }).name === "sgd" &&
  !(c.config.model as { batchNorm: boolean }).batchNorm
);

Deno.test("random cases: mixed precision in the WGSL conv step trains like float32 to half rounding", async () => {
  await selectBackend("webgpu", "cnn");
  await property(mixedCnnCase, 6, (c) => checkMixedPrecision(c, undefined, false));
});

Deno.test("random cases: mixed precision in the WGSL recurrent step trains like float32 to half rounding", async () => {
  await selectBackend("webgpu", "rnn");
  await property(mixedRnnCase, 6, (c) => checkMixedPrecision(c, undefined, false));
});

Deno.test("release the WebGPU device", releaseWebGpu);
