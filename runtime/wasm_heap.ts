/**
 * Writing wasm kernels in TypeScript: views of tensors on tfjs-backend-wasm's heap, outputs
 * allocated there, and overriding one of its kernels with a faster one that may decline a case
 * (the kernel registered before it then runs).
 *
 * tfjs-backend-wasm 4.22 keeps every tensor in the module's linear memory; `makeOutput` mallocs
 * there and `typedArrayFromHeap` views it. A malloc may grow (and so replace) the memory's
 * buffer, so take views only after the last allocation of a kernel.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { AnnealError } from "../errors.ts";
import { simdKernels } from "./wasm_simd/kernels.ts";

/** The parts of tfjs-backend-wasm's `BackendWasm` that TypeScript kernels use. */
export interface WasmBackendInternals {
  /** Allocates an uninitialised tensor on the heap. */
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  /** A view of a tensor's values on the heap (valid until the next allocation). */
  typedArrayFromHeap(info: tf.TensorInfo): tf.backend_util.TypedArray;
  /** Drops one reference to a tensor's buffer (frees it at zero, or always with `force`). */
  disposeData(dataId: object, force?: boolean): boolean;
}

/** The arguments tfjs hands a kernel function. */
export type KernelArgs = Parameters<tf.KernelFunc>[0];

/** A kernel that returns undefined for the cases it leaves to the kernel it replaced. */
export type DecliningKernel = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[] | undefined;

/** Per backend/kernel name, the declining kernels chained in front of tfjs's, first to last. */
const overrides = new Map<string, Set<DecliningKernel>>();
const replaced = new Map<string, tf.KernelFunc>();

/** The wasm backend's internals behind a kernel's `backend` argument. */
export function wasmInternals(backend: unknown): WasmBackendInternals {
  return backend as WasmBackendInternals;
}

/** The float32 values of `info` on the heap; take it after the kernel's last allocation. */
export function heapFloats(backend: WasmBackendInternals, info: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/**
 * The byte offset of a tensor's values in the wasm memory: the pointer anneal's SIMD kernels
 * take (stable across heap growth, unlike a view).
 */
export function heapAddress(backend: WasmBackendInternals, info: tf.TensorInfo): number {
  return backend.typedArrayFromHeap(info).byteOffset;
}

/** Runs wasm's registered kernel `name` (e.g. `Conv2D`) on heap tensors. */
export function runWasmKernel(
  name: string,
  inputs: Record<string, tf.TensorInfo>,
  attrs: Record<string, unknown>,
  backend: unknown,
): tf.TensorInfo {
  const kernel = tf.getKernel(name, "wasm");
  if (!kernel) {
    throw new AnnealError("backend", `Cannot run wasm kernel '${name}': it is not registered`, {
      where: "runtime/wasm_heap.ts",
      hint: "select the wasm backend (selectBackend('wasm')) before training on it",
    });
  }
  return kernel.kernelFunc({
    inputs,
    attrs: attrs as tf.NamedAttrMap,
    backend: backend as tf.KernelBackend,
  }) as tf.TensorInfo;
}

/**
 * Replaces wasm's kernel `name` by `fast`, which runs first and returns undefined for the cases
 * it does not handle: those go to the kernel registered before. Once per kernel: a later call
 * with the same `fast` does nothing, another kernel for the same name goes in front of both.
 * Returns false when wasm has no kernel of that name to fall back to.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
 * import { overrideWasmKernel } from "./wasm_heap.ts";
 * await tf.setBackend("wasm");
 * // an Identity that declines every case: the stock kernel still answers
 * console.assert(overrideWasmKernel("Identity", () => undefined));
 * console.assert(tf.ones([2]).clone().dataSync()[1] === 1);
 * ```
 */
export function overrideWasmKernel(name: string, fast: DecliningKernel): boolean {
  return overrideKernel("wasm", name, fast);
}

/**
 * {@linkcode overrideWasmKernel} for any backend: `backendName`'s kernel `name` replaced by
 * `fast`, the kernel registered before answering what `fast` declines.
 */
export function overrideKernel(
  backendName: string,
  name: string,
  fast: DecliningKernel,
): boolean {
  const key = `${backendName}/${name}`;
  const current = tf.getKernel(name, backendName);
  if (!current) return false;
  const chain = overrides.get(key) ?? new Set();
  if (chain.has(fast)) return true;
  const fallback = current.kernelFunc;
  const kernelFunc: tf.KernelFunc = (args) => fast(args) ?? fallback(args);
  overrides.set(key, chain.add(fast));
  // the kernel before anneal's first override of this name (later ones chain in front of it)
  if (!replaced.has(key)) replaced.set(key, fallback);
  tf.unregisterKernel(name, backendName);
  tf.registerKernel({ ...current, kernelFunc });
  return true;
}

/**
 * The kernel `name` of `backendName` as it was before anneal's overrides (tfjs's own, for A/B
 * benchmarks against what they replaced); undefined when it was not overridden.
 */
export function replacedWasmKernel(name: string, backendName = "wasm"): tf.KernelFunc | undefined {
  return replaced.get(`${backendName}/${name}`);
}

/**
 * Registers `kernelFunc` as wasm's kernel `name` (once) where the wasm backend runs anneal's SIMD
 * kernels (the optimizers' fused updates); returns whether it is registered.
 */
export function registerSimdKernel(
  name: string,
  kernelFunc: (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[],
): boolean {
  if (!tf.getKernel(name, "wasm")) {
    const wasm = tf.findBackend("wasm");
    if (!wasm || !simdKernels(wasm)) return false;
    tf.registerKernel({
      kernelName: name,
      backendName: "wasm",
      kernelFunc: kernelFunc as unknown as tf.KernelFunc,
    });
  }
  return true;
}
