/**
 * Options and arguments that take one of a fixed set of values (`--sampler tpe`, `--backend cpu`,
 * `completions bash`): help lists the values, as commander's `.choices()` does, and a value not
 * among them is refused as anneal's other usage errors are (`error[usage]:`, exit 2), saying the
 * flag, the values it takes, what was given, and the value likely meant (`tpee` for `tpe`, `gpu`
 * for `webgpu`).
 *
 * @module
 */
import { Argument, Option } from "npm:@commander-js/extra-typings@15.1.0";
import { AnnealError } from "../errors.ts";
import { closestOption } from "../issue_text.ts";

/**
 * The error for `given`, not one of `values`, given to `flag` (`--sampler`; an argument's words:
 * `The <shell> of anneal completions`); `example(value)` is how the command line gives a value
 * (`--sampler tpe`), and `verb` what the hint says to do with it (`give`, `run`).
 *
 * @example
 * ```ts
 * import { choiceError } from "./choices.ts";
 * const error = choiceError("--sampler", "tpee", ["grid", "tpe"], (v) => `--sampler ${v}`);
 * console.assert(error.message === "--sampler must be one of grid, tpe (did you mean 'tpe'?), current value is 'tpee'");
 * console.assert(error.hint === "give --sampler tpe");
 * ```
 */
export function choiceError(
  flag: string,
  given: string,
  values: readonly string[],
  example: (value: string) => string,
  verb = "give",
): AnnealError {
  const meant = closestOption(given, values);
  return new AnnealError(
    "usage",
    `${flag} must be one of ${values.join(", ")}${
      meant === undefined ? "" : ` (did you mean '${meant}'?)`
    }, current value is '${given}'`,
    {
      hint: meant === undefined
        ? `${verb} one of them, e.g. ${example(values[0])}`
        : `${verb} ${example(meant)}`,
    },
  );
}

/**
 * An option (`flags`: `--sampler <name>`) whose value is one of `values`: help lists them, and
 * any other value is refused with {@linkcode choiceError}.
 */
export function choiceOption<Usage extends string, const T extends readonly string[]>(
  flags: Usage,
  description: string,
  values: T,
) {
  const flag = flags.match(/--[\w-]+/)?.[0] ?? flags;
  return new Option(flags, description).choices(values).argParser((value): T[number] => {
    if ((values as readonly string[]).includes(value)) return value;
    throw choiceError(flag, value, values, (v) => `${flag} ${v}`);
  });
}

/**
 * A command's argument (`name`: `<shell>`) that is one of `values`, as `what` (`anneal
 * completions' shell`) says it; `example` gives the command with a value.
 */
export function choiceArgument<Usage extends string, const T extends readonly string[]>(
  name: Usage,
  description: string,
  values: T,
  what: string,
  example: (value: string) => string,
) {
  return new Argument(name, description).choices(values).argParser((value): T[number] => {
    if ((values as readonly string[]).includes(value)) return value;
    throw choiceError(what, value, values, example, "run");
  });
}
