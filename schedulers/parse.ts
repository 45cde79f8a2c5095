/**
 * Validates a scheduler spec and turns the first zod issue into an {@linkcode AnnealError} that
 * names the schedule, the field and the value: `Cannot create step schedule: 'gamma' must be a
 * number, current value is "0.5"`.
 *
 * @module
 */

import type { z } from "npm:zod@4.6.7";
import { AnnealError } from "../errors.ts";
import { type ResolvedSchedulerSpec, SchedulerSpecSchema } from "./spec.ts";
import { formatPath, showValue, valueAt } from "../zod_paths.ts";
import { unknownFields } from "../unknown_fields.ts";

/**
 * Parses `input` into a resolved scheduler spec (defaults filled in) or throws an
 * {@linkcode AnnealError} with code `"config"` whose `where` is the field path.
 *
 * @example
 * ```ts
 * import { parseSchedulerSpec } from "./parse.ts";
 * try {
 *   parseSchedulerSpec({ name: "cosine", tMax: 0 });
 * } catch (error) {
 *   console.assert(
 *     (error as Error).message.startsWith("Cannot create cosine schedule: 'tMax' must not be 0"),
 *   );
 * }
 * ```
 */
export function parseSchedulerSpec(input: unknown): ResolvedSchedulerSpec {
  const result = SchedulerSpecSchema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const name = typeof (input as { name?: unknown })?.name === "string"
    ? (input as { name: string }).name
    : "a";
  const where = formatPath(
    issue.code === "unrecognized_keys" ? [...issue.path, issue.keys[0]] : issue.path,
  );
  throw new AnnealError("config", `Cannot create ${name} schedule: ${describe(issue, input)}`, {
    where: where === "" ? undefined : where,
    hint: hintFor(issue, input),
  });
}

function describe(issue: z.core.$ZodIssue, input: unknown): string {
  const field = `'${formatPath(issue.path)}'`;
  const value = valueAt(input, issue.path);
  const current = `current value is ${showValue(value)}`;
  switch (issue.code) {
    case "too_small":
      if (issue.origin === "array") {
        return `${field} must have at least ${issue.minimum} ${
          issue.minimum === 1 ? "entry" : "entries"
        }, ${current}`;
      }
      return `${field} must be ${issue.inclusive ? ">=" : ">"} ${issue.minimum}, ${current}`;
    case "too_big":
      return `${field} must be ${issue.inclusive ? "<=" : "<"} ${issue.maximum}, ${current}`;
    case "invalid_type":
      if (issue.path.length === 0) return `the spec must be ${article(issue.expected)}, ${current}`;
      if (value === undefined) return `${field} is required`;
      return `${field} must be ${article(issue.expected)}, ${current}`;
    case "invalid_value":
      return `${field} must be one of ${issue.values.map(showValue).join(", ")}, ${current}`;
    case "unrecognized_keys":
      return unknownFields(SchedulerSpecSchema, issue.path, issue.keys, input).message;
    case "invalid_union": {
      // A discriminated union reports the discriminator's own path (e.g. ['name']).
      const options = ("options" in issue ? issue.options ?? [] : []).map(showValue).join(", ");
      if (options !== "") return `${field} must be one of ${options}, ${current}`;
      return `${field} ${issue.message}, ${current}`;
    }
    default:
      return `${field} ${issue.message}, ${current}`;
  }
}

function hintFor(issue: z.core.$ZodIssue, input: unknown): string {
  if (issue.code === "unrecognized_keys") {
    const { hint } = unknownFields(SchedulerSpecSchema, issue.path, issue.keys, input);
    return `${hint} (PyTorch's argument names in camelCase)`;
  }
  return `set '${formatPath(issue.path)}' to a valid value`;
}

function article(expected: string): string {
  if (expected === "int") return "an integer";
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}
