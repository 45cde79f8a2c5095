import { LSTM_CELL, registerRecurrentCells } from "./recurrent_cells.ts";
import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
import type { KernelArgs } from "./wasm_heap.ts";
import {
  conv2dFilterGradCpu,
  maxPoolCpu,
  maxPoolGradCpu,
  registerCpuTrainingKernels,
  sliceCpu,
  splitVCpu,
  sumCpu,
} from "./cpu_kernels.ts";
import { selectBackend } from "./backend.ts";
import { replacedWasmKernel } from "./wasm_heap.ts";
import { parseConfig } from "../config.ts";
import { TrainingEngine } from "./engine.ts";

await tf.setBackend("cpu");
(tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
// tfjs's own kernels, taken before anneal's replace them
const tfjsKernel = tf.getKernel("Conv2DBackpropFilter", "cpu")!.kernelFunc;
const tfjsPoolGrad = tf.getKernel("MaxPoolGrad", "cpu")!.kernelFunc;
const tfjsPool = tf.getKernel("MaxPool", "cpu")!.kernelFunc;
const tfjsSlice = tf.getKernel("Slice", "cpu")!.kernelFunc;
const tfjsSplitV = tf.getKernel("SplitV", "cpu")!.kernelFunc;
const tfjsSum = tf.getKernel("Sum", "cpu")!.kernelFunc;
await selectBackend("cpu");

/** Float32 bits of a kernel's output (taken into a tensor and disposed). */
function outputBits(info: tf.TensorInfo, shape: number[]): Uint32Array {
  const out = tf.engine().makeTensorFromTensorInfo(info);
  assert.deepEqual(out.shape, shape);
  // (every NaN as one: where NaNs of both signs meet, V8 gives either sign, from one call of
  // tfjs's own kernel to the next)
  const values = (out.dataSync() as Float32Array).map((v) => Number.isNaN(v) ? NaN : v);
  out.dispose();
  return new Uint32Array(values.buffer);
}

/** A kernel that declines nothing (anneal's, which may return undefined, made to answer). */
function answering(
  kernel: (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[] | undefined,
): tf.KernelFunc {
  return (args) => {
    const out = kernel(args);
    assert.ok(out, "the kernel declined a case it takes");
    return out;
  };
}

type Pad = tf.Conv2DBackpropFilterAttrs["pad"];

/** Both kernels' dL/dfilter of one case, as float32 bits. */
function bothFilterGrads(
  xShape: [number, number, number, number],
  dyShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  strides: [number, number],
  pad: Pad,
  dimRoundingMode: "floor" | "round" | "ceil" | undefined,
  values: (i: number) => number,
  dataFormat: "NHWC" | "NCHW" = "NHWC",
): { ours: Uint32Array; theirs: Uint32Array } {
  const x = tf.tensor4d(
    Float32Array.from({ length: xShape.reduce((a, b) => a * b) }, (_, i) => values(i)),
    xShape,
  );
  const dy = tf.tensor4d(
    Float32Array.from({ length: dyShape.reduce((a, b) => a * b) }, (_, i) => values(i + 7919)),
    dyShape,
  );
  const attrs = { strides, pad, dataFormat, dimRoundingMode, filterShape };
  const backend = tf.backend();
  const run = (kernel: tf.KernelFunc) =>
    outputBits(
      kernel({
        inputs: { x, dy },
        attrs: attrs as unknown as tf.NamedAttrMap,
        backend,
      }) as tf.TensorInfo,
      filterShape,
    );
  const ours = dataFormat === "NHWC"
    ? run(answering(conv2dFilterGradCpu))
    : run(tf.getKernel("Conv2DBackpropFilter", "cpu")!.kernelFunc);
  const result = { ours, theirs: run(tfjsKernel) };
  x.dispose();
  dy.dispose();
  return result;
}

/** The output size tfjs computes for a case (to shape `dy`). */
function outSize(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  strides: [number, number],
  pad: Pad,
  dimRoundingMode: "floor" | "round" | "ceil" | undefined,
): [number, number] {
  const info = tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  return [info.outHeight, info.outWidth];
}

/** Paddings as tfjs's kernels take them: named, a number with its rounding, explicit. */
const pads: fc.Arbitrary<{ pad: Pad; rounding?: "floor" | "round" | "ceil" }> = fc.oneof(
  fc.constantFrom({ pad: "same" as Pad }, { pad: "valid" as Pad }),
  fc.record({
    pad: fc.integer({ min: 0, max: 4 }) as fc.Arbitrary<Pad>,
    rounding: fc.constantFrom("floor", "round", "ceil") as fc.Arbitrary<
      "floor" | "round" | "ceil"
    >,
  }),
  fc.tuple(...Array.from({ length: 4 }, () => fc.integer({ min: 0, max: 4 }))).map((
    [t, b, l, r],
  ) => ({ pad: [[0, 0], [t, b], [l, r], [0, 0]] as Pad })),
);

/** A batch of images and a window over them (a filter's or a pool's), with a seed for values. */
const WINDOWS = {
  batch: fc.integer({ min: 0, max: 3 }),
  h: fc.integer({ min: 1, max: 9 }),
  w: fc.integer({ min: 1, max: 9 }),
  fh: fc.integer({ min: 1, max: 7 }),
  fw: fc.integer({ min: 1, max: 7 }),
  sh: fc.integer({ min: 1, max: 5 }),
  sw: fc.integer({ min: 1, max: 5 }),
  seed: fc.integer({ min: 1, max: 1e6 }),
};

Deno.test("the cpu's Conv2DBackpropFilter gives tfjs's kernel's bits for drawn shapes, strides and paddings", () => {
  fc.assert(
    fc.property(
      fc.record({
        ...WINDOWS,
        inC: fc.integer({ min: 0, max: 5 }),
        outC: fc.integer({ min: 0, max: 6 }),
      }),
      pads,
      (c, { pad, rounding }) => {
        const xShape: [number, number, number, number] = [c.batch, c.h, c.w, c.inC];
        const filterShape: [number, number, number, number] = [c.fh, c.fw, c.inC, c.outC];
        const strides: [number, number] = [c.sh, c.sw];
        let outH: number, outW: number;
        try {
          [outH, outW] = outSize(xShape, filterShape, strides, pad, rounding);
        } catch {
          return; // a case tfjs itself refuses (a filter larger than the padded input)
        }
        fc.pre(outH > 0 && outW > 0);
        const values = (i: number) => Math.sin(c.seed + i * 1.37) * 3;
        const { ours, theirs } = bothFilterGrads(
          xShape,
          [c.batch, outH, outW, c.outC],
          filterShape,
          strides,
          pad,
          rounding,
          values,
        );
        assert.deepEqual(ours, theirs);
      },
    ),
    { numRuns: 150 },
  );
});

Deno.test("the cpu's Conv2DBackpropFilter keeps a NaN or an infinity where tfjs's kernel does, and hands channels-first data to it", () => {
  const special = [NaN, Infinity, -Infinity, -0];
  for (const value of special) {
    const values = (i: number) => (i === 11 ? value : (i % 5) - 2);
    const { ours, theirs } = bothFilterGrads(
      [2, 4, 4, 2],
      [2, 4, 4, 3],
      [3, 3, 2, 3],
      [1, 1],
      "same",
      undefined,
      values,
    );
    assert.deepEqual(ours, theirs, `with ${value}`);
  }
  const nchw = bothFilterGrads(
    [2, 3, 5, 5],
    [2, 4, 5, 5],
    [3, 3, 3, 4],
    [1, 1],
    "same",
    undefined,
    (i) => Math.cos(i),
    "NCHW",
  );
  assert.deepEqual(nchw.ours, nchw.theirs);
});

Deno.test("the cpu's MaxPoolGrad gives tfjs's kernel's bits for drawn shapes, strides, paddings, ties and NaNs", () => {
  fc.assert(
    fc.property(
      fc.record({
        ...WINDOWS,
        c: fc.integer({ min: 0, max: 5 }),
        // how often an input is NaN or -Infinity (the values are few, so ties are common)
        special: fc.constantFrom(0, 0.1, 0.6),
      }),
      pads,
      (c, { pad, rounding }) => {
        const xShape: [number, number, number, number] = [c.batch, c.h, c.w, c.c];
        let pool: tf.backend_util.Conv2DInfo;
        try {
          pool = tf.backend_util.computePool2DInfo(
            xShape,
            [c.fh, c.fw],
            [c.sh, c.sw],
            1,
            pad as "same" | "valid" | number,
            rounding,
          );
        } catch {
          return; // a case tfjs itself refuses
        }
        fc.pre(pool.outHeight > 0 && pool.outWidth > 0);
        const draw = (i: number) => {
          const u = Math.abs(Math.sin(c.seed + i * 2.71)) % 1;
          if (u < c.special / 2) return NaN;
          if (u < c.special) return -Infinity;
          return Math.round(Math.sin(c.seed * 3 + i) * 3) / 2;
        };
        const x = tf.tensor4d(
          Float32Array.from({ length: xShape.reduce((a, b) => a * b) }, (_, i) => draw(i)),
          xShape,
        );
        const y = tf.maxPool(x, [c.fh, c.fw], [c.sh, c.sw], pad as "same", rounding);
        const dy = tf.tensor(
          Float32Array.from({ length: y.size }, (_, i) => Math.cos(c.seed + i) * 2),
          y.shape,
        );
        const attrs = {
          filterSize: [c.fh, c.fw],
          strides: [c.sh, c.sw],
          pad,
          dimRoundingMode: rounding,
        } as unknown as tf.NamedAttrMap;
        const run = (kernel: tf.KernelFunc) =>
          outputBits(
            kernel({
              inputs: { dy, input: x, output: y },
              attrs,
              backend: tf.backend(),
            }) as tf.TensorInfo,
            xShape,
          );
        assert.deepEqual(run(answering(maxPoolGradCpu)), run(tfjsPoolGrad));
        tf.dispose([x, y, dy]);
      },
    ),
    { numRuns: 150 },
  );
});

/** A drawn tensor of a dtype the slices copy, its values distinct where the dtype allows. */
function drawnTensor(shape: number[], dtype: "float32" | "int32" | "bool"): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = Array.from({ length: n }, (_, i) => dtype === "bool" ? i % 3 === 0 : i * 1.5 - 7);
  return tf.tensor(values as number[], shape, dtype);
}

/**
 * A kernel's outputs' shapes, dtypes and stored values, with the type of array that holds them
 * (the next kernel reads that array as it is); each output disposed.
 */
function outputs(out: tf.TensorInfo | tf.TensorInfo[]) {
  const backend = tf.backend() as unknown as {
    data: { get(dataId: object): { values: Float32Array | Int32Array | Uint8Array } };
  };
  return (Array.isArray(out) ? out : [out]).map((info) => {
    const values = backend.data.get(info.dataId).values;
    const seen = {
      shape: info.shape,
      dtype: info.dtype,
      array: values.constructor.name,
      values: Array.from(values),
    };
    tf.engine().makeTensorFromTensorInfo(info).dispose();
    return seen;
  });
}

/**
 * A drawn tensor for the slices: {@linkcode drawnTensor}'s, or (`mismatched`, int32 only) an
 * int32 tensor whose values are held in a Float32Array, fractions included, as tfjs's own
 * `oneHot`, `abs` and `square` of int32 tensors leave them.
 */
function sliceInput(shape: number[], dtype: "float32" | "int32" | "bool", mismatched: boolean) {
  if (!mismatched || dtype !== "int32") return drawnTensor(shape, dtype);
  const n = shape.reduce((a, b) => a * b, 1);
  const values = Float32Array.from({ length: n }, (_, i) => i * 0.75 - 3);
  const dataId = tf.backend().write(values, shape, "int32");
  return tf.engine().makeTensorFromDataId(dataId, shape, "int32");
}

// (up to 7 an axis: runs of 32 values and more are copied as subarrays, shorter ones one by one;
// an axis of 0 now and then)
const shapes = fc.array(
  fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: 7 }) }, {
    weight: 1,
    arbitrary: fc.constant(0),
  }),
  { minLength: 1, maxLength: 5 },
);
const dtypes = fc.constantFrom("float32" as const, "int32" as const, "bool" as const);

Deno.test("the cpu's Slice copies tfjs's kernel's values for drawn shapes, begins, sizes (-1 too) and dtypes, and leaves contiguous slices to it", () => {
  let copied = 0;
  fc.assert(
    fc.property(
      shapes.chain((shape) =>
        fc.tuple(
          fc.constant(shape),
          fc.tuple(...shape.map((n) => fc.integer({ min: 0, max: Math.max(0, n - 1) }))),
          fc.array(fc.nat(), { minLength: shape.length, maxLength: shape.length }),
          fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length }),
          fc.integer({ min: 0, max: shape.length }),
        )
      ),
      dtypes,
      fc.boolean(),
      ([shape, begin, draws, rest, given], dtype, mismatched) => {
        // a size in 1..(the rest of the axis) (0 on an axis of 0), or -1 for all the rest
        const size = shape.map((n, j) =>
          rest[j] ? -1 : n === 0 ? 0 : 1 + draws[j] % (n - begin[j])
        );
        const x = sliceInput(shape, dtype, mismatched);
        // begin and size for the first `given` axes only (tfjs fills in the rest), or the first
        // axis's as numbers
        const cut = <T>(values: T[]) => given === 0 ? values[0] : values.slice(0, given);
        const args = {
          inputs: { x },
          attrs: { begin: cut(begin), size: cut(size) } as unknown as tf.NamedAttrMap,
          backend: tf.backend(),
        };
        const ours = sliceCpu(args);
        const [b, s] = tf.slice_util.parseSliceParams(x, cut(begin), cut(size));
        assert.equal(ours === undefined, tf.slice_util.isSliceContinous(shape, b, s));
        if (ours) {
          copied++;
          assert.deepEqual(outputs(ours), outputs(tfjsSlice(args)));
        }
        x.dispose();
      },
    ),
    { numRuns: 200 },
  );
  // (a check that the draws reach the copy at all: over 2,000 seeds ~37 of 200 did, sd ~5.5, as
  // few as 22; the bound is 5 sd below, where 25 failed ~2% of runs)
  assert.ok(copied > 9, `${copied} of 200 drawn slices were not contiguous`);
});

Deno.test("the cpu's SplitV copies tfjs's kernel's pieces for drawn shapes, axes, split sizes and dtypes", () => {
  fc.assert(
    fc.property(
      shapes.chain((shape) =>
        fc.tuple(fc.constant(shape), fc.integer({ min: -shape.length, max: shape.length - 1 }))
      ),
      dtypes,
      fc.nat(),
      fc.boolean(),
      ([shape, axis], dtype, draw, mismatched) => {
        const n = shape[axis < 0 ? axis + shape.length : axis];
        // a count that divides the axis, or sizes that sum to it, one of them perhaps -1
        const divisors = Array.from({ length: n }, (_, i) => i + 1).filter((d) => n % d === 0);
        const sizes: number[] = n === 0 || draw % 7 === 0 ? [0] : []; // (pieces of 0 too)
        for (let left = n, k = draw; left > 0; k = Math.floor(k / 3)) {
          const piece = Math.min(left, 1 + (k % 3));
          sizes.push(piece);
          left -= piece;
        }
        // (not first: tfjs's prepareSplitSize sums a first -1 into the others, and throws)
        if (draw % 5 === 0 && sizes.length > 1) sizes[1 + draw % (sizes.length - 1)] = -1;
        const numOrSizeSplits = draw % 2 === 0 && n > 0 ? divisors[draw % divisors.length] : sizes;
        const x = sliceInput(shape, dtype, mismatched);
        // (each call its own attributes: tfjs's prepareSplitSize writes the size of a -1 into them)
        const args = () => ({
          inputs: { x },
          attrs: {
            numOrSizeSplits: typeof numOrSizeSplits === "number"
              ? numOrSizeSplits
              : numOrSizeSplits.slice(),
            axis,
          } as unknown as tf.NamedAttrMap,
          backend: tf.backend(),
        });
        const ours = splitVCpu(args());
        const leading = shape.slice(0, axis < 0 ? axis + shape.length : axis);
        assert.equal(ours === undefined, leading.every((d) => d === 1));
        assert.deepEqual(
          outputs(ours ?? tfjsSplitV(args())),
          outputs(tfjsSplitV(args())),
        );
        x.dispose();
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("what tfjs's kernels refuse, anneal's leave to them: shapes that do not agree, an unknown format, negative or fractional sizes", () => {
  const backend = tf.backend();
  const x = tf.ones([2, 5, 5, 3]);
  const dy = tf.ones([2, 5, 5, 4]);
  const conv = (attrs: Record<string, unknown>, inputs = { x, dy }) => ({
    inputs,
    attrs: {
      strides: 1,
      pad: "same",
      dataFormat: "NHWC",
      filterShape: [3, 3, 3, 4],
      ...attrs,
    } as unknown as tf.NamedAttrMap,
    backend,
  });
  const refused = [
    conv({ dataFormat: undefined }),
    conv({ dataFormat: "nhwc" }),
    conv({ filterShape: [3, 3, 1, 4] }),
    conv({}, { x, dy: tf.ones([2, 4, 4, 4]) }),
  ];
  for (const args of refused) assert.equal(conv2dFilterGradCpu(args), undefined);
  const pooled = tf.maxPool(x as tf.Tensor4D, 2, 2, "valid");
  const pool = (dy: tf.Tensor, output: tf.Tensor = pooled) => ({
    inputs: { dy, input: x, output },
    attrs: { filterSize: 2, strides: 2, pad: "valid" } as unknown as tf.NamedAttrMap,
    backend,
  });
  assert.ok(maxPoolGradCpu(pool(tf.ones([2, 2, 2, 3]))), "a dy of the pooling's shape is taken");
  // (a dy too small makes tfjs's kernel throw; one too large, read at its own strides)
  assert.throws(() => tfjsPoolGrad(pool(tf.ones([2, 1, 2, 3]))));
  for (const args of [pool(tf.ones([2, 1, 2, 3])), pool(tf.ones([2, 3, 3, 3]))]) {
    assert.equal(maxPoolGradCpu(args), undefined);
  }
  const complex = tf.complex(tf.ones([2, 2, 2, 3]), tf.zeros([2, 2, 2, 3]));
  assert.equal(maxPoolGradCpu(pool(tf.ones([2, 2, 2, 3]), complex)), undefined);
  const m = tf.tensor2d([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]);
  const slice = (begin: number[], size: number[]) => ({
    inputs: { x: m },
    attrs: { begin, size } as unknown as tf.NamedAttrMap,
    backend,
  });
  for (const args of [slice([1, -2], [2, 2]), slice([0, 1], [2, 1.5])]) {
    assert.equal(sliceCpu(args), undefined);
    assert.throws(() => tfjsSlice(args));
  }
  const split = (numOrSizeSplits: number[]) => ({
    inputs: { x: tf.zeros([2, 40]) },
    attrs: { numOrSizeSplits, axis: 1 } as unknown as tf.NamedAttrMap,
    backend,
  });
  for (const sizes of [[20.5, 19.5], [-2, 42]]) {
    assert.equal(splitVCpu(split(sizes.slice())), undefined);
    assert.throws(() => tfjsSplitV(split(sizes.slice())));
  }
});

Deno.test("the cpu's Sum over leading axes gives tfjs's kernel's bits, and leaves other axes and dtypes to it", () => {
  let taken = 0;
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 4 }),
      fc.nat(),
      fc.boolean(),
      fc.constantFrom(...["float32", "float32", "float32", "int32", "bool"] as const),
      fc.integer({ min: 1, max: 1e6 }),
      (shape, draw, keepDims, dtype, seed) => {
        // leading axes [0..k-1] (all of them for a vector) mostly; else a drawn subset in a
        // drawn order (declined)
        const rank = shape.length;
        const k = 1 + draw % Math.max(1, rank - 1);
        const axis = draw % 4 !== 0
          ? Array.from({ length: k }, (_, i) => i)
          : Array.from({ length: rank }, (_, i) => i).filter((i) => (draw >> (i + 2)) & 1)
            .reverse();
        const n = shape.reduce((p, q) => p * q, 1);
        const values = Array.from({ length: n }, (_, i) => {
          const v = Math.sin(seed + i * 0.37) * 10 ** ((i % 7) - 3);
          return dtype === "bool" ? +(v > 0) : dtype === "int32" ? Math.round(v) : v;
        });
        const x = tf.tensor(values, shape, dtype);
        const args = {
          inputs: { x },
          attrs: { axis, keepDims } as unknown as tf.NamedAttrMap,
          backend: tf.backend(),
        };
        const ours = sumCpu(args);
        const leading = axis.length > 0 && axis.length < rank && axis.every((a, i) => a === i);
        assert.equal(ours !== undefined, leading && dtype === "float32", `${axis} ${dtype}`);
        if (ours) {
          taken++;
          const [mine, theirs] = [outputs(ours), outputs(tfjsSum(args) as tf.TensorInfo)];
          assert.deepEqual(mine.map((o) => o.shape), theirs.map((o) => o.shape));
          const bits = (v: number[]) => Array.from(new Uint32Array(Float32Array.from(v).buffer));
          assert.deepEqual(bits(mine[0].values), bits(theirs[0].values));
        }
        x.dispose();
      },
    ),
    { numRuns: 200 },
  );
  // (a check that the draws reach the sum at all: over 3,000 seeds ~69 of 200 did, sd ~6.6, as few
  // as 46; the bound is 5 sd below, where 50 failed ~0.1% of runs)
  assert.ok(taken > 35, `${taken} of 200 drawn sums were over leading axes`);
});

Deno.test("selecting the cpu backend puts anneal's kernels in front of tfjs's, and a cnn and an lstm train on them to tfjs's kernels' weights", async () => {
  const train = async (model: Record<string, unknown>, inputShape: number[]) => {
    const config = parseConfig({
      backend: "cpu",
      seed: 5,
      model,
      optimizer: { name: "adam", lr: 1e-2 },
    });
    const engine = new TrainingEngine(config, {
      inputShape,
      targetSize: 1,
      task: "classification",
      numClasses: 3,
    });
    const features = inputShape.reduce((a, b) => a * b);
    const batch = {
      x: Float32Array.from({ length: 6 * features }, (_, i) => Math.sin(i * 0.7)),
      y: Float32Array.from({ length: 6 }, (_, i) => i % 3),
      size: 6,
    };
    for (let step = 0; step < 3; step++) {
      const pending = engine.computeGradients([batch]);
      await engine.readStats([pending]);
      engine.applyGradients(pending, 1e-2);
    }
    const weights = await engine.readWeights();
    engine.dispose();
    return weights;
  };
  const both = async () => {
    // (the lstm's gates split from one product every time step, SplitV, where the cell's own
    // kernel does not take the step: taken out here, as on a backend without it)
    registerRecurrentCells();
    const cell = tf.getKernel(LSTM_CELL, "cpu")!;
    tf.unregisterKernel(LSTM_CELL, "cpu");
    try {
      return await Promise.all([
        train({ kind: "cnn", filters: [4, 6], dense: [8] }, [8, 8, 1]),
        train({ kind: "rnn", cell: "lstm", units: 5 }, [4, 3]),
      ]);
    } finally {
      tf.registerKernel(cell);
    }
  };
  const names = ["Conv2DBackpropFilter", "MaxPoolGrad", "MaxPool", "Slice", "SplitV", "Sum"];
  const stock = [tfjsKernel, tfjsPoolGrad, tfjsPool, tfjsSlice, tfjsSplitV, tfjsSum];
  names.forEach((name, i) => {
    assert.notEqual(tf.getKernel(name, "cpu")!.kernelFunc, stock[i], `${name} is anneal's`);
    assert.equal(replacedWasmKernel(name, "cpu"), stock[i], `tfjs's ${name} is kept behind it`);
  });
  const anneals = names.map((name) => tf.getKernel(name, "cpu")!);
  const swap = (configs: tf.KernelConfig[]) =>
    configs.forEach((config) => {
      tf.unregisterKernel(config.kernelName, "cpu");
      tf.registerKernel(config);
    });
  assert.deepEqual(registerCpuTrainingKernels(), names, "a second registration changes nothing");
  assert.deepEqual(names.map((name) => tf.getKernel(name, "cpu")), anneals);
  // anneal's kernels, each counting the calls it took (not left to tfjs's)
  const took = new Map(names.map((name) => [name, 0]));
  const fast = [conv2dFilterGradCpu, maxPoolGradCpu, maxPoolCpu, sliceCpu, splitVCpu, sumCpu];
  swap(names.map((kernelName, i) => ({
    kernelName,
    backendName: "cpu",
    kernelFunc: (args: KernelArgs) => {
      const out = fast[i](args);
      if (out) took.set(kernelName, took.get(kernelName)! + 1);
      return out ?? stock[i](args);
    },
  })));
  let ours;
  try {
    ours = await both();
  } finally {
    swap(anneals);
  }
  // (these models slice nothing that is not contiguous: Slice is its property's alone)
  took.delete("Slice");
  for (const [name, count] of took) assert.ok(count > 0, `anneal's ${name} took no call`);
  // the same training on tfjs's kernels
  swap(names.map((kernelName, i) => ({ kernelName, backendName: "cpu", kernelFunc: stock[i] })));
  try {
    const theirs = await both();
    theirs.forEach((model, m) => {
      // (in weight order: tfjs-layers numbers the names of a process's later models)
      const unnumbered = (names: string[]) => names.map((name) => name.replace(/_\d+$/, ""));
      assert.deepEqual(unnumbered(Object.keys(ours[m])), unnumbered(Object.keys(model)));
      const mine = Object.values(ours[m]);
      Object.entries(model).forEach(([name, weight], i) => {
        assert.deepEqual(mine[i].values, weight.values, name);
      });
    });
  } finally {
    swap(anneals);
  }
});
