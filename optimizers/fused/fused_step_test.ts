/**
 * The fused kernels against a plain tfjs-ops reference written here from PyTorch's formulas, and
 * through the optimizer interface against torch 1.13's trajectories, on whatever WebGPU adapter
 * the machine has (Mesa's llvmpipe in CI: tiny tensors, few steps).
 *
 * @module
 */

import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";
import { releaseWebGpu } from "../../runtime/backend.ts";
import { loadTrajectories, replay } from "../_trajectories.ts";
import { createOptimizer, type Optimizer, type OptimizerState } from "../optimizer.ts";
import type { OptimizerSpec } from "../spec.ts";
import { createFusedOptimizer as createResolvedFused, hasFusedKernel } from "./adapter.ts";
import { parseOptimizerSpec } from "../parse.ts";
import { createFusedStep, type FusedHyper, type FusedKind } from "./fused_step.ts";

/** A fused optimizer of a spec as a test writes it (adapter.ts takes it resolved). */
const createFusedOptimizer = (spec: OptimizerSpec) => createResolvedFused(parseOptimizerSpec(spec));

const ready = tf.setBackend("webgpu").then(() => tf.ready());

type Hyper = Required<Omit<FusedHyper, "maxGradNorm">> & { maxGradNorm?: number };

/** Reference: torch.optim's arithmetic in tfjs ops, state as plain tensors. */
function referenceStep(
  kind: FusedKind,
  h: Hyper,
  params: tf.Tensor[],
  grads: tf.Tensor[],
  state: tf.Tensor[][],
  t: number,
  lr: number,
): tf.Tensor[] {
  return tf.tidy(() => {
    let gs = grads;
    if (h.maxGradNorm !== undefined) {
      const norm = tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g)))));
      const scale = tf.minimum(1, tf.div(h.maxGradNorm, tf.add(norm, 1e-6)));
      gs = grads.map((g) => tf.mul(g, scale));
    }
    return params.map((p, i) => {
      // torch's maximize negates the gradient before anything else reads it
      const g = h.maximize ? tf.neg(gs[i]) : gs[i];
      const s = state[i];
      if (kind === "sgd") {
        let d = tf.add(g, tf.mul(h.weightDecay, p));
        if (h.momentum !== 0) {
          const buf = t === 1 ? d : tf.add(tf.mul(h.momentum, s[0]), tf.mul(1 - h.dampening, d));
          s[0] = tf.keep(buf.clone());
          d = h.nesterov ? tf.add(d, tf.mul(h.momentum, buf)) : buf;
        }
        return tf.keep(tf.sub(p, tf.mul(lr, d)));
      }
      if (kind === "lion") {
        const c = tf.add(tf.mul(h.beta1, s[0]), tf.mul(1 - h.beta1, g));
        s[0] = tf.keep(tf.add(tf.mul(h.beta2, s[0]), tf.mul(1 - h.beta2, g)));
        return tf.keep(tf.sub(tf.mul(p, 1 - lr * h.weightDecay), tf.mul(lr, tf.sign(c))));
      }
      const decoupled = kind === "adamw";
      const x = decoupled ? tf.mul(p, 1 - lr * h.weightDecay) : p;
      const d = decoupled ? g : tf.add(g, tf.mul(h.weightDecay, p));
      s[0] = tf.keep(tf.add(tf.mul(h.beta1, s[0]), tf.mul(1 - h.beta1, d)));
      s[1] = tf.keep(tf.add(tf.mul(h.beta2, s[1]), tf.mul(1 - h.beta2, tf.square(d))));
      let v = s[1];
      if (h.amsgrad) v = s[2] = tf.keep(tf.maximum(s[2], s[1]));
      const mHat = tf.div(s[0], 1 - h.beta1 ** t);
      const vHat = tf.div(v, 1 - h.beta2 ** t);
      return tf.keep(tf.sub(x, tf.mul(lr, tf.div(mHat, tf.add(tf.sqrt(vHat), h.eps)))));
    });
  });
}

/** Largest difference relative to the tensor's largest magnitude (entries near 0 cancel). */
function maxRelativeError(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return worst / scale;
}

/** `lrs`: the rate of each step (a schedule's, negative ones too); 0.05 at every step by default. */
async function compare(
  kind: FusedKind,
  hyper: Partial<Hyper>,
  steps = 3,
  lrs: number[] = Array(steps).fill(0.05),
): Promise<void> {
  await ready;
  const h: Hyper = {
    beta1: 0.9,
    beta2: kind === "lion" ? 0.99 : 0.999,
    eps: 1e-8,
    weightDecay: 0,
    momentum: 0,
    dampening: 0,
    nesterov: false,
    amsgrad: false,
    maximize: false,
    ...hyper,
  };
  const shapes = [[7, 5], [5], [3, 2, 2]];
  const init = shapes.map((s, i) => tf.randomNormal(s, 0, 1, "float32", 10 + i));
  const vars = init.map((x) => tf.variable(x));
  let ref = init.map((x) => x.clone());
  const state = shapes.map((s) => [tf.zeros(s), tf.zeros(s), tf.zeros(s)]);
  const fused = createFusedStep(kind, h);
  let counts: number[] = [];
  for (let t = 1; t <= steps; t++) {
    const grads = shapes.map((s, i) => tf.randomNormal(s, 0, 2, "float32", 100 * t + i));
    fused.step(vars, grads, lrs[t - 1]);
    counts.push(tf.memory().numTensors);
    const old = state.map((s) => [...s]);
    const next = referenceStep(kind, h, ref, grads, state, t, lrs[t - 1]);
    old.forEach((s, i) => s.forEach((x, k) => x !== state[i][k] && x.dispose()));
    ref.forEach((x) => x.dispose());
    ref = next;
    grads.forEach((g) => g.dispose());
  }
  for (let i = 0; i < vars.length; i++) {
    const error = maxRelativeError(
      await vars[i].data() as Float32Array,
      await ref[i].data() as Float32Array,
    );
    assert.ok(error < 1e-5, `${kind} parameter ${i}: relative error ${error}`);
  }
  counts = counts.slice(1);
  assert.ok(counts.every((c) => c === counts[0]), `tensor counts grew: ${counts}`);
  fused.dispose();
  [...vars, ...ref, ...init, ...state.flat()].forEach((x) => x.dispose());
}

Deno.test("fused adam matches torch's adam formulas", () => compare("adam", {}));
Deno.test("fused adam with L2 decay and amsgrad matches the reference", () =>
  compare("adam", { weightDecay: 0.1, amsgrad: true }));
Deno.test("fused adamw decays decoupled and matches the reference", () =>
  compare("adamw", { weightDecay: 0.1 }));
Deno.test("fused sgd with momentum, dampening and decay matches the reference", () =>
  compare("sgd", { momentum: 0.9, dampening: 0.1, weightDecay: 0.01 }));
// torch checks no range of dampening: above 1 the gradient enters the buffer negated
Deno.test("fused sgd with dampening above 1 matches the reference", () =>
  compare("sgd", { momentum: 0.5, dampening: 1.2, weightDecay: 0.01 }));
Deno.test("fused sgd with nesterov momentum matches the reference", () =>
  compare("sgd", { momentum: 0.9, nesterov: true }));
Deno.test("fused plain sgd matches the reference", () => compare("sgd", {}, 2));
Deno.test("fused sgd with maximize ascends with nesterov momentum and decay", () =>
  compare("sgd", { momentum: 0.9, nesterov: true, weightDecay: 0.01, maximize: true }));
Deno.test("fused adam with maximize negates the gradient before L2 decay and amsgrad", () =>
  compare("adam", { weightDecay: 0.1, amsgrad: true, maximize: true }));
Deno.test("fused adamw with maximize and a global-norm clip matches the reference", () =>
  compare("adamw", { weightDecay: 0.1, maximize: true, maxGradNorm: 1 }));
Deno.test("fused lion matches the reference", () => compare("lion", { weightDecay: 0.1 }));
Deno.test("fused adam with a global-norm clip matches the reference", () =>
  compare("adam", { maxGradNorm: 1 }));
// SGD is not scale invariant as Adam nearly is: a wrong clip factor shows in the weights.
Deno.test("fused sgd with a global-norm clip scales gradients on the device", () =>
  compare("sgd", { momentum: 0.9, maxGradNorm: 0.5 }));

// A schedule may make the rate negative (a negative gamma): torch uses it as it is.
const negativeRates = [0.05, -0.03, 0.02, -0.01];
Deno.test("fused sgd with momentum and decay at a schedule's negative rates matches the reference", () =>
  compare("sgd", { momentum: 0.9, nesterov: true, weightDecay: 0.1 }, 4, negativeRates));
Deno.test("fused adam with amsgrad at a schedule's negative rates matches the reference", () =>
  compare("adam", { amsgrad: true, weightDecay: 0.1 }, 4, negativeRates));
Deno.test("fused adamw at a schedule's negative rates matches the reference", () =>
  compare("adamw", { weightDecay: 0.5 }, 4, negativeRates));
Deno.test("fused lion at a schedule's negative rates matches the reference", () =>
  compare("lion", { weightDecay: 0.1 }, 4, negativeRates));

Deno.test("fused sgd and adam without weight decay keep an infinite parameter infinite, adding no 0 * p", async () => {
  // torch 1.13 adds the L2 term (grad.add(param, alpha=wd)) only where weight_decay != 0: p =
  // -Infinity stays -Infinity, where 0 * p would make the gradient NaN. p = [-inf, 1, 2, 3, -inf],
  // grad 0.5, lr 0.1, two steps: torch's p.
  await ready;
  const cases: [FusedKind, Partial<FusedHyper>, number[]][] = [
    ["sgd", { momentum: 0.9 }, [0.854999959, 1.85500002, 2.85500002]],
    ["adam", {}, [0.800000012, 1.79999995, 2.80000019]],
    ["adamw", { weightDecay: 0 }, [0.800000012, 1.79999995, 2.80000019]],
  ];
  for (const [kind, hyper, torch] of cases) {
    const param = tf.variable(tf.tensor1d([-Infinity, 1, 2, 3, -Infinity]));
    const grad = tf.fill([5], 0.5);
    const fused = createFusedStep(kind, hyper);
    fused.step([param], [grad], 0.1);
    fused.step([param], [grad], 0.1);
    const got = Array.from(await param.data());
    assert.equal(got[0], -Infinity, `${kind}: ${got}`);
    assert.equal(got[4], -Infinity, `${kind}: ${got}`);
    torch.forEach((w, i) =>
      assert.ok(
        Math.abs(got[i + 1] - w) <= 1e-6 * Math.abs(w),
        `${kind}: ${got[i + 1]}, torch ${w}`,
      )
    );
    fused.dispose();
    tf.dispose([param, grad]);
  }
});

Deno.test("fused gradNorm is the global L2 norm of the gradients", async () => {
  await ready;
  const w = [tf.variable(tf.zeros([3])), tf.variable(tf.zeros([2, 2]))];
  const grads = [tf.tensor([3, 0, 0]), tf.tensor([[0, 4], [0, 12]])];
  const sgd = createFusedStep("sgd", { maxGradNorm: 1 });
  sgd.step(w, grads, 1);
  const norm = sgd.gradNorm()!;
  assert.ok(Math.abs((await norm.data())[0] - 13) < 1e-5);
  const first = Array.from(await w[0].data());
  assert.ok(Math.abs(first[0] + 3 / 13) < 1e-5, `clipped update ${first}`);
  [norm, ...w, ...grads].forEach((x) => x.dispose());
  sgd.dispose();
});

Deno.test("fused state saved and restored continues the same trajectory", async () => {
  await ready;
  const a = tf.variable(tf.randomNormal([4, 3], 0, 1, "float32", 1));
  const b = tf.variable(a.clone(), true, "restored_copy");
  const grad = (t: number) => tf.randomNormal([4, 3], 0, 1, "float32", 50 + t);
  const one = createFusedStep("adamw", { weightDecay: 0.1 });
  const two = createFusedStep("adamw", { weightDecay: 0.1 });
  for (let t = 0; t < 2; t++) {
    const g = grad(t);
    one.step([a], [g], 0.1);
    two.step([b], [g], 0.1);
    g.dispose();
  }
  const saved = await one.getState();
  assert.equal(saved.step, 2);
  const renamed = Object.fromEntries(
    Object.entries(saved.slots).map(([k, v]) => [k.replace(a.name, b.name), v]),
  );
  const three = createFusedStep("adamw", { weightDecay: 0.1 });
  three.setState({ step: saved.step, slots: renamed });
  const g = grad(2);
  one.step([a], [g], 0.1);
  three.step([b], [g], 0.1);
  assert.deepEqual(Array.from(await b.data()), Array.from(await a.data()));
  [a, b, g].forEach((x) => x.dispose());
  [one, two, three].forEach((o) => o.dispose());
});

Deno.test("fused step inside tf.tidy keeps its slots alive", async () => {
  await ready;
  const w = tf.variable(tf.ones([3]));
  const sgd = createFusedStep("sgd", { momentum: 0.5 });
  for (let t = 0; t < 2; t++) tf.tidy(() => sgd.step([w], [tf.ones([3])], 1));
  // buf = 1, then 0.5 + 1 = 1.5: w = 1 - 1 - 1.5
  assert.deepEqual(Array.from(await w.data()), [-1.5, -1.5, -1.5]);
  w.dispose();
  sgd.dispose();
});

Deno.test("the fused kernels follow PyTorch's trajectories (torch 1.13 fixtures: sgd, adam, adamw, lion)", async () => {
  await ready;
  const cases = (await loadTrajectories()).filter((c) => hasFusedKernel(c.spec));
  assert.ok(cases.length >= 20, `${cases.length} cases`);
  // to 1e-5 even where the fixture is exact: a GPU's compiler may fuse a multiply-add or not
  for (const fixture of cases) await replay({ ...fixture, exact: false }, createFusedOptimizer);
});

/**
 * Steps `kind` through the fused optimizer (two groups: a kernel that decays, a bias that does
 * not), each step guarded by its stats `[loss, norm]`: those in `bad` are not finite. After each
 * step in `told`, the host is told of one more skip. Returns the weights, slots and step count,
 * and the reference's weights for the steps that were not skipped.
 */
async function guarded(
  kind: "adam" | "adamw" | "sgd",
  hyper: Partial<Hyper>,
  steps: number,
  bad: Map<number, [number, number]>,
  told: number[],
) {
  await ready;
  const h: Hyper = {
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay: 0,
    momentum: 0,
    dampening: 0,
    nesterov: false,
    amsgrad: false,
    maximize: false,
    ...hyper,
  };
  const shapes = [[4, 3], [3]];
  const init = shapes.map((shape, i) => tf.randomNormal(shape, 0, 1, "float32", 20 + i));
  const vars = init.map((x, i) =>
    tf.variable(x.clone(), true, `guarded${i}/${i ? "bias" : "kernel"}`)
  );
  const optimizer = createFusedOptimizer(
    {
      name: kind,
      lr: 0.05,
      ...(kind === "sgd"
        ? { momentum: h.momentum, dampening: h.dampening, weightDecay: h.weightDecay }
        : { weightDecay: h.weightDecay, amsgrad: h.amsgrad }),
    } as OptimizerSpec,
  );
  let ref = init.map((x) => x.clone());
  const state = shapes.map((shape) => [tf.zeros(shape), tf.zeros(shape), tf.zeros(shape)]);
  let t = 0;
  const afterSkip: string[] = [];
  for (let step = 1; step <= steps; step++) {
    const grads = shapes.map((shape, i) =>
      tf.randomNormal(shape, 0, 2, "float32", 200 + 10 * step + i)
    );
    const stats = tf.tensor1d([...(bad.get(step) ?? [0.5, 1]), 7]);
    const before = await Promise.all(vars.map((v) => v.data()));
    optimizer.guardNextStep(stats);
    optimizer.step(vars, grads, 0.05);
    stats.dispose();
    if (bad.has(step)) {
      const after = await Promise.all(vars.map((v) => v.data()));
      afterSkip.push(
        JSON.stringify(after.map((a) => Array.from(a))) ===
            JSON.stringify(before.map((b) => Array.from(b)))
          ? "same"
          : "moved",
      );
    } else {
      t++;
      // the bias (rank 1) does not decay
      const next = shapes.map((_, i) =>
        referenceStep(
          kind,
          { ...h, weightDecay: i ? 0 : h.weightDecay },
          [ref[i]],
          [grads[i]],
          [state[i]],
          t,
          0.05,
        )[0]
      );
      ref.forEach((x) => x.dispose());
      ref = next;
    }
    if (told.includes(step)) optimizer.stepsSkipped(1);
    grads.forEach((g) => g.dispose());
  }
  const saved = await optimizer.getState();
  const errors = await Promise.all(
    vars.map(async (v, i) =>
      maxRelativeError(await v.data() as Float32Array, await ref[i].data() as Float32Array)
    ),
  );
  optimizer.dispose();
  [...vars, ...ref, ...init, ...state.flat()].forEach((x) => x.dispose());
  return { errors, step: saved.step, taken: t, afterSkip };
}

Deno.test("a guarded fused step whose loss or gradient norm is not finite is skipped on the device: weights and state untouched, and the later steps take the bias corrections of the steps taken, before and after the host learns of the skips", async () => {
  const bad = new Map<number, [number, number]>([[2, [NaN, 1]], [4, [0.5, Infinity]], [5, [
    -Infinity,
    NaN,
  ]]]);
  for (const kind of ["adam", "adamw"] as const) {
    // told of the skip of step 2 after step 6, of those of 4 and 5 after 7 and 8: steps 3 and 6
    // take corrections 1 and 3 steps back, 7 two back, 8 one back, 9 none
    const run = await guarded(kind, { weightDecay: 0.1, amsgrad: kind === "adam" }, 9, bad, [
      6,
      7,
      8,
    ]);
    assert.deepEqual(run.afterSkip, ["same", "same", "same"], kind);
    run.errors.forEach((error, i) => assert.ok(error < 1e-5, `${kind} parameter ${i}: ${error}`));
    assert.equal(run.step, 6, "the optimizer counts the steps taken");
    // told of none: the device's count, read with the state, leaves them out too
    const untold = await guarded(kind, {}, 6, bad, []);
    untold.errors.forEach((error, i) => assert.ok(error < 1e-5, `${kind} untold ${i}: ${error}`));
    assert.equal(untold.step, 3);
  }
  // SGD with momentum and dampening: a first step skipped leaves the next the first (its buffer
  // is the gradient itself, not dampened)
  const sgd = await guarded(
    "sgd",
    { momentum: 0.9, dampening: 0.5, weightDecay: 0.01 },
    4,
    new Map([[1, [NaN, NaN]]]),
    [],
  );
  sgd.errors.forEach((error, i) => assert.ok(error < 1e-5, `sgd parameter ${i}: ${error}`));
  assert.equal(sgd.step, 3);
});

Deno.test("the fused optimizer's getState is its state when called, though steps are queued before its read is back", async () => {
  await ready;
  const w = tf.variable(tf.randomNormal([3, 2], 0, 1, "float32", 3), true, "state_when_called");
  const adam = createFusedOptimizer({ name: "adam", lr: 0.1 });
  const grad = (t: number) => tf.randomNormal([3, 2], 0, 1, "float32", 70 + t);
  for (let t = 0; t < 2; t++) tf.tidy(() => adam.step([w], [grad(t)], 0.1));
  const pending = adam.getState();
  // (the trainer goes on past an epoch's end while that end's state is read)
  for (let t = 2; t < 5; t++) tf.tidy(() => adam.step([w], [grad(t)], 0.1));
  const state = await pending;
  assert.equal(state.step, 2);
  const again = createFusedOptimizer({ name: "adam", lr: 0.1 });
  const v = tf.variable(tf.randomNormal([3, 2], 0, 1, "float32", 3), true, "state_reference");
  for (let t = 0; t < 2; t++) tf.tidy(() => again.step([v], [grad(t)], 0.1));
  const reference = await again.getState();
  assert.deepEqual(
    Object.values(state.slots).map((slot) => Array.from(slot.values)),
    Object.values(reference.slots).map((slot) => Array.from(slot.values)),
  );
  [w, v].forEach((x) => x.dispose());
  [adam, again].forEach((o) => o.dispose());
});

Deno.test("a state of the fused kernels restores into tfjs's ops (a run resumed on another backend), and theirs, or an older anneal's fused one, into the fused kernels: the same next step", async () => {
  await ready;
  const specs: OptimizerSpec[] = [
    { name: "sgd", lr: 0.1, momentum: 0.9, dampening: 0.2, weightDecay: 0.01 },
    { name: "adam", lr: 0.1, amsgrad: true, weightDecay: 0.1 },
    { name: "adamw", lr: 0.1 },
    { name: "lion", lr: 0.1, weightDecay: 0.1 },
  ];
  // the names the fused kernels saved their slots under before they took torch's
  const old: Record<string, string> = {
    momentum_buffer: "momentum",
    exp_avg: "m",
    exp_avg_sq: "v",
    max_exp_avg_sq: "vmax",
  };
  const grad = (t: number) => tf.randomNormal([4, 3], 0, 1, "float32", 90 + t);
  let made = 0;
  for (const spec of specs) {
    const paths = [
      ["fused", "tfjs", false],
      ["tfjs", "fused", false],
      ["fused", "fused", true],
      ["fused", "tfjs", true],
    ] as const;
    for (const [from, to, older] of paths) {
      const what = `${spec.name}: ${from} to ${to}${older ? " (old slot names)" : ""}`;
      const create = (path: string): Optimizer =>
        path === "fused" ? createFusedOptimizer(spec) : createOptimizer(spec);
      const p = tf.variable(tf.randomNormal([4, 3], 0, 1, "float32", 7), true, `saved_${made}`);
      const [saver, resumer] = [create(from), create(to)];
      // (outside a tf.tidy: it would free the momentum buffer tfjs's sgd makes at its first step)
      for (const g of [grad(0), grad(1)]) {
        saver.step([p], [g], 0.1);
        g.dispose();
      }
      const state = await saver.getState();
      // (a copy of its values, as a resumed run reads them from its checkpoint)
      const q = tf.variable(tf.tensor(await p.data(), p.shape), true, `resumed_${made++}`);
      const slots = Object.entries(state.slots).map(([key, slot]) => {
        const [name, cut] = [key.lastIndexOf("/"), key.slice(key.lastIndexOf("/") + 1)];
        const renamed = older ? old[cut] ?? cut : cut;
        return [`${q.name}${key.slice(p.name.length, name)}/${renamed}`, slot];
      });
      assert.ok(slots.length > 0, what);
      // (before: the fused kernels saved m, v, vmax, momentum, where the others save torch's
      // exp_avg, exp_avg_sq, max_exp_avg_sq, momentum_buffer: tfjs's refused an adam's state
      // ('has shape undefined'), and the fused kernels took zeros for the moments they missed)
      resumer.setState({ ...state, slots: Object.fromEntries(slots) } as OptimizerState);
      const g = grad(2);
      saver.step([p], [g], 0.1);
      resumer.step([q], [g], 0.1);
      g.dispose();
      const [want, got] = [await p.data(), await q.data()];
      want.forEach((v, i) =>
        assert.ok(
          Math.abs(got[i] - v) <= 1e-5 * Math.max(1, Math.abs(v)),
          `${what}: ${got[i]} vs ${v}`,
        )
      );
      [p, q].forEach((x) => x.dispose());
      [saver, resumer].forEach((o) => o.dispose());
    }
  }
  // a state without the slots of the variables stepped is refused, as tfjs's ops refuse it (it
  // was trained on from zeros)
  const w = tf.variable(tf.ones([2]), true, "not_in_the_state");
  const adam = createFusedOptimizer({ name: "adam", lr: 0.1 });
  const slot = { shape: [2], values: new Float32Array(2) };
  adam.setState({
    name: "adam",
    step: 3,
    slots: { "other/exp_avg": slot, "other/exp_avg_sq": slot },
  });
  assert.throws(
    () => adam.step([w], [tf.ones([2])], 0.1),
    /Cannot restore slot 'not_in_the_state\/exp_avg': the state has none/,
  );
  w.dispose();
  adam.dispose();
});

// Last in this file: no WebGPU device left alive when the test process ends.
Deno.test("release the WebGPU device", async () => {
  await ready;
  await releaseWebGpu();
});
