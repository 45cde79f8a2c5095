import assert from "node:assert/strict";
import {
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
} from "./checkpoint.ts";
import { AnnealError } from "../errors.ts";

const weights = {
  "dense/kernel": { shape: [2, 3], values: new Float32Array([1, 2, 3, 4, 5, 6]) },
  "dense/bias": { shape: [3], values: new Float32Array([0.5, -0.5, 0]) },
};

Deno.test("a checkpoint round-trips weights and state", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await saveCheckpoint(
      `${dir}/last.ckpt`,
      { epoch: 3, step: 40, optimizer: { step: 40 } },
      weights,
    );
    const loaded = await loadCheckpoint(`${dir}/last.ckpt`);
    assert.equal(loaded.state.epoch, 3);
    assert.deepEqual(loaded.state.optimizer, { step: 40 });
    assert.deepEqual(Array.from(loaded.weights["dense/kernel"].values), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(loaded.weights["dense/bias"].shape, [3]);
    const leftovers = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.deepEqual(leftovers, ["last.ckpt"], "no temporary files are left behind");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a torn, tampered or foreign checkpoint is detected and never loaded", async () => {
  const bytes = await encodeCheckpoint({ epoch: 0, step: 1 }, weights);
  const cases: [string, Uint8Array, RegExp][] = [
    ["truncated", bytes.slice(0, bytes.length - 5), /payload has/],
    ["header cut", bytes.slice(0, 20), /truncated header/],
    ["flipped byte", bytes.map((b, i) => (i === bytes.length - 1 ? b ^ 1 : b)), /SHA-256/],
    ["not a checkpoint", new TextEncoder().encode("hello world, not a checkpoint"), /signature/],
    ["empty", new Uint8Array(0), /signature/],
  ];
  for (const [name, damaged, message] of cases) {
    await assert.rejects(() => decodeCheckpoint(damaged, "x.ckpt"), (error: unknown) => {
      assert.ok(error instanceof AnnealError, name);
      assert.equal(error.code, "checkpoint");
      assert.match(error.message, message, name);
      assert.match(error.hint ?? "", /not loaded/);
      return true;
    });
  }
});
