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
import { formatPath } from "../zod_paths.ts";
import { fieldIssueText } from "../issue_text.ts";
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
  // (an unknown field first: a misspelt required one, { stepsize: 3 }, is what to fix, not the
  // stepSize it leaves missing)
  const issue = result.error.issues.find((issue) => issue.code === "unrecognized_keys") ??
    result.error.issues[0];
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
  return issue.code === "unrecognized_keys"
    ? unknownFields(SchedulerSpecSchema, issue.path, issue.keys, input).message
    : fieldIssueText(issue, input);
}

function hintFor(issue: z.core.$ZodIssue, input: unknown): string {
  if (issue.code === "unrecognized_keys") {
    const { hint } = unknownFields(SchedulerSpecSchema, issue.path, issue.keys, input);
    return `${hint} (PyTorch's argument names in camelCase)`;
  }
  // (the spec itself, not a field of it: undefined, a string, an array)
  if (issue.path.length === 0) {
    return `give a schedule as an object with its name and settings, e.g. ` +
      `{ name: "cosine", tMax: 100 }`;
  }
  return `set '${formatPath(issue.path)}' to a valid value`;
}
