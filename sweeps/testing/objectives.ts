/**
 * Synthetic objectives for sweep tests: a noisy bowl over log learning rate and log weight decay
 * (optimum at lr = 10^-2.5, weightDecay = 10^-3), and a learning curve that decays towards it.
 *
 * @module
 */
import { Rng, seedFrom } from "../../data/rng.ts";
import type { Params, SearchSpace } from "../space.ts";
import type { Objective } from "../study.ts";

/** The space the synthetic objectives are defined on. */
export const bowlSpace: SearchSpace = {
  "optimizer.lr": { type: "logUniform", low: 1e-6, high: 1 },
  "optimizer.weightDecay": { type: "logUniform", low: 1e-6, high: 1 },
};

/** The noise-free bowl: 0 at the optimum, growing quadratically in log space. */
export function bowl(params: Params): number {
  const lr = Math.log10(params["optimizer.lr"] as number);
  const wd = Math.log10(params["optimizer.weightDecay"] as number);
  return (lr + 2.5) ** 2 + 0.5 * (wd + 3) ** 2;
}

/** The bowl plus seeded Gaussian noise (std `noise`) that depends on the params only. */
export function noisyBowl(params: Params, noise = 0.1): number {
  const key = Math.floor((params["optimizer.lr"] as number) * 1e9) +
    Math.floor((params["optimizer.weightDecay"] as number) * 1e9);
  return bowl(params) + noise * new Rng(seedFrom(key)).normal();
}

/** An objective that reports `steps` points of a curve decaying from 10 + bowl to bowl. */
export function curveObjective(steps = 10, delayMs = 0): Objective {
  return async (params, report) => {
    const final = bowl(params);
    for (let step = 0; step < steps; step++) {
      if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
      const value = final + (10 + final) * Math.exp(-step / 3);
      if (await report(step, value)) return value;
    }
    return final;
  };
}
