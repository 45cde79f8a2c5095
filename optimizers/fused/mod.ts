/**
 * Fused WGSL optimizer steps for the tfjs webgpu backend: SGD (momentum, nesterov, decay,
 * maximize), Adam/AdamW (amsgrad, maximize), Lion, and a global-norm clip on the device, one
 * dispatch per tensor; a guard skips, on the device, a step whose loss or gradient norm is not
 * finite.
 *
 * @example
 * ```ts ignore
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { createFusedStep } from "./mod.ts";
 * const w = tf.variable(tf.ones([4]));
 * createFusedStep("adamw", { weightDecay: 0.01 }).step([w], [tf.ones([4])], 1e-3);
 * ```
 *
 * @module
 */
export {
  createFusedStep,
  type FusedHyper,
  type FusedKind,
  type FusedState,
  type FusedStep,
  type GuardBinding,
} from "./fused_step.ts";
export { FusedStepGuard } from "./guard.ts";
