/**
 * The checks `tests/readme_blocks_test.ts` makes of the anneal commands README.md shows: parsed by
 * the CLI's own commander program (nothing runs), their configs validated, and the cheap ones run.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { CommanderError } from "npm:@commander-js/extra-typings@15.1.0";
import { buildProgram } from "../cli/main.ts";
import { shortcutOverrides, type TrainCommandOptions } from "../cli/commands/train.ts";
import { applyOverrides, loadConfig, readConfigFile } from "../config.ts";
import { shellWord } from "../shell_word.ts";
import { annealCommand } from "./_helpers.ts";
import type { ShellCommand } from "./_readme.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
/** Where a problem is: the README's line. */
export const where = (line: number): string => `README.md:${line}`;

/** How commander took a command's arguments: the command that would run and its options. */
export interface Parsed {
  /** The command's path under `anneal` (`runs show`); "" for `anneal` itself (`--version`). */
  command: string;
  options: Record<string, unknown>;
  /** Commander's message, where it refused them (an unknown option, a missing argument). */
  error?: string;
}

/** `args` parsed by the CLI's own commander program, without running the command. */
export async function parseCli(args: string[]): Promise<Parsed> {
  let parsed: Parsed = { command: "", options: {} };
  const program = buildProgram(() => Promise.resolve());
  type Node = { configureOutput(o: object): unknown; commands: readonly Node[] };
  const quiet = (node: Node) => {
    node.configureOutput({ writeOut: () => {}, writeErr: () => {} });
    node.commands.forEach(quiet);
  };
  quiet(program as Node);
  program.hook("preAction", (_, action) => {
    const names = [];
    for (let c: typeof action | null = action; c && c !== program; c = c.parent) {
      names.unshift(c.name());
    }
    parsed = { command: names.join(" "), options: action.opts() };
  });
  try {
    await program.parseAsync(args, { from: "user" });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    if (error.code !== "commander.helpDisplayed" && error.code !== "commander.version") {
      return { ...parsed, error: error.message };
    }
  }
  return parsed;
}

/** The commands that read a config (`-c`, `--set`). */
const CONFIG_COMMANDS = new Set(["train", "schedule", "lr-find", "batch-size", "sweep", "tune"]);
/** The commands cheap enough to run for real: they print or read records; none trains. */
const CHEAP_COMMANDS = new Set([
  "schedule",
  "schema",
  "completions",
  "runs",
  "runs show",
  "runs compare",
  "diagnose",
  "report",
]);

/** Whether the README's command is run here: a cheap one, or `train` of the seed experiment. */
export function runsHere(parsed: Parsed, args: string[]): boolean {
  if (args.includes("--help") || args.includes("-h") || CHEAP_COMMANDS.has(parsed.command)) {
    return true;
  }
  // (200 samples, 50 epochs: seconds; an example config's Fashion-MNIST takes a minute)
  const { config, resume, backend } = parsed.options;
  return parsed.command === "train" && !config && !resume && backend !== "webgpu";
}

/**
 * What is wrong with the README's anneal command `args` (at `line`), parsed and not run: an
 * unknown command or option, a config file that is not there (under `runs/`: one that no earlier
 * command of its block writes, `made`), a config or `--set` the config schema refuses.
 */
export async function cliProblems(
  args: string[],
  line: number,
  made: Set<string>,
): Promise<{ parsed: Parsed; problems: string[] }> {
  const parsed = await parseCli(args);
  const problem = (text: string) => ({
    parsed,
    problems: [`${where(line)}: \`anneal ${args.map(shellWord).join(" ")}\`: ${text}`],
  });
  if (parsed.error) return problem(parsed.error);
  if (!CONFIG_COMMANDS.has(parsed.command) || parsed.options.resume) {
    return { parsed, problems: [] };
  }
  const config = parsed.options.config as string | undefined;
  if (config?.startsWith("runs/")) {
    const dir = config.split("/").slice(0, 2).join("/");
    return made.has(dir) ? { parsed, problems: [] } : problem(
      `no command before it in its block writes ${dir}/ (a sweep writes runs/<study>/, named ` +
        "by its --study or its config's name)",
    );
  }
  const path = config && `${root}${config}`;
  const sets = parsed.options.set as string[];
  try {
    // (as `anneal train` takes its shortcuts: --lr sets onecycle's peak under onecycle)
    const overrides = parsed.command === "train"
      ? shortcutOverrides(
        parsed.options as unknown as TrainCommandOptions,
        applyOverrides(path ? await readConfigFile(path) : {}, sets),
      )
      : Object.assign([...sets], { flags: {} });
    const loaded = await loadConfig(path, overrides, overrides.flags);
    if (parsed.command === "sweep") {
      made.add(`runs/${parsed.options.study ?? loaded.name ?? "sweep"}`);
    }
  } catch (error) {
    const { message, hint } = error as { message: string; hint?: string };
    return problem(`${message}${hint ? ` (hint: ${hint})` : ""}`);
  }
  return { parsed, problems: [] };
}

/** How long a README command may run here. */
const RUN_SECONDS = 60;

/**
 * What went wrong running the README's anneal command (`args`) for real, in `dir`: an exit code
 * other than 0 (3 where its comment says it diverges), or a text its comment quotes (`says
 * "..."`) that it does not print.
 */
export async function runProblems(
  command: ShellCommand,
  args: string[],
  dir: string,
): Promise<string[]> {
  const child = annealCommand(args, undefined, dir).spawn();
  const timer = setTimeout(() => child.kill(), RUN_SECONDS * 1000);
  const output = await child.output().finally(() => clearTimeout(timer));
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  const shown = `${where(command.line)}: \`anneal ${args.map(shellWord).join(" ")}\``;
  const expected = /diverge/i.test(command.comment) ? 3 : 0;
  const problems = output.code === expected ? [] : [
    output.signal
      ? `${shown} did not end in ${RUN_SECONDS} s:\n${text.slice(-1500)}`
      : `${shown} exits ${output.code}, not ${expected}:\n${text.slice(-1500)}`,
  ];
  for (const [, quoted] of command.comment.matchAll(/says "([^"]+)"/g)) {
    if (!text.includes(quoted)) {
      problems.push(`${shown}: its comment quotes "${quoted}", not printed:\n${text.slice(-1500)}`);
    }
  }
  return problems;
}

/** A command of the CLI as its help shows it: name, options and subcommands. */
export interface CliCommand {
  name(): string;
  options: readonly { long?: string; short?: string; argChoices?: string[] }[];
  commands: readonly CliCommand[];
  configureOutput(output: { writeOut(text: string): void }): unknown;
  outputHelp(): void;
}

/**
 * Each command's `--help` text, the examples added after it included, by its words after
 * `anneal` (`runs show`; "" for `anneal` itself).
 */
export function helpTexts(command: CliCommand, words: string[] = []): [string, string][] {
  let help = "";
  command.configureOutput({ writeOut: (text) => help += text });
  command.outputHelp();
  return [
    [words.join(" "), help],
    ...command.commands.flatMap((sub) => helpTexts(sub, [...words, sub.name()])),
  ];
}

/** The CLI's command tree, as {@linkcode usageProblems} reads it. */
export const cliTree = (): CliCommand => buildProgram(() => Promise.resolve()) as CliCommand;

/**
 * What is wrong with an inline `anneal COMMAND [OPTIONS]` of the README's prose (a usage line of
 * its table, with `[-c config]`, `--backend auto\|webgpu` and placeholders): a command that is
 * not one, an option the command has not, a list of choices not the option's.
 */
export function usageProblems(text: string, line: number, program: CliCommand): string[] {
  const words = text.replaceAll("\\|", "|").replace(/[[\]]/g, " ").split(" ").filter(Boolean);
  const end = words.findIndex((word) => word === "|" || word.startsWith(">"));
  const args = words.slice(words.indexOf("anneal") + 1, end < 0 ? undefined : end);
  const shown = `${where(line)}: \`${text}\``;
  let command = program;
  while (/^[a-z][a-z-]*$/.test(args[0] ?? "")) {
    const sub = command.commands.find((c) => c.name() === args[0]);
    if (!sub && command !== program) break; // (an argument: `runs show last`)
    if (!sub) return [`${shown}: anneal has no command '${args[0]}'`];
    command = sub;
    args.shift();
  }
  const problems: string[] = [];
  for (const [i, word] of args.entries()) {
    if (!word.startsWith("-") || word === "-") continue;
    const name = word.split("=")[0];
    const option = command.options.find((o) => o.long === name || o.short === name);
    if (!option && name !== "--help" && name !== "-h") {
      problems.push(`${shown}: anneal ${command.name()} has no option ${name}`);
    }
    const choices = args[i + 1]?.includes("|") ? args[i + 1].split("|") : undefined;
    const sorted = (list: string[]) => [...list].sort().join("|");
    if (option?.argChoices && choices && sorted(choices) !== sorted(option.argChoices)) {
      problems.push(`${shown}: ${name} takes ${sorted(option.argChoices)}, not ${sorted(choices)}`);
    }
  }
  return problems;
}
