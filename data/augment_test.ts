import assert from "node:assert/strict";
import { batchSeed, makeBatch } from "./batches.ts";
import type { Dataset } from "./types.ts";

const H = 4, W = 5;
/** Image i has pixel (r, c) = 100*i + 10*r + c: no image is its own mirror. */
const images: Dataset = {
  x: Float32Array.from({ length: 8 * H * W }, (_, k) => {
    const i = Math.floor(k / (H * W)), p = k % (H * W);
    return 100 * i + 10 * Math.floor(p / W) + (p % W);
  }),
  y: Float32Array.from({ length: 8 }, (_, i) => i % 3),
  n: 8,
  inputShape: [H, W, 1],
  targetSize: 1,
  task: "classification",
  numClasses: 3,
  imageShape: [H, W, 1],
};

function sample(i: number): number[] {
  return [...images.x.subarray(i * H * W, (i + 1) * H * W)];
}

function mirror(pixels: number[]): number[] {
  const out: number[] = [];
  for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) out.push(pixels[r * W + (W - 1 - c)]);
  return out;
}

const all = [0, 1, 2, 3, 4, 5, 6, 7];

Deno.test("flip mirrors a known image horizontally or leaves it, both happen", () => {
  let flipped = 0, kept = 0;
  for (let b = 0; b < 10; b++) {
    const batch = makeBatch(images, all, { flip: true }, batchSeed(1, 0, b));
    for (let i = 0; i < 8; i++) {
      const got = [...batch.x.subarray(i * H * W, (i + 1) * H * W)];
      if (got.join() === sample(i).join()) kept++;
      else if (got.join() === mirror(sample(i)).join()) flipped++;
      else assert.fail(`sample ${i} is neither the image nor its mirror: ${got}`);
    }
    assert.deepEqual([...batch.y], [...images.y]);
  }
  assert.ok(flipped > 20 && kept > 20, `flipped ${flipped}, kept ${kept}`);
});

Deno.test("augmentation is reproduced exactly from the same batch seed", () => {
  const augment = { flip: true, cropPadding: 1, rotateDegrees: 15, noiseStd: 0.1 };
  const a = makeBatch(images, all, augment, batchSeed(7, 3, 2));
  const b = makeBatch(images, all, augment, batchSeed(7, 3, 2));
  const c = makeBatch(images, all, augment, batchSeed(7, 3, 3));
  assert.deepEqual(a.x, b.x);
  assert.notDeepEqual(a.x, c.x);
});

Deno.test("crop padding shifts by at most the padding and fills with zeros", () => {
  let shifted = 0;
  for (let b = 0; b < 5; b++) {
    const batch = makeBatch(images, all, { cropPadding: 1 }, batchSeed(2, 0, b));
    for (let i = 0; i < 8; i++) {
      const got = [...batch.x.subarray(i * H * W, (i + 1) * H * W)];
      const source = sample(i);
      const matches: string[] = [];
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const expected: number[] = [];
          for (let r = 0; r < H; r++) {
            for (let c = 0; c < W; c++) {
              const rr = r + dy, cc = c + dx;
              expected.push(rr >= 0 && rr < H && cc >= 0 && cc < W ? source[rr * W + cc] : 0);
            }
          }
          if (expected.join() === got.join()) matches.push(`${dy},${dx}`);
        }
      }
      assert.equal(matches.length, 1, `sample ${i} is no shift of the image`);
      if (matches[0] !== "0,0") shifted++;
    }
  }
  assert.ok(shifted > 20, `only ${shifted} of 40 samples shifted`);
});

Deno.test("rotation keeps the center pixel region and stays within the value range", () => {
  const plain = makeBatch(images, [1], undefined, 0);
  const rotated = makeBatch(images, [1], { rotateDegrees: 10 }, batchSeed(3, 0, 0));
  assert.notDeepEqual(rotated.x, plain.x);
  const max = Math.max(...plain.x);
  for (const v of rotated.x) assert.ok(v >= 0 && v <= max + 1e-4);
  // Near the center (row 1, col 2) a 10 degree turn moves content by less than a row (10 units).
  const center = 1 * W + 2;
  assert.ok(Math.abs(rotated.x[center] - plain.x[center]) < 10);
});

Deno.test("gaussian noise has the requested standard deviation", () => {
  const batch = makeBatch(images, all, { noiseStd: 0.5 }, batchSeed(4, 0, 0));
  let sum = 0, squares = 0;
  for (let k = 0; k < batch.x.length; k++) {
    const d = batch.x[k] - images.x[k];
    sum += d;
    squares += d * d;
  }
  const n = batch.x.length;
  const std = Math.sqrt(squares / n - (sum / n) ** 2);
  assert.ok(Math.abs(std - 0.5) < 0.08, `std ${std}`);
});

Deno.test("augmentation works on flattened images through imageShape", () => {
  const flat: Dataset = { ...images, inputShape: [H * W] };
  const a = makeBatch(flat, all, { flip: true }, batchSeed(1, 0, 0));
  const b = makeBatch(images, all, { flip: true }, batchSeed(1, 0, 0));
  assert.deepEqual(a.x, b.x);
});
