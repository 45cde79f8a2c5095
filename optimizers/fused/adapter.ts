/**
 * The fused WGSL steps behind the ordinary {@linkcode Optimizer} interface, so the training
 * engine can use them on WebGPU: variables are grouped by their resolved settings (weight decay
 * from the no-decay rules and param groups, lr multiplier), one fused step per group.
 *
 * Covers sgd, adam, adamw and lion; momentum cycling (onecycle) is not supported (the fused
 * kernels take beta1/momentum as fixed per step), so callers fall back to the reference path.
 *
 * @module
 */
import type * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { AnnealError } from "../../errors.ts";
import { resolveParamSettings } from "../groups.ts";
import { type Optimizer, type OptimizerState, torchSlotNames } from "../core.ts";
import type { OptimizerSpec, ResolvedOptimizerSpec } from "../spec.ts";
import { createFusedStep, type FusedHyper, type FusedKind, type FusedStep } from "./fused_step.ts";
import { FusedGlobalClip } from "./global_clip.ts";
import { FusedStepGuard } from "./guard.ts";

const FUSED: readonly string[] = ["sgd", "adam", "adamw", "lion"];

/** An optimizer that can clip by the global L2 norm on the device as part of its step. */
export interface GlobalClipStep {
  /**
   * Clips the gradients to a global L2 norm of `maxNorm` (torch.nn.utils.clip_grad_norm_, over
   * every parameter group at once) on the device, then steps.
   */
  stepClipped(params: tf.Variable[], grads: tf.Tensor[], lr: number, maxNorm: number): void;
}

/**
 * An optimizer that skips, on the device, a step whose loss or gradient norm is not finite (its
 * weights and state left as they are, its step not counted), without reading anything back.
 */
export interface GuardedStep {
  /** Guards the next step by its results `stats` (`[loss, gradient norm, ...]`, on the device). */
  guardNextStep(stats: tf.Tensor): void;
  /**
   * The host has read that `count` more guarded steps were skipped (since the state was last
   * set): the step count it keeps leaves them out from now on.
   */
  stepsSkipped(count: number): void;
}

/** Whether a spec has a fused implementation. */
export function hasFusedKernel(spec: OptimizerSpec): boolean {
  return FUSED.includes(spec.name);
}

function hyperOf(spec: ResolvedOptimizerSpec, weightDecay: number): FusedHyper {
  const s = spec as Record<string, unknown>;
  const betas = s.betas as [number, number] | undefined;
  return {
    beta1: betas?.[0],
    beta2: betas?.[1],
    eps: s.eps as number | undefined,
    weightDecay,
    momentum: s.momentum as number | undefined,
    dampening: s.dampening as number | undefined,
    nesterov: s.nesterov as boolean | undefined,
    amsgrad: s.amsgrad as boolean | undefined,
    maximize: s.maximize as boolean | undefined,
  };
}

/**
 * An optimizer running fused WGSL kernels (WebGPU backend only), of a resolved spec
 * (`parseOptimizerSpec`'s, or a parsed run config's: this module does not load the specs' schema).
 *
 * @example
 * ```ts ignore
 * import { createFusedOptimizer } from "./adapter.ts";
 * import { parseOptimizerSpec } from "../parse.ts";
 * const optimizer = createFusedOptimizer(parseOptimizerSpec({ name: "adamw", lr: 1e-3 }));
 * ```
 */
export function createFusedOptimizer(
  spec: ResolvedOptimizerSpec,
): Optimizer & GlobalClipStep & GuardedStep {
  if (!FUSED.includes(spec.name)) {
    throw new AnnealError("config", `No fused kernel for the ${spec.name} optimizer`, {
      hint: `fused kernels exist for ${FUSED.join(", ")}`,
    });
  }
  const groups = new Map<string, { step: FusedStep; lrMultiplier: number }>();
  let pending: OptimizerState | undefined;
  let steps = 0;
  // Each variable's group, by name and rank (what its settings depend on): resolving them builds
  // the spec's patterns' regular expressions, which every step did for every variable.
  const groupOfVariable = new Map<string, { step: FusedStep; lrMultiplier: number }>();
  const groupOf = (variable: tf.Variable) => {
    const known = groupOfVariable.get(`${variable.rank}|${variable.name}`);
    if (known) return known;
    const settings = resolveParamSettings(spec, variable.name, variable.rank);
    const key = `${settings.weightDecay}|${settings.lrMultiplier}`;
    let group = groups.get(key);
    if (!group) {
      group = {
        step: createFusedStep(spec.name as FusedKind, hyperOf(spec, settings.weightDecay)),
        lrMultiplier: settings.lrMultiplier,
      };
      groups.set(key, group);
    }
    groupOfVariable.set(`${variable.rank}|${variable.name}`, group);
    return group;
  };
  const globalClip = new FusedGlobalClip();
  // Steps whose loss or gradient norm is not finite are skipped on the device; `steps` counts
  // every step queued since the state was set, the guard those of them it skipped.
  const guard = new FusedStepGuard();
  let guardBy: tf.Tensor | undefined;
  const step = (params: tf.Variable[], grads: tf.Tensor[], lr: number, clip?: GPUBuffer) => {
    const batches = new Map<
      ReturnType<typeof groupOf>,
      { params: tf.Variable[]; grads: tf.Tensor[] }
    >();
    params.forEach((param, i) => {
      const group = groupOf(param);
      const batch = batches.get(group) ?? { params: [], grads: [] };
      batch.params.push(param);
      batch.grads.push(grads[i]);
      batches.set(group, batch);
    });
    if (pending) {
      for (const group of batches.keys()) {
        group.step.setState({ step: pending.step, slots: pending.slots });
      }
      pending = undefined;
    }
    // (the copy into the guard before any pass of the step; its dispatch in the first)
    const guarded = guardBy && guard.prepare(guardBy);
    guardBy = undefined;
    let first = true;
    for (const [group, batch] of batches) {
      const binding = guarded && (first ? guarded : { ...guarded, record: undefined });
      group.step.step(batch.params, batch.grads, lr * group.lrMultiplier, clip, binding);
      first = false;
    }
    steps++;
  };
  return {
    spec,
    step(params, grads, lr = spec.lr) {
      step(params, grads, lr);
    },
    stepClipped(params, grads, lr, maxNorm) {
      step(params, grads, lr, globalClip.record(grads, maxNorm));
    },
    guardNextStep(stats) {
      guardBy = stats;
    },
    stepsSkipped(count) {
      guard.learned(count);
    },
    setMomentum() {
      throw new AnnealError("config", "The fused kernels do not cycle momentum", {
        hint: "set the schedule's cycleMomentum to false, or train on a backend other than webgpu",
      });
    },
    async getState() {
      // The state now: the reads are queued now, before any later step, and the counts are
      // taken now (read after the reads are back, they counted steps queued meanwhile: a
      // checkpoint of an epoch's end the trainer went on from had another epoch's step count).
      const [queued, before] = [steps, pending];
      const slots: OptimizerState["slots"] = {};
      // the groups' read-backs at once, and the guard's count of skipped steps
      const [skipped, ...states] = await Promise.all([
        guard.skips(),
        ...[...groups.values()].map((group) => group.step.getState()),
      ]);
      for (const state of states) Object.assign(slots, state.slots);
      // (as the CPU backends count them: a skipped step is not a step)
      return {
        name: spec.name,
        step: before?.step ?? queued - skipped,
        slots: before?.slots ?? slots,
      };
    },
    setState(state) {
      if (state.name !== spec.name) {
        throw new AnnealError("checkpoint", `Saved state is for ${state.name}, not ${spec.name}`);
      }
      // Slots are keyed by variable name: each group takes its own at the next step (under
      // torch's slot names, an older anneal's checkpoint's renamed).
      pending = { ...state, slots: torchSlotNames(state) };
      steps = state.step;
      guard.reset();
    },
    dispose() {
      globalClip.dispose();
      guard.dispose();
      for (const group of groups.values()) group.step.dispose();
      groups.clear();
      groupOfVariable.clear();
    },
  };
}
