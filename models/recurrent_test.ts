import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
import { parseConfig } from "../config.ts";
import type { AnnealError } from "../errors.ts";
import { selectBackend } from "../runtime/backend.ts";
import { TrainingEngine } from "../runtime/engine.ts";
import { buildModel } from "./build.ts";

await tf.setBackend("cpu");

/** One layer of torch's, in anneal's layout (tests/fixtures/models/generate.py). */
interface TorchRecurrent {
  units: number;
  input: number[][][];
  kernel: number[][];
  recurrentKernel: number[][];
  bias: number[];
  recurrentBias: number[];
  lastOutput: number[][];
  probe: number[][];
  grads: Record<"kernel" | "recurrentKernel" | "bias" | "recurrentBias", number[] | number[][]>;
}

const reference = JSON.parse(
  Deno.readTextFileSync(
    new URL("../tests/fixtures/models/torch_reference.json", import.meta.url),
  ),
) as { lstm: TorchRecurrent; gru: TorchRecurrent };

function close(got: number[], want: number[], what: string): void {
  assert.equal(got.length, want.length, what);
  got.forEach((v, i) =>
    assert.ok(Math.abs(v - want[i]) < 1e-5, `${what}[${i}]: ${v}, torch ${want[i]}`)
  );
}

for (const cell of ["lstm", "gru"] as const) {
  Deno.test(`an rnn's ${cell} with torch's weights gives nn.${cell.toUpperCase()}'s output and every parameter's gradient, both biases apart`, () => {
    const torch = reference[cell];
    const steps = torch.input[0].length, features = torch.input[0][0].length;
    const model = buildModel(
      { kind: "rnn", cell, units: torch.units },
      { inputShape: [steps, features], outputUnits: 1 },
      0,
    );
    try {
      const layer = model.getLayer(`${cell}0`);
      // kernel, recurrent kernel, bias (torch's bias_ih), recurrent bias (its bias_hh)
      const names = ["kernel", "recurrentKernel", "bias", "recurrentBias"] as const;
      assert.deepEqual(
        layer.weights.map((w) => w.originalName),
        ["kernel", "recurrent_kernel", "bias", "recurrent_bias"].map((n) => `${cell}0/${n}`),
      );
      layer.setWeights(names.map((name) => tf.tensor(torch[name])));
      const x = tf.tensor3d(torch.input);
      const probe = tf.tensor2d(torch.probe);
      const output = tf.tidy(() => Array.from((layer.apply(x) as tf.Tensor).dataSync()));
      close(output, torch.lastOutput.flat(), "last output");
      const variables = layer.trainableWeights.map((w) => w.read() as tf.Variable);
      const { grads } = tf.variableGrads(
        () => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, probe)) as tf.Scalar,
        variables,
      );
      variables.forEach((variable, i) => {
        close(
          Array.from(grads[variable.name].dataSync()),
          (torch.grads[names[i]] as number[][]).flat(),
          `gradient of ${names[i]}`,
        );
      });
      tf.dispose([x, probe, ...Object.values(grads)]);
    } finally {
      model.dispose();
    }
  });
}

Deno.test("a checkpoint of an rnn whose layers had one bias is refused, saying it is an older anneal's", async () => {
  await selectBackend("cpu");
  const engine = new TrainingEngine(
    parseConfig({ backend: "cpu", model: { kind: "rnn", cell: "gru", units: 3 } }),
    { inputShape: [4, 2], targetSize: 1, task: "regression" },
  );
  try {
    const weights = await engine.readWeights();
    delete weights["gru0/recurrent_bias"];
    assert.throws(
      () => engine.writeWeights(weights),
      (error: AnnealError) =>
        error.code === "checkpoint" && /gru0\/recurrent_bias/.test(error.message) &&
        /older anneal.*one bias where torch's have two/.test(error.hint ?? ""),
    );
  } finally {
    engine.dispose();
  }
});

Deno.test("stacked recurrent layers train over sequences of one step (tfjs's unstack gradient of one piece)", () => {
  // the gradient of one piece of an unstack over an axis of length 1: stacked back, not a throw
  const x = tf.tensor3d([[[1, 2, 3]], [[4, 5, 6]]]);
  const grad = tf.grad((x: tf.Tensor) =>
    tf.sum(tf.mul(tf.unstack(x, 1)[0], tf.reshape(x, [2, 3])))
  )(x);
  assert.deepEqual(Array.from(grad.dataSync()), [2, 4, 6, 8, 10, 12]);
  tf.dispose([x, grad]);
  for (const cell of ["lstm", "gru"] as const) {
    for (const inputShape of [[1, 3], [1]]) {
      const engine = new TrainingEngine(
        parseConfig({ backend: "cpu", model: { kind: "rnn", cell, units: 3, layers: 2 } }),
        { inputShape, targetSize: 1, task: "classification", numClasses: 2 },
      );
      try {
        const features = inputShape.reduce((a, b) => a * b, 1);
        const x = Float32Array.from({ length: 4 * features }, (_, i) => Math.sin(i + 1));
        const step = engine.computeGradients([{ x, y: Float32Array.of(0, 1, 1, 0), size: 4 }]);
        // every weight of both layers and the head gets a finite gradient, the first layer's too;
        // the recurrent kernels' (1 and 5) are zero: one step's state before it is zero
        assert.equal(step.grads.length, 10);
        for (const [i, g] of step.grads.entries()) {
          const values = Array.from(g.dataSync());
          assert.ok(values.every(Number.isFinite), `${cell} weight ${i}`);
          const recurrent = i === 1 || i === 5;
          assert.equal(values.some((v) => v !== 0), !recurrent, `${cell} weight ${i}`);
        }
        engine.applyGradients(step, 0.1);
      } finally {
        engine.dispose();
      }
    }
  }
});
