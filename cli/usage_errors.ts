/**
 * The usage errors commander finds on a command line (a missing argument, an option without its
 * value, an unknown option, a word too many, an unknown command), said as anneal's other usage
 * errors are: what is wrong, in which command, and the command line that does it right.
 * {@linkcode routeUsageErrors} makes every command of the tree throw them, printing nothing;
 * {@linkcode usageErrorOf} turns one into an {@linkcode AnnealError} (`error[usage]`, exit 2).
 *
 * @module
 */
import type {
  CommanderError,
  CommandUnknownOpts,
  Option,
} from "npm:@commander-js/extra-typings@15.1.0";
import { AnnealError } from "../errors.ts";
import { closestName } from "../zod_paths.ts";
import { runsDirFlag, shellWord } from "../shell_word.ts";
import { withParentOptions } from "./parent_options.ts";

/** The command each usage error was found in. */
const foundIn = new WeakMap<object, CommandUnknownOpts>();

/**
 * Makes every command under `program` throw its usage errors, remembering where, instead of
 * printing commander's own message (help and the version go on as before).
 */
export function routeUsageErrors(program: CommandUnknownOpts): void {
  const route = (command: CommandUnknownOpts) => {
    command.configureOutput({ outputError: () => {} });
    command.exitOverride((error) => {
      foundIn.set(error, command);
      throw error;
    });
    command.commands.forEach(route);
  };
  route(program);
}

/** What {@linkcode usageErrorOf} may read: the newest run ids in a runs directory. */
export type NewestRuns = (runsDir: string) => Promise<string[]>;

/**
 * The usage error for commander's `error`, in anneal's words; undefined for what is no error of
 * a command line {@linkcode routeUsageErrors} saw (help, the version, anything else thrown).
 */
export async function usageErrorOf(
  error: unknown,
  newestRuns: NewestRuns,
): Promise<AnnealError | undefined> {
  const command = typeof error === "object" && error !== null ? foundIn.get(error) : undefined;
  const { code, message } = error as CommanderError;
  if (command === undefined || (error as CommanderError).exitCode === 0) return undefined;
  // (help shown as the error of `anneal` alone: it has said what to do)
  if (code === "commander.help") return undefined;
  const quoted = message.match(/'([^']*)'/)?.[1] ?? "";
  switch (code) {
    case "commander.missingArgument":
      return await missingArgument(command, quoted, newestRuns);
    case "commander.optionMissingArgument":
      return missingValue(command, optionOf(command, quoted));
    case "commander.missingMandatoryOptionValue":
      return missingOption(command, optionOf(command, quoted));
    case "commander.unknownOption":
      return unknownOption(command, quoted.replace(/=.*/s, ""));
    case "commander.excessArguments":
      return excessArguments(command);
    case "commander.unknownCommand":
      return unknownCommand(command, quoted);
  }
  return new AnnealError("usage", message.replace(/^error: /, ""), {
    hint: `${pathOf(command)} --help says what it takes`,
  });
}

/** `anneal runs show`: how a command is typed. */
function pathOf(command: CommandUnknownOpts): string {
  const names: string[] = [];
  for (let at: CommandUnknownOpts | null = command; at; at = at.parent) names.unshift(at.name());
  return names.join(" ");
}

/** `anneal`, the program `command` is in. */
function rootOf(command: CommandUnknownOpts): CommandUnknownOpts {
  return command.parent ? rootOf(command.parent) : command;
}

/** The words typed after the command, as the program was given them. */
function argsOf(command: CommandUnknownOpts): string[] {
  const root = rootOf(command);
  const raw = (root as unknown as { rawArgs?: string[] }).rawArgs ?? [];
  const path = pathOf(command).split(" ").slice(1);
  let at = 0;
  for (const name of path) at = raw.indexOf(name, at) + 1;
  return raw.slice(at);
}

const optionOf = (command: CommandUnknownOpts, flags: string): Option | undefined =>
  command.options.find((option) => option.flags === flags);

/**
 * The example lines of `command`'s help (and the program's) that use `flag`, each as typed:
 * `anneal train -c examples/fashion_mnist_mlp.json --backend wasm`.
 */
function examplesOf(command: CommandUnknownOpts, flag?: string): string[] {
  let text = "";
  const write = (chunk: string) => (text += chunk);
  const root = rootOf(command);
  for (const at of new Set([command, root])) {
    // (commander keeps addHelpText's text in a listener of the help's event)
    const listeners = (at as unknown as { listeners(event: string): ((c: unknown) => void)[] })
      .listeners("afterHelp");
    for (const listener of listeners) listener({ error: false, command: at, write });
  }
  const path = pathOf(command);
  // (an example's own words end at the gap before its comment)
  return text.split("\n").map((line) => line.trim().split(/ {2,}/)[0]).filter((line) =>
    ` ${line} `.replace("(", " ").includes(` ${path} `) &&
    (flag === undefined || line.split(" ").includes(flag))
  );
}

/** `--epochs <n>`'s way to give it: an example of the help, else its own `e.g.`, else its form. */
function giveLike(command: CommandUnknownOpts, option: Option, typed: string): string {
  const example = examplesOf(command, typed)[0] ??
    examplesOf(command, option.long ?? option.short)[0];
  if (example !== undefined) return `e.g. ${example}`;
  const given = option.argChoices?.[0] ?? option.description.match(/e\.g\. ([^,;)]+)/)?.[1];
  const value = given ?? option.flags.match(/<[^>]+>/)?.[0] ?? "";
  return `e.g. ${pathOf(command)} ${typed} ${value}`.trimEnd();
}

/** The flag of `option` as typed last on the command line (`-c` or `--config`). */
function typedFlag(command: CommandUnknownOpts, option: Option): string {
  const args = argsOf(command);
  const short = option.short !== undefined ? args.lastIndexOf(option.short) : -1;
  const long = option.long !== undefined ? args.lastIndexOf(option.long) : -1;
  return short > long ? option.short! : option.long ?? option.flags;
}

function missingValue(command: CommandUnknownOpts, option: Option | undefined): AnnealError {
  if (option === undefined) return new AnnealError("usage", "an option was given no value");
  const typed = typedFlag(command, option);
  const takes = option.flags.match(/<[^>]+>/)?.[0] ?? "a value";
  return new AnnealError(
    "usage",
    `${typed} of ${pathOf(command)} needs a value (${takes}: ${option.description}${
      option.argChoices ? `: ${option.argChoices.join(", ")}` : ""
    }), and the ` +
      "command line ends after it",
    { hint: `give it one, ${giveLike(command, option, typed)}` },
  );
}

function missingOption(command: CommandUnknownOpts, option: Option | undefined): AnnealError {
  if (option === undefined) return new AnnealError("usage", "a required option is missing");
  const flag = option.long ?? option.flags;
  return new AnnealError(
    "usage",
    `${pathOf(command)} needs ${flag} ${
      option.flags.match(/<[^>]+>/)?.[0] ?? ""
    } (${option.description})`.replace("  ", " "),
    { hint: `give it, ${giveLike(command, option, flag)}` },
  );
}

async function missingArgument(
  command: CommandUnknownOpts,
  name: string,
  newestRuns: NewestRuns,
): Promise<AnnealError> {
  const argument = command.registeredArguments.find((a) => a.name() === name);
  const path = pathOf(command);
  const what = argument?.description ?? name;
  if (name !== "run" && name !== "runs") {
    const values = argument?.argChoices;
    const example = examplesOf(command)[0];
    return new AnnealError(
      "usage",
      `${path} needs its <${name}> (${what}${values ? `: ${values.join(", ")}` : ""})`,
      { hint: example ? `e.g. ${example}` : `${path} --help says what it takes` },
    );
  }
  // a run: the newest of the runs directory, which `last` names
  // (`anneal runs --runs-dir D show`: D, as the command reads it)
  const runsDir = String(withParentOptions(command.opts(), command).runsDir ?? "runs");
  const count = name === "runs" ? 2 : 1;
  const ids = await newestRuns(runsDir).catch(() => [] as string[]);
  const message = `${path} needs ${count === 1 ? "a run" : "two or more runs"} (${what})`;
  if (ids.length < count) {
    return new AnnealError("usage", message, {
      hint: `there ${ids.length === 1 ? "is one run" : "are no runs"} in '${runsDir}' ` +
        `(anneal train makes one; --runs-dir says where else to look)`,
    });
  }
  const given = count === 1 ? "last" : ids.slice(0, 2).map(shellWord).join(" ");
  return new AnnealError("usage", message, {
    hint: newestRunsHint(
      `${path} ${given}`,
      runsDir,
      ids,
      count === 1 ? " ('last' is the first)" : "",
    ),
  });
}

/**
 * The hint of a command that needs runs: `example` (with the runs directory's flag), the
 * `newest` run ids of `runsDir` (three of them, `note` after), and where all are listed.
 */
export function newestRunsHint(
  example: string,
  runsDir: string,
  newest: string[],
  note = "",
): string {
  const flag = runsDirFlag(runsDir);
  return `e.g. ${example}${flag}; the newest in '${runsDir}': ${newest.slice(0, 3).join(", ")}` +
    `${note}; anneal runs${flag} lists them all`;
}

/** The command line as typed, `args` after the command: `anneal train --epochs 3`. */
const commandLine = (command: CommandUnknownOpts, args: string[]): string =>
  [pathOf(command), ...args.map(shellWord)].join(" ");

function unknownOption(command: CommandUnknownOpts, flag: string): AnnealError {
  const longs = command.options.flatMap((option) => option.long ?? []);
  const name = flag.replace(/^-+/, "");
  // `--learning-rate` for `--lr`: its words' initials
  const initials = name.split("-").map((word) => word[0]).join("");
  const meant = flag.startsWith("--")
    ? closestName(name, longs) ??
      longs.find((long) => name.includes("-") && long === `--${initials}`)
    : undefined;
  const path = pathOf(command);
  const message = `${path} has no option ${flag}${meant ? ` (did you mean ${meant}?)` : ""}`;
  const root = rootOf(command);
  const other = root.commands.find((c) => c.name() === name);
  const shortcut = shortcutHint(command, flag);
  let hint: string;
  if (other !== undefined && other !== command) {
    const example = examplesOf(other)[0] ?? `anneal ${name}`;
    hint = `${name} is a command of its own, not an option: e.g. ${example}`;
  } else if (shortcut !== undefined) hint = shortcut;
  else if (meant !== undefined) {
    const args = argsOf(command).map((arg) =>
      arg === flag || arg.startsWith(`${flag}=`) ? meant + arg.slice(flag.length) : arg
    );
    hint = `run ${commandLine(command, args)}`;
  } else {
    const owners = commandsOf(root).filter((c) => c.options.some((o) => o.long === flag));
    hint = (owners.length > 0 ? `${flag} is an option of ${owners.map(pathOf).join(", ")}; ` : "") +
      (longs.length > 0
        ? `${path}'s options: ${longs.join(", ")} (${path} --help says what each takes)`
        // (a command of no options of its own but --help: "anneal schema's options:  (...)")
        : `${path} takes no options but --help`);
  }
  return new AnnealError("usage", message, { hint });
}

/** `command` and every command under it. */
const commandsOf = (command: CommandUnknownOpts): CommandUnknownOpts[] => [
  command,
  ...command.commands.flatMap(commandsOf),
];

function excessArguments(command: CommandUnknownOpts): AnnealError {
  const takes = command.registeredArguments;
  const extra = command.args.slice(takes.length);
  const path = pathOf(command);
  const expected = takes.length === 0
    ? "no arguments"
    : `${takes.length === 1 ? "one argument" : `${takes.length} arguments`} (${
      takes.map((a) => `<${a.name()}>: ${a.description}`).join("; ")
    })`;
  const message = `${path} takes ${expected}, and was given ${
    extra.length === 1 ? "one more" : `${extra.length} more`
  }: ${extra.map((word) => `'${word}'`).join(", ")}`;
  const file = extra.find((word) => /\.json$/i.test(word));
  const option = command.options.find((o) => o.long === `--${extra[0]}`);
  let hint: string;
  if (file !== undefined && command.options.some((o) => o.long === "--config")) {
    hint = `a config file is given with -c: ${path} -c ${shellWord(file)}`;
  } else if (option !== undefined) {
    const args = argsOf(command);
    args[args.indexOf(extra[0])] = option.long!;
    hint = `an option is given with its dashes: ${commandLine(command, args)}`;
  } else {
    hint = takes.length === 0
      ? `${path} --help says what it takes`
      : `e.g. ${commandLine(command, command.args.slice(0, takes.length))} (a word with ` +
        `spaces in it goes in quotes; ${path} --help says what it takes)`;
  }
  return new AnnealError("usage", message, { hint });
}

/**
 * `anneal help trian` (or `anneal runs help shw`): the unknown command help was asked of, as
 * the usage error of an unknown command, found before commander parses `args` (its help command
 * shows the whole program's help as an error for it, and names nothing); undefined for any
 * other command line.
 */
export function unknownHelpCommand(
  program: CommandUnknownOpts,
  args: string[],
): AnnealError | undefined {
  let command = program;
  let at = 0;
  for (; at < args.length; at++) {
    const next = command.commands.find((c) => c.name() === args[at] && c.name() !== "help");
    if (next === undefined) break;
    command = next;
  }
  const [word, asked] = args.slice(at);
  const known = asked === "help" ||
    command.commands.some((c) => c.name() === asked || c.aliases().includes(asked));
  if (word !== "help" || asked === undefined || asked.startsWith("-") || known) return undefined;
  return unknownCommand(command, asked, args.slice(at));
}

/**
 * `anneal help <command...>` as `anneal <command...> --help`: commander's help command reads one
 * word (`help runs show` printed `runs`' help) and took `help help` for an unknown command (the
 * root help on stderr, exit 2). Other command lines are returned as they are.
 *
 * @example
 * ```ts
 * import { helpAsFlag } from "./usage_errors.ts";
 * console.assert(helpAsFlag(["help", "runs", "show"]).join(" ") === "runs show --help");
 * console.assert(helpAsFlag(["help", "help"]).join(" ") === "--help");
 * console.assert(helpAsFlag(["train", "help"]).join(" ") === "train help");
 * ```
 */
export function helpAsFlag(args: string[]): string[] {
  if (args[0] !== "help" || args.length < 2) return args;
  return [...args.slice(1).filter((word) => word !== "help"), "--help"];
}

function unknownCommand(
  command: CommandUnknownOpts,
  name: string,
  args = argsOf(command),
): AnnealError {
  const names = command.commands.map((c) => c.name());
  const meant = closestName(name, names);
  const hint = meant !== undefined
    ? `run ${commandLine(command, args.map((arg) => arg === name ? meant : arg))}`
    : /\.json$/i.test(name)
    ? `a config file is given with -c: anneal train -c ${shellWord(name)}`
    : `its commands: ${names.join(", ")} (${pathOf(command)} --help says what each does)`;
  return new AnnealError(
    "usage",
    `${pathOf(command)} has no command '${name}'${meant ? ` (did you mean '${meant}'?)` : ""}`,
    { hint },
  );
}

/** `anneal train`'s shortcut flags, and the config field each sets. */
const TRAIN_SHORTCUTS: Record<string, string> = {
  "--epochs": "epochs=N",
  "--max-steps": "maxSteps=N",
  "--batch-size": "batchSize=N",
  "--lr": "optimizer.lr=LR",
  "--runs-dir": "runsDir=DIR",
  "--backend": "backend=NAME",
  "--name": "name=NAME",
};

/**
 * Where `flag`, unknown to `command`, is one of `anneal train`'s shortcuts and the command takes
 * `--set`: the `--set` of the field it sets (`anneal sweep --runs-dir d` is `anneal sweep --set
 * runsDir=d`); else undefined.
 */
function shortcutHint(command: CommandUnknownOpts, flag: string): string | undefined {
  const [field, placeholder] = TRAIN_SHORTCUTS[flag]?.split("=") ?? [];
  if (!field || !command.options.some((o) => o.long === "--set")) return undefined;
  const args = argsOf(command);
  const at = args.findIndex((arg) => arg === flag || arg.startsWith(`${flag}=`));
  const given = args[at]?.includes("=")
    ? args[at].slice(args[at].indexOf("=") + 1)
    : args[at + 1] !== undefined && !args[at + 1].startsWith("-")
    ? args[at + 1]
    : undefined;
  const value = given ?? placeholder;
  return `${flag} is a shortcut of anneal train only; with ${
    pathOf(command)
  }, set the field: --set ${shellWord(`${field}=${value}`)}`;
}
