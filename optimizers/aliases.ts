/**
 * The optimizer zoo as assemblies of the small transformations: each optimizer is a chain, and
 * its variants are parameters. AdamW is Adam's chain with the decoupled decay in place of the L2
 * term; Lion and Adafactor reuse the same decoupled decay. Adamax, NAdam, RAdam and Adadelta are
 * Adam's L2 chain around their own scaling, as torch 1.13 has them.
 *
 * @module
 */

import { scaleByAdadelta } from "./adadelta.ts";
import { scaleByFactoredRms, scaleByRelativeStep } from "./adafactor.ts";
import { nadamUpdate, scaleByAdamax, scaleByRadam } from "./adam_variants.ts";
import {
  fusedAdam,
  rmspropUpdate,
  scaleByAdagrad,
  scaleByAdam,
  scaleByLion,
  scaleByTrustRatio,
} from "./adaptive.ts";
import type { ResolvedOptimizerSpec } from "./spec.ts";
import { chain, type Transform } from "./transform.ts";
import {
  addDecayedWeights,
  decoupledWeightDecay,
  fusedSgd,
  negate,
  scaleByLearningRate,
  trace,
} from "./transforms.ts";

/** An optimizer's transformation and its initial momentum (undefined: it has none). */
export interface Assembly {
  transform: Transform;
  momentum: number | undefined;
}

// float32's machine epsilon, torch.finfo(torch.float32).eps: Adafactor's default eps1.
const FLOAT32_EPSILON = 2 ** -23;

/**
 * Builds the transformation chain of a resolved spec; `fused`: Adam and AdamW as the backend's
 * `AnnealAdamUpdate` kernel (see `fusedAdam`), SGD as its `AnnealSgdUpdate` (see `fusedSgd`), for
 * backends that register them.
 *
 * @example
 * ```ts
 * import { assemble } from "./aliases.ts";
 * import { parseOptimizerSpec } from "./parse.ts";
 * const { momentum } = assemble(parseOptimizerSpec({ name: "adamw" }));
 * console.assert(momentum === 0.9);
 * ```
 */
export function assemble(spec: ResolvedOptimizerSpec, fused = false): Assembly {
  // torch's maximize negates the gradient before anything else sees it (torch 1.13 has it for
  // sgd, adam, adamw, rmsprop, adagrad, adamax and adadelta; the other specs have no such field).
  const ascent = "maximize" in spec && spec.maximize ? [negate()] : [];
  switch (spec.name) {
    case "sgd": {
      if (fused) {
        // one backend kernel for the whole chain (`fused`: the backend has AnnealSgdUpdate)
        return {
          transform: fusedSgd({
            dampening: spec.dampening,
            nesterov: spec.nesterov,
            maximize: spec.maximize,
          }),
          momentum: spec.momentum,
        };
      }
      // The buffer appears with the first nonzero momentum, so plain SGD keeps no state.
      const momentum = trace({ dampening: spec.dampening, nesterov: spec.nesterov });
      return {
        transform: chain(...ascent, addDecayedWeights(), momentum, scaleByLearningRate()),
        momentum: spec.momentum,
      };
    }
    case "adam":
    case "adamw": {
      if (fused) {
        // one backend kernel for the whole chain (`fused`: the backend has AnnealAdamUpdate)
        return {
          transform: fusedAdam({
            beta2: spec.betas[1],
            eps: spec.eps,
            amsgrad: spec.amsgrad,
            decoupled: spec.name === "adamw",
            maximize: spec.maximize,
          }),
          momentum: spec.betas[0],
        };
      }
      const adam = scaleByAdam({
        beta2: spec.betas[1],
        eps: spec.eps,
        amsgrad: spec.amsgrad,
        biasCorrection: true,
      });
      const transform = spec.name === "adam"
        ? chain(...ascent, addDecayedWeights(), adam, scaleByLearningRate())
        : chain(...ascent, adam, scaleByLearningRate(), decoupledWeightDecay());
      return { transform, momentum: spec.betas[0] };
    }
    case "rmsprop": {
      // (the rate applied as torch does: before the division where there is no momentum)
      const rms = rmspropUpdate({ alpha: spec.alpha, eps: spec.eps, centered: spec.centered });
      return {
        transform: chain(...ascent, addDecayedWeights(), rms),
        momentum: spec.momentum,
      };
    }
    case "adagrad":
      return {
        transform: chain(
          ...ascent,
          addDecayedWeights(),
          scaleByAdagrad({ initialAccumulatorValue: spec.initialAccumulatorValue, eps: spec.eps }),
          scaleByLearningRate({ lrDecay: spec.lrDecay }),
        ),
        momentum: undefined,
      };
    case "lion":
      return {
        transform: chain(
          scaleByLion({ beta2: spec.betas[1] }),
          scaleByLearningRate(),
          decoupledWeightDecay(),
        ),
        momentum: spec.betas[0],
      };
    case "lamb":
      return {
        transform: chain(
          scaleByAdam({
            beta2: spec.betas[1],
            eps: spec.eps,
            amsgrad: false,
            biasCorrection: spec.biasCorrection,
          }),
          addDecayedWeights(),
          scaleByTrustRatio({ alwaysAdapt: spec.alwaysAdapt, trustClip: spec.trustClip }),
          scaleByLearningRate(),
        ),
        momentum: spec.betas[0],
      };
    case "adamax":
    case "radam": {
      const options = { beta2: spec.betas[1], eps: spec.eps };
      const scaling = spec.name === "adamax" ? scaleByAdamax(options) : scaleByRadam(options);
      return {
        transform: chain(...ascent, addDecayedWeights(), scaling, scaleByLearningRate()),
        momentum: spec.betas[0],
      };
    }
    case "nadam":
      // nadamUpdate scales by the learning rate itself (its two terms are rounded as torch's)
      return {
        transform: chain(
          addDecayedWeights(),
          nadamUpdate({ beta2: spec.betas[1], eps: spec.eps, momentumDecay: spec.momentumDecay }),
        ),
        momentum: spec.betas[0],
      };
    case "adadelta":
      return {
        transform: chain(
          ...ascent,
          addDecayedWeights(),
          scaleByAdadelta({ rho: spec.rho, eps: spec.eps }),
          scaleByLearningRate(),
        ),
        momentum: undefined,
      };
    case "adafactor":
      return {
        transform: chain(
          scaleByFactoredRms({
            beta2Decay: spec.beta2Decay,
            eps1: spec.eps[0] ?? FLOAT32_EPSILON,
            d: spec.d,
          }),
          scaleByRelativeStep({ eps2: spec.eps[1] }),
          decoupledWeightDecay(),
        ),
        momentum: undefined,
      };
  }
}
