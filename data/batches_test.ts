import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import {
  batchesPerEpoch,
  batchSeed,
  epochOrder,
  epochOrderInChunks,
  makeBatch,
  ORDER_CHUNK,
} from "./batches.ts";
import { Rng, seedFrom } from "./rng.ts";
import type { Dataset } from "./types.ts";

function isPermutation(order: Uint32Array, n: number): boolean {
  const seen = new Uint8Array(n);
  for (const i of order) {
    if (i >= n || seen[i]) return false;
    seen[i] = 1;
  }
  return order.length === n;
}

Deno.test("epochOrder is a pure function of (n, shuffle, seed, epoch)", () => {
  const a = epochOrder(1000, { shuffle: true, seed: 42, epoch: 3 });
  const b = epochOrder(1000, { shuffle: true, seed: 42, epoch: 3 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, epochOrder(1000, { shuffle: true, seed: 42, epoch: 4 }));
  assert.notDeepEqual(a, epochOrder(1000, { shuffle: true, seed: 43, epoch: 3 }));
});

Deno.test("epochOrder is always a permutation, and the identity without shuffle", () => {
  for (const n of [0, 1, 2, 7, 200, 1001]) {
    for (let epoch = 0; epoch < 3; epoch++) {
      assert.ok(isPermutation(epochOrder(n, { shuffle: true, seed: 9, epoch }), n));
    }
  }
  assert.deepEqual([...epochOrder(5, { shuffle: false, seed: 9, epoch: 2 })], [0, 1, 2, 3, 4]);
  assert.throws(() => epochOrder(-1, { shuffle: true, seed: 1, epoch: 0 }), AnnealError);
});

Deno.test("epochOrder shuffles: every position sees many different samples", () => {
  const firsts = new Set<number>();
  for (let epoch = 0; epoch < 50; epoch++) {
    firsts.add(epochOrder(10, { shuffle: true, seed: 1, epoch })[0]);
  }
  assert.equal(firsts.size, 10);
});

Deno.test("batchesPerEpoch rounds up, or down when dropping the last batch", () => {
  assert.equal(batchesPerEpoch(200, 32, false), 7);
  assert.equal(batchesPerEpoch(200, 32, true), 6);
  assert.equal(batchesPerEpoch(64, 32, false), 2);
  assert.equal(batchesPerEpoch(64, 32, true), 2);
  assert.equal(batchesPerEpoch(10, 32, true), 0);
  assert.equal(batchesPerEpoch(0, 32, false), 0);
  assert.throws(() => batchesPerEpoch(10, 0, false), /'batchSize' must be a positive integer/);
  // a count that is not one is refused, where it gave NaN, or -1 of -5 samples
  for (const n of [NaN, -5, 2.5, Infinity, "200" as unknown as number]) {
    assert.throws(
      () => batchesPerEpoch(n, 32, false),
      (error: unknown) =>
        error instanceof AnnealError && error.code === "usage" && error.where === "n" &&
        /n must be an integer >= 0/.test(error.message),
      String(n),
    );
  }
  // with gradient accumulation, dropLast keeps whole groups: every step is batch x accumulation
  assert.equal(batchesPerEpoch(200, 8, true, 4), 24);
  assert.equal(batchesPerEpoch(200, 8, false, 4), 25);
  assert.equal(batchesPerEpoch(31, 8, true, 4), 0);
  assert.throws(() => batchesPerEpoch(10, 8, true, 0), /'gradientAccumulation' must be/);
});

const table: Dataset = {
  x: Float32Array.from({ length: 20 }, (_, i) => i),
  y: Float32Array.from({ length: 10 }, (_, i) => 100 + i),
  n: 10,
  inputShape: [2],
  targetSize: 1,
  task: "regression",
};

Deno.test("makeBatch gathers rows in index order into fresh, exactly sized buffers", () => {
  const batch = makeBatch(table, [3, 0, 9], undefined, 1);
  assert.equal(batch.size, 3);
  assert.deepEqual([...batch.x], [6, 7, 0, 1, 18, 19]);
  assert.deepEqual([...batch.y], [103, 100, 109]);
  assert.notEqual(batch.x.buffer, table.x.buffer);
  assert.equal(batch.x.buffer.byteLength, 6 * 4);
  assert.equal(batch.y.buffer.byteLength, 3 * 4);
  // Transferring the batch must not detach the dataset.
  structuredClone(batch, {
    transfer: [batch.x.buffer as ArrayBuffer, batch.y.buffer as ArrayBuffer],
  });
  assert.equal(table.x.length, 20);
});

Deno.test("makeBatch rejects out-of-range indices and augmenting non-image data", () => {
  assert.throws(() => makeBatch(table, [10], undefined, 1), /outside 0\.\.9/);
  assert.throws(() => makeBatch(table, [0], { flip: true }, 1), /image data only/);
  // An augment spec that changes nothing is allowed on any data.
  assert.deepEqual([...makeBatch(table, [1], { flip: false }, 1).x], [2, 3]);
});

Deno.test("makeBatch refuses what the caller got wrong as usage: an index out of range, a dataset shorter than its n, an unknown augment field", () => {
  const usage = (pattern: RegExp, where?: string) => (error: unknown) =>
    error instanceof AnnealError && error.code === "usage" && error.where === where &&
    pattern.test(error.message);
  // (an index out of range was an "internal" error)
  assert.throws(() => makeBatch(table, [-1], undefined, 1), usage(/outside 0\.\.9/));
  // (a short x was read past its end: NaN in the batch)
  const short = { ...table, x: table.x.subarray(0, 19) };
  assert.throws(
    () => makeBatch(short, [0], undefined, 1),
    usage(
      /^Cannot make a batch: the dataset's 'x' holds 19 values, its 10 samples of input shape \[2\] need 20$/,
      "dataset.x",
    ),
  );
  const fewTargets = { ...table, y: table.y.subarray(0, 9) };
  assert.throws(() => makeBatch(fewTargets, [0], undefined, 1), usage(/'y' holds 9/, "dataset.y"));
  // (an unknown field was ignored: the batch came unaugmented)
  assert.throws(
    () => makeBatch(table, [0], { flop: true } as never, 1),
    (error: unknown) =>
      usage(
        /^Cannot make a batch: unknown field 'augment\.flop' \(did you mean 'augment\.flip'\?\)$/,
        "augment.flop",
      )(error) &&
      (error as AnnealError).hint ===
        "rename it to 'flip'; augment's fields are flip, cropPadding, rotateDegrees, noiseStd",
  );
  assert.throws(
    () => makeBatch(table, [0], true as never, 1),
    usage(/augment must be an object/, "augment"),
  );
});

Deno.test("epochOrder refuses a shuffle that is not a boolean", () => {
  // ("no" shuffled, as a truthy value)
  assert.throws(
    () => epochOrder(5, { shuffle: "no" as never, seed: 1, epoch: 0 }),
    (error: unknown) =>
      error instanceof AnnealError && error.code === "usage" && error.where === "options.shuffle" &&
      /options\.shuffle must be true or false, current value is "no"$/.test(error.message),
  );
});

Deno.test("batchSeed differs per epoch and batch and is stable", () => {
  assert.equal(batchSeed(1, 2, 3), batchSeed(1, 2, 3));
  assert.notEqual(batchSeed(1, 2, 3), batchSeed(1, 3, 2));
  assert.notEqual(batchSeed(1, 0, 0), batchSeed(2, 0, 0));
});

/** The order as one loop (as it was before it was made in chunks). */
function referenceOrder(n: number, shuffle: boolean, seed: number, epoch: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (!shuffle) return order;
  const rng = new Rng(seedFrom(seed, epoch, 0xe90c));
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const swap = order[i];
    order[i] = order[j];
    order[j] = swap;
  }
  return order;
}

Deno.test("epochOrder in chunks, paused between them, gives the same order", async () => {
  const sizes = [0, 1, 2, 1000, ORDER_CHUNK - 1, ORDER_CHUNK, ORDER_CHUNK + 1, 2 * ORDER_CHUNK + 7];
  const cases = [{ seed: 42, epoch: 0 }, { seed: 7, epoch: 3 }];
  for (const n of sizes) {
    for (const { seed, epoch } of cases) {
      for (const shuffle of n === 1000 ? [true, false] : [true]) {
        const expected = referenceOrder(n, shuffle, seed, epoch);
        let pauses = 0;
        const chunked = await epochOrderInChunks(n, { shuffle, seed, epoch }, () => {
          pauses++;
          return new Promise((resolve) => setTimeout(resolve, 0));
        });
        // (a chunk numbers the samples, another shuffles them)
        const chunks = Math.ceil(n / ORDER_CHUNK);
        assert.ok(pauses >= (shuffle ? 2 * chunks - 1 : chunks), `${pauses} pauses for ${n}`);
        const label = `n ${n}, seed ${seed}, epoch ${epoch}, shuffle ${shuffle}`;
        assert.deepEqual(chunked, expected, label);
        assert.deepEqual(epochOrder(n, { shuffle, seed, epoch }), expected, label);
      }
    }
  }
});

Deno.test("a pause that throws gives the shuffle up", async () => {
  const options = { shuffle: true, seed: 1, epoch: 0 };
  let pauses = 0;
  await assert.rejects(
    epochOrderInChunks(3 * ORDER_CHUNK, options, () => {
      pauses++;
      return pauses === 4 ? Promise.reject(new Error("stop")) : Promise.resolve();
    }),
    /stop/,
  );
  assert.equal(pauses, 4);
  await assert.rejects(epochOrderInChunks(-1, options, () => Promise.resolve()), AnnealError);
});

Deno.test("a dataset built by hand with x and y as plain arrays is told to make them typed arrays, not that they are missing", () => {
  assert.throws(
    () => makeBatch({ x: [0, 1], y: [0, 1], n: 2, inputShape: [1] } as never, [0], undefined, 0),
    /current value is "an object with x a plain array, y a plain array"/,
  );
});
