/**
 * Dropout whose masks are seeded: a training pass's mask is a pure function of the run's seed, the
 * step, the micro-batch within the step's accumulation group and the layer, so a run trained again
 * (or resumed from a checkpoint) draws the same masks, bit for bit.
 *
 * tfjs-layers' own Dropout draws its mask with `tf.dropout`, unseeded (a fresh mask each call,
 * never the same twice across runs) or, given a seed, the same mask at every call. Here the
 * caller names the pass ({@linkcode dropoutSeed}: run seed, step, micro-batch), each dropout
 * layer of the model derives its own seed from it (its place among the model's dropout layers),
 * and each unit's draw is a hash of that seed and the unit's index ({@linkcode dropoutKeepBits}),
 * the same on every backend and on every path: tfjs's path and the host step compute it in
 * TypeScript, the WGSL step on the GPU (`runtime/dense/wgsl.ts`'s `DROPOUT_BITS_WGSL`), every
 * unit at once, with nothing drawn or uploaded by the host.
 *
 * Semantics are torch's inverted dropout: each unit is kept with probability `1 - rate` and the
 * kept ones are scaled by `1 / (1 - rate)`; rate 0 drops nothing, and inference (`training`
 * false) passes the input through.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import * as tfl from "npm:@tensorflow/tfjs-layers@4.22.0";
import { fmix32, Rng, seedFrom } from "../data/rng.ts";

/** Tells dropout's streams apart from the data's (shuffles, augmentation) drawn from the same seed. */
const DROPOUT_STREAM = 0x6d61736b; // "mask"

type DropoutArgs = Parameters<typeof tfl.layers.dropout>[0];
// tfjs-layers exports the layer's factory, not its class: take the class from an instance.
const Base = Object.getPrototypeOf(tfl.layers.dropout({ rate: 0 })).constructor as new (
  args: DropoutArgs,
) => tfl.layers.Layer & { rate: number };

/**
 * The seed of a training pass's dropout masks: those of micro-batch `microBatch` (0 without
 * gradient accumulation) of optimizer step `step` of a run seeded `runSeed`.
 *
 * @example
 * ```ts
 * import { dropoutSeed } from "./dropout.ts";
 * console.assert(dropoutSeed(42, 0, 0) === dropoutSeed(42, 0, 0));
 * console.assert(dropoutSeed(42, 0, 0) !== dropoutSeed(42, 1, 0));
 * console.assert(dropoutSeed(42, 0, 0) !== dropoutSeed(42, 0, 1));
 * ```
 */
export function dropoutSeed(runSeed: number, step: number, microBatch: number): number {
  return seedFrom(runSeed, DROPOUT_STREAM, step, microBatch);
}

/**
 * An inverted-dropout mask of `size` values, each `1 / (1 - rate)` (kept) with probability
 * `1 - rate`, else 0, drawn from `seed`: the floats of {@linkcode dropoutKeepBits}' bits.
 *
 * @example
 * ```ts
 * import { dropoutMask } from "./dropout.ts";
 * const mask = dropoutMask(7, 1000, 0.5);
 * console.assert(mask.every((v) => v === 0 || v === 2));
 * console.assert(dropoutMask(7, 1000, 0.5).every((v, i) => v === mask[i]));
 * console.assert(dropoutMask(7, 10, 0).every((v) => v === 1));
 * ```
 */
export function dropoutMask(seed: number, size: number, rate: number): Float32Array {
  const mask = new Float32Array(size);
  if (!(rate > 0)) return mask.fill(1);
  if (rate >= 1) return mask;
  const scale = 1 / (1 - rate);
  const bits = dropoutKeepBits(seed, size, rate);
  // (branch-free: a kept unit's bit times the scale)
  for (let i = 0; i < size; i++) mask[i] = ((bits[i >>> 5] >>> (i & 31)) & 1) * scale;
  return mask;
}

/**
 * The two 32-bit keys of a mask drawn from `seed`: the first two words of `data/rng.ts`'s
 * `Rng(seed)` state (the seed hashed, 12 draws skipped).
 */
export function dropoutKeys(seed: number): [number, number] {
  const [a, b] = new Rng(seed).state;
  return [a >>> 0, b >>> 0];
}

/**
 * The 32-bit threshold of dropout at `rate` (0 < rate < 1): a unit is dropped where its draw is
 * below it, `rate * 2^32` rounded to an even number (so that `draw >= threshold` is
 * `draw >>> 1 >= threshold >>> 1`, an int32 subtraction's sign in TypeScript: branch-free,
 * where a compare's branch, taken at random, cost 2x the whole draw).
 */
export function dropoutThreshold(rate: number): number {
  return 2 * Math.min(Math.round(rate * 0x8000_0000), 0x7fff_ffff);
}

/**
 * Unit `index`'s 32-bit draw under the keys `k1`, `k2` ({@linkcode dropoutKeys}):
 * `fmix32(fmix32(index + k1) ^ k2)`, murmur3's finaliser twice (a bijection of the index for
 * given keys, so no two units of a mask share a draw; the second key makes the masks of two
 * seeds unrelated, not a shift of each other). The WGSL step computes the same words.
 *
 * @example
 * ```ts
 * import { dropoutDraw } from "./dropout.ts";
 * console.assert(dropoutDraw(0, 1, 2) !== dropoutDraw(1, 1, 2));
 * console.assert(dropoutDraw(5, 1, 2) >= 0 && dropoutDraw(5, 1, 2) < 2 ** 32);
 * ```
 */
export function dropoutDraw(index: number, k1: number, k2: number): number {
  return fmix32(fmix32(index + k1) ^ k2);
}

/**
 * Which of `size` units dropout at `rate` keeps, drawn from `seed`: bit `i % 32` of word
 * `i >> 5` is set where unit `i` is kept, where its draw ({@linkcode dropoutDraw} under
 * {@linkcode dropoutKeys}`(seed)`) is at least {@linkcode dropoutThreshold}`(rate)` (the units
 * {@linkcode dropoutMask} scales; the others it zeroes). Written into `out` (at least
 * `ceil(size / 32)` words; the last word's bits past `size` are 0) when given, else into a new
 * array. The WGSL step computes these words on the GPU.
 *
 * @example
 * ```ts
 * import { dropoutKeepBits, dropoutMask } from "./dropout.ts";
 * const bits = dropoutKeepBits(7, 40, 0.5);
 * const mask = dropoutMask(7, 40, 0.5);
 * console.assert(bits.length === 2);
 * console.assert(mask.every((v, i) => (v !== 0) === (((bits[i >> 5] >>> (i & 31)) & 1) === 1)));
 * ```
 */
export function dropoutKeepBits(
  seed: number,
  size: number,
  rate: number,
  out: Uint32Array = new Uint32Array(Math.ceil(size / 32)),
): Uint32Array {
  const words = Math.ceil(size / 32);
  if (out.length < words) {
    throw new RangeError(`${out.length} words cannot hold ${size} units' bits (${words} needed)`);
  }
  if (!(rate > 0)) {
    out.fill(0xffffffff, 0, words);
    if (size % 32 !== 0) out[words - 1] = 2 ** (size % 32) - 1;
    return out;
  }
  out.fill(0, 0, words);
  if (rate >= 1) return out;
  // kept where the draw's top 31 bits are at least the (even) threshold's: the difference of two
  // values below 2^31 is exact in int32, its sign bit 1 where the unit is dropped
  const half = dropoutThreshold(rate) >>> 1;
  const [k1, k2] = dropoutKeys(seed);
  let i = k1 | 0; // (the unit's index plus k1)
  for (let w = 0; w < words; w++) {
    const end = Math.min(32, size - 32 * w);
    let word = 0;
    for (let k = 0; k < end; k++, i = (i + 1) | 0) {
      // (dropoutDraw inline: 2x its call)
      let h = i;
      h ^= h >>> 16;
      h = Math.imul(h, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= (h >>> 16) ^ k2;
      h ^= h >>> 16;
      h = Math.imul(h, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
      word |= ((((h >>> 1) - half) >>> 31) ^ 1) << k;
    }
    out[w] = word;
  }
  return out;
}

/**
 * The seed of the mask the `k`-th dropout layer of a model (in its layers' order) draws in a
 * training pass seeded `passSeed` ({@linkcode dropoutSeed}): each layer its own stream.
 *
 * @example
 * ```ts
 * import { dropoutLayerSeed } from "./dropout.ts";
 * console.assert(dropoutLayerSeed(5, 0) !== dropoutLayerSeed(5, 1));
 * ```
 */
export function dropoutLayerSeed(passSeed: number, k: number): number {
  return seedFrom(passSeed, k);
}

/** tfjs-layers' Dropout (class name `Dropout`, same config) drawing seeded masks. */
class SeededDropout extends Base {
  /** The seed of this layer's mask in the pass under way ({@linkcode withDropoutSeed}). */
  passSeed?: number;
  /** The layer's own seed and count of training passes, for passes that name no seed. */
  readonly #ownSeed: number;
  #passes = 0;

  constructor(args: DropoutArgs & { seed?: number }) {
    super(args);
    this.#ownSeed = args.seed ?? 0;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) {
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    if (kwargs.training !== true || !(this.rate > 0 && this.rate < 1)) return input;
    // a pass that names no seed (a model run outside the engine): the layer's own stream, a new
    // mask each pass
    const seed = this.passSeed ?? seedFrom(this.#ownSeed, DROPOUT_STREAM, this.#passes++);
    const mask = dropoutMask(seed, input.size, this.rate);
    return tf.tidy(() => tf.mul(input, tf.tensor(mask, input.shape, "float32")));
  }
}

/**
 * A dropout layer that is tfjs-layers' own (class name `Dropout`, no weights), whose training
 * passes draw seeded masks: those {@linkcode withDropoutSeed} names, or without one a new mask
 * each pass from the layer's own `seed`.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { dropout } from "./dropout.ts";
 * await tf.setBackend("cpu");
 * const layer = dropout({ rate: 0.5 });
 * const y = layer.apply(tf.ones([2, 4]), { training: true }) as tf.Tensor;
 * console.assert(Array.from(y.dataSync()).every((v) => v === 0 || v === 2));
 * ```
 */
export function dropout(args: DropoutArgs & { seed?: number }): tfl.layers.Layer {
  return new SeededDropout(args);
}

/**
 * Runs `pass` (a forward pass of `model`) with the dropout masks of `seed`: the model's k-th
 * dropout layer (in its layers' order) draws the mask of `dropoutLayerSeed(seed, k)`. Without a seed,
 * `pass` runs as it is (each layer then draws from its own stream).
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { buildModel } from "./build.ts";
 * import { withDropoutSeed } from "./dropout.ts";
 * await tf.setBackend("cpu");
 * const model = buildModel({ kind: "mlp", hidden: [8], dropout: 0.5 }, { inputShape: [3], outputUnits: 2 }, 1);
 * const pass = () => Array.from((model.apply(tf.ones([4, 3]), { training: true }) as tf.Tensor).dataSync());
 * console.assert(withDropoutSeed(model, 5, pass).join() === withDropoutSeed(model, 5, pass).join());
 * ```
 */
export function withDropoutSeed<T>(
  model: tfl.LayersModel,
  seed: number | undefined,
  pass: () => T,
): T {
  if (seed === undefined) return pass();
  const layers = model.layers.filter((layer): layer is SeededDropout =>
    layer instanceof SeededDropout
  );
  layers.forEach((layer, k) => layer.passSeed = dropoutLayerSeed(seed, k));
  try {
    return pass();
  } finally {
    for (const layer of layers) layer.passSeed = undefined;
  }
}
