import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
import type * as tfl from "npm:@tensorflow/tfjs-layers@4.22.0";
import { AnnealError } from "../errors.ts";
import { buildModel, countParameters, type ModelShape } from "./build.ts";
import { forward } from "./forward.ts";
import { deriveSeed } from "./init.ts";
import { lossFunction } from "./losses.ts";
import { namedWeights } from "./names.ts";
import type { ModelSpec } from "./spec.ts";

await tf.setBackend("cpu");

const image: ModelShape = { inputShape: [8, 8, 1], outputUnits: 3 };
const sequence: ModelShape = { inputShape: [5, 2], outputUnits: 3 };
const cases: { spec: ModelSpec; shape: ModelShape }[] = [
  { spec: { kind: "linear" }, shape: { inputShape: [4], outputUnits: 3 } },
  { spec: { kind: "linear" }, shape: image },
  { spec: { kind: "mlp", hidden: [6, 5], batchNorm: true, dropout: 0.2 }, shape: image },
  {
    spec: { kind: "mlp", hidden: [4], activation: "gelu" },
    shape: { inputShape: [4], outputUnits: 3 },
  },
  { spec: { kind: "cnn", filters: [2, 3], dense: [4] }, shape: image },
  { spec: { kind: "rnn", cell: "lstm", units: 4, layers: 2, dropout: 0.1 }, shape: sequence },
  { spec: { kind: "rnn", cell: "gru", units: 4 }, shape: sequence },
];

function label(c: { spec: ModelSpec; shape: ModelShape }): string {
  return `${JSON.stringify(c.spec)} on [${c.shape.inputShape}]`;
}

function withModel(
  spec: ModelSpec,
  shape: ModelShape,
  seed: number,
  f: (m: tfl.LayersModel) => void,
) {
  const model = buildModel(spec, shape, seed);
  try {
    f(model);
  } finally {
    model.dispose();
  }
}

Deno.test("every model kind maps a batch to [batch, outputUnits] in both modes", () => {
  for (const c of cases) {
    withModel(c.spec, c.shape, 1, (model) => {
      for (const training of [false, true]) {
        const shape = tf.tidy(() =>
          forward(model, tf.ones([2, ...c.shape.inputShape]), training).shape
        );
        assert.deepEqual(shape, [2, c.shape.outputUnits], label(c));
      }
    });
  }
});

Deno.test("the default cnn is the Fashion-MNIST benchmark net with torch's parameter count", () => {
  withModel({ kind: "cnn" }, { inputShape: [28, 28, 1], outputUnits: 10 }, 1, (model) => {
    // conv 1->32 (320), bn (64), conv 32->64 (18496), bn (128), 7*7*64 -> 128 (401536), 128 -> 10
    const torchCount = (9 * 1 + 1) * 32 + 64 + (9 * 32 + 1) * 64 + 128 + (7 * 7 * 64 + 1) * 128 +
      (128 + 1) * 10;
    assert.equal(countParameters(model), torchCount);
  });
});

Deno.test("dense and conv weights and biases lie within ±1/sqrt(fanIn) and fill the range", () => {
  withModel({ kind: "cnn", filters: [16], dense: [32] }, image, 3, (model) => {
    const fanIns: Record<string, number> = { conv0: 9 * 1, dense0: 4 * 4 * 16, head: 32 };
    let checked = 0;
    for (const { name, variable } of namedWeights(model)) {
      const layer = name.split("/")[0];
      if (!(layer in fanIns)) continue;
      const bound = 1 / Math.sqrt(fanIns[layer]);
      const values = Array.from(variable.dataSync());
      const maxAbs = Math.max(...values.map(Math.abs));
      assert.ok(maxAbs <= bound, `${name}: ${maxAbs} > ${bound}`);
      if (values.length >= 32) assert.ok(maxAbs > 0.8 * bound, `${name} does not fill its range`);
      checked++;
    }
    assert.equal(checked, 6);
  });
});

Deno.test("recurrent weights lie within ±1/sqrt(units), as torch's LSTM/GRU", () => {
  withModel({ kind: "rnn", cell: "gru", units: 16 }, sequence, 3, (model) => {
    const recurrent = namedWeights(model).filter((w) => w.name.startsWith("gru0/"));
    // kernel, recurrent kernel and torch's two biases
    assert.equal(recurrent.length, 4);
    for (const { name, variable } of recurrent) {
      const maxAbs = Math.max(...Array.from(variable.dataSync()).map(Math.abs));
      assert.ok(maxAbs <= 0.25 && maxAbs > 0.2, `${name}: max |w| = ${maxAbs}`);
    }
  });
});

Deno.test("the same seed gives identical weights and another seed different ones", () => {
  const spec: ModelSpec = { kind: "mlp", hidden: [5] };
  const snapshot = (seed: number) => {
    const model = buildModel(spec, image, seed);
    const values = namedWeights(model).map((w) => Array.from(w.variable.dataSync()));
    model.dispose();
    return values;
  };
  assert.deepEqual(snapshot(11), snapshot(11));
  assert.notDeepEqual(snapshot(11), snapshot(12));
  // seeds 2^32 apart (both valid run seeds) drew the same weights: only the low 32 bits counted
  assert.notDeepEqual(snapshot(11 + 2 ** 32), snapshot(11));
  assert.notDeepEqual(snapshot(11 + 2 ** 33), snapshot(11 + 2 ** 32));
  // a seed below 2^32 keeps the weights it had
  assert.deepEqual(
    [deriveSeed(42, 0), deriveSeed(0, 3), deriveSeed(2 ** 31 + 5, 1), deriveSeed(-7, 2)],
    [1924735956, 1824247551, 457326235, 1715535182],
  );
});

Deno.test("weight names are the same on every build once earlier models are disposed", () => {
  const names = () => {
    const model = buildModel({ kind: "cnn", filters: [2], dense: [3] }, image, 0);
    const result = namedWeights(model).map((w) => w.name);
    model.dispose();
    return result;
  };
  const first = names();
  assert.deepEqual(names(), first);
  assert.ok(first.includes("conv0/kernel") && first.includes("head/bias"), first.join());
});

Deno.test("two live models get distinct variable names", () => {
  const a = buildModel({ kind: "linear" }, { inputShape: [2], outputUnits: 1 }, 0);
  const b = buildModel({ kind: "linear" }, { inputShape: [2], outputUnits: 1 }, 0);
  const namesA = namedWeights(a).map((w) => w.name);
  const namesB = namedWeights(b).map((w) => w.name);
  assert.equal(namesA.filter((n) => namesB.includes(n)).length, 0);
  a.dispose();
  b.dispose();
});

Deno.test("every trainable variable of every model kind gets a finite non-zero gradient", () => {
  for (const c of cases) {
    withModel(c.spec, c.shape, 5, (model) => {
      const x = tf.randomNormal([3, ...c.shape.inputShape], 0, 1, "float32", 9);
      const y = tf.tensor1d([0, 1, 2]);
      const trainable = namedWeights(model).filter((w) => w.trainable).map((w) => w.variable);
      const { value, grads } = tf.variableGrads(
        () => lossFunction("crossEntropy")(forward(model, x, true), y),
        trainable,
      );
      for (const variable of trainable) {
        const grad = Array.from(grads[variable.name].dataSync());
        assert.ok(grad.every(Number.isFinite), `${label(c)} ${variable.name} not finite`);
        assert.ok(grad.some((g) => g !== 0), `${label(c)} ${variable.name} all zero`);
      }
      tf.dispose([x, y, value, ...Object.values(grads)]);
    });
  }
});

Deno.test("dropout is active only in training mode", () => {
  withModel(
    { kind: "mlp", hidden: [64], dropout: 0.5 },
    { inputShape: [4], outputUnits: 2 },
    2,
    (m) => {
      const x = tf.ones([4, 4]);
      const run = (training: boolean) =>
        tf.tidy(() => Array.from(forward(m, x, training).dataSync()));
      assert.deepEqual(run(false), run(false));
      assert.notDeepEqual(run(true), run(false));
      x.dispose();
    },
  );
});

Deno.test("batch norm uses batch statistics and updates running ones only in training", () => {
  withModel({ kind: "cnn", filters: [2], dense: [] }, image, 2, (model) => {
    const x = tf.randomNormal([4, 8, 8, 1], 3, 2, "float32", 1);
    const runningMean = namedWeights(model).find((w) => w.name === "convbn0/moving_mean")!.variable;
    const mean = () => Array.from(runningMean.dataSync());
    const run = (training: boolean) =>
      tf.tidy(() => Array.from(forward(model, x, training).dataSync()));
    const initial = mean();
    const inference = run(false);
    assert.deepEqual(mean(), initial);
    assert.notDeepEqual(run(true), inference);
    assert.notDeepEqual(mean(), initial);
    x.dispose();
  });
});

Deno.test("a cnn on non-image data is rejected with a hint, which names data.flatten (flattened images are vectors)", () => {
  assert.throws(
    () => buildModel({ kind: "cnn" }, { inputShape: [4], outputUnits: 2 }, 0),
    (e) =>
      e instanceof AnnealError && e.code === "config" &&
      /kind 'mlp' for tabular data/.test(e.hint!) && /--set data\.flatten=false/.test(e.hint!),
  );
});

Deno.test("a cnn whose pools leave no values is refused naming the block and how many fit; one that fits trains finite", () => {
  const refusal = (spec: ModelSpec, shape: ModelShape) => {
    try {
      buildModel(spec, shape, 0);
    } catch (error) {
      assert.ok(error instanceof AnnealError && error.code === "config", String(error));
      return error;
    }
    assert.fail(`${label({ spec, shape })} was built`);
  };
  const deep = refusal({ kind: "cnn", filters: [4, 8, 8, 8] }, image);
  assert.match(deep.message, /conv block 3 gets 1x1 maps, which its pool 2 makes 0x0/);
  assert.equal(deep.where, "model.filters");
  assert.match(
    deep.hint!,
    /at most 3 conv blocks for 8x8 images \(--set 'model\.filters=\[4,8,8\]'\)/,
  );
  // the narrower side runs out first
  const wide = refusal({ kind: "cnn", filters: [2, 2, 2] }, {
    inputShape: [16, 4],
    outputUnits: 2,
  });
  assert.match(wide.message, /conv block 2 gets 4x1 maps, which its pool 2 makes 2x0/);
  const pool = refusal({ kind: "cnn", filters: [2], pool: 9 }, image);
  assert.match(pool.hint!, /a pool of at most 8 \(model\.pool\), or 1 for none/);
  // as many blocks as fit, or no pooling, build, and their outputs and gradients are finite
  for (
    const spec of [{ kind: "cnn", filters: [4, 8, 8] }, {
      kind: "cnn",
      filters: [2, 2, 2, 2, 2],
      pool: 1,
    }] as ModelSpec[]
  ) {
    withModel(spec, image, 0, (model) => {
      const x = tf.randomNormal([2, 8, 8, 1]);
      const y = model.predict(x) as tf.Tensor;
      assert.ok(
        (y.dataSync() as Float32Array).every(Number.isFinite),
        label({ spec, shape: image }),
      );
      tf.dispose([x, y]);
    });
  }
});

Deno.test("invalid shapes and unknown spec keys are rejected", () => {
  assert.throws(
    () => buildModel({ kind: "linear" }, { inputShape: [0], outputUnits: 2 }, 0),
    AnnealError,
  );
  assert.throws(
    () => buildModel({ kind: "linear" }, { inputShape: [2], outputUnits: 0 }, 0),
    AnnealError,
  );
  assert.throws(() => buildModel({ kind: "mlp", hiden: [3] } as ModelSpec, image, 0));
});

Deno.test("the cnn pools before its relu: the same outputs as relu-then-pool, the same gradients", () => {
  withModel({ kind: "cnn", filters: [4, 6], dense: [5] }, image, 4, (model) => {
    const names = model.layers.map((layer) => layer.name);
    assert.ok(names.indexOf("pool0") < names.indexOf("convrelu0"), names.join());
    // the same layers with each conv block's relu moved back in front of its pool
    const reordered = (x: tf.Tensor) => {
      const layers = model.layers.slice(1);
      let t = x;
      for (let i = 0; i < layers.length; i++) {
        const [layer, after] = [layers[i], layers[i + 1]];
        if (layer.name.startsWith("pool") && after?.name.startsWith("convrelu")) {
          t = layer.apply(after.apply(t)) as tf.Tensor;
          i++;
        } else t = layer.apply(t, { training: true }) as tf.Tensor;
      }
      return t;
    };
    const x = tf.randomNormal([3, 8, 8, 1], 0, 1, "float32", 5);
    const ours = forward(model, x, true);
    const theirs = reordered(x);
    assert.deepEqual(ours.dataSync(), theirs.dataSync(), "bit for bit");
    const weights = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const gradsOf = (f: () => tf.Tensor) =>
      Object.values(tf.variableGrads(() => tf.sum(tf.square(f())) as tf.Scalar, weights).grads);
    const a = gradsOf(() => forward(model, x, true));
    const b = gradsOf(() => reordered(x));
    a.forEach((g, i) => {
      const [p, q] = [g.dataSync(), b[i].dataSync()];
      p.forEach((v, j) => assert.ok(Math.abs(v - q[j]) <= 1e-5 * Math.max(1, Math.abs(q[j]))));
    });
    tf.dispose([x, ours, theirs, ...a, ...b]);
  });
});

Deno.test("buildModel refuses a bad spec, shape or seed with an AnnealError naming the field, not a ZodError or weights of no seed", () => {
  const refused = (spec: unknown, shape: unknown, seed: unknown, where: string, text: RegExp) =>
    assert.throws(
      () => buildModel(spec as ModelSpec, shape as ModelShape, seed as number),
      (error: unknown) => {
        assert.ok(error instanceof AnnealError, `${where}: ${error}`);
        assert.equal(error.code, "config");
        assert.equal(error.where, where, error.message);
        assert.match(`${error.message} ${error.hint}`, text);
        return true;
      },
    );
  const shape = { inputShape: [3], outputUnits: 1 };
  refused({ kind: "mlpp" }, shape, 1, "model.kind", /did you mean "mlp"/);
  refused({ kind: "mlp", hiden: [8] }, shape, 1, "model.hiden", /did you mean 'hidden'/);
  refused({ kind: "mlp", hidden: [-8] }, shape, 1, "model.hidden[0]", /must be > 0/);
  refused("mlp", shape, 1, undefined as unknown as string, /must be an object/);
  refused({ kind: "mlp" }, undefined, 1, "model", /'inputShape' must be positive integers/);
  // a seed of NaN or none built the weights of one fixed seed, the same for both
  refused({ kind: "mlp" }, shape, NaN, "seed", /'seed' must be a finite number/);
  refused({ kind: "mlp" }, shape, undefined, "seed", /'seed' must be a finite number/);
});
