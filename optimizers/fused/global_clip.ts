/**
 * Global-norm gradient clipping on the device, for fused optimizer steps that span several
 * parameter groups: the sum of squares of every gradient, then `[norm, min(1, maxNorm / (norm +
 * 1e-6))]` (torch.nn.utils.clip_grad_norm_) into a two-word buffer that each group's update
 * kernels multiply their gradients by. `maxNorm` may change every step (AutoClip); nothing is read
 * back.
 *
 * @module
 */
import type * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import {
  recordPass,
  submitLeftover,
  tensorBuffer,
  webGpuBackend,
  type WebGpuBackendInternals,
} from "./gpu.ts";
import { type KernelSet, kernelsFor } from "./pipelines.ts";
import { UNIFORM_FIELDS as F, UNIFORM_FLOATS, UNIFORM_STRIDE, WORKGROUP } from "./wgsl.ts";

/** Computes a clip scale over many gradient tensors on the device. */
export class FusedGlobalClip {
  #backend?: WebGpuBackendInternals;
  #kernels?: KernelSet;
  #sizes: number[] = [];
  #partials: number[] = [];
  #uniforms?: GPUBuffer;
  #partialBuffer?: GPUBuffer;
  /** `[total norm, scale]`, written by {@linkcode FusedGlobalClip.record}. */
  clip?: GPUBuffer;
  #groups: GPUBindGroup[] = [];
  #scaleGroup?: GPUBindGroup;
  #bound: GPUBuffer[] = [];
  #maxNorm = NaN;
  /** The encoder of the last pass recorded, until a later record sees it submitted. */
  #encoder?: GPUCommandEncoder;

  #setup(grads: tf.Tensor[]): void {
    const backend = this.#backend = webGpuBackend("fused gradient clipping");
    const device = backend.device;
    this.#kernels = kernelsFor(device, "sgd");
    this.#sizes = grads.map((g) => g.size);
    this.#partials = this.#sizes.map((n) => Math.min(Math.ceil(n / (WORKGROUP * 4)), 256));
    const slots = grads.length + 1;
    this.#uniforms = device.createBuffer({
      size: slots * UNIFORM_STRIDE,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    const total = this.#partials.reduce((a, b) => a + b, 0);
    this.#partialBuffer = device.createBuffer({ size: 4 * total, usage: GPUBufferUsage.STORAGE });
    this.clip = device.createBuffer({
      size: 8,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    this.#scaleGroup = device.createBindGroup({
      layout: this.#kernels.clipScale.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: this.#slot(grads.length) },
        { binding: 1, resource: { buffer: this.#partialBuffer } },
        { binding: 2, resource: { buffer: this.clip } },
      ],
    });
  }

  #slot(i: number): GPUBufferBinding {
    return { buffer: this.#uniforms!, offset: i * UNIFORM_STRIDE, size: UNIFORM_FLOATS * 4 };
  }

  #writeUniforms(maxNorm: number): void {
    const data = new ArrayBuffer((this.#sizes.length + 1) * UNIFORM_STRIDE);
    const f = new Float32Array(data);
    const u = new Uint32Array(data);
    const total = this.#partials.reduce((a, b) => a + b, 0);
    let base = 0;
    for (let i = 0; i <= this.#sizes.length; i++) {
      const o = (i * UNIFORM_STRIDE) / 4;
      u[o + F.n] = this.#sizes[i] ?? 0;
      u[o + F.partialBase] = base;
      u[o + F.partialCount] = total;
      f[o + F.maxNorm] = maxNorm;
      base += this.#partials[i] ?? 0;
    }
    this.#backend!.queue.writeBuffer(this.#uniforms!, 0, data);
  }

  /**
   * Records the norm of `grads` and the scale for `maxNorm`; returns the `[norm, scale]` buffer.
   * Later steps must pass gradients of the same sizes, in the same order. The pass is left on
   * tfjs's encoder, submitted with the next submission (the update pass that reads the scale,
   * recorded next): one submission for both.
   */
  record(grads: tf.Tensor[], maxNorm: number): GPUBuffer {
    if (!this.#backend) this.#setup(grads);
    const backend = this.#backend!;
    if (grads.length !== this.#sizes.length || grads.some((g, i) => g.size !== this.#sizes[i])) {
      throw new Error("FusedGlobalClip: the gradients differ from the first step's");
    }
    // The last pass still waits on its encoder (no update pass submitted it): submitted first,
    // or the uniforms' write below would land before it.
    submitLeftover(backend, this.#encoder);
    this.#encoder = undefined;
    if (maxNorm !== this.#maxNorm) {
      this.#writeUniforms(maxNorm);
      this.#maxNorm = maxNorm;
    }
    const buffers = grads.map((g) => tensorBuffer(backend, g));
    if (!buffers.every((b, i) => b === this.#bound[i])) {
      this.#bound = buffers;
      this.#groups = buffers.map((buffer, i) =>
        backend.device.createBindGroup({
          layout: this.#kernels!.sumsq.getBindGroupLayout(0),
          entries: [
            { binding: 0, resource: this.#slot(i) },
            { binding: 1, resource: { buffer } },
            { binding: 2, resource: { buffer: this.#partialBuffer! } },
          ],
        })
      );
    }
    recordPass(backend, (pass) => {
      pass.setPipeline(this.#kernels!.sumsq);
      this.#groups.forEach((group, i) => {
        pass.setBindGroup(0, group);
        pass.dispatchWorkgroups(this.#partials[i]);
      });
      pass.setPipeline(this.#kernels!.clipScale);
      pass.setBindGroup(0, this.#scaleGroup!);
      pass.dispatchWorkgroups(1);
    }, false);
    this.#encoder = backend.commandEncoder ?? undefined;
    return this.clip!;
  }

  /** Frees the buffers (a pass still waiting to be submitted with them submitted first). */
  dispose(): void {
    submitLeftover(this.#backend, this.#encoder);
    this.#encoder = undefined;
    this.#uniforms?.destroy();
    this.#partialBuffer?.destroy();
    this.clip?.destroy();
    this.#backend = undefined;
  }
}
