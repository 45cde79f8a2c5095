/**
 * The host (TypeScript) dense step against tfjs's forward and backward on the wasm backend, and
 * the size rule that sends bigger models to tfjs.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../config.ts";
import { selectBackend } from "../backend.ts";
import { TrainingEngine } from "../engine.ts";
import { checkParity, classification, PARITY_CASES } from "./_parity.ts";

const ready = selectBackend("wasm", "mlp");

for (const c of PARITY_CASES) {
  Deno.test(`host dense step matches tfjs on wasm: ${c.name}`, async () => {
    await ready;
    await checkParity(c, "wasm", "host");
  });
}

Deno.test("host dense step is for small models only; big ones, cnns and rnns stay in tfjs", async () => {
  await ready;
  const big = new TrainingEngine(
    parseConfig({ backend: "wasm", model: { kind: "mlp", hidden: [512, 512] }, batchSize: 256 }),
    { inputShape: [784], targetSize: 1, task: "classification", numClasses: 10 },
  );
  assert.equal(big.modelPath, "tfjs");
  assert.match(big.fusedModelReason ?? "", /multiply-adds a step/);
  big.dispose();
  const cnn = new TrainingEngine(parseConfig({ backend: "wasm", model: { kind: "cnn" } }), {
    ...classification,
    inputShape: [8, 8, 1],
  });
  assert.equal(cnn.modelPath, "tfjs");
  assert.equal(cnn.fusedModelReason, "a cnn model");
  cnn.dispose();
  // (recurrent layers take the WGSL step on WebGPU only)
  const rnn = new TrainingEngine(
    parseConfig({ backend: "wasm", model: { kind: "rnn", units: 4 } }),
    classification,
  );
  assert.equal(rnn.modelPath, "tfjs");
  assert.equal(rnn.fusedModelReason, "an rnn model");
  rnn.dispose();
});
