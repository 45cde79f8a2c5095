/**
 * The training engine as `mod.ts` gives it: engine.ts's, whose model and optimizer specs are
 * validated again as it is built. engine.ts builds them as a parsed config holds them (it does not
 * load their schemas, for the trainer's Worker, whose config comes parsed); a config from
 * `parseConfig` that a script then changed by hand (a model section without its defaults, an
 * optimizer's misspelt field) is filled in or refused here, naming the field, as `buildModel` and
 * `createOptimizer` do.
 *
 * @module
 */
import type { RunConfig } from "../config.ts";
import { parseModelSpec } from "../models/build.ts";
import { parseOptimizerSpec } from "../optimizers/parse.ts";
import { type DataShape, TrainingEngine as ResolvedEngine } from "./engine.ts";

/**
 * Model, optimizer and the step, for one run: engine.ts's {@linkcode ResolvedEngine}, given the
 * config's model and optimizer specs parsed (their defaults filled in, or a refusal naming the
 * field).
 *
 * @example
 * ```ts
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { parseConfig } from "../config.ts";
 * import { TrainingEngine } from "./checked_engine.ts";
 * await tf.setBackend("cpu");
 * const config = { ...parseConfig({ backend: "cpu" }), model: { kind: "mlp", hidden: [4] } };
 * const shape = { inputShape: [2], targetSize: 1, task: "regression" as const };
 * const engine = new TrainingEngine(config as never, shape);
 * console.assert(engine.variables.length === 4); // (the hidden layer's and the head's)
 * engine.dispose();
 * ```
 */
export class TrainingEngine extends ResolvedEngine {
  /**
   * Builds the model and optimizer of `config` for data of `shape`, its model and optimizer specs
   * parsed first (a spec with a misspelt or invalid field is refused, naming the field).
   */
  constructor(config: RunConfig, shape: DataShape) {
    super(withParsedSpecs(config), shape);
  }
}

/** `config` with its model and optimizer sections parsed, where it has them as objects. */
function withParsedSpecs(config: RunConfig): RunConfig {
  if (typeof config !== "object" || config === null) return config;
  const parsed = { ...config };
  // (a missing section is the engine's to refuse, saying the config is not one parseConfig gave)
  if (typeof config.model === "object") parsed.model = parseModelSpec(config.model);
  if (typeof config.optimizer === "object") {
    parsed.optimizer = parseOptimizerSpec(config.optimizer);
  }
  return parsed;
}
