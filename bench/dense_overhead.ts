/**
 * The fixed cost of a training step on WebGPU, tfjs's forward and backward against the dense
 * WGSL step: a tiny MLP (so the kernels' own work is negligible), same engine, same optimizer
 * (fused Adam, or with `--optimizer sgd` the benchmark's mlp_sgd update: SGD, momentum 0.9),
 * `fusedModel` off and on; ms per step (JS time of the step calls plus one read at
 * the end of each block), median of blocks. On a CPU-only machine this runs on the software
 * adapter (llvmpipe), where it still shows the per-dispatch overhead; on a GPU host, the GPU's.
 * `--model cnn` times the conv blocks' step instead (images `--image` square, one channel; conv
 * blocks `--filters`, then dense `--hidden`): `--model cnn --filters 32,64 --hidden 128 --batch
 * 128` is the benchmark's CNN. `--profile` then times each dispatch of the WGSL step alone (its
 * GPU time, with what the queue adds to a dispatch: where it goes, not what a step costs).
 * `--mixed` also times the WGSL step with `mixedPrecision` (float16 activations), and profiles
 * it beside the float32 step. `--bytes` feeds image bytes (one byte a feature, turned into floats
 * on the GPU by the WGSL step, as `anneal train` does for IDX images) instead of floats; the
 * profile then lists that dispatch first. `--model rnn` times an rnn's step (`--cell lstm|gru`,
 * `--units`, `--layers`, sequences of `--seq steps,features`): tfjs unrolls each step of the
 * sequence into its own ops, the WGSL step takes two dispatches a step and layer. Beside the
 * main thread's time a step in the engine's calls, the time of it outside `GPUQueue.submit`: on
 * llvmpipe a submission runs the GPU's work before it returns. `--activation` sets the mlp's
 * (relu, tanh, sigmoid or gelu), `--batch-norm` gives its hidden layers batch norm. `--dropout R` puts dropout at rate
 * R after the mlp's hidden layers (the cnn's dense ones): tfjs's path draws each step's masks and
 * multiplies them in, the WGSL step draws the same masks as bits on the GPU. `--staging loops` builds the WGSL
 * step's products with their slices staged in loops, as before the forty-ninth session (see
 * `Staging` in runtime/dense/wgsl.ts): the A/B of that change on a GPU.
 *
 *   deno run -A bench/dense_overhead.ts [--steps 200] [--repeats 3] [--hidden 16,16] [--batch 8]
 *     [--model mlp|cnn|rnn] [--image 28] [--filters 32,64] [--cell lstm] [--units 16]
 *     [--layers 1] [--seq 8,4] [--profile] [--mixed] [--bytes]
 *     [--optimizer adam|sgd] [--staging unrolled|loops] [--activation relu] [--dropout 0.2] [--batch-norm]
 *
 * @module
 */
import { benchFlags } from "./flags.ts";
import { parseConfig } from "../config.ts";
import { selectBackend } from "../runtime/backend.ts";
import {
  floatBatch,
  type HostBatch,
  type HostByteBatch,
  TrainingEngine,
} from "../runtime/engine.ts";
import { median, submitClock } from "./runner.ts";
import { matmulStaging } from "../runtime/dense/wgsl.ts";

const values = benchFlags(
  {
    steps: { type: "string", default: "200" },
    repeats: { type: "string", default: "3" },
    hidden: { type: "string", default: "16,16" },
    inputs: { type: "string", default: "8" },
    batch: { type: "string", default: "8" },
    model: { type: "string", default: "mlp" },
    image: { type: "string", default: "28" },
    filters: { type: "string", default: "32,64" },
    cell: { type: "string", default: "lstm" },
    units: { type: "string", default: "16" },
    layers: { type: "string", default: "1" },
    seq: { type: "string", default: "8,4" },
    profile: { type: "boolean", default: false },
    mixed: { type: "boolean", default: false },
    bytes: { type: "boolean", default: false },
    optimizer: { type: "string", default: "adam" },
    staging: { type: "string", default: "unrolled" },
    dropout: { type: "string", default: "0" },
    activation: { type: "string", default: "relu" },
    "batch-norm": { type: "boolean", default: false },
  },
  `Usage: deno run -A bench/dense_overhead.ts [--steps 200] [--repeats 3] [--hidden 16,16]
    [--batch 8] [--inputs 8] [--model mlp|cnn|rnn] [--image 28] [--filters 32,64] [--cell lstm]
    [--units 16] [--layers 1] [--seq 8,4] [--profile] [--mixed] [--bytes] [--optimizer adam|sgd]
    [--staging unrolled|loops] [--activation relu] [--dropout 0.2] [--batch-norm]

The fixed cost of a training step on WebGPU, tfjs's forward and backward against the dense WGSL
step: a tiny MLP (so the kernels' own work is negligible), same engine, same optimizer, fusedModel
off and on; ms per step, median of blocks. --model cnn times the conv blocks' step instead and
--model rnn an rnn's; --profile times each dispatch of the WGSL step alone; --mixed also times the
WGSL step with mixedPrecision (float16 activations). On a CPU-only machine this runs on the
software adapter (llvmpipe), where it still shows the per-dispatch overhead.`,
);
if (values.staging !== "unrolled" && values.staging !== "loops") {
  throw new Error(`--staging is unrolled or loops, not ${values.staging}`);
}
// the matmul's staging as a loop of a load and a store a turn (the form before the forty-ninth
// session), for the A/B on a GPU
matmulStaging.unrolled = values.staging === "unrolled";
const cnn = values.model === "cnn";
const rnn = values.model === "rnn";
if (!cnn && !rnn && values.model !== "mlp") {
  throw new Error(`--model is mlp, cnn or rnn, not ${values.model}`);
}
// (the benchmark's workloads: mlp and cnn with Adam, mlp_sgd with SGD and momentum 0.9)
const OPTIMIZERS: Record<string, { name: string; lr: number; momentum?: number }> = {
  adam: { name: "adam", lr: 1e-3 },
  sgd: { name: "sgd", lr: 0.01, momentum: 0.9 },
};
const optimizer = OPTIMIZERS[values.optimizer];
if (!optimizer) throw new Error(`--optimizer is adam or sgd, not ${values.optimizer}`);
const optimizerName = values.optimizer === "adam" ? "Adam" : "SGD, momentum 0.9";
if (rnn && values.cell !== "lstm" && values.cell !== "gru") {
  throw new Error(`--cell is lstm or gru, not ${values.cell}`);
}
const sequence = values.seq.split(",").map(Number);
const steps = Number(values.steps);
const hidden = values.hidden.split(",").map(Number);
const side = Number(values.image);
const filters = values.filters.split(",").map(Number);
const inputs = cnn ? side * side : rnn ? sequence[0] * sequence[1] : Number(values.inputs);
const size = Number(values.batch);
const dropout = Number(values.dropout);
const activation = values.activation as "relu";
if (
  !["relu", "tanh", "sigmoid", "gelu"].includes(activation) || (cnn || rnn) && activation !== "relu"
) {
  throw new Error(`--activation is relu, tanh, sigmoid or gelu, for an mlp: ${activation}`);
}
if (!(dropout >= 0 && dropout < 1) || rnn && dropout > 0) {
  throw new Error(
    `--dropout is a rate from 0 up to 1 (not 1), for an mlp or a cnn: ${values.dropout}`,
  );
}

const selection = await selectBackend("webgpu", "mlp");
console.log(`# ${selection.adapter?.description || "WebGPU adapter"}: ${selection.reason}`);
const y = Float32Array.from({ length: size }, (_, i) => i % 10);
// --bytes: the inputs as the bytes of images (as `anneal train` sends Fashion-MNIST's to the WGSL
// step; tfjs's path takes their floats)
const batch: HostBatch | HostByteBatch = values.bytes
  ? {
    x: Uint8Array.from({ length: size * inputs }, (_, i) => Math.floor(128 + 127 * Math.sin(i))),
    byteTable: Float32Array.from({ length: 256 }, (_, b) => b / 255),
    y,
    size,
  }
  : { x: Float32Array.from({ length: size * inputs }, (_, i) => Math.sin(i)), y, size };
const results: Record<string, number[]> = { tfjs: [], wgsl: [], mixed: [] };
/**
 * Per block, the main thread's time a step in the engine's calls (encoding and submitting: the
 * GPU runs on meanwhile). Near a block's whole time, the step is bound by its JavaScript.
 */
const encoding: Record<string, number[]> = { tfjs: [], wgsl: [], mixed: [] };
/**
 * Of that, the time outside `GPUQueue.submit`: on a software adapter (llvmpipe) a submission runs
 * the GPU's work before it returns, which hides the JavaScript's and the encoding's own cost.
 */
const outsideSubmit: Record<string, number[]> = { tfjs: [], wgsl: [], mixed: [] };
const inSubmit = submitClock();
const profiles: Record<string, { name: string; ms: number }[]> = {};
const variants = [
  { fusedModel: false, mixedPrecision: false },
  { fusedModel: true, mixedPrecision: false },
  ...(values.mixed ? [{ fusedModel: true, mixedPrecision: true }] : []),
];
for (let r = 0; r < Number(values.repeats); r++) {
  for (const { fusedModel, mixedPrecision } of variants) {
    const engine = new TrainingEngine(
      parseConfig({
        backend: "webgpu",
        fusedModel,
        mixedPrecision,
        byteInputs: values.bytes,
        model: cnn ? { kind: "cnn", filters, dense: hidden, dropout } : rnn
          ? {
            kind: "rnn",
            cell: values.cell as "lstm",
            units: Number(values.units),
            layers: Number(values.layers),
          }
          : { kind: "mlp", hidden, dropout, activation, batchNorm: values["batch-norm"] },
        optimizer,
      }),
      {
        inputShape: cnn ? [side, side, 1] : rnn ? sequence : [inputs],
        targetSize: 1,
        task: "classification",
        numClasses: 10,
      },
    );
    // (tfjs's path is sent floats, as the trainer sends them there)
    const fed = engine.takesByteInputs ? batch : floatBatch(batch);
    let encoded = 0;
    let submitted = 0;
    const block = async (n: number) => {
      const started = performance.now();
      const pending = [];
      encoded = 0;
      const submittedBefore = inSubmit();
      for (let i = 0; i < n; i++) {
        const called = performance.now();
        const step = engine.computeGradients([fed]);
        engine.applyGradients(step, 1e-3);
        encoded += performance.now() - called;
        pending.push(step);
      }
      // (the steps' submissions alone: the read-back submits too)
      submitted = inSubmit() - submittedBefore;
      await engine.readStats(pending);
      return (performance.now() - started) / n;
    };
    await block(5);
    const key = mixedPrecision ? "mixed" : engine.modelPath;
    results[key].push(await block(steps));
    encoding[key].push(encoded / steps);
    outsideSubmit[key].push((encoded - submitted) / steps);
    if (values.profile && r === 0 && fusedModel) {
      const profile = await engine.profileWgslStep(fed);
      if (profile) profiles[key] = profile;
    }
    engine.dispose();
  }
}
const [tfjs, wgsl] = [median(results.tfjs), median(results.wgsl)];
const shape = cnn
  ? `cnn ${side}x${side}, conv ${filters.join("-")}, dense ${hidden.join("-")}-10`
  : rnn
  ? `${values.cell} ${values.layers}x${values.units} over ${sequence.join("x")}, dense 10`
  : `mlp ${inputs}-${hidden.join("-")}-10${activation === "relu" ? "" : ` ${activation}`}`;
const dropped = `${values["batch-norm"] ? ", batch norm" : ""}${
  dropout > 0 ? `, dropout ${dropout}` : ""
}`;
console.log(
  `${shape}${dropped}, batch ${size}, ${optimizerName} (fused)${
    matmulStaging.unrolled ? "" : ", products staged in loops"
  }: tfjs forward/backward ` +
    `${tfjs.toFixed(2)} ms/step, WGSL step ${wgsl.toFixed(2)} ms/step: ${
      (tfjs / wgsl).toFixed(1)
    }x`,
);
if (values.mixed) {
  const mixed = median(results.mixed);
  console.log(
    `WGSL step with mixedPrecision ${mixed.toFixed(2)} ms/step: ${
      (wgsl / mixed).toFixed(2)
    }x the float32 WGSL step`,
  );
}
/** Each path's median of `record`'s blocks, in ms: `wgsl 1.23 ms; mixed 0.98 ms`. */
const medians = (record: Record<string, number[]>) =>
  Object.entries(record).filter(([, v]) => v.length > 0).map(([k, v]) =>
    `${k} ${median(v).toFixed(2)} ms`
  ).join("; ");
console.log(
  `on the main thread (the engine's calls, a step): ${medians(encoding)}; ` +
    `outside GPUQueue.submit ${medians(outsideSubmit)}`,
);
console.log(
  `blocks: ${
    Object.entries(results).filter(([, v]) => v.length > 0).map(([k, v]) =>
      `${k} ${v.map((x) => x.toFixed(2))}`
    ).join("; ")
  }`,
);
const profile = profiles.wgsl;
if (profile) {
  const total = profile.reduce((sum, d) => sum + d.ms, 0);
  const mixed = profiles.mixed;
  const mixedTotal = mixed?.reduce((sum, d) => sum + d.ms, 0);
  console.log(
    `WGSL step, each dispatch alone (${profile.length}, ${total.toFixed(2)} ms in all${
      mixed ? `; with mixedPrecision ${mixedTotal!.toFixed(2)} ms` : ""
    }):`,
  );
  for (const [i, d] of profile.entries()) {
    const share = (100 * d.ms / total).toFixed(1).padStart(5);
    console.log(
      `  ${String(i).padStart(2)} ${d.name.padEnd(32)} ${
        d.ms.toFixed(3).padStart(10)
      } ms ${share}%${mixed ? ` ${mixed[i].ms.toFixed(3).padStart(10)} ms mixed` : ""}`,
    );
  }
}
