import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { AnnealError } from "../errors.ts";
import { AutoClip, clipGradNorm, clipGradValue } from "./clipping.ts";

await tf.setBackend("cpu");

const values = [[3, -4, 1], [2, -2]];

Deno.test("clipGradNorm leaves gradients below maxNorm unchanged and reports the norm", () => {
  const grads = values.map((row) => tf.tensor1d(row));
  const total = Math.hypot(...values.flat());
  const result = clipGradNorm(grads, total * 2);
  assert.ok(Math.abs(result.totalNorm.dataSync()[0] - total) < 1e-5 * total);
  result.grads.forEach((grad, index) => assert.deepEqual(grad.dataSync(), grads[index].dataSync()));
  tf.dispose([...grads, ...result.grads, result.totalNorm]);
});

Deno.test("clipGradNorm scales every gradient by maxNorm / (total + 1e-6)", () => {
  const grads = values.map((row) => tf.tensor1d(row));
  const total = Math.hypot(...values.flat());
  const result = clipGradNorm(grads, 1);
  const coefficient = 1 / (total + 1e-6);
  result.grads.forEach((grad, index) => {
    [...grad.dataSync()].forEach((value, i) =>
      assert.ok(Math.abs(value - values[index][i] * coefficient) < 1e-6)
    );
  });
  tf.dispose([...grads, ...result.grads, result.totalNorm]);
});

Deno.test("clipGradNorm with the inf norm uses the largest magnitude", () => {
  const grads = values.map((row) => tf.tensor1d(row));
  for (const normType of [Infinity, "inf"] as const) {
    const result = clipGradNorm(grads, 1, normType);
    assert.equal(result.totalNorm.dataSync()[0], Math.max(...values.flat().map(Math.abs)));
    tf.dispose([...result.grads, result.totalNorm]);
  }
  tf.dispose(grads);
});

Deno.test("clipGradNorm counts an empty gradient as norm 0 under every norm, the inf norm too (where torch 1.13 raises)", () => {
  for (const normType of [2, 1, Infinity, "inf", 3] as const) {
    const grads = [tf.tensor1d([]), tf.tensor1d([3, -4])];
    const result = clipGradNorm(grads, 1, normType);
    const largest = normType === Infinity || normType === "inf"
      ? 4
      : normType === 1
      ? 7
      : undefined;
    const total = result.totalNorm.dataSync()[0];
    assert.ok(Number.isFinite(total), `${normType}: total norm ${total}`);
    if (largest !== undefined) assert.equal(total, largest);
    assert.ok([...result.grads[1].dataSync()].every(Number.isFinite), `${normType}: gradients`);
    tf.dispose([...grads, ...result.grads, result.totalNorm]);
  }
  // (torch 1.13's inf norm raises for a gradient of no elements, max() of an empty tensor; anneal
  // counts it as 0, as torch's other norms do: README.md, "Settings at their edges")
  for (const normType of [Infinity, "inf"] as const) {
    const alone = [tf.tensor1d([])];
    const result = clipGradNorm(alone, 1, normType);
    assert.equal(result.totalNorm.dataSync()[0], 0);
    assert.deepEqual(result.grads.map((grad) => grad.size), [0]);
    tf.dispose([...alone, ...result.grads, result.totalNorm]);
    // (no gradients at all: torch's total is 0 as well)
    const none = clipGradNorm([], 1, normType);
    assert.equal(none.totalNorm.dataSync()[0], 0);
    assert.deepEqual(none.grads, []);
    none.totalNorm.dispose();
  }
});

Deno.test("clipGradNorm keeps no tensors but the ones it returns", () => {
  const grads = values.map((row) => tf.tensor1d(row));
  const before = tf.memory().numTensors;
  const result = clipGradNorm(grads, 0.5);
  assert.equal(tf.memory().numTensors, before + grads.length + 1);
  tf.dispose([...grads, ...result.grads, result.totalNorm]);
  const empty = clipGradNorm([], 1);
  assert.equal(empty.totalNorm.dataSync()[0], 0);
  assert.throws(() => clipGradNorm([], -1), AnnealError);
  assert.throws(() => clipGradNorm([], 1, 0), /'normType' must be a number > 0/);
});

Deno.test("clipGradValue clamps each element to [-clipValue, clipValue]", () => {
  const grads = values.map((row) => tf.tensor1d(row));
  const clipped = clipGradValue(grads, 2.5);
  clipped.forEach((grad, index) =>
    assert.deepEqual(
      [...grad.dataSync()],
      values[index].map((v) => Math.max(-2.5, Math.min(2.5, v))),
    )
  );
  tf.dispose([...grads, ...clipped]);
  assert.throws(() => clipGradValue([], Number.NaN), AnnealError);
});

/** numpy's default ("linear") percentile, written the obvious way. */
function percentile(data: number[], p: number): number {
  const sorted = [...data].sort((a, b) => a - b);
  const position = (p / 100) * (sorted.length - 1);
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
}

Deno.test("AutoClip's threshold is the percentile of the observed norms", () => {
  fc.assert(fc.property(
    fc.array(fc.double({ min: 0, max: 1e3, noNaN: true }), { minLength: 1, maxLength: 50 }),
    fc.double({ min: 0, max: 100, noNaN: true, minExcluded: true }),
    (norms, p) => {
      const autoClip = new AutoClip(p);
      norms.forEach((norm) => autoClip.observe(norm));
      const expected = percentile(norms, p);
      assert.ok(Math.abs(autoClip.threshold()! - expected) <= 1e-9 * Math.max(1, expected));
      const restored = new AutoClip(p, autoClip.norms);
      assert.equal(restored.threshold(), autoClip.threshold());
    },
  ));
});

Deno.test("AutoClip has no threshold before observing and ignores non-finite norms", () => {
  const autoClip = new AutoClip(10);
  assert.equal(autoClip.threshold(), undefined);
  autoClip.observe(Number.NaN);
  autoClip.observe(Infinity);
  assert.equal(autoClip.threshold(), undefined);
  // a negative norm (a loss or a change passed by mistake) is refused: recorded, it became the
  // 10th percentile, a threshold below every real norm that clipped each step to -1's size
  for (const bad of [-1, "3" as unknown as number]) {
    assert.throws(
      () => autoClip.observe(bad),
      (error) =>
        error instanceof AnnealError && error.code === "usage" &&
        error.message.startsWith(`Cannot observe the gradient norm ${JSON.stringify(bad)}`),
    );
  }
  assert.equal(autoClip.threshold(), undefined);
  assert.throws(
    () => new AutoClip(101),
    /'percentile' must be a number in \(0, 100\], current value is 101/,
  );
});

Deno.test("the clip functions called from plain JavaScript with a string or 0 say what they take", () => {
  // ("'maxNorm' must be >= 0, current value is 1" of the string "1"; a normType "2" failed in
  // tfjs's pow, naming neither; AutoClip(0) was taken, where the config refuses it)
  const loose = (value: unknown) => value as number;
  assert.throws(
    () => clipGradNorm([], loose("1")),
    /'maxNorm' must be a number >= 0, current value is "1"/,
  );
  assert.throws(
    () => clipGradNorm([], 1, loose("2")),
    /'normType' must be a number > 0 or "inf", current value is "2"/,
  );
  assert.throws(
    () => clipGradValue([], loose("1")),
    /'clipValue' must be a number >= 0, current value is "1"/,
  );
  assert.throws(() => new AutoClip(0), /'percentile' must be a number in \(0, 100\]/);
});
