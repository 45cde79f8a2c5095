/**
 * `deno task bench`: the workloads of `bench/torch_reference.py` on every tfjs backend available,
 * side by side with PyTorch run in the same invocation, as a ratio table. PyTorch runs each
 * workload right after ours, once per backend (on the CPU beside the CPU backends, unless
 * `--device` says), so that a ratio pairs two measurements of the same minute: on a shared
 * machine the load moves between minutes.
 *
 *   deno run -A bench/main.ts [--backend cpu,wasm,webgpu]
 *     [--only mlp,cnn,lstm,mlp_sgd,seed_linear,optim,matmul]
 *     [--steps N] [--warmup N] [--repeats N] [--python /usr/bin/python3 | --python none]
 *     [--device cpu] [--threads 2] [--json out.json] [--markdown]
 *
 * `--threads N` gives PyTorch N intra-op threads and tfjs-wasm N threads (at most 8); the default
 * is the machine's core count for both, so that they use the same cores. (`anneal train` leaves
 * a core to the actors: see runtime/backend.ts.)
 *
 * CPU backends default to few steps (the lstm and the cnn take seconds a step on tfjs-cpu; the
 * cnn took ~100 s there before anneal's filter-gradient and pooling kernels). On webgpu every
 * workload runs twice: tfjs's optimizers (`tfjs`) and the fused WGSL step (`fused`). The
 * MLPs, the CNN and the LSTM also run through anneal's training engine (`engine`: the model as
 * `anneal train` builds it; on wasm with anneal's SIMD kernels, as the LSTM's cell; on webgpu the
 * WGSL step, and with mixedPrecision as `engine-f16` where that step takes it). On webgpu, `matmul` times
 * square fp32 products (bench/matmul.ts): anneal's tiled kernel, tfjs-webgpu's, PyTorch's.
 *
 * @module
 */

import { benchFlags } from "./flags.ts";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { type BackendRequest, selectBackend } from "../runtime/backend.ts";
import { optimizerOnly, seedLinear } from "./extras.ts";
import { makeStepper, median, type OptimizerPath, timeSteps } from "./runner.ts";
import { actorSeconds } from "./actor_run.ts";
import { buildWorkload, WORKLOAD_NAMES } from "./workloads.ts";
import { markdownTable, type Row, textTable } from "./table.ts";
import { runTorch, torchPython, type TorchResult } from "./torch.ts";
import { type MatmulRow, matmulRows, matmulTable } from "./matmul.ts";
import { MATMUL_VARIANTS, ROUTE_VARIANT } from "../runtime/webgpu_matmul.ts";

const flags = benchFlags(
  {
    backend: { type: "string", default: "" },
    only: { type: "string", default: "" },
    steps: { type: "string", default: "" },
    warmup: { type: "string", default: "" },
    repeats: { type: "string", default: "3" },
    python: { type: "string", default: "" },
    device: { type: "string", default: "" },
    threads: { type: "string", default: "" },
    json: { type: "string", default: "" },
    markdown: { type: "boolean", default: false },
  },
  `Usage: deno run -A bench/main.ts [--backend cpu,wasm,webgpu]
    [--only mlp,cnn,lstm,mlp_sgd,seed_linear,optim,matmul]
    [--steps N] [--warmup N] [--repeats N] [--python /usr/bin/python3 | --python none]
    [--device cpu] [--threads N] [--json out.json] [--markdown]

The workloads of bench/torch_reference.py (same shapes and hyperparameters) on every tfjs backend
available (a software WebGPU adapter only when named), side by side with PyTorch run in the same
invocation where a python3 with torch exists (each workload right after ours, on the CPU beside the
CPU backends unless --device says), as ms/step, samples/s and ratios. The first part of
\`deno task bench\`, then bench/actor_overhead.ts and bench/startup.ts (each takes --help).`,
);

const ALL = [...WORKLOAD_NAMES, "seed_linear", "optim", "matmul"];
const only = flags.only ? flags.only.split(",") : ALL;
const repeats = Number(flags.repeats);
const threads = flags.threads || String(navigator.hardwareConcurrency);
const python = flags.python === "none" ? undefined : await torchPython(flags.python || "auto");
/** PyTorch's results, each with the backend of ours it ran beside. */
const torch: TorchResult[] = [];
const CPU_STEPS: Record<string, number> = { mlp: 5, mlp_sgd: 5, cnn: 2, lstm: 2 };
// A block ends with one read-back (~11 ms on the H100 and H200: Deno's mapAsync polls), so a
// block of WebGPU steps must take well over that: at 5 CNN steps of ~5 ms the read added ~2 ms a
// step to the H200's figure, whose dispatches alone sum to 2.6 ms.
const GPU_STEPS: Record<string, number> = { mlp: 50, mlp_sgd: 50, cnn: 50, lstm: 30 };

async function backends(): Promise<string[]> {
  if (flags.backend) return flags.backend.split(",");
  const gpu = await navigator.gpu?.requestAdapter().catch(() => null);
  // A software adapter (llvmpipe) is far too slow to benchmark: only when asked for.
  return gpu && !gpu.info.isFallbackAdapter ? ["webgpu", "wasm", "cpu"] : ["wasm", "cpu"];
}

/**
 * PyTorch's side of `workload`, run now, beside ours on `backend`: on the CPU for the CPU
 * backends (the comparison the targets name), on its default device (CUDA where there is one)
 * beside WebGPU; `--device` overrides both.
 */
async function torchBeside(backend: string, workload: string): Promise<void> {
  if (python === undefined) return;
  const device = flags.device || (backend === "webgpu" ? undefined : "cpu");
  const results = await runTorch({ python, only: [workload], device, threads, steps: flags.steps });
  for (const result of results) torch.push({ ...result, backend });
}

async function benchBackend(backend: string, rows: Row[]): Promise<Record<string, unknown>> {
  // PyTorch's intra-op threads, and as many wasm threads (at most 8), so both use the same cores
  const wasmThreads = Math.min(8, Number(threads));
  const selection = await selectBackend(backend as BackendRequest, "cnn", { wasmThreads });
  const info: Record<string, unknown> = { backend, reason: selection.reason };
  if (selection.adapter) info.adapter = selection.adapter.description;
  console.error(`# ${backend}: ${selection.reason}`);
  const gpu = backend === "webgpu";
  for (const name of WORKLOAD_NAMES.filter((n) => only.includes(n))) {
    if (backend === "wasm" && name === "cnn" && !tf.getKernel("Conv2DBackpropFilter", "wasm")) {
      console.error("# wasm cnn skipped: Conv2DBackpropFilter is not registered for wasm");
      continue;
    }
    const steps = Number(flags.steps) || (gpu ? GPU_STEPS : CPU_STEPS)[name];
    const warmup = flags.warmup ? Number(flags.warmup) : gpu ? (name === "cnn" ? 2 : 5) : 1;
    const paths: OptimizerPath[] = gpu ? ["tfjs", "fused"] : ["tfjs"];
    // (the lstm's engine: on wasm with anneal's SIMD cell kernels, on webgpu the WGSL step)
    if (name.startsWith("mlp") || name === "cnn" || name === "lstm") paths.push("engine");
    // mixed precision (float16 activations) where the WGSL step takes it: against torch's fp32
    if (gpu && paths.includes("engine")) paths.push("engine-f16");
    for (const path of paths) {
      const w = buildWorkload(name);
      let stepper;
      try {
        stepper = makeStepper(w, path);
      } catch (error) {
        // (a model mixedPrecision does not cover: the engine refuses it at its start)
        console.error(`# ${name} ${backend} ${path} not run: ${(error as Error).message}`);
        w.dispose();
        continue;
      }
      const r = await timeSteps(stepper, steps, warmup, repeats);
      stepper.dispose();
      w.dispose();
      rows.push({
        workload: name,
        backend,
        optimizer: path,
        batch: w.batch,
        steps,
        msPerStep: r.msPerStep,
        samplesPerS: (w.batch / r.msPerStep) * 1000,
        spread: r.blocks,
        loss: r.loss,
      });
      console.error(`${name} ${backend} ${path}: ${r.msPerStep.toFixed(2)} ms/step`);
    }
    await torchBeside(backend, name);
  }
  if (only.includes("seed_linear")) {
    const s = await seedLinear();
    rows.push({
      workload: "seed_linear",
      backend,
      optimizer: "tfjs",
      msPerStep: s.wallMs,
      wall: true,
      loss: s.finalLoss,
    });
    console.error(`seed_linear ${backend}: ${s.wallMs.toFixed(0)} ms wall`);
    // The same experiment as `anneal train` runs it: the five actors, the default config.
    const runsDir = await Deno.makeTempDir({ prefix: "anneal-bench-seed-" });
    const walls: number[] = [];
    for (let r = 0; r < repeats; r++) {
      walls.push((await actorSeconds({ backend: backend as BackendRequest }, runsDir)).seconds);
    }
    await Deno.remove(runsDir, { recursive: true });
    const wall = median(walls) * 1000;
    rows.push({
      workload: "seed_linear",
      backend,
      optimizer: "anneal",
      msPerStep: wall,
      spread: walls.map((w) => w * 1000),
      wall: true,
    });
    console.error(`seed_linear ${backend} anneal train (actors): ${wall.toFixed(0)} ms wall`);
    await torchBeside(backend, "seed_linear");
  }
  if (gpu && only.includes("matmul")) {
    // square fp32 products: anneal's tiled kernel, tfjs-webgpu's, PyTorch's (same machine)
    const slow = selection.adapter?.isFallbackAdapter;
    // (the route's kernel also through tfjs's runWebGPUProgram: the host's part of a product)
    matmul = await matmulRows(
      slow ? [256, 512] : [512, 1024, 2048, 4096],
      python,
      flags.device,
      MATMUL_VARIANTS,
      [ROUTE_VARIANT],
    );
    info.matmul = matmul;
  }
  if (gpu && only.includes("optim")) {
    info.optimizerOnly = await optimizerOnly(Number(flags.steps) || 200, repeats);
    console.error("# optimizer step alone (mlp, Adam):", JSON.stringify(info.optimizerOnly));
  }
  return info;
}

const rows: Row[] = [];
let matmul: MatmulRow[] = [];
const machine: Record<string, unknown> = {
  date: new Date().toISOString(),
  deno: Deno.version.deno,
  cpus: navigator.hardwareConcurrency,
  backends: [] as unknown[],
};
for (const backend of await backends()) {
  try {
    (machine.backends as unknown[]).push(await benchBackend(backend, rows));
  } catch (error) {
    console.error(`# ${backend} failed: ${(error as Error).message}`);
  }
}
console.log(flags.markdown ? markdownTable(rows, torch) : textTable(rows, torch));
if (matmul.length) console.log(`\nmatmul-bound (fp32, n x n):\n${matmulTable(matmul)}`);
if (flags.json) {
  await Deno.writeTextFile(flags.json, JSON.stringify({ machine, rows, torch }, null, 2));
}
