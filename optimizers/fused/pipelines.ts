/**
 * Compute pipelines of the fused kernels, built once per device and optimizer kind.
 *
 * @module
 */

import { ADAM_WGSL, CLIP_SCALE_WGSL, GUARD_WGSL, LION_WGSL, SGD_WGSL, SUMSQ_WGSL } from "./wgsl.ts";

/** The pipelines one fused optimizer uses, and a 4-byte buffer bound where a slot is unused. */
export interface KernelSet {
  update: GPUComputePipeline;
  sumsq: GPUComputePipeline;
  clipScale: GPUComputePipeline;
  /** Marks a step whose loss or gradient norm is not finite skipped ({@linkcode GUARD_WGSL}). */
  guard: GPUComputePipeline;
  dummy: GPUBuffer;
}

const SOURCES: Record<string, string> = {
  sgd: SGD_WGSL,
  adam: ADAM_WGSL,
  adamw: ADAM_WGSL,
  lion: LION_WGSL,
};

const cache = new WeakMap<GPUDevice, Map<string, KernelSet>>();

function pipeline(device: GPUDevice, code: string, label: string): GPUComputePipeline {
  return device.createComputePipeline({
    label,
    layout: "auto",
    compute: { module: device.createShaderModule({ code, label }), entryPoint: "main" },
  });
}

/**
 * The pipelines for `kind` on `device` (cached).
 *
 * @example
 * ```ts ignore
 * import { kernelsFor } from "./pipelines.ts";
 * const adapter = await navigator.gpu.requestAdapter();
 * const device = await adapter!.requestDevice();
 * console.log(kernelsFor(device, "adam").update.label);
 * ```
 */
export function kernelsFor(device: GPUDevice, kind: string): KernelSet {
  let perDevice = cache.get(device);
  if (!perDevice) cache.set(device, perDevice = new Map());
  let set = perDevice.get(kind);
  if (!set) {
    set = {
      update: pipeline(device, SOURCES[kind], `anneal fused ${kind}`),
      sumsq: pipeline(device, SUMSQ_WGSL, "anneal fused sumsq"),
      clipScale: pipeline(device, CLIP_SCALE_WGSL, "anneal fused clip scale"),
      guard: pipeline(device, GUARD_WGSL, "anneal fused guard"),
      dummy: device.createBuffer({ size: 4, usage: GPUBufferUsage.STORAGE }),
    };
    perDevice.set(kind, set);
  }
  return set;
}
