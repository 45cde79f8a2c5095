/**
 * A small seeded PRNG (sfc32) whose whole state is four uint32 numbers, so it survives JSON and
 * worker boundaries, plus {@linkcode seedFrom} to derive independent streams from several ints
 * (run seed, epoch, batch index, ...).
 *
 * @module
 */

import { AnnealError } from "../errors.ts";

/** JSON-safe state of an {@linkcode Rng}: four unsigned 32-bit integers. */
export type RngState = [number, number, number, number];

/** Mixes one 32-bit value (murmur3's finaliser): a small change flips about half the bits. */
export function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Combines integers into one uint32 seed; order matters, so `(seed, epoch)` and `(epoch, seed)`
 * give different streams. Integers beyond 32 bits keep their high bits.
 *
 * @example
 * ```ts
 * import { seedFrom } from "./rng.ts";
 * console.assert(seedFrom(42, 0) !== seedFrom(42, 1));
 * console.assert(seedFrom(42, 0) === seedFrom(42, 0));
 * ```
 */
export function seedFrom(...values: number[]): number {
  let h = 0x9e3779b9 ^ values.length;
  for (const value of values) {
    if (!Number.isSafeInteger(value)) {
      throw new AnnealError("usage", `Cannot derive a seed: ${value} is not a safe integer`, {
        hint: "pass integer seeds, epochs and batch indices",
      });
    }
    const low = value % 0x1_0000_0000;
    const high = Math.floor(value / 0x1_0000_0000);
    h = fmix32(Math.imul(h ^ fmix32(low >>> 0), 0x27d4eb2f) + 0x165667b1);
    h = fmix32(Math.imul(h ^ fmix32(high >>> 0), 0x27d4eb2f) + 0x165667b1);
  }
  return h >>> 0;
}

/**
 * The sfc32 generator: fast, passes PractRand, and its state is plain numbers.
 *
 * @example
 * ```ts
 * import { Rng } from "./rng.ts";
 * const a = new Rng(7);
 * const first = a.float();
 * const saved = a.state;
 * const b = Rng.fromState(saved);
 * console.assert(a.float() === b.float() && first >= 0 && first < 1);
 * ```
 */
export class Rng {
  #a = 0;
  #b = 0;
  #c = 0;
  #d = 0;

  /** Seeds from any safe integer (hashed by {@linkcode seedFrom}). */
  constructor(seed: number) {
    const s = seedFrom(seed);
    this.#a = fmix32(s ^ 0xa5a5a5a5);
    this.#b = fmix32(s + 0x6a09e667);
    this.#c = fmix32(s + 0xbb67ae85);
    this.#d = 1;
    for (let i = 0; i < 12; i++) this.uint32();
  }

  /** Rebuilds a generator from {@linkcode Rng.state}. */
  static fromState(state: RngState): Rng {
    const rng = new Rng(0);
    rng.state = state;
    return rng;
  }

  /** The current state; assigning it restores a saved generator. */
  get state(): RngState {
    return [this.#a, this.#b, this.#c, this.#d];
  }

  set state(state: RngState) {
    if (state.length !== 4 || state.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff)) {
      throw new AnnealError("checkpoint", "Cannot restore RNG: state must be four uint32 values", {
        hint: "pass the array read from Rng.state unchanged",
      });
    }
    [this.#a, this.#b, this.#c, this.#d] = state;
  }

  /** Next uniform unsigned 32-bit integer. */
  uint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    this.#a >>>= 0;
    this.#b >>>= 0;
    this.#c >>>= 0;
    this.#d >>>= 0;
    return t >>> 0;
  }

  /** Uniform float in [0, 1) with 32 bits of randomness. */
  float(): number {
    return this.uint32() / 0x1_0000_0000;
  }

  /** Uniform integer in [0, max), unbiased (rejection sampling); `max` ≤ 2^32. */
  int(max: number): number {
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % max);
    let value = this.uint32();
    while (value >= limit) value = this.uint32();
    return value % max;
  }

  /** Standard normal sample (Box-Muller; the second value is dropped to keep state small). */
  normal(): number {
    const u1 = 1 - this.float(); // in (0, 1]: log stays finite
    const u2 = this.float();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}
