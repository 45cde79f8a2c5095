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
import { formatPath, showValue, valueAt } from "../zod_paths.ts";
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
  const field = `'${formatPath(issue.path)}'`;
  const value = valueAt(input, issue.path);
  const current = `current value is ${showValue(value)}`;
  switch (issue.code) {
    case "too_small":
      return `${field} must be ${issue.inclusive ? ">=" : ">"} ${issue.minimum}, ${current}`;
    case "too_big":
      return `${field} must be ${issue.inclusive ? "<=" : "<"} ${issue.maximum}, ${current}`;
    case "invalid_type":
      if (issue.path.length === 0) return `the spec must be an object, ${current}`;
      if (value === undefined) return `${field} is required`;
      return `${field} must be ${
        issue.expected === "int" ? "an integer" : `a ${issue.expected}`
      }, ${current}`;
    case "invalid_value":
      return `${field} must be one of ${issue.values.map(showValue).join(", ")}, ${current}`;
    case "unrecognized_keys":
      return unknownFields(OptimizerSpecSchema, issue.path, issue.keys, input).message;
    case "invalid_union": {
      const options = "options" in issue ? (issue.options as unknown[]) ?? [] : [];
      return `${field} must be one of ${options.map(showValue).join(", ")}, ${current}`;
    }
    default:
      return `${field} ${issue.message}, ${current}`;
  }
}
