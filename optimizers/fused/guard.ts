/**
 * The guard of the fused optimizer steps: a step whose loss or gradient norm is not finite is
 * skipped on the device, without a read-back. The step's `[loss, gradient norm]` (the first two
 * values of its results, already on the device) are copied into a four-word buffer
 * `[loss, gradient norm, skips, skip]`, one thread marks the step skipped and counts it
 * (`GUARD_WGSL`), and every update kernel of the step reads the mark and writes nothing
 * (see wgsl.ts). The count of skips lets the kernels take the bias corrections of the steps taken,
 * not of the steps queued, until the host reads the skips and counts them itself
 * ({@linkcode FusedStepGuard.learned}).
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { readSlots } from "../core.ts";
import { tensorBuffer, webGpuBackend, type WebGpuBackendInternals, writableBuffer } from "./gpu.ts";
import { kernelsFor } from "./pipelines.ts";
import type { GuardBinding } from "./fused_step.ts";

/**
 * Skips, on the device, the fused steps whose loss or gradient norm is not finite.
 *
 * @example
 * ```ts ignore
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { createFusedStep } from "./fused_step.ts";
 * import { FusedStepGuard } from "./guard.ts";
 * const w = tf.variable(tf.ones([4]));
 * const adam = createFusedStep("adam");
 * const guard = new FusedStepGuard();
 * // stats [NaN loss, norm]: the step leaves w as it is
 * adam.step([w], [tf.fill([4], 0.5)], 1e-3, undefined, guard.prepare(tf.tensor1d([NaN, 1])));
 * console.log(await guard.skips()); // 1
 * ```
 */
export class FusedStepGuard {
  #backend?: WebGpuBackendInternals;
  /** `[loss, gradient norm, skips, skip]`, a tensor so that it reads back with the slots. */
  #state?: tf.Tensor;
  #buffer?: GPUBuffer;
  #group?: GPUBindGroup;
  #pipeline?: GPUComputePipeline;
  #known = 0;

  #setup(): void {
    const backend = this.#backend = webGpuBackend("the fused steps' guard");
    this.#state = tf.keep(tf.zeros([4]));
    this.#buffer = writableBuffer(backend, this.#state);
    this.#pipeline = kernelsFor(backend.device, "sgd").guard;
    this.#group = backend.device.createBindGroup({
      layout: this.#pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer: this.#buffer } }],
    });
  }

  /**
   * Guards the next step by `stats` (its results: `[loss, gradient norm, ...]`, on the device):
   * the binding its update kernels take, whose `record` (the guard's own dispatch) the first pass
   * of the step records.
   */
  prepare(stats: tf.Tensor): GuardBinding {
    if (!this.#backend) this.#setup();
    const backend = this.#backend!;
    backend.ensureCommandEncoderReady();
    backend.endComputePassEncoder();
    backend.commandEncoder!.copyBufferToBuffer(
      tensorBuffer(backend, stats),
      0,
      this.#buffer!,
      0,
      8,
    );
    return {
      buffer: this.#buffer!,
      knownSkips: this.#known,
      record: (pass) => {
        pass.setPipeline(this.#pipeline!);
        pass.setBindGroup(0, this.#group!);
        pass.dispatchWorkgroups(1);
      },
    };
  }

  /** Steps skipped on the device since the last {@linkcode FusedStepGuard.reset} (a read-back). */
  async skips(): Promise<number> {
    if (!this.#state) return 0;
    const { state } = await readSlots([["state", this.#state]]);
    return state.values[2];
  }

  /** The host has read `count` more skipped steps (the kernels' corrections count them). */
  learned(count: number): void {
    this.#known += count;
  }

  /** A new optimizer state: no step skipped yet (after the steps queued so far). */
  reset(): void {
    this.#known = 0;
    if (this.#backend) this.#backend.queue.writeBuffer(this.#buffer!, 8, new Float32Array([0, 0]));
  }

  /** Frees the buffer. */
  dispose(): void {
    this.#state?.dispose();
    this.#state = undefined;
    this.#backend = undefined;
  }
}
