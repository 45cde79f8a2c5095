/**
 * `AnnealSgdUpdate` on tfjs-backend-wasm: one SGD step of a parameter tensor (torch's maximize,
 * L2 weight decay, momentum with dampening or Nesterov's) as one SIMD pass (`sgdUpdate` in
 * kernels.wat) instead of the reference chain's 3-6 tfjs ops, each a pass over the tensor. The
 * optimizers' `fusedSgd` transform runs it when the backend has it
 * (`createOptimizer(spec, { fusedKernels: true })`).
 *
 * Inputs `param`, `grad` (and `buffer`, the momentum buffer, after its first step), float32 of
 * one shape; outputs the parameter's new value and, with momentum, the new buffer.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { simdKernels } from "./wasm_simd/kernels.ts";
import { heapAddress, type KernelArgs, registerSimdKernel, wasmInternals } from "./wasm_heap.ts";

/** The kernel's name. */
export const SGD_UPDATE = "AnnealSgdUpdate";

/** The attributes of `AnnealSgdUpdate` (see kernels.wat's `sgdUpdate`). */
export interface SgdUpdateAttrs {
  /** Whether the step uses momentum (its buffer is written); false while the momentum is 0. */
  useMomentum: boolean;
  /** -1 for torch's `maximize` (the gradient is negated first), else 1. */
  gradSign: number;
  /** The L2 weight decay added to the gradient (0: none). */
  weightDecay: number;
  momentum: number;
  /** 1 - dampening, computed in float64. */
  dampened: number;
  nesterov: boolean;
  /** The factor of the update added to the parameter: -lr. */
  negLr: number;
}

function sgdUpdate({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo[] {
  const { param, grad, buffer } = inputs as Record<string, tf.TensorInfo | undefined>;
  const a = attrs as unknown as SgdUpdateAttrs;
  const wasm = wasmInternals(backend);
  const simd = simdKernels(wasm);
  if (!simd) throw new Error("AnnealSgdUpdate needs anneal's SIMD kernels");
  const shape = param!.shape;
  const outputs = (a.useMomentum ? [param, param] : [param]).map(() =>
    wasm.makeOutput(shape, "float32")
  );
  const at = (info: tf.TensorInfo | undefined) => info ? heapAddress(wasm, info) : 0;
  simd.sgdUpdate(
    at(param),
    at(grad),
    a.useMomentum ? at(buffer) : 0,
    at(outputs[0]),
    a.useMomentum ? at(outputs[1]) : 0,
    tf.util.sizeFromShape(shape),
    a.useMomentum ? 1 : 0,
    a.useMomentum && buffer ? 1 : 0,
    a.nesterov ? 1 : 0,
    // (tested before rounding: a decay under float32's least value still adds p * 0, NaN for an
    // infinite p, as the chain's `weightDecay === 0` test does)
    a.weightDecay !== 0 ? 1 : 0,
    a.gradSign,
    a.weightDecay,
    a.momentum,
    a.dampened,
    a.negLr,
  );
  return outputs;
}

/**
 * Registers `AnnealSgdUpdate` for wasm (once) when the engine runs anneal's SIMD kernels;
 * returns whether it is registered.
 */
export function registerWasmSgd(): boolean {
  return registerSimdKernel(SGD_UPDATE, sgdUpdate);
}
