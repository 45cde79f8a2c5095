/**
 * `buildModel`: a tfjs-layers model from a {@linkcode ModelSpec} as a user writes it, validated
 * here, then built by build_resolved.ts (fixed layer names, PyTorch's initialisation).
 *
 * @module
 */

import type * as tfl from "npm:@tensorflow/tfjs-layers@4.22.0";
import { AnnealError } from "../errors.ts";
import { type ModelSpec, ModelSpecSchema, type ResolvedModelSpec } from "./spec.ts";
import { formatPath } from "../zod_paths.ts";
import { fieldIssueText } from "../issue_text.ts";
import { unknownFields } from "../unknown_fields.ts";
import { buildResolvedModel, type ModelShape } from "./build_resolved.ts";

export { countParameters, type ModelShape } from "./build_resolved.ts";

/**
 * Builds the model described by `spec` for data of the given shape; weights depend only on `seed`.
 * A spec, shape or seed that is not valid throws an {@linkcode AnnealError} (`config`) naming
 * the field (`where`: `model.kind`, `model.hidden[0]`, `seed`).
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { buildModel } from "./build.ts";
 * await tf.setBackend("cpu");
 * const model = buildModel({ kind: "mlp", hidden: [8] }, { inputShape: [4], outputUnits: 3 }, 1);
 * console.assert(model.outputs[0].shape[1] === 3);
 * model.dispose();
 * ```
 */
export function buildModel(spec: ModelSpec, shape: ModelShape, seed: number): tfl.LayersModel {
  return buildResolvedModel(parseModelSpec(spec), shape, seed);
}

/**
 * The spec with its defaults, or an {@linkcode AnnealError} (`config`) naming the field, where
 * a ZodError's issue list came out of buildModel.
 *
 * @example
 * ```ts
 * import { parseModelSpec } from "./build.ts";
 * const spec = parseModelSpec({ kind: "mlp" });
 * console.assert(spec.kind === "mlp" && spec.hidden.length === 1 && spec.activation === "relu");
 * ```
 */
export function parseModelSpec(spec: ModelSpec): ResolvedModelSpec {
  const result = ModelSpecSchema.safeParse(spec);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const unknown = issue.code === "unrecognized_keys"
    ? unknownFields(ModelSpecSchema, issue.path, issue.keys, spec)
    : undefined;
  const where = formatPath(
    issue.code === "unrecognized_keys" ? [...issue.path, issue.keys[0]] : issue.path,
  );
  const kind = typeof (spec as { kind?: unknown })?.kind === "string" && issue.path[0] !== "kind"
    ? `${(spec as { kind: string }).kind} `
    : "";
  throw new AnnealError(
    "config",
    `Cannot build ${kind}model: ${
      typeof spec !== "object" || spec === null
        ? `the spec must be an object, current value is ${JSON.stringify(spec) ?? String(spec)}`
        : unknown?.message ?? fieldIssueText(issue, spec)
    }`,
    {
      where: where === "" ? undefined : `model.${where}`,
      hint: unknown?.hint ??
        (typeof spec !== "object" || spec === null
          ? 'pass an object like { kind: "mlp", hidden: [64] }'
          : `set 'model.${where}' to a valid value; \`anneal schema\` lists what it allows`),
    },
  );
}
