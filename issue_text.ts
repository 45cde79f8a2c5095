/**
 * What a zod issue says about a value, in the words every config error uses: `must be > 0`,
 * `must be a whole number`, `is required (a number)`, `must be one of "cos", "linear" (did you
 * mean "cos"?)`; with the fix where the value shows it (a number written as a string, a list
 * written without its brackets). Shared by the run config and the specs parsed on their own.
 *
 * @module
 */

import type { z } from "npm:zod@4.6.7";
import { closestName, formatPath, showValue, valueAt } from "./zod_paths.ts";

/**
 * Names users bring from PyTorch and Hugging Face for anneal's (`CosineAnnealingLR` for
 * `cosine`), by their lower-case letters and digits: a value among an issue's options is
 * suggested for them.
 */
const KNOWN_ALIASES: Record<string, string> = {
  constantlr: "constant",
  steplr: "step",
  multisteplr: "multistep",
  exponentiallr: "exponential",
  cosineannealinglr: "cosine",
  cosineannealingwarmrestarts: "cosineWarmRestarts",
  linearlr: "linear",
  polynomiallr: "polynomial",
  onecyclelr: "onecycle",
  reducelronplateau: "plateau",
  sequentiallr: "sequential",
  getcosineschedulewithwarmup: "warmupCosine",
  getlinearschedulewithwarmup: "warmupLinear",
  bce: "binaryCrossEntropy",
  bcewithlogitsloss: "binaryCrossEntropy",
  crossentropyloss: "crossEntropy",
  mseloss: "mse",
  gpu: "webgpu",
  cuda: "webgpu",
};

/**
 * The option a value not among `options` most likely meant: a name from PyTorch for anneal's,
 * else one spelled alike (case and separators aside).
 *
 * @example
 * ```ts
 * import { closestOption } from "./issue_text.ts";
 * console.assert(closestOption("ReduceLROnPlateau", ["cosine", "plateau"]) === "plateau");
 * console.assert(closestOption("Adam", ["sgd", "adam"]) === "adam");
 * ```
 */
export function closestOption(value: unknown, options: readonly unknown[]): string | undefined {
  if (typeof value !== "string") return undefined;
  const names = options.filter((option): option is string => typeof option === "string");
  const alias = KNOWN_ALIASES[value.toLowerCase().replace(/[^a-z0-9]/g, "")];
  if (alias !== undefined && names.includes(alias)) return alias;
  return closestName(value, names);
}

/** `a number`, `an integer`, `an object`. */
export function article(expected: string): string {
  if (expected === "int") return "an integer";
  if (expected === "tuple") return "an array";
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

/** What the options of a union (no discriminator) each take: `a number or "inf"`. */
function unionTakes(issue: z.core.$ZodIssue): string | undefined {
  const errors = (issue as { errors?: z.core.$ZodIssue[][] }).errors ?? [];
  const takes = errors.map((option) => {
    const first = option[0];
    if (first?.code === "invalid_type") return article(first.expected);
    if (first?.code === "invalid_value") return first.values.map(showValue).join(" or ");
    return undefined;
  });
  return takes.every((take) => take !== undefined) && takes.length > 0
    ? [...new Set(takes)].join(" or ")
    : undefined;
}

/** Whether a string is a number written as text: `"1e-3"`, `" 32 "`. */
function numberText(value: string): number | undefined {
  const number = value.trim() === "" ? NaN : Number(value);
  return Number.isFinite(number) ? number : undefined;
}

/** A list written without its brackets (`0.9,0.99`, from `--set`): the JSON it meant. */
function listText(value: string): string | undefined {
  const parts = value.split(",");
  return parts.length > 1 && parts.every((part) => numberText(part) !== undefined)
    ? `[${parts.map((part) => part.trim()).join(", ")}]`
    : undefined;
}

function invalidType(expected: string, value: unknown): string {
  if (value === undefined) return `is required (${article(expected)})`;
  if ((expected === "number" || expected === "int") && typeof value === "string") {
    const number = numberText(value);
    if (number !== undefined) {
      const written = (() => {
        try {
          return typeof JSON.parse(value.trim()) === "number";
        } catch {
          return false;
        }
      })();
      return `must be a number, not the string ${showValue(value)} (${
        written ? "write it without quotes" : `write ${number}`
      })`;
    }
  }
  if (expected === "boolean" && typeof value === "string") {
    return ["true", "false"].includes(value.trim())
      ? `must be a boolean, not the string ${showValue(value)} (write it without quotes)`
      : "must be true or false";
  }
  if (expected === "int" && typeof value === "number") return "must be a whole number";
  if (
    (expected === "number" || expected === "int") && Array.isArray(value) &&
    value.length === 1 && typeof value[0] === "number"
  ) return `must be a number, not an array (write ${value[0]})`;
  if ((expected === "array" || expected === "tuple") && value !== null) {
    const list = typeof value === "string" ? listText(value) : undefined;
    if (list) return `must be an array, like ${list} (in JSON brackets)`;
    if (typeof value !== "object") {
      return `must be an array, like [${showValue(value)}${expected === "tuple" ? ", ..." : ""}]`;
    }
  }
  return `must be ${article(expected)}`;
}

/**
 * What `issue` says of `value` (undefined when absent), as `must be ...` or `is required ...`;
 * for a value among named options, the option it likely meant.
 *
 * @example
 * ```ts
 * import { z } from "npm:zod@4.6.7";
 * import { issueText } from "./issue_text.ts";
 * const { error } = z.object({ lr: z.number().gt(0) }).safeParse({ lr: "1e-3" });
 * console.assert(issueText(error!.issues[0], "1e-3") === 'must be a number, not the string "1e-3" (write it without quotes)');
 * ```
 */
export function issueText(issue: z.core.$ZodIssue, value: unknown): string {
  const entries = (count: number | bigint) => `${count} ${count === 1 ? "entry" : "entries"}`;
  switch (issue.code) {
    case "too_small":
      if (issue.origin === "array") return `must have at least ${entries(issue.minimum)}`;
      if (issue.origin === "string") return `must have at least ${issue.minimum} characters`;
      // (a bound given its own words, like the learning rate's: zod's own start "Too small")
      if (!issue.message.startsWith("Too small")) return issue.message;
      return `must be ${issue.inclusive ? ">=" : ">"} ${issue.minimum}`;
    case "too_big":
      if (issue.origin === "array") return `must have at most ${entries(issue.maximum)}`;
      if (issue.origin === "string" && issue.maximum === 1 && isTabWritten(value)) {
        return `must be one character, and ${showValue(value)} is ${
          value === "\\t" ? "a backslash and a t" : "a word"
        }: a tab is "\\t" in JSON (in bash: --set 'data.delimiter='$'\\t')`;
      }
      if (issue.origin === "string") return `must have at most ${issue.maximum} characters`;
      return `must be ${issue.inclusive ? "<=" : "<"} ${issue.maximum}`;
    case "invalid_type":
      return invalidType(issue.expected, value);
    case "invalid_value":
      return oneOf(issue.values, value);
    case "invalid_union": {
      const options = (issue as { options?: unknown[] }).options;
      if (Array.isArray(options)) return oneOf(options, value);
      const takes = unionTakes(issue);
      if (value === undefined) return `is required${takes ? ` (${takes})` : ""}`;
      return takes ? `must be ${takes}` : issue.message;
    }
    case "not_multiple_of":
      return `must be a multiple of ${issue.divisor}`;
    case "invalid_key": {
      // (zod's own words, "Invalid key in record", named no rule; the key's issue does)
      const [inner] = issue.issues;
      return inner ? `is not a valid key: it ${issueText(inner, undefined)}` : issue.message;
    }
    default:
      return issue.message;
  }
}

/**
 * A tab as a shell passes it to `--set` (`\t`, a backslash and a t, where `$'\t'` passes one
 * character) or as a word: what a one-character field (the CSV delimiter) most often gets for it.
 */
function isTabWritten(value: unknown): boolean {
  return typeof value === "string" && (value === "\\t" || value.trim().toLowerCase() === "tab");
}

function oneOf(options: readonly unknown[], value: unknown): string {
  const meant = closestOption(value, options);
  return `must be one of ${options.map(showValue).join(", ")}${
    meant !== undefined && meant !== value ? ` (did you mean ${showValue(meant)}?)` : ""
  }`;
}

/**
 * An issue of a spec parsed on its own, as `'field' must be ..., current value is ...` (`the spec
 * must be an object` for the spec itself); `prefix` is the path the spec sits at, if named.
 *
 * @example
 * ```ts
 * import { z } from "npm:zod@4.6.7";
 * import { fieldIssueText } from "./issue_text.ts";
 * const input = { t0: 2.5 };
 * const { error } = z.object({ t0: z.number().int() }).safeParse(input);
 * console.assert(fieldIssueText(error!.issues[0], input) === "'t0' must be a whole number, current value is 2.5");
 * ```
 */
export function fieldIssueText(
  issue: z.core.$ZodIssue,
  input: unknown,
  prefix: readonly PropertyKey[] = [],
): string {
  const value = valueAt(input, issue.path);
  const current = `current value is ${showValue(value)}`;
  if (issue.path.length === 0 && issue.code === "invalid_type") {
    return `the spec must be ${article(issue.expected)}, ${current}`;
  }
  const text = `'${formatPath([...prefix, ...issue.path])}' ${issueText(issue, value)}`;
  // (a key refused is the fault, not the value under it)
  return value === undefined || issue.code === "invalid_key" ? text : `${text}, ${current}`;
}

/**
 * The issues of a union's one option whose type the value has (a list where the union takes an
 * object or a list of them), at their own paths: they say what is wrong inside it, where the
 * union's own issue says only that no option took the value. The issue itself where no option,
 * or several, took the value's type, or where that option refused the value itself (not a part
 * of it).
 *
 * @example
 * ```ts
 * import { z } from "npm:zod@4.6.7";
 * import { optionIssues } from "./issue_text.ts";
 * const schema = z.object({ when: z.union([z.record(z.string(), z.number()), z.array(z.number())]) });
 * const { error } = schema.safeParse({ when: [1, "x"] });
 * const [issue] = optionIssues(error!.issues[0]);
 * console.assert(issue.path.join(".") === "when.1" && issue.code === "invalid_type");
 * ```
 */
export function optionIssues(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (issue.code !== "invalid_union") return [issue];
  const options = (issue as { errors?: z.core.$ZodIssue[][] }).errors ?? [];
  const typed = options.filter((issues) =>
    !issues.some((inner) => inner.path.length === 0 && inner.code === "invalid_type")
  );
  // (an option that refused the value itself, a literal's other value, says no more than the
  // union: "infinity" for a number or "inf" is told both)
  if (typed.length !== 1 || typed[0].some((inner) => inner.path.length === 0)) return [issue];
  return typed[0].flatMap((inner) =>
    optionIssues({ ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue)
  );
}
