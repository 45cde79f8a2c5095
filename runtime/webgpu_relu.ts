/**
 * `Relu` for tfjs-backend-webgpu in WGSL that passes a NaN on, as torch's and tfjs's cpu and wasm
 * relus do. tfjs-webgpu 4.22's shader is `select(a, 0.0, a < 0.0)`, and WGSL lets an
 * implementation assume no NaN: llvmpipe takes `NaN < 0.0` as true, so relu turned a NaN into 0,
 * and a cnn or an MLP evaluated a batch that holds a NaN to a finite loss (tfjs's kernels evaluate
 * them on a software adapter, and any model anneal's WGSL step does not cover). The NaN is found
 * by its bits (`NAN_OR_WGSL`), which no implementation assumes away.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { NAN_OR_WGSL } from "./dense/wgsl.ts";
import { type KernelArgs, overrideKernel } from "./wasm_heap.ts";
import { flatProgram, runProgram } from "./webgpu_program.ts";

/** The WGSL `Relu`; declines other dtypes than float32 (tfjs-webgpu's kernel takes them). */
export function reluNan({ inputs, backend }: KernelArgs): tf.TensorInfo | undefined {
  const { x } = inputs as { x: tf.TensorInfo };
  if (x.dtype !== "float32") return;
  if (tf.util.sizeFromShape(x.shape) === 0) return;
  const program = flatProgram(
    "anneal_relu_nan",
    ["x"],
    x.shape,
    `${NAN_OR_WGSL}
      fn main(index : i32) {
        if (index >= uniforms.size) { return; }
        let a = x[index];
        setOutputAtIndex(index, nanOr(a, select(a, 0.0, a < 0.0)));
      }`,
  );
  return runProgram(backend, program, [x]);
}

/**
 * Puts the WGSL `Relu` that keeps a NaN in front of tfjs-webgpu's (which still runs what it
 * declines). Returns the kernels overridden.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { releaseWebGpu, selectBackend } from "./backend.ts";
 * await selectBackend("webgpu");
 * const y = await tf.relu(tf.tensor1d([NaN, -1, 2])).data();
 * console.assert(Number.isNaN(y[0]) && y[1] === 0 && y[2] === 2);
 * await releaseWebGpu();
 * ```
 */
export function routeWebGpuRelu(): string[] {
  return overrideKernel("webgpu", "Relu", reluNan) ? ["Relu"] : [];
}
