/**
 * Validates an optimizer spec and turns the first zod issue into an {@linkcode AnnealError}
 * naming the optimizer, the field and the value: `Cannot create adam optimizer: 'betas[1]' must
 * be in [0, 1), current value is 1.2`.
 *
 * @module
 */

import type { z } from "npm:zod@4.6.7";
import { AnnealError } from "../errors.ts";
import { OptimizerSpecSchema, type ResolvedOptimizerSpec } from "./spec.ts";
import { formatPath } from "../zod_paths.ts";
import { fieldIssueText } from "../issue_text.ts";
import { unknownFields } from "../unknown_fields.ts";

/**
 * Parses `input` into a resolved optimizer spec (defaults filled in) or throws an
 * {@linkcode AnnealError} with code `"config"` whose `where` is the field path.
 *
 * @example
 * ```ts
 * import { parseOptimizerSpec } from "./parse.ts";
 * try {
 *   parseOptimizerSpec({ name: "adam", betas: [0.9, 1.2] });
 * } catch (error) {
 *   console.assert((error as Error).message ===
 *     "Cannot create adam optimizer: 'betas[1]' must be in [0, 1), current value is 1.2");
 * }
 * ```
 */
export function parseOptimizerSpec(input: unknown): ResolvedOptimizerSpec {
  const result = OptimizerSpecSchema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const name = (input as { name?: unknown } | null)?.name;
  const subject = typeof name === "string" ? `${name} optimizer` : "optimizer";
  const where = formatPath(
    issue.code === "unrecognized_keys" ? [...issue.path, issue.keys[0]] : issue.path,
  );
  throw new AnnealError("config", `Cannot create ${subject}: ${describe(issue, input)}`, {
    where: where === "" ? undefined : where,
    hint: issue.code === "unrecognized_keys"
      ? `${
        unknownFields(OptimizerSpecSchema, issue.path, issue.keys, input).hint
      } (torch.optim's argument names in camelCase)`
      : where === ""
      ? "pass an object like { name: 'adam', lr: 0.001 }"
      : `set '${where}' to a valid value`,
  });
}

function describe(issue: z.core.$ZodIssue, input: unknown): string {
  return issue.code === "unrecognized_keys"
    ? unknownFields(OptimizerSpecSchema, issue.path, issue.keys, input).message
    : fieldIssueText(issue, input);
}
