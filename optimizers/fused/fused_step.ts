/**
 * `createFusedStep(kind, hyper)`: SGD, Adam, AdamW and Lion as one WGSL dispatch per parameter
 * tensor on the tfjs webgpu backend, updating the variable and its slots in place (no new
 * tensors after the first step), with an optional global-norm clip computed on the device (two
 * reduction stages, no read-back) whose scale the update kernels apply.
 *
 * Why raw WebGPU on the tensors' own buffers rather than `backend.runWebGPUProgram`: a tfjs
 * program has one output and binds its inputs read-only, so Adam would need three programs per
 * tensor (m, v, p) and each tfjs program costs 60-120 us of encoding (shader key, fresh uniform
 * buffer, fresh bind group). Here a pipeline per kind and a bind group per tensor are made once
 * and reused; a step is one `writeBuffer` of the uniforms and one compute pass.
 *
 * @module
 */

import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { AnnealError } from "../../errors.ts";
import { readSlots } from "../core.ts";
import {
  ensureExclusive,
  recordPass,
  tensorBuffer,
  webGpuBackend,
  type WebGpuBackendInternals,
  writableBuffer,
} from "./gpu.ts";
import { type KernelSet, kernelsFor } from "./pipelines.ts";
import {
  SKIP_TABLE,
  TABLE_OFFSET,
  UNIFORM_FIELDS as F,
  UNIFORM_FLOATS,
  UNIFORM_STRIDE,
  WORKGROUP,
} from "./wgsl.ts";

/** The optimizers with a fused kernel. */
export type FusedKind = "sgd" | "adam" | "adamw" | "lion";

/** Hyperparameters, PyTorch names and defaults (AdamW: weightDecay 0.01; Lion: betas 0.9/0.99). */
export interface FusedHyper {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  amsgrad?: boolean;
  /** torch's `maximize` (sgd, adam, adamw): the gradient is negated before the update reads it. */
  maximize?: boolean;
  /** Clip the global L2 norm of the gradients to this (torch.nn.utils.clip_grad_norm_). */
  maxGradNorm?: number;
}

/** Optimizer state (structured-cloneable): step count and slots keyed `<variable name>/<slot>`. */
export interface FusedState {
  step: number;
  slots: Record<string, { shape: number[]; values: Float32Array | number[] }>;
}

/**
 * A step's guard (see `FusedStepGuard` in guard.ts): the buffer `[loss, gradient norm, skips,
 * skip]` the update kernels read, the skips the host knows of, and what records the guard's own
 * dispatch (in the first pass that reads it).
 */
export interface GuardBinding {
  buffer: GPUBuffer;
  knownSkips: number;
  record?: (pass: GPUComputePassEncoder) => void;
}

/** A fused optimizer step bound to one set of parameters (fixed on the first step). */
export interface FusedStep {
  readonly kind: FusedKind;
  /**
   * Updates `params` in place from `grads` (scaled by the clip factor when clipping). `clip`: a
   * `[norm, scale]` buffer computed elsewhere (a global norm over several fused steps, see
   * FusedGlobalClip), used instead of this step's own `maxGradNorm`. `guard`: where the step's
   * loss or gradient norm is not finite, nothing is updated (none: every step is taken).
   */
  step(
    params: tf.Variable[],
    grads: tf.Tensor[],
    lr: number,
    clip?: GPUBuffer,
    guard?: GuardBinding,
  ): void;
  /** The last step's global gradient norm as a new scalar (device copy, no read-back). */
  gradNorm(): tf.Scalar | undefined;
  /** Compute dispatches the last step recorded. */
  dispatchesPerStep(): number;
  getState(): Promise<FusedState>;
  setState(state: FusedState): void;
  dispose(): void;
}

/**
 * Each kind's slots in the order its kernel binds them, under torch's state names, as the other
 * paths (tfjs's ops, the host's and the SIMD kernels) save them: a checkpoint of one path resumes
 * on another (a run on WebGPU resumed on wasm, and back).
 */
const SLOTS: Record<FusedKind, string[]> = {
  sgd: ["momentum_buffer"],
  adam: ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
  adamw: ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
  lion: ["exp_avg"],
};

interface Entry {
  n: number;
  slots: (tf.Tensor | undefined)[];
  key: GPUBuffer[];
  update?: GPUBindGroup;
  sumsq?: GPUBindGroup;
  partials: number;
  updateGroups: number;
}

/**
 * Creates a fused optimizer step for the webgpu backend.
 *
 * @example
 * ```ts ignore
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { createFusedStep } from "./fused_step.ts";
 * const w = tf.variable(tf.ones([4]));
 * const adam = createFusedStep("adam", { maxGradNorm: 1 });
 * adam.step([w], [tf.fill([4], 0.5)], 1e-3);
 * ```
 */
export function createFusedStep(kind: FusedKind, hyper: FusedHyper = {}): FusedStep {
  if (!(kind in SLOTS)) {
    throw new AnnealError(
      "config",
      `Cannot create fused step: '${kind}' is not one of ${Object.keys(SLOTS).join(", ")}`,
      { where: "optimizer.name", hint: "use sgd, adam, adamw or lion" },
    );
  }
  const h = resolveHyper(kind, hyper);
  let backend: WebGpuBackendInternals | undefined;
  let kernels: KernelSet | undefined;
  let entries: Entry[] = [];
  let names: string[] = [];
  /** Steps taken since the state was set (or restored), skipped ones included. */
  let t = 0;
  let pending: FusedState | undefined;
  let uniforms: ArrayBuffer = new ArrayBuffer(0);
  let uniformFloats: Float32Array | undefined;
  let uniformWords: Uint32Array | undefined;
  /** The corrections of up to SKIP_TABLE steps back, as the uniforms take them. */
  let skipTable: Float32Array | undefined;
  let uniformBuffer: GPUBuffer | undefined;
  let partialBuffer: GPUBuffer | undefined;
  let clipBuffer: GPUBuffer | undefined;
  let clipGroup: GPUBindGroup | undefined;
  /** `[0, 0, 0, 0]`: the guard of a step without one (finite, never skipped). */
  let openGuard: GPUBuffer | undefined;
  let lastDispatches = 0;

  function setup(params: tf.Variable[]): void {
    backend = webGpuBackend(`fused ${kind}`);
    kernels = kernelsFor(backend.device, kind);
    names = params.map((p) => p.name);
    let partialBase = 0;
    entries = params.map((p) => {
      const n = p.size;
      const partials = Math.min(Math.ceil(n / (WORKGROUP * 4)), 256);
      const slots = SLOTS[kind].map((slot) =>
        slot === "max_exp_avg_sq" && !h.amsgrad || slot === "momentum_buffer" && h.momentum === 0
          ? undefined
          : restoreSlot(pending, `${p.name}/${slot}`, p.shape)
      );
      const entry: Entry = {
        n,
        slots,
        key: [],
        partials,
        updateGroups: Math.min(Math.ceil(n / WORKGROUP), 65535),
      };
      partialBase += partials;
      return entry;
    });
    t = pending?.step ?? 0;
    pending = undefined;
    const device = backend.device;
    uniforms = new ArrayBuffer(UNIFORM_STRIDE * params.length);
    uniformFloats = new Float32Array(uniforms);
    uniformWords = new Uint32Array(uniforms);
    skipTable = new Float32Array(2 * SKIP_TABLE);
    uniformBuffer = device.createBuffer({
      size: uniforms.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    partialBuffer = device.createBuffer({ size: 4 * partialBase, usage: GPUBufferUsage.STORAGE });
    clipBuffer = device.createBuffer({
      size: 8,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    device.queue.writeBuffer(clipBuffer, 0, new Float32Array([0, 1]));
    openGuard = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
    clipGroup = device.createBindGroup({
      layout: kernels.clipScale.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: uniformBuffer, offset: 0, size: UNIFORM_FLOATS * 4 } },
        { binding: 1, resource: { buffer: partialBuffer } },
        { binding: 2, resource: { buffer: clipBuffer } },
      ],
    });
  }

  /**
   * `step`: the step's count as the host knows it (skips it has not read yet included).
   * `knownSkips`: the guard's skips it has read.
   */
  function writeUniforms(lr: number, step: number, knownSkips: number): void {
    // (the views, the table and the step's scalars made once a step, not once a tensor)
    const f = uniformFloats!;
    const u = uniformWords!;
    const flags = (step === 1 ? 1 : 0) | (h.nesterov ? 2 : 0) |
      (kind === "adamw" ? 4 : 0) | (h.amsgrad ? 8 : 0);
    // the corrections (Adam's step size, sqrt(bias correction 2)) of 1, 2, ... steps back, for
    // steps skipped on the device the host does not know of yet, float64 rounded once as the
    // step's own (1 before any step: never read, as a step's count is at least 1)
    const table = skipTable!;
    for (let k = 0; k < SKIP_TABLE; k++) {
      const s = step - 1 - k;
      table[2 * k] = s >= 1 ? lr / (1 - h.beta1 ** s) : 1;
      table[2 * k + 1] = s >= 1 ? Math.sqrt(1 - h.beta2 ** s) : 1;
    }
    // float64 scalars rounded once, as torch's Python floats (see UNIFORM_FIELDS)
    const stepSize = lr / (1 - h.beta1 ** step);
    const sqrtBiasCorrection2 = Math.sqrt(1 - h.beta2 ** step);
    const totalPartials = entries.reduce((sum, e) => sum + e.partials, 0);
    let base = 0;
    entries.forEach((e, i) => {
      const o = (i * UNIFORM_STRIDE) / 4;
      f[o + F.lr] = lr;
      f[o + F.beta1] = kind === "sgd" ? h.momentum : h.beta1;
      f[o + F.beta2] = h.beta2;
      f[o + F.eps] = h.eps;
      f[o + F.weightDecay] = h.weightDecay;
      f[o + F.stepSize] = stepSize;
      f[o + F.sqrtBiasCorrection2] = sqrtBiasCorrection2;
      f[o + F.undampened] = 1 - h.dampening;
      f[o + F.beta1Complement] = 1 - h.beta1;
      f[o + F.beta2Complement] = 1 - h.beta2;
      f[o + F.decayFactor] = 1 - lr * h.weightDecay;
      u[o + F.flags] = flags;
      u[o + F.n] = e.n;
      u[o + F.partialBase] = base;
      u[o + F.partialCount] = totalPartials;
      f[o + F.maxNorm] = h.maxGradNorm ?? 0;
      f[o + F.gradSign] = h.maximize ? -1 : 1;
      u[o + F.step] = step;
      u[o + F.knownSkips] = knownSkips;
      f.set(table, o + TABLE_OFFSET);
      base += e.partials;
    });
    backend!.queue.writeBuffer(uniformBuffer!, 0, uniforms);
  }

  function bindGroups(
    params: tf.Variable[],
    grads: tf.Tensor[],
    clip: GPUBuffer,
    guard: GPUBuffer,
  ): void {
    const b = backend!;
    entries.forEach((e, i) => {
      ensureExclusive(b, params[i]);
      const p = writableBuffer(b, params[i]);
      const g = tensorBuffer(b, grads[i]);
      const slots = e.slots.map((s) => s ? writableBuffer(b, s) : kernels!.dummy);
      const key = [clip, guard, p, g, ...slots];
      if (e.update && key.every((buffer, k) => buffer === e.key[k])) return;
      e.key = key;
      const uniform = {
        buffer: uniformBuffer!,
        offset: i * UNIFORM_STRIDE,
        size: UNIFORM_FLOATS * 4,
      };
      e.update = b.device.createBindGroup({
        layout: kernels!.update.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: uniform },
          ...key.map((buffer, k) => ({ binding: k + 1, resource: { buffer } })),
        ],
      });
      e.sumsq = b.device.createBindGroup({
        layout: kernels!.sumsq.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: uniform },
          { binding: 1, resource: { buffer: g } },
          { binding: 2, resource: { buffer: partialBuffer! } },
        ],
      });
    });
  }

  return {
    kind,
    step(params, grads, lr, clip, guard) {
      if (params.length !== grads.length) {
        throw new AnnealError(
          "usage",
          `Cannot take fused ${kind} step: ${params.length} parameters but ${grads.length} gradients`,
          { hint: "pass one gradient per parameter, in the same order" },
        );
      }
      if (!backend) setup(params);
      if (params.length !== entries.length || params.some((p, i) => p.name !== names[i])) {
        throw new AnnealError(
          "usage",
          `Cannot take fused ${kind} step: the parameters differ from the first step's`,
          { hint: "create one fused step per set of parameters" },
        );
      }
      t += 1;
      const knownSkips = guard?.knownSkips ?? 0;
      writeUniforms(lr, t - knownSkips, knownSkips);
      bindGroups(params, grads, clip ?? clipBuffer!, guard?.buffer ?? openGuard!);
      const k = kernels!;
      let dispatches = 0;
      recordPass(backend!, (pass) => {
        if (guard?.record) {
          guard.record(pass);
          dispatches++;
        }
        if (h.maxGradNorm !== undefined && clip === undefined) {
          pass.setPipeline(k.sumsq);
          for (const e of entries) {
            pass.setBindGroup(0, e.sumsq!);
            pass.dispatchWorkgroups(e.partials);
            dispatches++;
          }
          pass.setPipeline(k.clipScale);
          pass.setBindGroup(0, clipGroup!);
          pass.dispatchWorkgroups(1);
          dispatches++;
        }
        pass.setPipeline(k.update);
        for (const e of entries) {
          pass.setBindGroup(0, e.update!);
          pass.dispatchWorkgroups(e.updateGroups);
          dispatches++;
        }
      });
      lastDispatches = dispatches;
    },
    gradNorm() {
      if (!backend || h.maxGradNorm === undefined || t === 0) return undefined;
      const out = tf.zeros([]) as tf.Scalar;
      const buffer = writableBuffer(backend, out);
      backend.ensureCommandEncoderReady();
      backend.endComputePassEncoder();
      backend.commandEncoder!.copyBufferToBuffer(clipBuffer!, 0, buffer, 0, 4);
      return out;
    },
    dispatchesPerStep: () => lastDispatches,
    async getState() {
      if (!backend) return pending ?? { step: 0, slots: {} };
      const held: [string, tf.Tensor][] = [];
      for (const [i, e] of entries.entries()) {
        for (const [k, tensor] of e.slots.entries()) {
          if (tensor) held.push([`${names[i]}/${SLOTS[kind][k]}`, tensor]);
        }
      }
      return { step: t, slots: await readSlots(held) };
    },
    setState(state) {
      if (backend) {
        for (const [i, e] of entries.entries()) {
          e.slots = e.slots.map((old, k) => {
            if (!old) return old;
            old.dispose();
            return restoreSlot(state, `${names[i]}/${SLOTS[kind][k]}`, old.shape);
          });
          e.update = undefined;
        }
        t = state.step;
      } else {
        pending = state;
      }
    },
    dispose() {
      for (const e of entries) e.slots.forEach((s) => s?.dispose());
      entries = [];
      uniformBuffer?.destroy();
      partialBuffer?.destroy();
      clipBuffer?.destroy();
      openGuard?.destroy();
      backend = undefined;
    },
  };
}

/**
 * The slot `key` of `state`, or zeros where the state has no slots (a fresh optimizer's). A state
 * with slots but not this one was saved for another model or optimizer setting: it is refused, as
 * the other paths refuse it, where zeros would train on from moments that are not the run's.
 */
function restoreSlot(state: FusedState | undefined, key: string, shape: number[]): tf.Tensor {
  const saved = state?.slots[key];
  if (!saved && Object.keys(state?.slots ?? {}).length > 0) {
    throw new AnnealError("checkpoint", `Cannot restore slot '${key}': the state has none`, {
      where: key,
      hint: "restore a state saved for the same model and optimizer settings",
    });
  }
  // Kept: a step may run inside the caller's tf.tidy, and the slots outlive it.
  if (!saved) return tf.keep(tf.zeros(shape));
  if (saved.shape.join(",") !== shape.join(",")) {
    throw new AnnealError(
      "checkpoint",
      `Cannot restore slot '${key}': shape [${saved.shape}] differs from the parameter's [${shape}]`,
      { hint: "restore a state saved for the same model" },
    );
  }
  return tf.keep(tf.tensor(saved.values, shape, "float32"));
}

function resolveHyper(kind: FusedKind, hyper: FusedHyper) {
  const lion = kind === "lion";
  return {
    beta1: hyper.beta1 ?? 0.9,
    beta2: hyper.beta2 ?? (lion ? 0.99 : 0.999),
    eps: hyper.eps ?? 1e-8,
    weightDecay: hyper.weightDecay ?? (kind === "adamw" ? 0.01 : 0),
    momentum: hyper.momentum ?? 0,
    dampening: hyper.dampening ?? 0,
    nesterov: hyper.nesterov ?? false,
    amsgrad: hyper.amsgrad ?? false,
    maximize: hyper.maximize ?? false,
    maxGradNorm: hyper.maxGradNorm,
  };
}
