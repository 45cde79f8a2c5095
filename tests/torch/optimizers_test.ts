/**
 * Every torch.optim optimizer anneal has (all but Lion, LAMB and Adafactor, which torch 1.13 has
 * not) against live PyTorch 1.13 (tests/torch/optimizers.py, one python run for every case), on
 * settings, parameters and gradients drawn at random from a fixed seed: typical settings and
 * edges (0, tiny, 1, large, negative, beyond 1), two to four parameters of ranks 0 to 2 with their
 * own decay and learning-rate multiplier (anneal's `noDecay` and `paramGroups`, torch's param
 * groups), gradients with entries that stay 0, and in some runs a schedule's rate at each step,
 * negative ones included. The fixture tests (optimizers/conformance_test.ts,
 * optimizers/domain_test.ts) replay what torch was run on once; `ANNEAL_TORCH_SEED` draws others.
 *
 * Where torch's constructor raises, anneal's config must refuse the optimizer; where torch runs
 * it, anneal must too (or refuse it on purpose, saying "torch 1.13 accepts"), and its reference
 * chain (cpu backend) must give torch's parameters after every step to the conformance test's
 * relative 1e-5, NaN where torch has NaN; its host optimizer too, where it has one.
 *
 * @module
 */

import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
import assert from "node:assert/strict";
import { float32s, FLOOR, hostOptimizerOf, RELATIVE } from "../../optimizers/_trajectories.ts";
import { hasHostKernel } from "../../optimizers/host.ts";
import { createOptimizer, hasFusedKernels, type Optimizer } from "../../optimizers/optimizer.ts";
import { selectBackend } from "../../runtime/backend.ts";
import type { OptimizerSpec } from "../../optimizers/spec.ts";
import { Draw } from "./draw.ts";
import { runTorch } from "./python.ts";
import { optimizerRefusal } from "../_refusal.ts";

await tf.setBackend("cpu");

/** torch 1.13's optimizers, by anneal's names. */
const TORCH_OPTIMIZERS = [
  "sgd",
  "adam",
  "adamw",
  "rmsprop",
  "adagrad",
  "adamax",
  "nadam",
  "radam",
  "adadelta",
] as const;
type Name = typeof TORCH_OPTIMIZERS[number];

/** Cases drawn per optimizer. */
const PER_OPTIMIZER = Number(Deno.env.get("ANNEAL_TORCH_CASES") ?? 60);
const SEED = Number(Deno.env.get("ANNEAL_TORCH_SEED") ?? 20261202);

interface Param {
  name: string;
  shape: number[];
  values: number[];
  /** torch's group settings for it: what anneal's rules give it. */
  weightDecay: number;
  lrMultiplier: number;
}

interface Case {
  name: Name;
  /** The settings, anneal's camelCase (torch's through NAMES in optimizers.py). */
  settings: Record<string, unknown>;
  /** anneal's rules for the parameters' decay and rates. */
  rules: Pick<OptimizerSpec, "noDecay" | "paramGroups">;
  params: Param[];
  grads: number[][][];
  lrs?: number[];
  /** The momentum (or beta1) of each step, set before it, as onecycle and cyclic move it. */
  momenta?: number[];
}

interface TorchResult {
  raises?: { step: number; error: string };
  params?: string[];
  params64?: string[] | null;
}

/** A float32 number from a normal distribution of scale `scale`. */
function normal(draw: Draw, scale: number): number {
  const u = 1 - draw.next();
  return Math.fround(scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * draw.next()));
}

const lr = (draw: Draw) => draw.edge(0.2, [0, 1e-9, 1, 10, -0.1], () => draw.logUniform(1e-4, 0.5));
const eps = (draw: Draw, typical: number) =>
  draw.edge(0.3, [0, 1, -typical, 1e-30], () => draw.logUniform(typical / 100, typical * 100));
const weightDecay = (draw: Draw) =>
  draw.edge(0.3, [0, 1, -0.1, 1e-9], () => draw.logUniform(1e-5, 0.5));
const beta1 = (draw: Draw) => draw.edge(0.2, [0, 0.999, 1, -0.1, 1.5], () => draw.uniform(0, 0.99));
const beta2 = (draw: Draw) =>
  draw.edge(0.2, [0, 0.5, 1, -0.1, 1.5], () => 1 - draw.logUniform(1e-4, 0.1));
const bool = (draw: Draw) => draw.chance(0.5);

/** The settings of one optimizer; each left to its default one time in four (but `lr`). */
function settingsOf(draw: Draw, name: Name): Record<string, unknown> {
  const drawn: Record<string, () => unknown> = { weightDecay: () => weightDecay(draw) };
  const betas = () => [beta1(draw), beta2(draw)];
  switch (name) {
    case "sgd":
      Object.assign(drawn, {
        momentum: () => draw.edge(0.3, [0, 1, 1.5, -0.1], () => draw.uniform(0, 0.99)),
        dampening: () => draw.edge(0.5, [0, 1, 1.2, -0.5], () => draw.next()),
        nesterov: () => draw.chance(0.4),
        maximize: () => bool(draw),
      });
      break;
    case "adam":
    case "adamw":
      Object.assign(drawn, {
        betas,
        eps: () => eps(draw, 1e-8),
        amsgrad: () => bool(draw),
        maximize: () => bool(draw),
      });
      break;
    case "rmsprop":
      Object.assign(drawn, {
        alpha: () => draw.edge(0.2, [0, 1, 1.5, -0.1], () => draw.uniform(0.8, 0.999)),
        eps: () => eps(draw, 1e-8),
        momentum: () => draw.edge(0.3, [0, -0.1, 1], () => draw.uniform(0, 0.99)),
        centered: () => bool(draw),
        maximize: () => bool(draw),
      });
      break;
    case "adagrad":
      Object.assign(drawn, {
        lrDecay: () => draw.edge(0.3, [0, -0.1, 1], () => draw.logUniform(1e-4, 0.5)),
        initialAccumulatorValue: () => draw.edge(0.3, [0, -0.1, 1e-9], () => draw.uniform(0, 1)),
        eps: () => eps(draw, 1e-10),
        maximize: () => bool(draw),
      });
      break;
    case "adamax":
      Object.assign(drawn, { betas, eps: () => eps(draw, 1e-8), maximize: () => bool(draw) });
      break;
    case "nadam":
      Object.assign(drawn, {
        betas,
        eps: () => eps(draw, 1e-8),
        momentumDecay: () => draw.edge(0.3, [0, 1, 100, -0.004], () => draw.logUniform(1e-4, 0.1)),
      });
      break;
    case "radam":
      Object.assign(drawn, { betas, eps: () => eps(draw, 1e-8) });
      break;
    case "adadelta":
      Object.assign(drawn, {
        rho: () => draw.edge(0.3, [0, 1, 1.5, -0.1], () => draw.uniform(0.5, 0.99)),
        eps: () => eps(draw, 1e-6),
        maximize: () => bool(draw),
      });
      break;
  }
  // torch 1.13's SGD has no default rate: every case names one
  const settings: Record<string, unknown> = { lr: lr(draw) };
  for (const [key, value] of Object.entries(drawn)) {
    if (draw.chance(0.75)) settings[key] = value();
  }
  // torch 1.13's NAdam and RAdam have no maximize (a TypeError when built): anneal refuses it
  if ((name === "nadam" || name === "radam") && draw.chance(0.1)) settings.maximize = bool(draw);
  return settings;
}

/** torch's default weight decay (AdamW's 1e-2, else none), as anneal's. */
function decayOf(name: Name, settings: Record<string, unknown>): number {
  return (settings.weightDecay as number | undefined) ?? (name === "adamw" ? 1e-2 : 0);
}

function drawCase(draw: Draw, name: Name): Case {
  const settings = settingsOf(draw, name);
  const shapes = Array.from({ length: draw.int(2, 4) }, () => {
    const rank = draw.pick([0, 1, 1, 2, 2, 2]);
    return Array.from({ length: rank }, () => draw.int(1, 4));
  });
  const names = shapes.map((shape, i) => `p${i}/${shape.length >= 2 ? "weight" : "bias"}`);
  const wd = decayOf(name, settings);
  // anneal's rules: the default (rank < 2 does not decay), every parameter, or all but one
  const rule = draw.int(0, 2);
  const excluded = draw.int(0, shapes.length - 1);
  const rules: Case["rules"] = rule === 0 ? {} : { noDecay: rule === 1 ? [] : [`^p${excluded}/`] };
  const decays = (i: number) =>
    rule === 0 ? shapes[i].length >= 2 : rule === 1 ? true : i !== excluded;
  // a param group for one parameter: its own rate multiplier, and maybe its own decay
  const grouped = draw.chance(0.4) ? draw.int(0, shapes.length - 1) : -1;
  const multiplier = draw.edge(0.2, [0, 1], () => draw.uniform(0.1, 3));
  const groupDecay = draw.chance(0.5) ? draw.logUniform(1e-4, 0.5) : undefined;
  if (grouped >= 0) {
    rules.paramGroups = [{
      match: `^p${grouped}/`,
      lrMultiplier: multiplier,
      ...(groupDecay === undefined ? {} : { weightDecay: groupDecay }),
    }];
  }
  const scale = draw.logUniform(0.1, 3);
  const params: Param[] = shapes.map((shape, i) => {
    const size = shape.reduce((a, b) => a * b, 1);
    return {
      name: names[i],
      shape,
      values: Array.from({ length: size }, () => normal(draw, scale)),
      weightDecay: i === grouped && groupDecay !== undefined ? groupDecay : decays(i) ? wd : 0,
      lrMultiplier: i === grouped ? multiplier : 1,
    };
  });
  const steps = draw.int(3, 25);
  const gradScale = draw.logUniform(1e-3, 10);
  // some entries' gradient is always 0 (where eps 0 divides 0 by 0), some just now and then
  const zero = params.map((p) => p.values.map(() => draw.chance(0.1)));
  const grads = Array.from(
    { length: steps },
    () =>
      params.map((p, i) =>
        p.values.map((_, j) => zero[i][j] || draw.chance(0.05) ? 0 : normal(draw, gradScale))
      ),
  );
  const lrs = draw.chance(0.3)
    ? Array.from(
      { length: steps },
      () => draw.edge(0.2, [0, -0.01], () => draw.logUniform(1e-4, 0.3)),
    )
    : undefined;
  // a cycled momentum (beta1 for Adam's family) in some runs, as setMomentum takes it: sgd's and
  // rmsprop's >= 0, beta1 in [0, 1). rmsprop's starts above 0: torch 1.13 makes its buffer at the
  // first step only where the momentum is above 0 then, and raises (KeyError) at a later step
  // that has one; anneal's config refuses such a cycle (schedulers/domain_test.ts)
  const betaLike = name !== "sgd" && name !== "rmsprop";
  const cycled = draw.chance(0.3) && name !== "adagrad" && name !== "adadelta";
  const momenta = cycled
    ? Array.from(
      { length: steps },
      (_, step) =>
        betaLike
          ? draw.edge(0.2, [0, 0.999], () => draw.uniform(0.5, 0.99))
          : name === "rmsprop" && step === 0
          ? draw.uniform(0.5, 1.5)
          : draw.edge(0.2, [0, 1, 1.5], () => draw.uniform(0.5, 0.99)),
    )
    : undefined;
  return {
    name,
    settings,
    rules,
    params,
    grads,
    ...(lrs ? { lrs } : {}),
    ...(momenta ? { momenta } : {}),
  };
}

const draw = new Draw(SEED);
const cases = TORCH_OPTIMIZERS.flatMap((name) =>
  Array.from({ length: PER_OPTIMIZER }, () => drawCase(draw, name))
);
const torch = await runTorch<{ torch: string; results: TorchResult[] }>("optimizers.py", {
  cases,
});

function specOf(c: Case): OptimizerSpec {
  return { name: c.name, ...c.settings, ...c.rules } as OptimizerSpec;
}

/** Little-endian float64 values from base64. */
function float64s(base64: string): Float64Array {
  const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
  return new Float64Array(bytes.buffer);
}

/**
 * How far anneal's `got` is from torch's `want` (float32) at one entry, in the conformance test's
 * measure, |anneal - torch| / (|torch| + floor), less what float32 rounding alone moves torch
 * there (`wide`, torch's float64 run). anneal rounds differently (tfjs's separate ops, torch's
 * fused multiply-adds), which a denominator near 0 (eps 0, beta2 0) lifts far above a few ulps:
 * anneal may be 32 times that far; where float32 rounding decides between a number and NaN (or
 * an infinity), it may take either. The floor (see {@linkcode floorAt}) covers steps far larger
 * than the parameters they land on.
 */
function entryError(got: number, want: number, wide: number, floor: number): number {
  if (Object.is(got, want)) return 0;
  const finite = Number.isFinite(want);
  // (float64's value where float32 would hold it: beyond its range, the same infinity)
  const narrowed = Math.fround(wide);
  if (finite !== Number.isFinite(narrowed) || (!finite && !Object.is(want, narrowed))) return 0;
  if (!finite) return Infinity;
  const noise = Number.isFinite(wide) ? 32 * Math.abs(want - wide) : 0;
  return Math.max(0, Math.abs(got - want) - noise) / (Math.abs(want) + floor);
}

/**
 * The floor of the agreement at `step`: the conformance test's, 1% of the largest initial
 * magnitude, or a tenth of the largest magnitude torch's parameters have held so far where that
 * is more. A step far larger than the parameter it lands on (a rate of 10) rounds at its own
 * magnitude, a few float32 ulps of it apart in torch and anneal.
 */
function floorAt(c: Case, torchParams: Float32Array[], step: number): number {
  const initial = Math.max(...c.params.flatMap((p) => p.values.map(Math.abs)));
  let largest = 0;
  for (const params of torchParams.slice(0, step + 1)) {
    for (const value of params) {
      if (Number.isFinite(value)) largest = Math.max(largest, Math.abs(value));
    }
  }
  return Math.max(FLOOR * initial, 0.1 * largest);
}

/**
 * The entries whose values are float32 rounding and nothing else, in torch as here: centered
 * RMSprop at alpha 0 takes the square root of `fl(g²) - g²`, the rounding error of g² (NaN where
 * it is negative), which an ulp of g changes in kind; where the parameter decays, torch's g is
 * `grad + weightDecay * param` fused into one rounding in its vectorized kernels and rounded twice
 * in their scalar tails (so which entries get which depends on the tensor's size), anneal's
 * rounded twice. There only torch's verdict (it runs) is held to.
 */
function roundingOnly(c: Case): boolean[] {
  const centeredAtZero = c.name === "rmsprop" && c.settings.centered === true &&
    c.settings.alpha === 0;
  return c.params.flatMap((p) => p.values.map(() => centeredAtZero && p.weightDecay !== 0));
}

/** Where `create`'s steps leave torch's parameters, or undefined where they never do. */
function replay(
  c: Case,
  result: TorchResult,
  create: (spec: OptimizerSpec) => Optimizer,
): string | undefined {
  const variables = c.params.map((p) => tf.variable(tf.tensor(p.values, p.shape), true, p.name));
  const torchParams = result.params!.map(float32s);
  const skip = roundingOnly(c);
  const optimizer = create(specOf(c));
  try {
    for (const [step, grads] of c.grads.entries()) {
      const feed = grads.map((grad, i) => tf.tensor(grad, c.params[i].shape));
      if (c.momenta) optimizer.setMomentum(c.momenta[step]);
      optimizer.step(variables, feed, c.lrs?.[step]);
      tf.dispose(feed);
      const got = variables.flatMap((v) => [...v.dataSync()]);
      const want = torchParams[step];
      const floor = floorAt(c, torchParams, step);
      const wide = result.params64 ? float64s(result.params64[step]) : want;
      const off = (i: number) => entryError(got[i], want[i], wide[i], floor);
      const i = got.findIndex((_, i) => !skip[i] && !(off(i) <= RELATIVE));
      if (i >= 0) {
        return `after step ${step + 1}, value ${i} is ${got[i]}, torch ${want[i]} (${
          wide[i]
        } in float64; off by ${off(i).toExponential(2)})`;
      }
    }
    return undefined;
  } finally {
    optimizer.dispose();
    tf.dispose(variables);
  }
}

/** Why anneal disagrees with torch on `c`, or undefined. */
function judge(c: Case, result: TorchResult): string | undefined {
  const refused = optimizerRefusal(specOf(c));
  if (result.raises) {
    if (result.raises.step > 0) {
      return `torch raises at step ${result.raises.step}: ${result.raises.error}`;
    }
    return refused === undefined
      ? `torch raises (${result.raises.error}), anneal accepts it`
      : undefined;
  }
  if (refused !== undefined) {
    return /torch 1\.13 accepts/.test(refused)
      ? undefined
      : `torch runs it, anneal refuses it: ${refused}`;
  }
  const chain = replay(c, result, createOptimizer);
  if (chain) return `reference chain: ${chain}`;
  if (hasHostKernel(specOf(c))) {
    const host = replay(c, result, hostOptimizerOf);
    if (host) return `host optimizer: ${host}`;
  }
  return undefined;
}

function describe(c: Case): string {
  return `${JSON.stringify(specOf(c))} on ${
    JSON.stringify(c.params.map((p) => p.shape))
  }, ${c.grads.length} steps${c.lrs ? ` at rates ${JSON.stringify(c.lrs)}` : ""}${
    c.momenta ? ` and momenta ${JSON.stringify(c.momenta)}` : ""
  }`;
}

Deno.test(`the draws run every torch optimizer, and torch ${torch.torch} both runs and refuses some of each`, () => {
  assert.equal(torch.results.length, cases.length);
  for (const name of TORCH_OPTIMIZERS) {
    const mine = torch.results.filter((_, i) => cases[i].name === name);
    const ran = mine.filter((r) => !r.raises).length;
    assert.ok(ran >= PER_OPTIMIZER / 3, `${name}: torch ran only ${ran} of ${mine.length}`);
    assert.ok(ran < mine.length, `${name}: torch refused none`);
  }
});

for (const name of TORCH_OPTIMIZERS) {
  Deno.test(`${name}: ${PER_OPTIMIZER} drawn runs (seed ${SEED}) give torch ${torch.torch}'s parameters, or are refused where it raises`, () => {
    const problems: string[] = [];
    cases.forEach((c, i) => {
      if (c.name !== name) return;
      const problem = judge(c, torch.results[i]);
      if (problem) problems.push(`${describe(c)}: ${problem}`);
    });
    assert.deepEqual(problems, [], `${problems.length} disagreements:\n${problems.join("\n")}`);
  });
}

// last: it leaves the wasm backend selected
Deno.test(`adam and adamw on the wasm backend, tfjs's ops and the fused AnnealAdamUpdate kernel, give torch ${torch.torch}'s parameters on the same draws`, async () => {
  await selectBackend("wasm", "mlp");
  const fused = (spec: OptimizerSpec) => createOptimizer(spec, { fusedKernels: true });
  assert.ok(hasFusedKernels({ name: "adam" }), "no AnnealAdamUpdate kernel on wasm");
  const problems: string[] = [];
  let compared = 0;
  cases.forEach((c, i) => {
    const result = torch.results[i];
    if ((c.name !== "adam" && c.name !== "adamw") || result.raises) return;
    if (optimizerRefusal(specOf(c)) !== undefined) return;
    for (const [path, create] of [["ops", createOptimizer], ["fused kernel", fused]] as const) {
      const problem = replay(c, result, create);
      if (problem) problems.push(`${describe(c)}: wasm ${path}: ${problem}`);
    }
    compared++;
  });
  assert.ok(compared >= PER_OPTIMIZER / 2, `only ${compared} runs compared`);
  assert.deepEqual(problems, [], `${problems.length} disagreements:\n${problems.join("\n")}`);
});
