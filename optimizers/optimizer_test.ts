import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import { createOptimizer } from "./optimizer.ts";
import type { OptimizerSpec } from "./spec.ts";

await tf.setBackend("cpu");

let unique = 0;

/** A weight matrix and a bias, with names unique across tests (tfjs registers names). */
function makeParams(): tf.Variable[] {
  unique += 1;
  return [
    tf.variable(tf.tensor2d([[0.5, -0.3, 0.8], [0.1, 0.4, -0.6]]), true, `t${unique}/kernel`),
    tf.variable(tf.tensor1d([0.2, -0.1]), true, `t${unique}/bias`),
  ];
}

/** Gradients of a quadratic loss that depend on the parameters, so trajectories matter. */
function gradsOf(params: tf.Variable[], step: number): tf.Tensor[] {
  return tf.tidy(() => params.map((param) => tf.add(tf.mul(param, 0.7), Math.sin(step))));
}

function run(
  optimizer: ReturnType<typeof createOptimizer>,
  params: tf.Variable[],
  from: number,
  steps: number,
) {
  for (let step = from; step < from + steps; step++) {
    const grads = gradsOf(params, step);
    optimizer.step(params, grads, 0.05 / (1 + step * 0.1));
    tf.dispose(grads);
  }
}

const specs: OptimizerSpec[] = [
  { name: "sgd", momentum: 0.9, nesterov: true, weightDecay: 0.1 },
  { name: "adam", amsgrad: true },
  { name: "adamw", weightDecay: 0.1 },
  { name: "rmsprop", centered: true, momentum: 0.5 },
  { name: "adagrad", lrDecay: 0.01, initialAccumulatorValue: 0.1 },
  { name: "lion", weightDecay: 0.5 },
  { name: "lamb" },
  { name: "adafactor", weightDecay: 0.1 },
  { name: "adamax", weightDecay: 0.1, maximize: true },
  { name: "nadam", weightDecay: 0.1, momentumDecay: 0.05 },
  // rho_t passes 5 at step 6: the resume at step 10 continues the rectified steps
  { name: "radam", betas: [0.8, 0.9] },
  { name: "adadelta", rho: 0.5, weightDecay: 0.1 },
];

for (const spec of specs) {
  Deno.test(`${spec.name}: 10 steps, save, restore into a new optimizer, 10 more equals 20 straight`, async () => {
    const straight = makeParams();
    const straightOptimizer = createOptimizer(spec);
    run(straightOptimizer, straight, 0, 20);

    const resumed = makeParams();
    const first = createOptimizer(spec);
    run(first, resumed, 0, 10);
    // as the trainer's state travels: structured clones (postMessage) and checkpoints
    const state = structuredClone(await first.getState());
    first.dispose();
    const second = createOptimizer(spec);
    second.setState(state);
    run(second, resumed, 10, 10);

    resumed.forEach((param, index) => {
      assert.deepEqual(param.dataSync(), straight[index].dataSync());
    });
    assert.notDeepEqual(resumed[0].dataSync(), makeParams()[0].dataSync());
    tf.dispose([...straight, ...resumed]);
    straightOptimizer.dispose();
    second.dispose();
  });

  Deno.test(`${spec.name}: the tensor count is unchanged across steps after the first`, () => {
    const params = makeParams();
    const optimizer = createOptimizer(spec);
    run(optimizer, params, 0, 1);
    const before = tf.memory().numTensors;
    run(optimizer, params, 1, 5);
    assert.equal(tf.memory().numTensors, before);
    optimizer.dispose();
    tf.dispose(params);
  });
}

Deno.test("dispose releases every slot tensor", () => {
  const params = makeParams();
  const before = tf.memory().numTensors;
  const optimizer = createOptimizer({ name: "adam", amsgrad: true });
  run(optimizer, params, 0, 3);
  assert.ok(tf.memory().numTensors > before);
  optimizer.dispose();
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => run(optimizer, params, 3, 1), AnnealError);
  tf.dispose(params);
});

Deno.test("adamw decays weights but not biases", () => {
  const params = makeParams();
  const zeros = params.map((param) => tf.zerosLike(param));
  const optimizer = createOptimizer({ name: "adamw", lr: 0.1, weightDecay: 0.5 });
  const kernel = params[0].dataSync().slice();
  const bias = params[1].dataSync().slice();
  optimizer.step(params, zeros);
  // torch's param.mul_(1 - lr * wd): the factor rounded to float32, then the product
  const factor = Math.fround(1 - 0.1 * 0.5);
  assert.deepEqual([...params[0].dataSync()], [...kernel].map((v) => Math.fround(v * factor)));
  assert.deepEqual(params[1].dataSync(), bias);
  tf.dispose([...params, ...zeros]);
  optimizer.dispose();
});

Deno.test("noDecay patterns replace the default decay rule, and paramGroups override both", () => {
  const params = makeParams();
  const zeros = params.map((param) => tf.zerosLike(param));
  const kernel = params[0].dataSync().slice();
  let bias = params[1].dataSync().slice();
  const noDecay = createOptimizer({ name: "sgd", lr: 0.1, weightDecay: 0.5, noDecay: ["kernel$"] });
  noDecay.step(params, zeros);
  assert.deepEqual(params[0].dataSync(), kernel);
  // the list replaces the rank < 2 rule: the bias is not on it, so it decays
  assert.deepEqual([...params[1].dataSync()], [...bias].map((v) => Math.fround(v * 0.95)));
  bias = params[1].dataSync().slice();
  const grouped = createOptimizer({
    name: "sgd",
    lr: 0.1,
    paramGroups: [{ match: "bias$", weightDecay: 1, lrMultiplier: 2 }],
  });
  grouped.step(params, zeros);
  assert.deepEqual([...params[1].dataSync()], [...bias].map((v) => Math.fround(v - 0.2 * v)));
  assert.deepEqual(params[0].dataSync(), kernel);
  tf.dispose([...params, ...zeros]);
});

Deno.test("the lr passed to step overrides spec.lr", () => {
  const params = makeParams();
  const ones = params.map((param) => tf.onesLike(param));
  const bias = params[1].dataSync().slice();
  createOptimizer({ name: "sgd", lr: 100 }).step(params, ones, 0.25);
  assert.deepEqual([...params[1].dataSync()], [...bias].map((v) => Math.fround(v - 0.25)));
  tf.dispose([...params, ...ones]);
});

Deno.test("setMomentum moves beta1 of adam and is saved in the state", async () => {
  const a = makeParams();
  const b = makeParams();
  const moved = createOptimizer({ name: "adam" });
  const fixed = createOptimizer({ name: "adam" });
  moved.setMomentum(0.5);
  run(moved, a, 0, 3);
  run(fixed, b, 0, 3);
  assert.notDeepEqual(a[0].dataSync(), b[0].dataSync());
  assert.equal((await moved.getState()).momentum, 0.5);
  assert.throws(() => moved.setMomentum(1), /must be in \[0, 1\), current value is 1/);
  tf.dispose([...a, ...b]);
});

Deno.test("setMomentum on an optimizer without momentum is an error with a hint", () => {
  for (const spec of [{ name: "adagrad" }, { name: "adadelta" }, { name: "adafactor" }] as const) {
    assert.throws(
      () => createOptimizer(spec).setMomentum(0.9),
      (error) => error instanceof AnnealError && error.hint !== undefined,
    );
  }
});

Deno.test("plain sgd starts a momentum buffer from the gradient when setMomentum moves it", async () => {
  const params = makeParams();
  const plain = createOptimizer({ name: "sgd" });
  run(plain, params, 0, 2);
  assert.deepEqual((await plain.getState()).slots, {});
  plain.setMomentum(0.9);
  const expected = gradsOf(params, 2);
  run(plain, params, 2, 1);
  const { slots } = await plain.getState();
  params.forEach((param, index) => {
    assert.deepEqual(Array.from(slots[`${param.name}/momentum_buffer`].values), [
      ...expected[index].dataSync(),
    ]);
  });
  assert.throws(() => plain.setMomentum(-1), /must be >= 0/);
  tf.dispose([...params, ...expected]);
  plain.dispose();
});

Deno.test("setState rejects a state of another optimizer or of other shapes", async () => {
  const params = makeParams();
  const adam = createOptimizer({ name: "adam" });
  run(adam, params, 0, 2);
  const state = await adam.getState();
  assert.throws(() => createOptimizer({ name: "sgd" }).setState(state), /adam optimizer at step 2/);
  const other = createOptimizer({ name: "adam" });
  other.setState(state);
  const wrong = [tf.variable(tf.zeros([3, 2]), true, params[0].name + "_other")];
  assert.throws(() => other.step(wrong, [tf.zeros([3, 2])]), /no slots for variable/);
  const renamed = createOptimizer({ name: "adam" });
  const key = `${params[0].name}/exp_avg`;
  const six = { shape: [6], values: [0, 0, 0, 0, 0, 0] };
  renamed.setState({ ...state, slots: { ...state.slots, [key]: six } });
  assert.throws(() => renamed.step([params[0]], [tf.zeros([2, 3])]), /has shape \[6\]/);
  tf.dispose(params);
});

Deno.test("setState refuses a slot whose values its shape does not hold, at once", () => {
  const adam = createOptimizer({ name: "adam" });
  const slots = {
    "w/exp_avg": { shape: [2, 2], values: [1, 2, 3] },
    "w/exp_avg_sq": { shape: [2, 2], values: [1, 2, 3, 4] },
  };
  assert.throws(
    () => adam.setState({ name: "adam", step: 1, slots }),
    (error) =>
      error instanceof AnnealError && error.code === "checkpoint" &&
      error.message ===
        "Cannot restore adam optimizer: slot 'w/exp_avg' holds 3 values, its shape [2,2] needs 4",
  );
  const unkeyed = { exp_avg: { shape: [1], values: [0] } };
  assert.throws(
    () => adam.setState({ name: "adam", step: 1, slots: unkeyed }),
    /"<variable>\/<slot>"/,
  );
  assert.throws(
    () => adam.setState({ name: "adam", step: 1, slots: null as never }),
    /'slots' must be an object/,
  );
});

Deno.test("a restored momentum buffer must have its variable's shape, and a missing slot is named", () => {
  const [kernel] = makeParams();
  const sgd = createOptimizer({ name: "sgd", momentum: 0.9 });
  const buffer = { shape: [3], values: [1, 2, 3] };
  sgd.setState({ name: "sgd", step: 1, slots: { [`${kernel.name}/momentum_buffer`]: buffer } });
  assert.throws(
    () => sgd.step([kernel], [tf.zeros([2, 3])]),
    (error) =>
      error instanceof AnnealError &&
      error.message === `Cannot restore sgd optimizer: slot '${kernel.name}/momentum_buffer' ` +
          "has shape [3], the variable needs [2,3]",
  );
  const adam = createOptimizer({ name: "adam" });
  const bogus = { shape: [2, 3], values: [1, 2, 3, 4, 5, 6] };
  adam.setState({ name: "adam", step: 1, slots: { [`${kernel.name}/bogus`]: bogus } });
  assert.throws(
    () => adam.step([kernel], [tf.zeros([2, 3])]),
    new RegExp(
      `the state has no slot '${kernel.name}/exp_avg' \\(it has '${kernel.name}/bogus'\\)`,
    ),
  );
  tf.dispose(kernel);
});

Deno.test("a disposed optimizer refuses every use", async () => {
  const params = makeParams();
  const adam = createOptimizer({ name: "adam" });
  run(adam, params, 0, 1);
  adam.dispose();
  const disposed = (action: string) => (error: unknown) =>
    error instanceof AnnealError && error.code === "usage" &&
    error.message === `Cannot ${action} adam optimizer: it was disposed`;
  await assert.rejects(() => adam.getState(), disposed("read the state of"));
  assert.throws(() => adam.setState({ name: "adam", step: 0, slots: {} }), disposed("restore"));
  assert.throws(() => adam.setMomentum(0.5), disposed("set momentum of"));
  assert.throws(() => run(adam, params, 1, 1), disposed("step"));
  tf.dispose(params);
});

Deno.test("rmsprop with alpha above 1 turns what has a gradient into NaN at once, as torch does", () => {
  // torch 1.13: RMSprop([p], lr=0.01, alpha=1.5) on p = [1, 2, 0.5], grad [0.1, 0, -0.2] steps to
  // [nan, 2, nan]: the square average (1 - alpha) * grad² is negative, its square root NaN.
  const param = tf.variable(tf.tensor1d([1, 2, 0.5]), true, "rmsprop_alpha/p");
  const optimizer = createOptimizer({ name: "rmsprop", lr: 0.01, alpha: 1.5 });
  const grad = tf.tensor1d([0.1, 0, -0.2]);
  optimizer.step([param], [grad]);
  assert.deepEqual(Array.from(param.dataSync()), [NaN, 2, NaN]);
  optimizer.dispose();
  tf.dispose([param, grad]);
});

Deno.test("rmsprop at alpha 1 and adadelta at rho 1 keep their averages at 0 under a gradient whose square overflows float32, as torch does", () => {
  // torch 1.13's square averages are addcmul_(g, g, value=c), (c * g) * g: at c = 1 - alpha = 0
  // (1 - rho = 0) that is 0 for any finite g, where g² overflows to Infinity and 0 * Infinity is
  // NaN. On p = [1, -2], grad [1e20, 0.5]: RMSprop(lr=1e-30, alpha=1.0), centered or not, steps
  // to [0.99, -2] (lr * g / eps); Adadelta(lr=1e-21, rho=1.0) to [0.9, -2], then [0.8, -2].
  const specs: [OptimizerSpec, number[]][] = [
    [{ name: "rmsprop", lr: 1e-30, alpha: 1 }, [0.99]],
    [{ name: "rmsprop", lr: 1e-30, alpha: 1, centered: true, momentum: 0.5 }, [0.99]],
    [{ name: "adadelta", lr: 1e-21, rho: 1 }, [0.9, 0.8]],
  ];
  for (const [index, [spec, torch]] of specs.entries()) {
    const param = tf.variable(tf.tensor1d([1, -2]), true, `overflow${index}/p`);
    const optimizer = createOptimizer(spec);
    const grad = tf.tensor1d([1e20, 0.5]);
    for (const want of torch) {
      optimizer.step([param], [grad]);
      const [first, second] = param.dataSync();
      // (torch's last step is a fused multiply-add: an ulp apart at most)
      assert.ok(Math.abs(first - want) <= 1e-6, `${JSON.stringify(spec)}: ${first}, torch ${want}`);
      assert.equal(second, -2);
    }
    optimizer.dispose();
    tf.dispose([param, grad]);
  }
});

Deno.test("rmsprop without momentum scales the gradient by the rate before dividing, as torch does", () => {
  // torch 1.13's step without momentum is param.addcdiv_(grad, avg, value=-lr), (-lr * g) / avg:
  // at alpha 1 avg stays eps, and g / eps overflows float32 (1e20 / 1e-20) where lr * g / eps
  // (1e-30 * 1e20 / 1e-20 = 1e10) does not. On p = [1, -2], grad [1e20, 0.5], RMSprop(lr=1e-30,
  // alpha=1.0, eps=1e-20): [-1e10, -2], then [-2e10, -2].
  const param = tf.variable(tf.tensor1d([1, -2]), true, "rmsRateFirst/p");
  const optimizer = createOptimizer({ name: "rmsprop", lr: 1e-30, alpha: 1, eps: 1e-20 });
  const grad = tf.tensor1d([1e20, 0.5]);
  for (const want of [-1e10, -2e10]) {
    optimizer.step([param], [grad]);
    const [first, second] = param.dataSync();
    assert.ok(Math.abs(first - want) <= 1e-6 * Math.abs(want), `${first}, torch ${want}`);
    assert.equal(second, -2);
  }
  optimizer.dispose();
  tf.dispose([param, grad]);
});

Deno.test("the Adam family's second moment takes (1 - beta2) * g² as torch does, finite where g² overflows float32", async () => {
  // torch 1.13's exp_avg_sq is addcmul_(g, g, value=1 - beta2), ((1 - beta2) * g) * g: on a
  // gradient of 1e20, 1e37 (finite), where fl(g²) is Infinity. On p = [1, -2], grad [1e20, 0.5],
  // lr 0.1, three steps: torch's parameters and its exp_avg_sq of [2.997e37, 7.4925e-4].
  const specs: [OptimizerSpec, number[][]][] = [
    [{ name: "adam", lr: 0.1 }, [[0.9, -2.1], [0.8, -2.2], [0.7, -2.3]]],
    [{ name: "adam", lr: 0.1, amsgrad: true }, [[0.9, -2.1], [0.8, -2.2], [0.7, -2.3]]],
    [
      { name: "adamw", lr: 0.1, weightDecay: 0.01, noDecay: [] },
      [[0.899, -2.098], [0.798101, -2.1959019], [0.6973029, -2.2937059]],
    ],
    // exp_avg_sq / (1 - beta2^t) overflows in torch too: the first coordinate does not move
    [{ name: "nadam", lr: 0.1 }, [[1, -2.104953], [1, -2.1828291], [1, -2.255758]]],
    // RAdam's first steps are momentum alone: its second moment only has to stay as torch's
    [{ name: "radam", lr: 0.1 }, [[-1e19, -2.05], [-2e19, -2.1], [-3.0000001e19, -2.15]]],
  ];
  for (const [index, [spec, torch]] of specs.entries()) {
    const param = tf.variable(tf.tensor1d([1, -2]), true, `adamOverflow${index}/p`);
    const optimizer = createOptimizer(spec);
    const grad = tf.tensor1d([1e20, 0.5]);
    for (const want of torch) {
      optimizer.step([param], [grad]);
      Array.from(param.dataSync()).forEach((got, i) =>
        assert.ok(
          Math.abs(got - want[i]) <= 1e-6 * Math.max(1, Math.abs(want[i])),
          `${JSON.stringify(spec)}: ${got}, torch ${want[i]}`,
        )
      );
    }
    const { slots } = await optimizer.getState();
    const [, sq] = Object.entries(slots).find(([key]) => key.endsWith("exp_avg_sq"))!;
    assert.ok(Math.abs(sq.values[0] - 2.997001352649904e37) <= 1e-6 * 2.997e37, `${sq.values[0]}`);
    assert.ok(Math.abs(sq.values[1] - 7.492502918466926e-4) <= 1e-9, `${sq.values[1]}`);
    optimizer.dispose();
    tf.dispose([param, grad]);
  }
});

Deno.test("step rejects mismatched gradients and a rate that is not finite", () => {
  const params = makeParams();
  const optimizer = createOptimizer({ name: "sgd" });
  assert.throws(() => optimizer.step(params, [tf.zeros([2, 3])]), /2 variables but 1 gradients/);
  assert.throws(
    () => optimizer.step(params, [tf.zeros([3, 2]), tf.zeros([2])]),
    /gradient of '.*kernel' has shape \[3,2\]/,
  );
  assert.throws(() => optimizer.step(params, params, NaN), /'lr' must be a finite number/);
  assert.throws(
    () => optimizer.step(params, params, "0.1" as never),
    /'lr' must be a finite number, current value is "0.1", a string$/,
  );
  tf.dispose(params);
});

Deno.test("getState is the state when it is called, though steps are taken before its read is back", async () => {
  const params = makeParams();
  const sgd = createOptimizer({ name: "sgd", momentum: 0.9 });
  run(sgd, params, 0, 2);
  const expected = structuredClone(await sgd.getState());
  const pending = sgd.getState();
  run(sgd, params, 2, 3); // (the trainer goes on past an epoch's end while its state is read)
  sgd.setMomentum(0.5);
  assert.deepEqual(await pending, expected);
  assert.equal(expected.step, 2);
  tf.dispose(params);
  sgd.dispose();
});

Deno.test("adafactor factors a conv kernel [kh, kw, in, out] over its height and width, as torch factors nn.Conv2d's [out, in, kh, kw]", () => {
  // it factored anneal's last two axes, in and out: 6e-2 off torch's step from the first
  const shape = [3, 2, 2, 4]; // kh, kw, in, out
  const size = shape.reduce((a, b) => a * b);
  const kernel = tf.variable(
    tf.tensor(Array.from({ length: size }, (_, i) => Math.sin(i * 1.3) * 0.5), shape),
    true,
    `conv_factored${++unique}/kernel`,
  );
  const gradOf = (step: number) =>
    tf.tensor(
      Array.from({ length: size }, (_, i) => Math.cos(i * 0.7 + step) * (1 + (i % 5))),
      shape,
    );
  // torch.optim.Adafactor's step in torch's layout (tfjs ops on the kernel transposed), d = 1
  const eps1 = 1.1920929e-7;
  let expected = tf.transpose(kernel, [3, 2, 0, 1]);
  let row: tf.Tensor | undefined;
  let col: tf.Tensor | undefined;
  const optimizer = createOptimizer({ name: "adafactor", lr: 0.01 });
  for (let t = 1; t <= 3; t++) {
    const grad = gradOf(t);
    optimizer.step([kernel], [grad], 0.01);
    const g = tf.transpose(grad, [3, 2, 0, 1]);
    const weight = t ** -0.8;
    const squared = tf.square(g);
    const lerp = (from: tf.Tensor | undefined, to: tf.Tensor) =>
      from ? tf.add(from, tf.mul(tf.sub(to, from), weight)) : tf.mul(to, weight);
    row = lerp(row, tf.mean(squared, -1, true));
    col = lerp(col, tf.mean(squared, -2, true));
    const v = tf.div(tf.mul(row, col), tf.maximum(tf.mean(row, -2, true), eps1));
    const u = tf.mul(g, tf.rsqrt(tf.maximum(v, eps1 * eps1)));
    const rms = tf.sqrt(tf.mean(tf.square(u))).dataSync()[0];
    const paramRms = tf.sqrt(tf.mean(tf.square(expected))).dataSync()[0];
    const alpha = Math.max(1e-3, paramRms) * Math.min(0.01, 1 / Math.sqrt(t));
    expected = tf.sub(expected, tf.mul(u, alpha / Math.max(1, rms)));
    const got = tf.transpose(kernel, [3, 2, 0, 1]).dataSync();
    const want = expected.dataSync();
    const worst = Math.max(...Array.from(got, (value, i) => Math.abs(value - want[i])));
    assert.ok(worst < 1e-6, `step ${t}: off torch's layout by ${worst}`);
    grad.dispose();
  }
  optimizer.dispose();
  kernel.dispose();
});

Deno.test("adafactor: a conv kernel's moments saved by the anneal that factored in and out are refused with why, not 'the model differs'", () => {
  const name = `conv_old${++unique}/kernel`;
  const kernel = tf.variable(tf.ones([3, 3, 2, 4]), true, name);
  const optimizer = createOptimizer({ name: "adafactor" });
  optimizer.setState({
    name: "adafactor",
    step: 1,
    slots: {
      [`${name}/row_var`]: { shape: [3, 3, 2, 1], values: new Array(18).fill(1) },
      [`${name}/col_var`]: { shape: [3, 3, 1, 4], values: new Array(36).fill(1) },
    },
  });
  const grad = tf.ones([3, 3, 2, 4]);
  assert.throws(
    () => optimizer.step([kernel], [grad]),
    (error: AnnealError) =>
      error.code === "checkpoint" && /before 2026-12-07/.test(error.hint ?? "") &&
      /start the run again/.test(error.hint ?? ""),
  );
  tf.dispose([grad, kernel]);
  optimizer.dispose();
});
