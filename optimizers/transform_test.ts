import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import { chain, hostScalar, hostValue, type Transform } from "./transform.ts";
import { scaleByLearningRate } from "./transforms.ts";

await tf.setBackend("cpu");

const landing: Transform = {
  init: () => ({}),
  update: (update, _slots, { param }) => [tf.add(param, update), {}],
  returnsParam: true,
};

Deno.test("a chain returns the parameter's new value when its last transformation does", () => {
  assert.equal(chain(scaleByLearningRate(), landing).returnsParam, true);
});

Deno.test("chain refuses a transformation that returns the parameter anywhere but last", () => {
  assert.throws(
    () => chain(landing, scaleByLearningRate()),
    (error: unknown) =>
      error instanceof AnnealError &&
      /only the last one may return the parameter/.test(error.message),
  );
  assert.ok(!chain(scaleByLearningRate()).returnsParam);
});

Deno.test("a host scalar holds its value rounded to float32, on the host and in the tensor", () => {
  const scalar = hostScalar(0.1);
  assert.equal(hostValue(scalar), Math.fround(0.1));
  assert.deepEqual(Array.from(scalar.dataSync()), [Math.fround(0.1)]);
  assert.deepEqual(scalar.shape, []);
  // a scalar tensor made otherwise is read back
  const plain = tf.scalar(0.3);
  assert.equal(hostValue(plain), Math.fround(0.3));
  tf.dispose([scalar, plain]);
});
