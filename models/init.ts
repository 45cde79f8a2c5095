/**
 * PyTorch's default initialisation for tfjs-layers: nn.Linear and nn.Conv2d draw weights and
 * biases from uniform(-1/sqrt(fanIn), 1/sqrt(fanIn)); nn.LSTM/nn.GRU draw every parameter from
 * uniform(-1/sqrt(units), 1/sqrt(units)). Every initializer gets its own seed, derived from the
 * run seed and a stable slot number, so that the same seed gives the same weights.
 *
 * @module
 */

import * as tfl from "npm:@tensorflow/tfjs-layers@4.22.0";

/** A tfjs-layers initializer instance. */
export type Initializer = ReturnType<typeof tfl.initializers.randomUniform>;

/**
 * Derives a 31-bit seed for initializer slot `slot` from the run seed (an integer hash, so that
 * neighbouring run seeds give unrelated streams).
 *
 * @example
 * ```ts
 * import { deriveSeed } from "./init.ts";
 * console.assert(deriveSeed(1, 0) === deriveSeed(1, 0) && deriveSeed(1, 0) !== deriveSeed(1, 1));
 * ```
 */
export function deriveSeed(seed: number, slot: number): number {
  let h = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(slot + 1, 0x85ebca6b)) >>> 0;
  // `seed | 0` keeps a seed's low 32 bits: mix in the rest, or seeds 2^32 apart (42 and
  // 4294967338, both valid run seeds) drew the same weights. A seed below 2^32 has none, and
  // keeps the weights it always had.
  const high = Math.floor(Math.abs(seed) / 0x1_0000_0000);
  if (high !== 0) h = (h ^ Math.imul(high | 0, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) & 0x7fffffff;
}

/**
 * uniform(-bound, bound) with a fixed seed.
 *
 * @example
 * ```ts
 * import { uniformInit } from "./init.ts";
 * const init = uniformInit(0.5, 7);
 * console.assert(init.getClassName() === "RandomUniform");
 * ```
 */
export function uniformInit(bound: number, seed: number): Initializer {
  return tfl.initializers.randomUniform({ minval: -bound, maxval: bound, seed });
}

/** Hands out initializers with consecutive seed slots; one per model build. */
export class InitFactory {
  #slot = 0;
  constructor(readonly seed: number) {}

  /** uniform(±1/sqrt(fanIn)), as nn.Linear / nn.Conv2d weights and biases. */
  fanIn(fanIn: number): Initializer {
    return uniformInit(1 / Math.sqrt(fanIn), deriveSeed(this.seed, this.#slot++));
  }

  /** Kernel and bias initializers of one dense/conv layer with the given fan-in. */
  layer(fanIn: number): { kernelInitializer: Initializer; biasInitializer: Initializer } {
    return { kernelInitializer: this.fanIn(fanIn), biasInitializer: this.fanIn(fanIn) };
  }

  /**
   * Kernel, recurrent kernel and the two biases' initializers of one LSTM/GRU layer, as torch's
   * (`weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`).
   */
  recurrent(units: number): {
    kernelInitializer: Initializer;
    recurrentInitializer: Initializer;
    biasInitializer: Initializer;
    recurrentBiasInitializer: Initializer;
  } {
    return {
      kernelInitializer: this.fanIn(units),
      recurrentInitializer: this.fanIn(units),
      biasInitializer: this.fanIn(units),
      recurrentBiasInitializer: this.fanIn(units),
    };
  }
}
