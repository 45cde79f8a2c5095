import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
// (tfjs-layers registers the gradients of tfjs-core's ops, which tf.grad takes)
import "npm:@tensorflow/tfjs-layers@4.22.0";
import { AnnealError } from "../errors.ts";
import { defaultLoss, lossFunction, type LossName } from "./losses.ts";

await tf.setBackend("cpu");

interface LossCase {
  output: number[][];
  target: number[] | number[][];
  mean: number;
  sum: number;
}
const fixture = JSON.parse(
  await Deno.readTextFile(
    new URL("../tests/fixtures/models/torch_reference.json", import.meta.url),
  ),
) as { losses: Record<LossName, LossCase> };

function evaluate(name: LossName, reduction: "mean" | "sum", target?: tf.Tensor): number {
  const c = fixture.losses[name];
  return tf.tidy(() =>
    lossFunction(name, reduction)(tf.tensor(c.output), target ?? tf.tensor(c.target)).dataSync()[0]
  );
}

for (const name of ["mse", "crossEntropy", "binaryCrossEntropy"] as const) {
  Deno.test(`${name} equals PyTorch's value with mean and sum reduction`, () => {
    const c = fixture.losses[name];
    assert.ok(Math.abs(evaluate(name, "mean") - c.mean) <= 1e-5 * Math.max(1, Math.abs(c.mean)));
    assert.ok(Math.abs(evaluate(name, "sum") - c.sum) <= 1e-5 * Math.max(1, Math.abs(c.sum)));
  });
}

Deno.test("crossEntropy accepts class indices shaped [B] or [B, 1]", () => {
  const c = fixture.losses.crossEntropy;
  const column = tf.tensor2d(c.target as number[], [c.target.length, 1]);
  assert.ok(Math.abs(evaluate("crossEntropy", "mean", column) - c.mean) < 1e-5);
  column.dispose();
});

Deno.test("crossEntropy and binaryCrossEntropy stay finite for huge logits", () => {
  const ce = tf.tidy(() =>
    lossFunction("crossEntropy")(tf.tensor2d([[1e4, -1e4]]), tf.tensor1d([1])).dataSync()[0]
  );
  assert.ok(Math.abs(ce - 2e4) < 1);
  const bce = tf.tidy(() =>
    lossFunction("binaryCrossEntropy")(tf.tensor2d([[1e4]]), tf.tensor1d([0])).dataSync()[0]
  );
  assert.ok(Math.abs(bce - 1e4) < 1);
});

Deno.test("crossEntropy stays finite where a non-target logit's log-softmax overflows, as torch's", () => {
  // torch.nn.functional.cross_entropy: 0.20380297303199768, gradient [[0, 0, 0],
  // [0.0450, 0.1224, -0.1674]]; a one-hot product made the first sample's loss -Infinity x 0
  const logits = tf.tensor2d([[3e38, -3e38, 0], [1, 2, 3]]);
  const target = tf.tensor1d([0, 2]);
  const loss = lossFunction("crossEntropy");
  const value = tf.tidy(() => loss(logits, target).dataSync()[0]);
  assert.ok(Math.abs(value - 0.20380297303199768) < 1e-6, `${value}`);
  const grad = tf.tidy(() =>
    Array.from(tf.grad((l: tf.Tensor) => loss(l, target))(logits).dataSync())
  );
  [0, 0, 0, 0.04501529, 0.12236425, -0.16737953].forEach((want, i) =>
    assert.ok(Math.abs(grad[i] - want) < 1e-6, `gradient[${i}] ${grad[i]}, torch ${want}`)
  );
  tf.dispose([logits, target]);
});

Deno.test("losses create no leftover tensors", () => {
  const output = tf.tensor2d([[0.1, 0.9]]);
  const target = tf.tensor1d([1]);
  const before = tf.memory().numTensors;
  const loss = lossFunction("crossEntropy")(output, target);
  assert.equal(tf.memory().numTensors, before + 1);
  tf.dispose([loss, output, target]);
});

Deno.test("defaultLoss maps each task to its loss", () => {
  assert.equal(defaultLoss("regression"), "mse");
  assert.equal(defaultLoss("classification"), "crossEntropy");
  assert.equal(defaultLoss("binary"), "binaryCrossEntropy");
});

Deno.test("lossFunction refuses an unknown loss or reduction when made, naming the one meant", () => {
  const refused = (make: () => unknown, where: string, text: RegExp) =>
    assert.throws(make, (error: unknown) => {
      assert.ok(error instanceof AnnealError, String(error));
      assert.equal(error.code, "config");
      assert.equal(error.where, where);
      assert.match(`${error.message} ${error.hint}`, text);
      return true;
    });
  // an unknown name gave a loss that threw "perSample is not a function" when called
  refused(() => lossFunction("msee" as LossName), "loss", /did you mean "mse"/);
  refused(() => lossFunction("toString" as LossName), "loss", /mse, crossEntropy/);
  // any reduction but "sum" was taken for "mean"
  refused(() => lossFunction("mse", "summ" as "sum"), "reduction", /"mean" or "sum"/);
});

Deno.test("a loss refuses a target its output's shape does not fit, naming both shapes", () => {
  const refused = (name: LossName, output: number[], target: number[], text: string) =>
    tf.tidy(() =>
      assert.throws(
        () => lossFunction(name)(tf.zeros(output), tf.zeros(target)),
        (error: unknown) =>
          error instanceof AnnealError && error.code === "usage" && error.where === "target" &&
          error.message === `Cannot compute ${name} loss: ${text}`,
      )
    );
  // (reshaped into the output's rows: a loss of 0)
  refused(
    "mse",
    [4, 1],
    [2, 2],
    "the target has shape [2,2], the output's [4,1] needs 4 rows of 1 value",
  );
  // (the others were tfjs's shape errors)
  refused(
    "mse",
    [2, 1],
    [3],
    "the target has shape [3], the output's [2,1] needs 2 rows of 1 value",
  );
  refused(
    "mse",
    [2, 3],
    [2, 2],
    "the target has shape [2,2], the output's [2,3] needs 2 rows of 3 values",
  );
  refused(
    "crossEntropy",
    [2, 3],
    [3],
    "the target has shape [3], the output's [2,3] needs 2 rows of one class index",
  );
  refused(
    "crossEntropy",
    [2, 3],
    [2, 3],
    "the target has shape [2,3], the output's [2,3] needs 2 rows of one class index",
  );
  refused(
    "binaryCrossEntropy",
    [2, 2],
    [2],
    "the target has shape [2], the output's [2,2] needs 2 rows of 2 values",
  );
  // what fits is taken as before: a target [B] for an output [B, 1]
  const fits = tf.tidy(() => [
    lossFunction("mse")(tf.tensor2d([[1], [2]]), tf.tensor1d([1, 1])).dataSync()[0],
    lossFunction("binaryCrossEntropy")(tf.zeros([2, 1]), tf.zeros([2])).dataSync()[0],
  ]);
  assert.deepEqual(fits.map((value) => Math.round(value * 1e4) / 1e4), [0.5, 0.6931]);
});
