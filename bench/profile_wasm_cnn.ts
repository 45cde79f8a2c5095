/**
 * Kernel-by-kernel profile of one training step (gradients and an Adam update) of `workloads.ts`'s
 * `cnn` on a backend: total milliseconds per kernel name, biggest first.
 *
 * Usage: `deno run -A bench/profile_wasm_cnn.ts [--backend wasm] [--steps 3] [--engine]`
 * (`PROFILE_ROWS=40` lists 40 kernels a step instead of 16)
 * (`--engine`: the step of anneal's TrainingEngine on the model `anneal train` builds, as the
 * bench's `engine` rows; else the workload's tfjs ops).
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { benchFlags } from "./flags.ts";
import { type BackendRequest, selectBackend } from "../runtime/backend.ts";
import { buildWorkload } from "./workloads.ts";
import { makeEngineStepper } from "./runner.ts";

const flags = benchFlags(
  {
    backend: { type: "string", default: "wasm" },
    workload: { type: "string", default: "cnn" },
    steps: { type: "string", default: "3" },
    engine: { type: "boolean", default: false },
  },
  `Usage: deno run -A bench/profile_wasm_cnn.ts [--backend wasm] [--workload cnn] [--steps 3]
    [--engine]

Kernel-by-kernel profile of one training step (gradients and an Adam update) of a workload of
bench/workloads.ts (--workload) on a backend: total milliseconds per kernel name, biggest first.
--engine profiles the step of anneal's TrainingEngine on the model anneal train builds (as the
bench's engine rows), else the workload's tfjs ops; PROFILE_ROWS=40 lists 40 kernels a step
instead of 16.`,
);
const selection = await selectBackend(flags.backend as BackendRequest, "cnn");
console.log(`# ${selection.backend}: ${selection.reason}`);
const w = buildWorkload(flags.workload!);
const optimizer = tf.train.adam(w.lr, 0.9, 0.999, 1e-8);
const stepper = flags.engine ? makeEngineStepper(w) : undefined;
const step = () =>
  stepper ? stepper.step() : tf.tidy(() => {
    const { value, grads } = tf.variableGrads(w.loss, w.vars);
    optimizer.applyGradients(grads as Record<string, tf.Variable>);
    return value;
  });
step().dispose(); // warm-up: kernels compiled, buffers allocated
for (let s = 0; s < Number(flags.steps); s++) {
  const start = performance.now();
  const info = await tf.profile(() => step());
  const wall = performance.now() - start;
  const byKernel = new Map<string, { ms: number; calls: number; shapes: Set<string> }>();
  for (const k of info.kernels) {
    const entry = byKernel.get(k.name) ?? { ms: 0, calls: 0, shapes: new Set() };
    entry.ms += await k.kernelTimeMs as number;
    entry.calls++;
    entry.shapes.add(k.inputShapes.map((shape) => `[${shape}]`).join(" "));
    byKernel.set(k.name, entry);
  }
  const rows = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((sum, [, e]) => sum + e.ms, 0);
  console.log(`step ${s}: wall ${wall.toFixed(0)} ms, kernels ${total.toFixed(0)} ms`);
  for (const [name, e] of rows.slice(0, Number(Deno.env.get("PROFILE_ROWS") ?? 16))) {
    const shapes = [...e.shapes].slice(0, 3).join(" | ");
    console.log(
      `  ${name.padEnd(24)} ${e.ms.toFixed(1).padStart(8)} ms ${
        String(e.calls).padStart(4)
      }x  ${shapes}`,
    );
  }
}
w.dispose();
