/**
 * The control block shared by anneal's kernel pool (`pool.ts`) and its threads
 * (`pool_worker.ts`): one slot per thread of `SLOT_WORDS` int32 words, laid out as {@link Word},
 * the arguments as float64 from word `Word.args` (8-byte aligned).
 *
 * @module
 */
import type { SimdKernels } from "./kernels.ts";
import { PLAIN, PLAIN_RELAXED, SHARED, SHARED_RELAXED } from "./kernels_wasm.ts";

/** The kernels a pool thread can run, by index. */
export const POOL_KERNELS = [
  "centredSums",
  "affine",
  "reluGrad",
  "maxPoolGrad2x2",
  "maxPool2x2",
  "panelProduct",
  "gemm",
  "winogradInput",
  "winogradOutput",
  "winogradGradient",
] as const satisfies readonly (keyof SimdKernels)[];

/** A kernel a pool thread can run. */
export type PoolKernel = typeof POOL_KERNELS[number];

/** Word offsets within a slot. */
export const Word = {
  /** Bumped by the pool to start a call (negative: the thread ends). */
  start: 0,
  /** Set by the thread to `start`'s value when the call is done. */
  done: 1,
  kernel: 2,
  count: 3,
  /** 1 when the call threw. */
  failed: 4,
  /** 0 while the call is unclaimed: the pool's thread or the caller, whoever sets it to 1 first, runs it. */
  claim: 5,
  /**
   * Nonzero while the pool holds its thread before it claims a call (`KernelPool.hold`, to test
   * the caller's taking over parts of a thread that lost its core).
   */
  hold: 6,
  /** The arguments (float64) from here; the first becomes the kernel's result. */
  args: 8,
} as const;

/** Arguments a call may have. */
export const SLOT_ARGS = 12;

/** Int32 words per slot (even, so that every slot's float64 arguments stay aligned). */
export const SLOT_WORDS = Word.args + 2 * SLOT_ARGS;

/** Bytes of kernels.wat from the base64 in kernels_wasm.ts. */
export function decodeKernels(base64: string): Uint8Array<ArrayBuffer> {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

let relaxed: boolean | undefined;

/** Whether this engine validates relaxed SIMD (V8 since 2023: Deno, Chromium). */
export function relaxedSimd(): boolean {
  relaxed ??= WebAssembly.validate(decodeKernels(PLAIN_RELAXED));
  return relaxed;
}

/**
 * The build of kernels.wat for a plain or a shared memory: with relaxed SIMD's fused
 * multiply-adds where this engine validates them, else plain SIMD. The pool's threads choose as
 * the caller does, so every part of a product rounds alike.
 */
export function kernelBytes(shared: boolean): Uint8Array<ArrayBuffer> {
  if (relaxedSimd()) return decodeKernels(shared ? SHARED_RELAXED : PLAIN_RELAXED);
  return decodeKernels(shared ? SHARED : PLAIN);
}
