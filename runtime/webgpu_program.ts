/**
 * Running anneal's own WGSL programs through tfjs-backend-webgpu (`runWebGPUProgram`): the parts
 * of its `WebGPUProgram` that anneal's programs fill in, and freeing their intermediate outputs.
 * The backend writes the program's bindings (inputs by `variableNames`, `result`), shape
 * uniforms, `uniforms.size` when `size` is set, and helpers such as `getCoordsFromIndex` and
 * `setOutputAtIndex`; `getUserCode` supplies `fn main(index : i32)` (flat dispatch layouts) or
 * `fn main()`.
 *
 * @module
 */
import type * as tf from "npm:@tensorflow/tfjs-core@4.22.0";

/** The parts of tfjs-backend-webgpu's `WebGPUProgram` that anneal's programs set. */
export interface WebGpuProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[]; y?: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  size: boolean;
  /** Extra uniforms, WGSL struct fields (`rows : i32, eps : f32,`), in the order given. */
  uniforms?: string;
  /** Per input, its binding's element width (4: `array<vec4<f32>>`); default `outputComponent`. */
  variableComponents?: number[];
  /** The output binding's element width (4: `array<vec4<f32>>`); default 1. */
  outputComponent?: number;
  getUserCode(): string;
}

/** A program uniform as tfjs-webgpu takes it. */
export interface Uniform {
  type: string;
  data: number[];
}

interface Backend {
  runWebGPUProgram(
    program: WebGpuProgram,
    inputs: tf.TensorInfo[],
    dtype: tf.DataType,
    uniforms?: Uniform[],
  ): tf.TensorInfo;
  disposeData(dataId: object): boolean;
}

/**
 * A program of one thread per output value, in workgroups of 64: `code` holds its
 * `fn main(index : i32)` (and its helpers), which returns for `index >= uniforms.size`.
 */
export function flatProgram(
  shaderKey: string,
  variableNames: string[],
  outputShape: number[],
  code: string,
  uniforms?: string,
): WebGpuProgram {
  const size = outputShape.reduce((a, b) => a * b, 1);
  return {
    variableNames,
    outputShape,
    shaderKey,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [Math.ceil(size / 64), 1, 1],
    workgroupSize: [64, 1, 1],
    size: true,
    uniforms,
    getUserCode: () => code,
  };
}

/** Runs `program` on the webgpu `backend`: a new float32 output. */
export function runProgram(
  backend: unknown,
  program: WebGpuProgram,
  inputs: tf.TensorInfo[],
  uniforms?: Uniform[],
): tf.TensorInfo {
  return (backend as Backend).runWebGPUProgram(program, inputs, "float32", uniforms);
}

/** Frees an intermediate output of {@linkcode runProgram} (once the programs reading it are queued). */
export function disposeOutput(backend: unknown, info: tf.TensorInfo): void {
  (backend as Backend).disposeData(info.dataId);
}
