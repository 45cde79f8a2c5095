import assert from "node:assert/strict";
import * as optimizers from "./mod.ts";

Deno.test("mod.ts exports exactly the public API", () => {
  assert.deepEqual(Object.keys(optimizers).sort(), [
    "AutoClip",
    "OptimizerSpecSchema",
    "ParamGroupSchema",
    "batchScalingOf",
    "chain",
    "clipGradNorm",
    "clipGradValue",
    "createOptimizer",
    "parseOptimizerSpec",
    "scaleLearningRate",
  ]);
});
