/**
 * `AnnealAdamUpdate` on tfjs-backend-wasm: one Adam/AdamW step of a parameter tensor as one SIMD
 * pass (`adamUpdate` in kernels.wat) instead of the reference chain's ~15 tfjs ops, each a pass
 * over the tensor with ~25 us of dispatch. The optimizers' `fusedAdam` transform runs it when
 * the backend has it (`createOptimizer(spec, { fusedKernels: true })`).
 *
 * Inputs `param`, `grad`, `m`, `v` (and `vmax` with amsgrad), float32 of one shape; outputs the
 * parameter's new value (torch's `param.mul_(1 - lr * wd)` for AdamW, then its `addcdiv_`), m', v'
 * (and vmax').
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { simdKernels } from "./wasm_simd/kernels.ts";
import { heapAddress, type KernelArgs, registerSimdKernel, wasmInternals } from "./wasm_heap.ts";

/** The kernel's name. */
export const ADAM_UPDATE = "AnnealAdamUpdate";

/** The attributes of `AnnealAdamUpdate` (see kernels.wat's `adamUpdate`). */
export interface AdamUpdateAttrs {
  amsgrad: boolean;
  beta1: number;
  beta2: number;
  eps: number;
  /** 1 - beta1, computed in float64 (as torch's `alpha=1 - beta1`). */
  beta1c: number;
  /** 1 - beta2, computed in float64. */
  beta2c: number;
  /** sqrt(1 - beta2^step). */
  root2: number;
  /** torch's `step_size`, lr / (1 - beta1^step), computed in float64. */
  stepSize: number;
  /** Adam's L2 term (added to the gradient). */
  coupled: number;
  /** The factor of AdamW's decoupled decay, 1 - lr * weightDecay (1 for Adam), in float64. */
  decay: number;
  /** -1 for torch's `maximize` (the gradient is negated before everything else), else 1. */
  gradSign: number;
}

function adamUpdate({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo[] {
  const { param, grad, m, v, vmax } = inputs as Record<string, tf.TensorInfo>;
  const a = attrs as unknown as AdamUpdateAttrs;
  const wasm = wasmInternals(backend);
  const simd = simdKernels(wasm);
  if (!simd) throw new Error("AnnealAdamUpdate needs anneal's SIMD kernels");
  const n = tf.util.sizeFromShape(param.shape);
  const outputs = [param, m, v, ...(a.amsgrad ? [vmax] : [])].map(() =>
    wasm.makeOutput(param.shape, "float32")
  );
  const at = (info: tf.TensorInfo | undefined) => info ? heapAddress(wasm, info) : 0;
  simd.adamUpdate(
    at(param),
    at(grad),
    at(m),
    at(v),
    a.amsgrad ? at(vmax) : 0,
    at(outputs[0]),
    at(outputs[1]),
    at(outputs[2]),
    a.amsgrad ? at(outputs[3]) : 0,
    n,
    a.amsgrad ? 1 : 0,
    a.beta1,
    a.beta2,
    a.eps,
    a.beta1c,
    a.beta2c,
    a.root2,
    a.stepSize,
    a.coupled,
    a.decay,
    a.gradSign,
  );
  return outputs;
}

/**
 * Registers `AnnealAdamUpdate` for wasm (once) when the engine runs anneal's SIMD kernels;
 * returns whether it is registered.
 */
export function registerWasmAdam(): boolean {
  return registerSimdKernel(ADAM_UPDATE, adamUpdate);
}
