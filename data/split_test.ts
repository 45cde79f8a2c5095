import assert from "node:assert/strict";
import { SPLIT_CHUNK, splitValidation, splitValidationInChunks } from "./split.ts";
import { Rng, seedFrom } from "./rng.ts";
import type { Dataset } from "./types.ts";

/** The split's rows as one shuffle and two sorts (as it was before it was made in chunks). */
function referenceRows(n: number, fraction: number, seed: number) {
  const held = Math.max(1, Math.round(n * fraction));
  const rng = new Rng(seedFrom(seed, 0x5b1d));
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return { validation: order.slice(0, held).sort(), train: order.slice(held).sort() };
}

Deno.test("the validation split in chunks, paused between them, holds out the same rows", async () => {
  for (const n of [5, 1000, 2 * SPLIT_CHUNK + 7]) {
    // each sample's feature is its row: a split's x lists its rows
    const ds: Dataset = {
      x: Float32Array.from({ length: n }, (_, i) => i),
      y: Float32Array.from({ length: n }, (_, i) => -i),
      n,
      inputShape: [1],
      targetSize: 1,
      task: "regression",
    };
    const expected = referenceRows(n, 0.1, 42);
    let pauses = 0;
    const chunked = await splitValidationInChunks(ds, 0.1, 42, () => {
      pauses++;
      return new Promise((resolve) => setTimeout(resolve, 0));
    });
    if (n > SPLIT_CHUNK) assert.ok(pauses > 4, `${pauses} pauses`);
    for (const split of [chunked, splitValidation(ds, 0.1, 42)]) {
      assert.deepEqual(split.train.x, Float32Array.from(expected.train), `train, ${n}`);
      assert.deepEqual(split.validation!.x, Float32Array.from(expected.validation), `val, ${n}`);
      assert.deepEqual(split.train.y, Float32Array.from(expected.train, (r) => -r));
    }
  }
});

Deno.test("wide rows (images) are copied in chunks of values, not of a million rows", async () => {
  // 20,000 rows of 1,000 features (80 MB): once 1e6 rows a pause, no pause but the one after the
  // held-out rows were marked
  const n = 20_000, f = 1000;
  const x = new Float32Array(n * f);
  for (let r = 0; r < n; r++) x.fill(r, r * f, (r + 1) * f);
  const ds: Dataset = {
    x,
    y: Float32Array.from({ length: n }, (_, i) => -i),
    n,
    inputShape: [f],
    targetSize: 1,
    task: "regression",
  };
  let pauses = 0;
  const chunked = await splitValidationInChunks(ds, 0.1, 3, () => {
    pauses++;
    return Promise.resolve();
  });
  // a pause every 4 * SPLIT_CHUNK values copied: 18,000 training rows are 4 of them
  assert.ok(pauses >= 1 + Math.floor((0.9 * n * (f + 1)) / (4 * SPLIT_CHUNK)), `${pauses} pauses`);
  const expected = referenceRows(n, 0.1, 3);
  assert.deepEqual(chunked.train.y, Float32Array.from(expected.train, (r) => -r));
  assert.deepEqual(chunked.validation!.y, Float32Array.from(expected.validation, (r) => -r));
  for (const [i, r] of [[0, expected.train[0]], [17_999, expected.train[17_999]]]) {
    assert.deepEqual(chunked.train.x.subarray(i * f, (i + 1) * f), new Float32Array(f).fill(r));
  }
});

Deno.test("reuseBytes: byte features moved within their buffer hold the rows a copying split holds; floats are copied as without it", async () => {
  for (const [n, f] of [[5, 3], [1000, 7], [20_000, 300]]) {
    const bytes = (rows: number) => {
      const x = new Uint8Array(rows * f);
      for (let r = 0; r < rows; r++) for (let j = 0; j < f; j++) x[r * f + j] = (r * 7 + j) & 255;
      return x;
    };
    const pool = () => ({
      x: bytes(n),
      y: Float32Array.from({ length: 2 * n }, (_, i) => i / 2),
      n,
      inputShape: [f],
      targetSize: 2,
      task: "regression" as const,
      byteTable: Float32Array.from({ length: 256 }, (_, b) => b / 255),
    });
    const expected = splitValidation(pool(), 0.15, 9);
    const source = pool();
    let pauses = 0;
    const chunked = await splitValidationInChunks(source, 0.15, 9, () => {
      pauses++;
      return Promise.resolve();
    }, { reuseBytes: true });
    const whole = splitValidation(pool(), 0.15, 9, { reuseBytes: true });
    for (const split of [chunked, whole]) {
      assert.deepEqual(split.train.x, expected.train.x, `train x, ${n}`);
      assert.deepEqual(split.train.y, expected.train.y, `train y, ${n}`);
      assert.deepEqual(split.validation!.x, expected.validation!.x, `validation x, ${n}`);
      assert.deepEqual(split.validation!.y, expected.validation!.y, `validation y, ${n}`);
      assert.equal(split.train.n, expected.train.n);
    }
    // the training rows are the start of the pool's own bytes: no copy
    assert.equal(chunked.train.x.buffer, source.x.buffer);
    // (one pause after the held-out rows are marked, and one in the move of 17,000 wide rows)
    if (n * f > 4 * SPLIT_CHUNK) assert.ok(pauses >= 2, `${pauses} pauses`);
  }
  // floats: the source is left as it was
  const floats: Dataset = {
    x: Float32Array.from({ length: 100 }, (_, i) => i),
    y: new Float32Array(100),
    n: 100,
    inputShape: [1],
    targetSize: 1,
    task: "regression",
  };
  const split = splitValidation(floats, 0.2, 1, { reuseBytes: true });
  // bytes that fill less than half their buffer (a few rows out of a larger file's): copied, so
  // that the split does not keep the rest of the buffer alive
  const file = new Uint8Array(16 + 1000 * 4).map((_, i) => i & 255);
  const few = {
    x: file.subarray(16, 16 + 100 * 4),
    y: Float32Array.from({ length: 100 }, (_, i) => i),
    n: 100,
    inputShape: [4],
    targetSize: 1,
    task: "regression" as const,
    byteTable: new Float32Array(256),
  };
  const copied = splitValidation({ ...few, x: few.x.slice() }, 0.2, 1);
  const fewSplit = splitValidation(few, 0.2, 1, { reuseBytes: true });
  assert.notEqual(fewSplit.train.x.buffer, file.buffer);
  assert.deepEqual(fewSplit.train.x, copied.train.x);
  assert.deepEqual(few.x, new Uint8Array(400).map((_, i) => (16 + i) & 255), "left as it was");
  assert.deepEqual(floats.x, Float32Array.from({ length: 100 }, (_, i) => i));
  assert.notEqual(split.train.x.buffer, floats.x.buffer);
});

Deno.test("a stratified split holds out the fraction of each class, keeps a row of every class of two in training, and is refused where no class can give one", () => {
  // 30 of class 0, 10 of class 1, 2 of class 2, 1 of class 3
  const labels = [...Array(30).fill(0), ...Array(10).fill(1), 2, 2, 3];
  const ds = {
    x: Float32Array.from(labels, (_, i) => i),
    y: Float32Array.from(labels),
    n: labels.length,
    inputShape: [1],
    targetSize: 1,
    task: "classification" as const,
    numClasses: 4,
  };
  const count = (y: Float32Array, label: number) => [...y].filter((v) => v === label).length;
  for (const seed of [1, 2, 3]) {
    const { train, validation } = splitValidation(ds, 0.2, seed, { stratify: true });
    // round(43 x 0.2) = 9 in all, as sklearn shares them: floor(30 x 0.2) = 6, floor(10 x 0.2)
    // = 2, and the one left to the largest remainder, 2 x 0.2's; the lone row stays
    assert.deepEqual([0, 1, 2, 3].map((c) => count(validation!.y, c)), [6, 2, 1, 0]);
    assert.deepEqual([0, 1, 2, 3].map((c) => count(train.y, c)), [24, 8, 1, 1]);
    // the rows themselves: every one once, each part in the source order
    const rows = [...train.x, ...validation!.x].sort((a, b) => a - b);
    assert.deepEqual(rows, labels.map((_, i) => i));
    assert.deepEqual([...train.x], [...train.x].sort((a, b) => a - b));
  }
  // ten classes of 3 rows at 0.2: 6 held out, as the plain split holds out, one each of six
  // classes (each class's share rounded on its own, 1 of 3, held out 10: a third)
  const tens = Array.from({ length: 30 }, (_, i) => i % 10);
  const ten = { ...ds, x: Float32Array.from(tens, (_, i) => i), y: Float32Array.from(tens), n: 30 };
  for (const seed of [1, 2, 3]) {
    const { validation } = splitValidation(ten, 0.2, seed, { stratify: true });
    const held = Array.from({ length: 10 }, (_, c) => count(validation!.y, c));
    assert.equal(validation!.n, 6);
    assert.deepEqual(held.filter((h) => h === 1).length, 6, `${held}`);
  }
  // a share that rounds to none anywhere: one row still, of a class that keeps another
  const small = splitValidation(ds, 0.01, 1, { stratify: true });
  assert.equal(small.validation!.n, 1);
  assert.notEqual(small.validation!.y[0], 3);
  const lone = { ...ds, y: Float32Array.from([0, 1, 2]), x: new Float32Array(3), n: 3 };
  assert.throws(
    () => splitValidation(lone, 0.3, 1, { stratify: true }),
    /stratify holds out a row of a class that keeps another in training/,
  );
});

Deno.test("a stratified split in chunks pauses in its passes over the labels too, and holds out the rows the unpaused one does", async () => {
  const n = 2 * SPLIT_CHUNK + 7;
  const ds: Dataset = {
    x: Float32Array.from({ length: n }, (_, i) => i),
    y: Float32Array.from({ length: n }, (_, i) => (i % 7 === 0 ? 1 : i % 3 === 0 ? 2 : 0)),
    n,
    inputShape: [1],
    targetSize: 1,
    task: "classification",
    numClasses: 3,
  };
  const paused = async (stratify: boolean) => {
    let pauses = 0;
    const split = await splitValidationInChunks(ds, 0.1, 5, () => {
      pauses++;
      return Promise.resolve();
    }, { stratify });
    return { split, pauses };
  };
  const plain = await paused(false);
  const stratified = await paused(true);
  // its count of each class and its marking of the held-out rows: two passes of n rows, each
  // pausing once a chunk (where they held the Worker for a pass of n rows each)
  assert.ok(
    stratified.pauses >= plain.pauses + 4,
    `${stratified.pauses} pauses stratified, ${plain.pauses} plain`,
  );
  const whole = splitValidation(ds, 0.1, 5, { stratify: true });
  assert.deepEqual(stratified.split.validation!.x, whole.validation!.x);
  assert.deepEqual(stratified.split.train.x, whole.train.x);
});
