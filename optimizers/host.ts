/**
 * `createHostOptimizer`: SGD (momentum, dampening, Nesterov), Adam, AdamW, RMSprop (centered or
 * not, with momentum), Adagrad (each with `maximize`) and Lion as plain loops over Float32Arrays on
 * the host, for models so small that tfjs's per-op cost is the whole step (the seed experiment's
 * linear regression: SGD's update is 4 tfjs ops of ~25 us each on wasm for 3 numbers). The
 * arithmetic is torch 1.13's float32 arithmetic (each operation rounded once, its fused
 * multiply-adds fused, its scalars rounded as it rounds them: bit for bit torch's trajectories in
 * optimizers/conformance_test.ts), the slots keyed and saved as `createOptimizer` keys and saves
 * them, so checkpoints move between the two paths.
 *
 * `stepArrays` updates host arrays in place; `step` (the {@linkcode Optimizer} interface) reads
 * tfjs variables, steps, and assigns the results back.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { AnnealError } from "../errors.ts";
import { type ParamSettings, resolveParamSettings } from "./groups.ts";
import {
  checkCountAndLr,
  checkMomentum,
  checkSavedSlots,
  checkStateOwner,
  checkStepArguments,
  groupSlots,
  type Optimizer,
  type OptimizerState,
  type SavedTensor,
  torchSlotNames,
} from "./core.ts";
import { checkClipValue, clipNormOrder } from "./clipping.ts";
import type { OptimizerSpec, ResolvedOptimizerSpec } from "./spec.ts";

const HOST: readonly string[] = ["sgd", "adam", "adamw", "rmsprop", "adagrad", "lion"];

/** Whether a spec has a host implementation (sgd, adam, adamw, rmsprop, adagrad, lion). */
export function hasHostKernel(spec: OptimizerSpec): boolean {
  return HOST.includes(spec.name);
}

/** A parameter held on the host: its variable's name and shape, and its values (updated in place). */
export interface HostParam {
  /** The variable's name: param groups and the no-decay rules match it; slots are keyed by it. */
  readonly name: string;
  /** The variable's shape (its rank decides the default no-decay rule). */
  readonly shape: readonly number[];
  /** The values, row-major; `stepArrays` writes the new values here. */
  readonly values: Float32Array;
}

/** An {@linkcode Optimizer} that can also step parameters held in host arrays. */
export interface HostOptimizer extends Optimizer {
  /** Updates `params[i].values` in place from `grads[i]`; `lr` overrides `spec.lr`. */
  stepArrays(params: readonly HostParam[], grads: readonly ArrayLike<number>[], lr?: number): void;
}

/** Whether an optimizer can step host arrays. */
export function isHostOptimizer(optimizer: Optimizer): optimizer is HostOptimizer {
  return typeof (optimizer as Partial<HostOptimizer>).stepArrays === "function";
}

type Slots = Record<string, Float32Array>;

/** The slots a fresh parameter starts with (SGD's momentum buffer appears on first use). */
function initialSlots(spec: ResolvedOptimizerSpec, size: number): Slots {
  switch (spec.name) {
    case "adam":
    case "adamw": {
      const slots: Slots = { exp_avg: new Float32Array(size), exp_avg_sq: new Float32Array(size) };
      if (spec.amsgrad) slots.max_exp_avg_sq = new Float32Array(size);
      return slots;
    }
    case "lion":
      return { exp_avg: new Float32Array(size) };
    case "rmsprop": {
      // (the momentum buffer appears with the first nonzero momentum, as SGD's)
      const slots: Slots = { square_avg: new Float32Array(size) };
      if (spec.centered) slots.grad_avg = new Float32Array(size);
      return slots;
    }
    case "adagrad":
      return { sum: new Float32Array(size).fill(spec.initialAccumulatorValue) };
    default:
      return {};
  }
}

interface StepContext {
  lr: number;
  weightDecay: number;
  momentum: number;
  step: number;
}

const f32 = Math.fround;

/**
 * `a * b + c` rounded once to float32, as torch's CPU kernels compute `add_(x, alpha=...)` and
 * `addcmul_` (they fuse the multiply-add): `a * b` of two float32s is exact in float64, and the
 * sum is rounded to float64 before float32, which agrees with one rounding but where the float64
 * sum lands on a float32 halfway point (about once in 1e9).
 */
function fma(a: number, b: number, c: number): number {
  return f32(a * b + c);
}

/**
 * The momentum buffer of a step at `momentum` (sgd's, rmsprop's): none at 0, else the slots' own,
 * made of zeros and kept in them at the first nonzero momentum (as torch makes it; onecycle may
 * raise the momentum from 0).
 */
function momentumBuffer(slots: Slots, momentum: number, n: number): Float32Array | undefined {
  if (momentum === 0) return undefined;
  return slots.momentum_buffer ??= new Float32Array(n);
}

/**
 * One parameter's update as torch 1.13's single-tensor loop computes it in float32: each tensor
 * operation rounded once (its multiply-adds fused), each scalar handed to it as a float32 after
 * being computed as a Python float (`alpha=1 - beta1`, `value=-step_size`, `mul_(1 - lr * wd)`);
 * Lion as generate.py's reference. A scalar applied at every step (a beta, its complement, the
 * decay factor) is then torch's own, not one that drifts from it step after step.
 */
function update(
  spec: ResolvedOptimizerSpec,
  p: Float32Array,
  g: ArrayLike<number>,
  slots: Slots,
  context: StepContext,
): void {
  const n = p.length;
  const { lr, step } = context;
  const wd = f32(context.weightDecay);
  switch (spec.name) {
    case "sgd": {
      const momentum = f32(context.momentum);
      const [keep, negativeLr] = [f32(1 - spec.dampening), f32(-lr)];
      const fresh = slots.momentum_buffer === undefined;
      const buf = momentumBuffer(slots, momentum, n);
      for (let i = 0; i < n; i++) {
        let d = wd === 0 ? g[i] : fma(p[i], wd, g[i]);
        if (buf) {
          buf[i] = fresh ? d : fma(d, keep, f32(buf[i] * momentum));
          d = spec.nesterov ? fma(buf[i], momentum, d) : buf[i];
        }
        p[i] = fma(d, negativeLr, p[i]);
      }
      return;
    }
    case "adam":
    case "adamw": {
      const [beta1, beta2] = [context.momentum, spec.betas[1]];
      const [b1, b1c, b2, b2c] = [f32(beta1), f32(1 - beta1), f32(beta2), f32(1 - beta2)];
      const negativeStep = f32(-lr / (1 - beta1 ** step));
      const root2 = f32(Math.sqrt(1 - beta2 ** step));
      const eps = f32(spec.eps);
      const coupled = spec.name === "adam" && wd !== 0;
      const decay = spec.name === "adamw" ? f32(1 - lr * context.weightDecay) : 1;
      const m = slots.exp_avg;
      const v = slots.exp_avg_sq;
      const vmax = slots.max_exp_avg_sq;
      for (let i = 0; i < n; i++) {
        const x = decay === 1 ? p[i] : f32(p[i] * decay);
        const d = coupled ? fma(p[i], wd, g[i]) : g[i];
        m[i] = fma(d, b1c, f32(m[i] * b1));
        v[i] = fma(f32(b2c * d), d, f32(v[i] * b2));
        let second = v[i];
        if (vmax) second = vmax[i] = Math.max(vmax[i], second);
        const denominator = f32(f32(f32(Math.sqrt(second)) / root2) + eps);
        p[i] = f32(x + f32(f32(negativeStep * m[i]) / denominator));
      }
      return;
    }
    case "rmsprop": {
      // torch 1.13's _single_tensor_rmsprop: the L2 term, the square average (`addcmul_`), the
      // centered variance (`addcmul(grad_avg, grad_avg, value=-1)`, fused), eps added after the
      // square root; with momentum `buf.mul_(momentum).addcdiv_(grad, avg)` and
      // `param.add_(buf, alpha=-lr)`, else `param.addcdiv_(grad, avg, value=-lr)`
      const [alpha, keep] = [f32(spec.alpha), f32(1 - spec.alpha)];
      const [eps, negativeLr, momentum] = [f32(spec.eps), f32(-lr), f32(context.momentum)];
      const square = slots.square_avg;
      const average = slots.grad_avg;
      // (a buffer from zeros: momentum * 0 + g / avg is g / avg, exactly)
      const buf = momentumBuffer(slots, momentum, n);
      for (let i = 0; i < n; i++) {
        const d = wd === 0 ? g[i] : fma(p[i], wd, g[i]);
        square[i] = fma(f32(keep * d), d, f32(square[i] * alpha));
        let variance = square[i];
        if (average) {
          average[i] = fma(d, keep, f32(average[i] * alpha));
          variance = fma(-average[i], average[i], variance);
        }
        const avg = f32(f32(Math.sqrt(variance)) + eps);
        if (buf) {
          buf[i] = f32(f32(buf[i] * momentum) + f32(d / avg));
          p[i] = fma(buf[i], negativeLr, p[i]);
        } else {
          p[i] = f32(p[i] + f32(f32(negativeLr * d) / avg));
        }
      }
      return;
    }
    case "adagrad": {
      // torch 1.13's _single_tensor_adagrad: the L2 term, `state_sum.addcmul_(grad, grad,
      // value=1)`, `std = state_sum.sqrt().add_(eps)`, `param.addcdiv_(grad, std, value=-clr)`
      // with `clr = lr / (1 + (step - 1) * lr_decay)` (a Python float)
      const negativeRate = f32(-(lr / (1 + (step - 1) * spec.lrDecay)));
      const eps = f32(spec.eps);
      const sum = slots.sum;
      for (let i = 0; i < n; i++) {
        const d = wd === 0 ? g[i] : fma(p[i], wd, g[i]);
        sum[i] = fma(d, d, sum[i]);
        const std = f32(f32(Math.sqrt(sum[i])) + eps);
        p[i] = f32(p[i] + f32(f32(negativeRate * d) / std));
      }
      return;
    }
    case "lion": {
      const [beta1, beta2] = [context.momentum, spec.betas[1]];
      const [b1, b1c, b2, b2c] = [f32(beta1), f32(1 - beta1), f32(beta2), f32(1 - beta2)];
      const [decay, negativeLr] = [f32(1 - lr * context.weightDecay), f32(-lr)];
      const m = slots.exp_avg;
      for (let i = 0; i < n; i++) {
        const direction = Math.sign(f32(f32(m[i] * b1) + f32(g[i] * b1c)));
        p[i] = fma(direction, negativeLr, f32(p[i] * decay));
        m[i] = fma(g[i], b2c, f32(m[i] * b2));
      }
      return;
    }
    default:
      throw new AnnealError("internal", `No host update for the ${spec.name} optimizer`);
  }
}

/**
 * Creates a host optimizer (sgd, adam, adamw, rmsprop, adagrad or lion) of a resolved spec
 * (`parseOptimizerSpec`'s, or a parsed run config's: this module does not load the specs' schema).
 *
 * @example
 * ```ts
 * import { createHostOptimizer } from "./host.ts";
 * import { parseOptimizerSpec } from "./parse.ts";
 * const sgd = createHostOptimizer(parseOptimizerSpec({ name: "sgd", lr: 0.1 }));
 * const weight = { name: "w", shape: [2], values: Float32Array.of(1, 2) };
 * sgd.stepArrays([weight], [[1, 1]]);
 * console.assert(Math.abs(weight.values[0] - 0.9) < 1e-6);
 * ```
 */
export function createHostOptimizer(spec: ResolvedOptimizerSpec): HostOptimizer {
  if (!HOST.includes(spec.name)) {
    throw new AnnealError("config", `No host implementation of the ${spec.name} optimizer`, {
      hint: `host optimizers exist for ${HOST.join(", ")}; createOptimizer runs every optimizer`,
    });
  }
  const where = `${spec.name} optimizer`;
  const ascent = "maximize" in spec && spec.maximize;
  // (undefined for adagrad, which has none: its state then has none either, as createOptimizer's)
  let momentum: number | undefined = spec.name === "sgd" || spec.name === "rmsprop"
    ? spec.momentum
    : spec.name === "adagrad"
    ? undefined
    : (spec as { betas: number[] }).betas[0];
  let count = 0;
  let disposed = false;
  let restored = false;
  const live = new Map<string, { shape: number[]; slots: Slots }>();
  let saved = new Map<string, Record<string, SavedTensor>>();
  const settings = new Map<string, ParamSettings>();

  const settingsOf = (param: HostParam) => {
    let found = settings.get(param.name);
    if (!found) {
      found = resolveParamSettings(spec, param.name, param.shape.length);
      settings.set(param.name, found);
    }
    return found;
  };

  const slotsOf = (param: HostParam): Slots => {
    const existing = live.get(param.name);
    if (existing) return existing.slots;
    const size = param.values.length;
    const fresh = initialSlots(spec, size);
    const stored = saved.get(param.name);
    if (stored) {
      saved.delete(param.name);
      for (const slot of new Set([...Object.keys(fresh), ...Object.keys(stored)])) {
        const values = stored[slot];
        const key = `${param.name}/${slot}`;
        if (!values || values.values.length !== size) {
          throw new AnnealError(
            "checkpoint",
            `Cannot restore ${where}: slot '${key}' has shape ${
              JSON.stringify(values?.shape)
            }, the variable needs ${JSON.stringify(param.shape)}`,
            { where: key, hint: "resume with the model the checkpoint was saved from" },
          );
        }
        fresh[slot] = Float32Array.from(values.values);
      }
    } else if (restored && Object.keys(fresh).length > 0) {
      throw new AnnealError(
        "checkpoint",
        `Cannot restore ${where}: the state has no slots for variable '${param.name}'`,
        { where: param.name, hint: "resume with the model the checkpoint was saved from" },
      );
    }
    live.set(param.name, { shape: [...param.shape], slots: fresh });
    return fresh;
  };

  const stepArrays = (
    params: readonly HostParam[],
    grads: readonly ArrayLike<number>[],
    lr: number,
  ) => {
    if (disposed) throw new AnnealError("usage", `Cannot step ${where}: it was disposed`);
    const current = params.map(slotsOf);
    count += 1;
    params.forEach((param, i) => {
      const { lrMultiplier, weightDecay } = settingsOf(param);
      // torch's maximize: the gradient negated before the update reads it (exact in float32)
      const grad = ascent ? Float32Array.from(grads[i], (value) => -value) : grads[i];
      update(spec, param.values, grad, current[i], {
        lr: lr * lrMultiplier,
        weightDecay,
        momentum: momentum ?? 0,
        step: count,
      });
    });
  };

  return {
    spec,
    stepArrays(params, grads, lr = spec.lr) {
      checkHostArguments(where, params, grads, lr);
      stepArrays(params, grads, lr);
    },
    step(params, grads, lr = spec.lr) {
      if (disposed) throw new AnnealError("usage", `Cannot step ${where}: it was disposed`);
      checkStepArguments(where, params, grads, lr);
      const host = params.map((param) => ({
        name: param.name,
        shape: param.shape,
        values: Float32Array.from(param.dataSync() as Float32Array),
      }));
      stepArrays(host, grads.map((grad) => grad.dataSync() as Float32Array), lr);
      params.forEach((param, i) => {
        const next = tf.tensor(host[i].values, param.shape, "float32");
        param.assign(next);
        next.dispose();
      });
    },
    setMomentum(value) {
      if (momentum === undefined) {
        throw new AnnealError("config", `Cannot set momentum of ${where}: it has none`, {
          hint: "disable the schedule's momentum cycling (cycleMomentum: false)",
        });
      }
      checkMomentum(where, spec.name, value);
      momentum = value;
    },
    getState() {
      const slots: OptimizerState["slots"] = {};
      for (const [name, stored] of saved) {
        for (const [slot, tensor] of Object.entries(stored)) slots[`${name}/${slot}`] = tensor;
      }
      for (const [name, own] of live) {
        for (const [slot, values] of Object.entries(own.slots)) {
          slots[`${name}/${slot}`] = { shape: [...own.shape], values: values.slice() };
        }
      }
      return Promise.resolve(
        momentum === undefined
          ? { name: spec.name, step: count, slots }
          : { name: spec.name, step: count, momentum, slots },
      );
    },
    setState(state) {
      checkStateOwner(where, spec.name, state);
      checkSavedSlots(where, state.slots);
      live.clear();
      saved = groupSlots(torchSlotNames(state));
      count = state.step;
      if (momentum !== undefined && state.momentum !== undefined) momentum = state.momentum;
      // A state without a slot is a fresh optimizer's, read before its first step (a rollback at
      // an epoch's last step returned to the start, and that epoch's end was checkpointed so):
      // its slots are made at the next step, as a fresh optimizer makes them, not found missing.
      restored = Object.keys(state.slots).length > 0;
    },
    dispose() {
      live.clear();
      disposed = true;
    },
  };
}

function checkHostArguments(
  where: string,
  params: readonly HostParam[],
  grads: readonly ArrayLike<number>[],
  lr: number,
): void {
  checkCountAndLr(where, params.length, grads.length, "parameters", lr);
  params.forEach((param, i) => {
    if (grads[i].length !== param.values.length) {
      throw new AnnealError(
        "usage",
        `Cannot step ${where}: gradient of '${param.name}' has ${
          grads[i].length
        } values, the parameter has ${param.values.length}`,
      );
    }
  });
}

/**
 * `clipGradValue` on host arrays, in place: every gradient entry clamped to
 * [-clipValue, clipValue] (torch.nn.utils.clip_grad_value_).
 */
export function clipHostValue(grads: readonly Float32Array[], clipValue: number): void {
  checkClipValue(clipValue);
  for (const grad of grads) {
    for (let i = 0; i < grad.length; i++) {
      grad[i] = Math.min(Math.max(grad[i], -clipValue), clipValue);
    }
  }
}

/**
 * `clipGradNorm` on host arrays, in place (torch.nn.utils.clip_grad_norm_): the total p-norm of
 * the per-array norms; every gradient is scaled by min(maxNorm / (total + 1e-6), 1). Returns the
 * total norm before clipping.
 */
export function clipHostNorm(
  grads: readonly Float32Array[],
  maxNorm: number,
  normType: number | "inf" = 2,
): number {
  const p = clipNormOrder(maxNorm, normType);
  const norm = (values: ArrayLike<number>) => {
    let acc = 0;
    for (let i = 0; i < values.length; i++) {
      const a = Math.abs(values[i]);
      if (p === Infinity) acc = Math.max(acc, a);
      else acc += p === 2 ? a * a : p === 1 ? a : a ** p;
    }
    return p === Infinity || p === 1 ? acc : p === 2 ? Math.sqrt(acc) : acc ** (1 / p);
  };
  const total = norm(grads.map(norm));
  const coefficient = Math.min(maxNorm / (total + 1e-6), 1);
  if (coefficient < 1) {
    for (const grad of grads) for (let i = 0; i < grad.length; i++) grad[i] *= coefficient;
  }
  return total;
}
