/**
 * Search spaces: one distribution per dotted config path (`optimizer.lr`, `batchSize`, ...), and
 * {@linkcode applyParams}, which writes sampled values into a deep copy of a config.
 *
 * Every numeric distribution also has an *internal* space, where samplers work: the raw range for
 * `uniform`, the log range for `logUniform` and `int` with `log`, and an integer range widened by
 * half a step on each side (so each integer owns an equal slice) for `int`.
 *
 * A distribution with `when` is drawn only in trials whose choice paths drew the values it allows
 * (`sweeps/conditions.ts`).
 *
 * @module
 */
import { z } from "npm:zod@4.6.7";
import { AnnealError } from "../errors.ts";
import { closestName, formatPath, valueAt } from "../zod_paths.ts";
import { fieldIssueText, optionIssues } from "../issue_text.ts";
import type { TrialParamValue } from "../storage/types.ts";
import { checkConditions } from "./condition_checks.ts";

/**
 * A value of a `choice` or `grid`: a scalar, or any JSON (a whole config section or list: a
 * scheduler spec, a model's `hidden` sizes), so one space can switch between sections whose
 * fields differ.
 */
const Value = z.json();

/** A dotted config path: a key of a search space. */
const SpacePath = z.string().regex(/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/, {
  message: "must be a dotted config path such as optimizer.lr",
});

/** One condition of `when`: choice or grid paths of the space, and the values each must draw. */
const Condition = z.record(SpacePath, Value);

/**
 * When a trial draws the path (`sweeps/conditions.ts`): other choice or grid paths of the space and
 * the value each must have drawn, a list of the values allowed, or `{ "not": values }`; or a list
 * of such conditions, any one of which draws it; absent, or `{}` (naming no path): always.
 */
const When = z.union([Condition, z.array(Condition)]).optional().describe(
  'Draw this path only when other choice or grid paths drew these values: { "optimizer.name": "sgd" }, ' +
    '{ "optimizer.name": ["sgd", "rmsprop"] } (a list lists the values allowed) or ' +
    '{ "optimizer.name": { "not": ["sgd"] } } (the values excluded); several paths must all ' +
    "hold, and a list of such conditions draws it where any one holds; {} (no path) draws it " +
    "always",
);

/** One distribution of a search space. */
export const DistributionSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("uniform"), low: z.number(), high: z.number(), when: When }),
  z.strictObject({
    type: z.literal("logUniform"),
    low: z.number().positive(),
    high: z.number(),
    when: When,
  }),
  z.strictObject({
    type: z.literal("int"),
    low: z.number().int(),
    high: z.number().int(),
    step: z.number().int().positive().default(1),
    log: z.boolean().default(false),
    when: When,
  }),
  z.strictObject({ type: z.literal("choice"), values: z.array(Value).min(1), when: When }),
  z.strictObject({ type: z.literal("grid"), values: z.array(Value).min(1), when: When }),
]).superRefine((d, context) => {
  // (each said of the field to change, with its value: said of the distribution, the error
  // showed the whole object as the value, and 'a log int needs step 1 and low >= 1' for either)
  if ((d.type === "uniform" || d.type === "logUniform" || d.type === "int") && !(d.high >= d.low)) {
    context.addIssue({ code: "custom", path: ["high"], message: `must be >= 'low' (${d.low})` });
  }
  // (-1e308..1e308: its width overflows to Infinity, and every draw was 'high')
  if (d.type === "uniform" && d.high >= d.low && !Number.isFinite(d.high - d.low)) {
    context.addIssue({
      code: "custom",
      path: ["high"],
      message: `must be within float64's largest number (about 1.8e308) of 'low' (${d.low}): ` +
        "a wider range cannot be drawn from evenly",
    });
  }
  if (d.type === "int" && d.log && d.step !== 1) {
    context.addIssue({
      code: "custom",
      path: ["step"],
      message:
        "must be 1 in a log int (log: true draws every whole number, more often the smaller)",
    });
  }
  if (d.type === "int" && d.log && d.low < 1) {
    context.addIssue({
      code: "custom",
      path: ["low"],
      message: "must be >= 1 in a log int (log: true: a log range starts above 0)",
    });
  }
  // Optuna shortens such a range to its last step with a warning; the samplers drew 'high' off
  // the steps (16..100 by 16 gave 100 in 1 draw of 27, the grid never)
  // (a step that is not a whole number above 0 is refused on its own: no values to name)
  if (
    d.type === "int" && Number.isInteger(d.step) && d.step > 0 && d.high >= d.low &&
    (d.high - d.low) % d.step !== 0
  ) {
    const last = intHigh(d);
    context.addIssue({
      code: "custom",
      path: ["high"],
      message: `must be 'low' (${d.low}) plus a whole number of steps (${d.step}): the ` +
        `values end at ${last}, so set high to ${last}, or to ${last + d.step} to reach past ` +
        `${d.high}`,
    });
  }
});

/**
 * The largest value of an `int` distribution: `high`, or the last step from `low` below it (a
 * space stored before such ranges were refused).
 */
export function intHigh(d: { low: number; high: number; step: number }): number {
  return d.low + Math.floor((d.high - d.low) / d.step) * d.step;
}

/** A search space: dotted config path to distribution. */
export const SearchSpaceSchema = z.record(SpacePath, DistributionSchema);

/** A distribution as written by a user (defaults optional). */
export type DistributionInput = z.input<typeof DistributionSchema>;
/** A validated distribution. */
export type Distribution = z.output<typeof DistributionSchema>;
/** A validated search space. */
export type SearchSpace = z.output<typeof SearchSpaceSchema>;
/** A search space as written by a user. */
export type SearchSpaceInput = z.input<typeof SearchSpaceSchema>;
/** One value of a parameter: a scalar, or a whole section or list of a `choice` or `grid`. */
export type ParamValue = TrialParamValue;
/** Sampled parameters: dotted path to value. */
export type Params = Record<string, ParamValue>;

/**
 * A distribution of each type as a space writes it: the example a refused one's hint gives (an
 * int's said how to write a logUniform).
 */
const EXAMPLES: Record<string, string> = {
  uniform: '{ "optimizer.momentum": { "type": "uniform", "low": 0.8, "high": 0.99 } }',
  logUniform: '{ "optimizer.lr": { "type": "logUniform", "low": 1e-4, "high": 0.1 } }',
  int: '{ "batchSize": { "type": "int", "low": 16, "high": 128, "step": 16 } }, or on a log ' +
    'scale { "epochs": { "type": "int", "low": 2, "high": 64, "log": true } }',
  choice: '{ "batchSize": { "type": "choice", "values": [32, 64, 128] } }',
  grid: '{ "batchSize": { "type": "grid", "values": [32, 64, 128] } }',
};

/**
 * Validates a search space, and its conditions (`sweeps/condition_checks.ts`).
 *
 * @example
 * ```ts
 * import { parseSpace } from "./space.ts";
 * const space = parseSpace({ "optimizer.lr": { type: "logUniform", low: 1e-4, high: 1e-1 } });
 * console.assert(space["optimizer.lr"].type === "logUniform");
 * ```
 */
export function parseSpace(input: unknown): SearchSpace {
  const result = SearchSpaceSchema.safeParse(input);
  if (result.success) {
    checkConditions(result.data);
    return result.data;
  }
  // (a condition's issue, inside the one of `when`'s forms that its value has)
  const [issue] = optionIssues(result.error.issues[0]);
  const where = formatPath(["space", ...issue.path]);
  throw new AnnealError(
    "config",
    `Cannot read search space: ${
      issue.path.length > 0
        ? fieldIssueText(issue, input, ["space"])
        : `it must be an object, current value is ${JSON.stringify(input)}`
    }`,
    {
      where,
      hint: issue.path[1] === "when"
        ? 'write a condition as { "optimizer.name": "sgd" }, { "optimizer.name": ["sgd", ' +
          '"rmsprop"] } or { "optimizer.name": { "not": ["sgd"] } }, or a list of such ' +
          "conditions, any one of which draws the path"
        : `write e.g. ${
          EXAMPLES[String(valueAt(input, [issue.path[0], "type"]))] ?? EXAMPLES.logUniform
        }`,
    },
  );
}

/** The internal range a sampler works in, or `undefined` for categorical distributions. */
export function internalRange(d: Distribution): [number, number] | undefined {
  switch (d.type) {
    case "uniform":
      return [d.low, d.high];
    case "logUniform":
      return [Math.log(d.low), Math.log(d.high)];
    case "int":
      return d.log
        ? [Math.log(d.low - 0.5), Math.log(d.high + 0.5)]
        : [d.low - 0.5 * d.step, intHigh(d) + 0.5 * d.step];
    default:
      return undefined;
  }
}

/** Maps a value of a numeric distribution into its internal space. */
export function toInternal(d: Distribution, value: number): number {
  return d.type === "logUniform" || (d.type === "int" && d.log) ? Math.log(value) : value;
}

/** Maps an internal-space point back to a legal value (rounded and clamped for ints). */
export function fromInternal(d: Distribution, x: number): number {
  if (d.type === "uniform") return Math.min(d.high, Math.max(d.low, x));
  if (d.type === "logUniform") return Math.min(d.high, Math.max(d.low, Math.exp(x)));
  if (d.type === "int") {
    const raw = d.log ? Math.exp(x) : x;
    const k = Math.round((raw - d.low) / d.step);
    return Math.min(intHigh(d), Math.max(d.low, d.low + k * d.step));
  }
  throw new AnnealError("internal", `Cannot map ${x} into a ${d.type} distribution`);
}

/** Maps u in [0, 1) to a value of `d` (numeric: through the internal space; categorical: bins). */
export function fromUnit(d: Distribution, u: number): ParamValue {
  if (d.type === "choice" || d.type === "grid") {
    return d.values[Math.min(d.values.length - 1, Math.floor(u * d.values.length))];
  }
  const [low, high] = internalRange(d)!;
  return fromInternal(d, low + u * (high - low));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Returns a deep copy of `config` with every dotted path of `params` set, a path inside another
 * after it (`optimizer.lr` into the `optimizer` section set). Every object on the way must exist,
 * and so must the last key unless `allowNew` (a config with defaults filled in has every key); a
 * wrong path is an error that lists the keys that do exist.
 *
 * @example
 * ```ts
 * import { applyParams } from "./space.ts";
 * const config = { batchSize: 16, optimizer: { name: "adamw", lr: 0.001, weightDecay: 0.01 } };
 * const next = applyParams(config, { "optimizer.lr": 0.01, batchSize: 64 });
 * console.assert(next.optimizer.lr === 0.01 && config.optimizer.lr === 0.001);
 * ```
 */
export function applyParams<T extends Record<string, unknown>>(
  config: T,
  params: Params,
  options: { allowNew?: boolean } = {},
): T {
  const copy = structuredClone(config);
  // A path inside another path of `params` ("optimizer.lr" beside a choice of whole "optimizer"
  // sections) is set after it, into the section it set, whatever their order: set before, it was
  // overwritten, and each trial trained the drawn section's rate while its params named another.
  const depth = (path: string) => path.split(".").length;
  const outerFirst = Object.entries(params).sort(([a], [b]) => depth(a) - depth(b));
  for (const [path, value] of outerFirst) {
    const keys = path.split(".");
    let node: Record<string, unknown> = copy;
    keys.forEach((key, i) => {
      const soFar = keys.slice(0, i + 1).join(".");
      const last = i === keys.length - 1;
      if (!Object.hasOwn(node, key) && !(last && options.allowNew)) {
        const meant = closestName(key, Object.keys(node));
        throw new AnnealError("config", `Cannot set '${path}': '${soFar}' does not exist`, {
          where: path,
          hint: `${
            meant === undefined ? "" : `did you mean '${[...keys.slice(0, i), meant].join(".")}'? `
          }existing keys there: ${Object.keys(node).join(", ") || "(none)"}`,
        });
      }
      if (last) {
        node[key] = structuredClone(value);
      } else if (!isPlainObject(node[key])) {
        throw new AnnealError("config", `Cannot set '${path}': '${soFar}' is not an object`, {
          where: path,
          hint: "a search-space path must name a field inside config sections",
        });
      } else {
        node = node[key] as Record<string, unknown>;
      }
    });
  }
  return copy;
}
