/**
 * The optimizer of a resolved spec: runs the spec's transformation chain over tfjs variables, one
 * `tf.tidy` per step, keeping the per-variable slots (keyed by variable name) and a step counter
 * that `getState`/`setState` save and restore exactly. It does not import the specs' schema, so
 * the trainer's Worker need not load zod; `createOptimizer` (optimizer.ts) validates a spec as a
 * user writes it, then creates here.
 *
 * @module
 */

import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { AnnealError } from "../errors.ts";
import { readTensors } from "../runtime/read_back.ts";
import { assemble } from "./aliases.ts";
import { type ParamSettings, resolveParamSettings } from "./groups.ts";
import type { OptimizerName, OptimizerSpec, ResolvedOptimizerSpec } from "./spec.ts";
import { hostScalar, type Slots } from "./transform.ts";

/** One saved tensor: its shape and its values in row-major order. */
export interface SavedTensor {
  /** Dimensions of the tensor. */
  shape: number[];
  /**
   * Values in row-major order: `getState` gives a `Float32Array` (checkpoints store those as
   * raw float32); `setState` also takes plain numbers.
   */
  values: Float32Array | number[];
}

/**
 * Slot tensors by key, read back to the host in one batch (on WebGPU one `mapAsync` for all of
 * them, not one a slot); the tensors stay alive.
 */
export async function readSlots(
  held: [string, tf.Tensor][],
): Promise<Record<string, SavedTensor>> {
  const read = await readTensors(held.map(([, tensor]) => tensor));
  return Object.fromEntries(
    held.map(([key, tensor], i) => [key, { shape: [...tensor.shape], values: read[i] }]),
  );
}

/**
 * The state of an optimizer (plain data and `Float32Array`s, so structured-cloneable);
 * `slots` keys are `"<variable name>/<slot name>"`.
 */
export interface OptimizerState {
  /** Which optimizer wrote the state; restoring into another one fails. */
  name: OptimizerName;
  /** Steps taken so far. */
  step: number;
  /** The momentum or beta1 in effect (moved by `setMomentum`), when the optimizer has one. */
  momentum?: number;
  /** Per-variable slots (momentum buffers, Adam moments, ...). */
  slots: Record<string, SavedTensor>;
}

/** An optimizer over tfjs variables. */
export interface Optimizer {
  /** The spec with every default filled in. */
  readonly spec: ResolvedOptimizerSpec;
  /**
   * Updates `params` in place from `grads`; `lr` (the scheduler's value, negative too, as torch
   * takes it) overrides `spec.lr`.
   */
  step(params: tf.Variable[], grads: tf.Tensor[], lr?: number): void;
  /** Sets the momentum (SGD, RMSprop) or beta1 (Adam, AdamW, Lion, LAMB), for onecycle. */
  setMomentum(value: number): void;
  /** Reads the state back to the CPU (one read-back for every slot), as structured-cloneable data. */
  getState(): Promise<OptimizerState>;
  /** Replaces the state; slots are matched to variables by name at the next `step`. */
  setState(state: OptimizerState): void;
  /** Disposes every slot tensor; the optimizer cannot be used afterwards. */
  dispose(): void;
}

/** Options of {@linkcode createOptimizer}. */
export interface CreateOptimizerOptions {
  /**
   * Run Adam, AdamW and SGD as one backend kernel per parameter where the current backend has
   * it (`AnnealAdamUpdate`, `AnnealSgdUpdate`, registered for wasm); otherwise, and by default,
   * tfjs's ops.
   */
  fusedKernels?: boolean;
}

/** Whether the current backend has a fused kernel for the spec (Adam, AdamW and SGD on wasm). */
export function hasFusedKernels(spec: Pick<OptimizerSpec, "name">): boolean {
  const kernel = spec.name === "adam" || spec.name === "adamw"
    ? "AnnealAdamUpdate"
    : spec.name === "sgd"
    ? "AnnealSgdUpdate"
    : undefined;
  return kernel !== undefined && tf.getKernel(kernel, tf.getBackend()) !== undefined;
}

/**
 * `createOptimizer` (optimizer.ts) of a resolved spec (defaults filled in, validated), as a
 * parsed run config holds it: what the trainer's Worker calls, without loading the spec's schema.
 */
export function createResolvedOptimizer(
  spec: ResolvedOptimizerSpec,
  options: CreateOptimizerOptions = {},
): Optimizer {
  const { transform, momentum: initialMomentum } = assemble(
    spec,
    options.fusedKernels === true && hasFusedKernels(spec),
  );
  const where = `${spec.name} optimizer`;
  let momentum = initialMomentum;
  let count = 0;
  let disposed = false;
  const live = new Map<string, Slots>();
  let saved = new Map<string, Record<string, SavedTensor>>();
  let restored = false;
  const settings = new Map<string, ParamSettings>();

  const settingsOf = (param: tf.Variable) => {
    let found = settings.get(param.name);
    if (!found) {
      found = resolveParamSettings(spec, param.name, param.rank);
      settings.set(param.name, found);
    }
    return found;
  };

  const slotsOf = (param: tf.Variable): Slots => {
    const existing = live.get(param.name);
    if (existing) return existing;
    const fresh = transform.init(param);
    const stored = saved.get(param.name);
    if (stored) {
      saved.delete(param.name);
      // Slots a transform creates lazily (a momentum buffer) are restored as saved; they have
      // the variable's shape.
      for (const slot of new Set([...Object.keys(fresh), ...Object.keys(stored)])) {
        const values = stored[slot];
        const expected = fresh[slot]?.shape ?? param.shape;
        const key = `${param.name}/${slot}`;
        if (!values || !tf.util.arraysEqual(values.shape, expected)) {
          tf.dispose(fresh);
          throw new AnnealError(
            "checkpoint",
            values
              ? `Cannot restore ${where}: slot '${key}' has shape ${
                JSON.stringify(values.shape)
              }, the variable needs ${JSON.stringify(expected)}`
              : `Cannot restore ${where}: the state has no slot '${key}' (it has ${
                Object.keys(stored).map((name) => `'${param.name}/${name}'`).join(", ")
              })`,
            { where: key, hint: slotHint(spec.name, param.rank, slot) },
          );
        }
        fresh[slot]?.dispose();
        // a scalar slot keeps its value on the host too (NAdam's mu_product, see hostScalar)
        fresh[slot] = values.shape.length === 0 && values.values.length === 1
          ? hostScalar(values.values[0])
          : tf.tensor(values.values, values.shape, "float32");
      }
    } else if (restored && Object.keys(fresh).length > 0) {
      tf.dispose(fresh);
      throw new AnnealError(
        "checkpoint",
        `Cannot restore ${where}: the state has no slots for variable '${param.name}'`,
        { where: param.name, hint: "resume with the model the checkpoint was saved from" },
      );
    }
    live.set(param.name, fresh);
    return fresh;
  };

  return {
    spec,
    step(params, grads, lr = spec.lr) {
      checkNotDisposed(where, "step", disposed);
      checkStepArguments(where, params, grads, lr);
      const current = params.map(slotsOf);
      count += 1;
      const step = count;
      const next = tf.tidy(() =>
        params.map((param, index) => {
          const { lrMultiplier, weightDecay } = settingsOf(param);
          const [update, own] = transform.update(grads[index], current[index], {
            param,
            step,
            lr: lr * lrMultiplier,
            weightDecay,
            momentum: momentum ?? 0,
          });
          param.assign(transform.returnsParam ? update : tf.add(param, update));
          return own;
        })
      );
      params.forEach((param, index) => {
        const kept = new Set(Object.values(next[index]));
        for (const tensor of Object.values(current[index])) if (!kept.has(tensor)) tensor.dispose();
        live.set(param.name, next[index]);
      });
    },
    setMomentum(value) {
      checkNotDisposed(where, "set momentum of", disposed);
      if (momentum === undefined) {
        throw new AnnealError("config", `Cannot set momentum of ${where}: it has none`, {
          hint: "disable the schedule's momentum cycling (cycleMomentum: false)",
        });
      }
      checkMomentum(where, spec.name, value);
      momentum = value;
    },
    async getState() {
      checkNotDisposed(where, "read the state of", disposed);
      // the state now: its counts taken before the read (steps may be taken while it is on its
      // way, on WebGPU while the trainer goes on past an epoch's end)
      const [step, beta] = [count, momentum];
      const slots: Record<string, SavedTensor> = {};
      for (const [name, stored] of saved) {
        for (const [slot, tensor] of Object.entries(stored)) slots[`${name}/${slot}`] = tensor;
      }
      const held: [string, tf.Tensor][] = [];
      for (const [name, own] of live) {
        for (const [slot, tensor] of Object.entries(own)) held.push([`${name}/${slot}`, tensor]);
      }
      Object.assign(slots, await readSlots(held));
      return beta === undefined
        ? { name: spec.name, step, slots }
        : { name: spec.name, step, momentum: beta, slots };
    },
    setState(state) {
      checkNotDisposed(where, "restore", disposed);
      checkStateOwner(where, spec.name, state);
      checkSavedSlots(where, state.slots);
      for (const own of live.values()) tf.dispose(own);
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
      for (const own of live.values()) tf.dispose(own);
      live.clear();
      disposed = true;
    },
  };
}

/**
 * Throws a config error unless `value` is a momentum (sgd, rmsprop: >= 0) or beta1 (the others:
 * in [0, 1)) that optimizer `name` can take.
 */
export function checkMomentum(where: string, name: OptimizerName, value: number): void {
  const betaLike = name !== "sgd" && name !== "rmsprop";
  if (!Number.isFinite(value) || value < 0 || (betaLike && value >= 1)) {
    throw new AnnealError(
      "config",
      `Cannot set momentum of ${where}: it must be ${
        betaLike ? "in [0, 1)" : ">= 0"
      }, current value is ${value}`,
    );
  }
}

/** Throws a usage error if the optimizer was disposed: its slots are gone, so is its state. */
export function checkNotDisposed(where: string, action: string, disposed: boolean): void {
  if (disposed) {
    throw new AnnealError("usage", `Cannot ${action} ${where}: it was disposed`, {
      hint: "create a new optimizer (and setState it from a state read before dispose)",
    });
  }
}

/**
 * The hint for a saved slot of the wrong shape: the model it was saved from differs, or (an
 * Adafactor's factored moments of a convolution's kernel) an anneal before 2026-12-07 saved it,
 * which factored those over the kernel's `in` and `out` axes, where torch factors them over its
 * height and width (`factoredAxes`).
 */
function slotHint(name: OptimizerName, rank: number, slot: string): string {
  return name === "adafactor" && rank >= 3 && (slot === "row_var" || slot === "col_var")
    ? "an anneal before 2026-12-07 saved this checkpoint, whose Adafactor factored a " +
      "convolution kernel's second moment over other axes than torch's: its moments cannot " +
      "carry over; start the run again from its config (anneal train -c <its directory>/config.json)"
    : "resume with the model the checkpoint was saved from";
}

/** Throws a checkpoint error unless `state` was saved by an optimizer named `name`. */
export function checkStateOwner(where: string, name: OptimizerName, state: OptimizerState): void {
  // (null threw a TypeError; {} was "the state is of a undefined optimizer at step undefined")
  if (state === null || typeof state !== "object" || typeof state.name !== "string") {
    throw new AnnealError(
      "checkpoint",
      `Cannot restore ${where}: the state must be an optimizer's (an object with its name, ` +
        `step and slots, as getState() returns it), current value is ${
          JSON.stringify(state) ?? String(state)
        }`,
      { hint: "pass what getState() returned, or a checkpoint's optimizer state" },
    );
  }
  if (state.name !== name || !Number.isInteger(state.step) || state.step < 0) {
    throw new AnnealError(
      "checkpoint",
      `Cannot restore ${where}: the state is of a ${state.name} optimizer at step ${state.step}`,
      { hint: "resume with the optimizer spec the checkpoint was saved with" },
    );
  }
}

/**
 * Throws a checkpoint error unless every slot of a state is a tensor as `getState` writes it,
 * keyed `"<variable>/<slot>"`: whole dimensions and as many values as they make. Checked when
 * the state is set (a wrong count failed at the next step, in tfjs); whether a slot fits its
 * variable is known only at the step that meets the variable.
 */
export function checkSavedSlots(where: string, slots: OptimizerState["slots"]): void {
  if (slots === null || typeof slots !== "object" || Array.isArray(slots)) {
    throw new AnnealError(
      "checkpoint",
      `Cannot restore ${where}: 'slots' must be an object of slot tensors by ` +
        `"<variable>/<slot>", current value is ${JSON.stringify(slots) ?? String(slots)}`,
      { hint: "pass what getState() returned, or a checkpoint's optimizer state" },
    );
  }
  for (const [key, saved] of Object.entries(slots)) {
    const { shape, values } = saved ?? {};
    const tensor = key.lastIndexOf("/") > 0 && Array.isArray(shape) &&
      shape.every((size) => Number.isInteger(size) && size >= 0) &&
      (Array.isArray(values) || values instanceof Float32Array);
    if (!tensor) {
      throw new AnnealError(
        "checkpoint",
        `Cannot restore ${where}: slot '${key}' must be keyed "<variable>/<slot>" and hold ` +
          `{ shape, values }, current value is ${
            JSON.stringify(saved, (_, v) => v instanceof Float32Array ? Array.from(v) : v)
              ?.slice(0, 80) ?? String(saved)
          }`,
        { where: key, hint: "pass what getState() returned, or a checkpoint's optimizer state" },
      );
    }
    const needed = shape.reduce((product, size) => product * size, 1);
    if (values.length !== needed) {
      throw new AnnealError(
        "checkpoint",
        `Cannot restore ${where}: slot '${key}' holds ${values.length} values, its shape ${
          JSON.stringify(shape)
        } needs ${needed}`,
        { where: key, hint: "pass the slots as getState() returned them" },
      );
    }
  }
}

/**
 * Throws a usage error unless there are as many gradients as `noun` and `lr` is finite. A negative
 * `lr` is taken as it is: torch 1.13's optimizers check only the rate they are built with, and a
 * schedule may make the rate negative afterwards (a negative `gamma` or `etaMin`), which then
 * enters the update as it is, climbing the loss.
 */
export function checkCountAndLr(
  where: string,
  params: number,
  grads: number,
  noun: string,
  lr: number,
): void {
  if (params !== grads) {
    throw new AnnealError(
      "usage",
      `Cannot step ${where}: ${params} ${noun} but ${grads} gradients`,
    );
  }
  if (!Number.isFinite(lr)) {
    // (a string from plain JS showed as the number it spells)
    const shown = typeof lr === "string" ? `"${lr}", a string` : String(lr);
    throw new AnnealError(
      "usage",
      `Cannot step ${where}: 'lr' must be a finite number, current value is ${shown}`,
      { hint: "pass the learning rate of this step (a schedule's value may be negative)" },
    );
  }
}

/** Throws a usage error unless `params` and `grads` pair up (names unique, shapes equal) and `lr` is finite. */
export function checkStepArguments(
  where: string,
  params: tf.Variable[],
  grads: tf.Tensor[],
  lr: number,
): void {
  checkCountAndLr(where, params.length, grads.length, "variables", lr);
  const names = new Set<string>();
  params.forEach((param, index) => {
    if (names.has(param.name)) {
      throw new AnnealError(
        "usage",
        `Cannot step ${where}: variable '${param.name}' appears twice`,
      );
    }
    names.add(param.name);
    if (!tf.util.arraysEqual(param.shape, grads[index].shape)) {
      throw new AnnealError(
        "usage",
        `Cannot step ${where}: gradient of '${param.name}' has shape ${
          JSON.stringify(grads[index].shape)
        }, the variable has ${JSON.stringify(param.shape)}`,
      );
    }
  });
}

/**
 * The slot names the fused WGSL kernels (WebGPU) gave their state before they took torch's, as
 * the other paths do: a checkpoint an older anneal wrote on WebGPU holds them. Per optimizer, the
 * old name and torch's.
 */
const OLD_FUSED_SLOTS: Partial<Record<OptimizerName, Record<string, string>>> = {
  sgd: { momentum: "momentum_buffer" },
  adam: { m: "exp_avg", v: "exp_avg_sq", vmax: "max_exp_avg_sq" },
  adamw: { m: "exp_avg", v: "exp_avg_sq", vmax: "max_exp_avg_sq" },
  lion: { m: "exp_avg" },
};

/**
 * `state`'s slots under torch's names (`exp_avg`, `momentum_buffer`, ...), which every path
 * writes: a state of an older anneal's fused kernels (`m`, `v`, `vmax`, `momentum`) renamed.
 *
 * @example
 * ```ts
 * import { torchSlotNames } from "./core.ts";
 * const old = { name: "adam" as const, step: 1, slots: { "w/m": { shape: [1], values: [0.5] } } };
 * console.assert("w/exp_avg" in torchSlotNames(old));
 * ```
 */
export function torchSlotNames(state: OptimizerState): OptimizerState["slots"] {
  const renames = OLD_FUSED_SLOTS[state.name];
  if (!renames) return state.slots;
  const slots: OptimizerState["slots"] = {};
  for (const [key, tensor] of Object.entries(state.slots)) {
    const cut = key.lastIndexOf("/");
    const torch = renames[key.slice(cut + 1)];
    const renamed = torch === undefined ? key : `${key.slice(0, cut)}/${torch}`;
    // (a slot under torch's name wins over its old name's)
    if (renamed === key || !(renamed in state.slots)) slots[renamed] = tensor;
  }
  return slots;
}

/** Saved slots `"<variable>/<slot>"` grouped by variable name. */
export function groupSlots(
  slots: Record<string, SavedTensor>,
): Map<string, Record<string, SavedTensor>> {
  const grouped = new Map<string, Record<string, SavedTensor>>();
  for (const [key, tensor] of Object.entries(slots)) {
    const cut = key.lastIndexOf("/");
    const name = key.slice(0, cut);
    const own = grouped.get(name) ?? {};
    own[key.slice(cut + 1)] = tensor;
    grouped.set(name, own);
  }
  return grouped;
}
