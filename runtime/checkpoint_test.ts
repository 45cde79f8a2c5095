import assert from "node:assert/strict";
import {
  CheckpointWriter,
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

Deno.test("CheckpointWriter writes the newest queued checkpoint of each file, and reports a failed write", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const writer = new CheckpointWriter();
    const weightsOf = (v: number) => ({ w: { shape: [2], values: new Float32Array([v, v]) } });
    // The first write starts at once; 2 and 3 wait behind it, and 3 replaces 2.
    for (let epoch = 1; epoch <= 3; epoch++) {
      writer.queue(`${dir}/last.ckpt`, { epoch, step: epoch * 10 }, weightsOf(epoch));
    }
    writer.queue(`${dir}/best.ckpt`, { epoch: 2, step: 20 }, weightsOf(2));
    await writer.flush();
    const last = await loadCheckpoint(`${dir}/last.ckpt`);
    assert.equal(last.state.epoch, 3);
    assert.deepEqual(Array.from(last.weights.w.values), [3, 3]);
    assert.equal((await loadCheckpoint(`${dir}/best.ckpt`)).state.epoch, 2);

    writer.queue(`${dir}/missing/last.ckpt`, { epoch: 4, step: 40 }, weightsOf(4));
    await assert.rejects(() => writer.flush(), /No such file|not found/i);
    // After a failure nothing more is written, and flush keeps failing.
    writer.queue(`${dir}/last.ckpt`, { epoch: 5, step: 50 }, weightsOf(5));
    await assert.rejects(() => writer.flush());
    assert.equal((await loadCheckpoint(`${dir}/last.ckpt`)).state.epoch, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
