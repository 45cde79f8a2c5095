/**
 * An evaluation (a validation or test pass) on WebGPU: tfjs's inference through its ops against
 * the WGSL step's forward pass in inference (`DenseGpuProgram.evaluate`: dropout off, batch norm
 * by its moving averages), for the benchmark's CNN (conv blocks with batch norm, `--model cnn`)
 * or an MLP with batch norm (`--model mlp`), on the same variables. Per evaluation of `--batch`
 * samples: the wall time of `--repeats` blocks of 4 evaluations read once (median), and the main
 * thread's time in the calls outside `GPUQueue.submit` (what a GPU's host spends; on llvmpipe a
 * submission runs the GPU's work before it returns). On a GPU host the engine evaluates through
 * the WGSL step; on a software adapter through tfjs's kernels, faster there (see
 * `TrainingEngine.evaluate`).
 *
 *   deno run -A bench/evaluate.ts [--model cnn|mlp] [--batch 256] [--repeats 5]
 *
 * @module
 */
import { benchFlags } from "./flags.ts";
import { parseConfig } from "../config.ts";
import { Rng } from "../data/rng.ts";
import { selectBackend } from "../runtime/backend.ts";
import { type DataShape, TrainingEngine } from "../runtime/engine.ts";
import { DenseGpuProgram } from "../runtime/dense/gpu_program.ts";
import { cnnPlan, densePlan } from "../runtime/dense/plan.ts";
import { median, submitClock } from "./runner.ts";

const values = benchFlags(
  {
    model: { type: "string", default: "cnn" },
    batch: { type: "string", default: "256" },
    repeats: { type: "string", default: "5" },
  },
  `Usage: deno run -A bench/evaluate.ts [--model cnn|mlp] [--batch 256] [--repeats 5]

An evaluation (a validation or test pass) on WebGPU: tfjs's inference through its ops against the
WGSL step's forward pass in inference (dropout off, batch norm by its moving averages), for the
benchmark's CNN (--model cnn) or an MLP with batch norm (--model mlp), on the same variables. Per
evaluation of --batch samples: the wall time of --repeats blocks of 4 evaluations read once
(median), and the main thread's time in the calls outside GPUQueue.submit.`,
);
const cnn = values.model === "cnn";
if (!cnn && values.model !== "mlp") throw new Error(`--model is cnn or mlp, not ${values.model}`);
const size = Number(values.batch);
const repeats = Number(values.repeats);
if (!(Number.isInteger(size) && size > 0 && Number.isInteger(repeats) && repeats > 0)) {
  throw new Error(`--batch and --repeats are positive integers: ${size}, ${repeats}`);
}

// time inside GPUQueue.submit, to take out of the main thread's
const inSubmit = submitClock();

const selection = await selectBackend("webgpu", cnn ? "cnn" : "mlp");
console.log(`# ${selection.adapter?.description || "WebGPU adapter"}: ${selection.reason}`);
const shape: DataShape = {
  inputShape: cnn ? [28, 28, 1] : [784],
  targetSize: 1,
  task: "classification",
  numClasses: 10,
};
const model = cnn
  ? { kind: "cnn", filters: [32, 64], dense: [128] }
  : { kind: "mlp", hidden: [512, 512], batchNorm: true };
// tfjs's path for the reference; the program trains and evaluates its variables
const config = parseConfig({ backend: "webgpu", fusedModel: false, model, batchSize: size });
const engine = new TrainingEngine(config, shape);
const plan = cnn
  ? cnnPlan(config, engine.model, engine.variables, "crossEntropy", shape.inputShape, 1)
  : densePlan(config, engine.variables, "crossEntropy", 1, engine.model);
if (typeof plan === "string") throw new Error(`the WGSL step does not take this model: ${plan}`);
const program = new DenseGpuProgram({ ...plan, evalRows: size });
const gen = new Rng(1);
const inputs = shape.inputShape.reduce((a, b) => a * b, 1);
const data = {
  x: Float32Array.from({ length: size * inputs }, () => gen.float()),
  y: Float32Array.from({ length: size }, (_, i) => i % 10),
  size,
};
// a training pass first: moving averages of its own, as after training
const { stats } = program.computeGradients([data]);
await stats.data();
stats.dispose();

const ways = {
  tfjs: () => {
    const steps = [0, 1, 2, 3].map(() => engine.evaluate(data));
    return async () => void await engine.readStats(steps);
  },
  wgsl: () => {
    const steps = [0, 1, 2, 3].map(() => program.evaluate(data));
    return async () => {
      for (const s of steps) {
        await s.data();
        s.dispose();
      }
    };
  },
};
const times: Record<string, { wall: number[]; host: number[] }> = {};
for (const [name, way] of Object.entries(ways)) {
  await way()(); // (warm: pipelines made, buffers allocated)
  times[name] = { wall: [], host: [] };
}
// the two ways alternated, block by block
for (let r = 0; r < repeats; r++) {
  for (const [name, way] of Object.entries(ways)) {
    const start = performance.now();
    const before = inSubmit();
    const read = way();
    const calls = performance.now() - start - (inSubmit() - before);
    await read();
    times[name].wall.push((performance.now() - start) / 4);
    times[name].host.push(calls / 4);
  }
}
const line = (name: string) =>
  `${median(times[name].wall).toFixed(2)} ms (host ${median(times[name].host).toFixed(2)} ms)`;
console.log(
  `${cnn ? "cnn 32,64 dense 128 with batch norm" : "mlp 784-512-512-10 with batch norm"}, an ` +
    `evaluation of ${size}: tfjs's ops ${line("tfjs")}, WGSL step ${line("wgsl")}: ` +
    `${(median(times.tfjs.wall) / median(times.wgsl.wall)).toFixed(2)}x, host ` +
    `${(median(times.tfjs.host) / median(times.wgsl.host)).toFixed(1)}x less`,
);
program.dispose();
engine.dispose();
