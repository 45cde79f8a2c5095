/**
 * The `anneal` command line: a thin shell over `mod.ts`. The CLI framework (commander, with
 * extra typings) is used only in this folder, so it can be swapped without touching the rest.
 *
 * @module
 */
import { Command, Option } from "npm:@commander-js/extra-typings@15.1.0";
import { fileURLToPath } from "node:url";
import { AnnealError } from "../errors.ts";
import { BACKEND_NAMES, configJsonSchema } from "../config.ts";
import denoJson from "../deno.json" with { type: "json" };
import { jsonErrorLine, reportError } from "./output.ts";
import { SAMPLER_NAMES } from "../sweeps/samplers/named.ts";
import { PRUNER_NAMES } from "../sweeps/pruners/types.ts";
import { type CommandShape, completionScript, type ValueShape } from "./completions.ts";
import { withParentOptions } from "./parent_options.ts";
import { survivingConsole, writeQuietly } from "./quiet_write.ts";
import { findAdapterBeforeWorkers } from "../runtime/adapter.ts";
import { exitIfHeld } from "./exit_guard.ts";
import { choiceArgument, choiceOption } from "./choices.ts";
import { PLOTS } from "../report/plot_names.ts";
import { closestName } from "../zod_paths.ts";
import { helpAsFlag, routeUsageErrors, unknownHelpCommand, usageErrorOf } from "./usage_errors.ts";

/**
 * A command's module, loaded when that command runs: what one needs (tfjs for lr-find and
 * batch-size, the sweep machinery, reports) is no part of another's start, nor of --help's. Its
 * URL is made at run time, not written as a string literal: Deno prepares every module a program
 * names by a literal when the program starts, dynamic imports too (the commands' modules took
 * ~140 ms of each start, though one runs).
 */
async function commandModule<T>(file: string): Promise<T> {
  const url = new URL(`./commands/${file}`, import.meta.url);
  try {
    return await import(url.href) as T;
  } catch (error) {
    // (a module Deno may not read fails as a TypeError saying so, not as a permission error)
    const message = error instanceof Error ? error.message : String(error);
    if (/Requires (read|import) access/.test(message)) {
      throw new AnnealError("usage", `Cannot load the command's module: ${message}`, {
        where: url.protocol === "file:" ? fileURLToPath(url) : url.href,
        hint: url.protocol === "file:"
          ? "allow anneal's own folder to be read: --allow-read (as `deno task anneal` runs it)"
          : `allow imports from ${url.host}: --allow-import=${url.host}`,
      });
    }
    throw error;
  }
}
const trainModule = () => commandModule<typeof import("./commands/train.ts")>("train.ts");
const scheduleModule = () => commandModule<typeof import("./commands/schedule.ts")>("schedule.ts");
const lrFindModule = () => commandModule<typeof import("./commands/lr_find.ts")>("lr_find.ts");
const sweepModule = () => commandModule<typeof import("./commands/sweep.ts")>("sweep.ts");
const tuneModule = () => commandModule<typeof import("./commands/tune.ts")>("tune.ts");
const batchSizeModule = () =>
  commandModule<typeof import("./commands/batch_size.ts")>("batch_size.ts");
const runsModule = () => commandModule<typeof import("./commands/runs.ts")>("runs.ts");

const collect = (value: string, previous: string[]) => [...previous, value];

/**
 * Builds the command tree; `run` receives each command's exit code, and whether it was given
 * `--json` (its errors are then printed on stdout too, as one JSON line).
 */
export function buildProgram(
  run: (work: () => Promise<number>, json?: boolean) => Promise<void>,
) {
  const program = new Command("anneal")
    .description(
      "Train TensorFlow.js models through five Worker actors, with PyTorch's hyperparameter semantics.",
    )
    .version(denoJson.version, "-V, --version", "print the version")
    .option("--debug", "print stack traces of errors")
    // (help and usage text written at once, and a reader that went away, as `anneal --help |
    // head`, ends the writing quietly: node's stdout stream threw EPIPE as an uncaught error)
    .configureOutput({
      writeOut: (text) => writeQuietly(Deno.stdout, text),
      writeErr: (text) => writeQuietly(Deno.stderr, text),
    })
    .enablePositionalOptions()
    // (`--epochs ""`, as an empty shell variable in quotes gives, was read as no --epochs, and
    // `--base-lr ""` blamed a --set nobody typed: a flag given nothing is refused by name)
    .hook("preAction", (_program, command) => refuseEmptyValues(command))
    .addHelpText(
      "after",
      `
Examples:
  anneal train                                   the seed experiment: linear data, SGD lr 0.01, 50 epochs
  anneal train -c examples/fashion_mnist_mlp.json   an MLP on Fashion-MNIST (>= 0.85 test accuracy)
  anneal train -c examples/sensors_classification.json   a CSV with string labels, in a second
                                                 (examples/: a CNN, an LSTM, AdamW with warmup, cyclic rates, a sweep)
  anneal train --set optimizer.lr=0.1 --set epochs=5
  anneal schedule --scheduler '{"name":"cosine","tMax":100}' --base-lr 0.1 --steps 100
  anneal schema > anneal.schema.json             JSON Schema of the config, for editors
  source <(anneal completions bash)`,
    );

  program.command("train")
    .description("train a model from a config (default: the seed experiment)")
    .option("-c, --config <file>", "JSON config file (see `anneal schema`)")
    .option(
      "-s, --set <path=value>",
      "override a config field (repeatable), e.g. optimizer.lr=0.001",
      collect,
      [] as string[],
    )
    .addOption(
      choiceOption(
        "-b, --backend <name>",
        "tfjs backend (default: the config's backend, auto: WebGPU on a hardware GPU for a " +
          "model beyond a linear one, else wasm)",
        BACKEND_NAMES,
      ),
    )
    .option("--epochs <n>", "shortcut for --set epochs=N")
    .option("--max-steps <n>", "shortcut for --set maxSteps=N (a budget of optimizer steps)")
    .option("--batch-size <n>", "shortcut for --set batchSize=N")
    .option(
      "--lr <lr>",
      "shortcut for --set optimizer.lr=LR; under onecycle or cyclic, whose rates come from " +
        "their maxLr, sets scheduler.maxLr (the cycle's peak) instead (cyclic's baseLr scaled alike)",
    )
    .option("--name <name>", "run name (prefix of the run id)")
    .option("--runs-dir <dir>", "where run directories go (default runs/)")
    .option(
      "--resume <run-id>",
      "continue a run from its last checkpoint (`last`: the newest training run; --epochs, " +
        "--max-steps: more, to train it longer)",
    )
    .option("--json", "print the event stream as NDJSON instead of text")
    .option("--log-every <n>", "print every Nth epoch (default: 1, or 10 above 20 epochs)")
    .option("--no-progress", "no progress bar")
    .addHelpText(
      "after",
      `
Exit codes: 0 completed (or stopped early), 1 failed (an actor crashed, bad input), 2 usage error, 3 diverged,
130/143/129 interrupted by SIGINT/SIGTERM/SIGHUP (Ctrl-C, a closed terminal: stops after the current step, resume with --resume RUN).

Examples:
  anneal train
  anneal train --lr 10                      stops on divergence and says what to change
  anneal train -c examples/fashion_mnist_mlp.json --backend wasm
  anneal train --epochs 20 --batch-size 8 --lr 0.02
  anneal train --resume 20261122-190000-ab12`,
    )
    .action((options) =>
      run(async () => (await trainModule()).trainCommand(options), options.json)
    );

  program.command("schedule")
    .description("preview a learning-rate schedule: the LR for steps 0..N-1")
    .option("--scheduler <json>", "scheduler spec as JSON (or @file); default: the config's")
    .option("-c, --config <file>", "JSON config file whose scheduler and optimizer to preview")
    .option(
      "-s, --set <path=value>",
      "override a config field (repeatable)",
      collect,
      [] as string[],
    )
    .option(
      "--base-lr <lr>",
      "the optimizer's learning rate (optimizer.lr; default: the config's, else 0.1)",
    )
    .requiredOption("--steps <n>", "number of steps to show")
    .option("--metrics <json>", "plateau only: the metric after each step, as a JSON array")
    .option("--json", "print a JSON array of learning rates")
    .option("--plot <file.svg>", "also write an SVG plot")
    .addHelpText(
      "after",
      `
The schedule is checked as anneal train checks the config it is in (-c, else the default config,
whose optimizer is sgd): a schedule train refuses, e.g. a cyclic cycling the momentum of adam, is
refused here with the same message.

Examples:
  anneal schedule -c examples/fashion_mnist_cyclic.json --steps 200
  anneal schedule --scheduler '{"name":"onecycle","maxLr":0.1,"totalSteps":100}' --steps 100 --plot onecycle.svg
  anneal schedule --scheduler '{"name":"plateau","patience":1}' --base-lr 0.1 --steps 4 --metrics '[1,1,1]' --json`,
    )
    .action((options) =>
      run(async () => (await scheduleModule()).scheduleCommand(options), options.json)
    );

  program.command("lr-find")
    .description(
      "LR range test (Leslie Smith) on the config's data and model: suggests a learning rate",
    )
    .option("-c, --config <file>", "JSON config file (default: the seed experiment)")
    .option(
      "-s, --set <path=value>",
      "override a config field (repeatable)",
      collect,
      [] as string[],
    )
    .option("--start-lr <lr>", "first learning rate", "1e-7")
    .option("--end-lr <lr>", "last learning rate", "10")
    .option("--iterations <n>", "steps of the ramp (10 to 20,000)", "100")
    .addOption(
      choiceOption("--mode <mode>", "LR ramp", ["exponential", "linear"]).default(
        "exponential" as const,
      ),
    )
    .option("--repeats <k>", "rerun on other batches and seeds and report the spread", "1")
    .addOption(
      choiceOption("--schedule <name>", "turn the result into a whole schedule", [
        "onecycle",
        "warmupCosine",
      ]),
    )
    .option("--plot <file.svg>", "where to write loss vs LR (default: in the test's run directory)")
    .option(
      "--apply",
      "write the suggestion (and schedule) into the config file, if the test calls it reliable " +
        "(else exit 1, the file unchanged)",
    )
    .option("--force", "with --apply: write an unreliable suggestion too")
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
The model and optimizer state are restored afterwards. Three rules (valley, steepest descent,
minimum/10) suggest a learning rate; the result is called unreliable when the curve does not pin
one down: its loss fell less than 6x its batch-to-batch noise, steepest and minimum/10 are more
than 10x apart, or the repeats are. Ctrl-C stops the test after its current step and records nothing
(exit 130).

Examples:
  anneal lr-find -c examples/fashion_mnist_mlp.json
  anneal lr-find -c examples/fashion_mnist_mlp.json --repeats 3 --schedule onecycle --apply`,
    )
    .action((options) =>
      run(async () => (await lrFindModule()).lrFindCommand(options), options.json)
    );

  program.command("sweep")
    .description(
      "search hyperparameters: the config's sweep section, grid/random/quasi-random/TPE, pruning",
    )
    .option("-c, --config <file>", "JSON config with a 'sweep' section")
    .option(
      "-s, --set <path=value>",
      "override a config field (repeatable)",
      collect,
      [] as string[],
    )
    .option(
      "--trials <n>",
      "trials in the study in all, its earlier ones included (default: the config's " +
        "sweep.trials, else 20)",
    )
    .addOption(
      choiceOption(
        "--sampler <name>",
        "sampler (default: the config's sweep.sampler, else tpe; tpe draws its first 10 trials at " +
          "random, as Optuna's, and models the results after them)",
        SAMPLER_NAMES,
      ),
    )
    .addOption(
      choiceOption(
        "--pruner <name>",
        "pruner (default: the config's sweep.pruner, else median)",
        PRUNER_NAMES,
      ),
    )
    .option(
      "--parallel <k>",
      "trials at once in this process, 1 to 32 (default: the config's sweep.parallel, else 1)",
    )
    .option(
      "--storage <url>",
      "sqlite:FILE (default <runsDir>/sweeps.db; Optuna's sqlite:///FILE too) or postgres://user@host/db",
    )
    .option("--study <name>", "study name (default: the config's name, else 'sweep')")
    .addHelpText(
      "after",
      `
The config's sweep section:
  "sweep": { "space": { "optimizer.lr": { "type": "logUniform", "low": 1e-4, "high": 1e-1 },
                        "batchSize": { "type": "choice", "values": [32, 64, 128] } },
             "metric": "valAccuracy", "trials": 20, "sampler": "tpe", "pruner": "median" }
Distributions: uniform, logUniform, int {low, high, step, log}, choice {values}, grid {values}.
Any may carry a condition, drawn only where choice paths drew those values:
  "optimizer.momentum": { "type": "uniform", "low": 0, "high": 0.99,
                          "when": { "optimizer.name": "sgd" } }   (or a list: ["sgd", "rmsprop"])
  (values excluded: { "optimizer.name": { "not": ["adam"] } }; a list of conditions,
  [{ "optimizer.name": "sgd" }, { "batchSize": 32 }], draws it where any one holds)
Ctrl-C: the running trials stop after their current step and are queued again (exit 130); the
same command goes on with them, then the rest of the study's trials.

Examples:
  anneal sweep -c examples/fashion_mnist_sweep.json --trials 20 --sampler tpe --pruner asha --parallel 2
  anneal sweep -c sweep.json --storage postgres://anneal@db.example/anneal --study lr-search
  anneal worker --storage postgres://anneal@db.example/anneal --study lr-search   (on other machines)`,
    )
    .action((options) => run(async () => (await sweepModule()).sweepCommand(options)));

  program.command("tune")
    .description(
      "guided staged search: LR (range test), batch size with LR scaling, weight decay, schedule, clipping, dropout, epochs",
    )
    .option("-c, --config <file>", "JSON config file to start from")
    .option(
      "-s, --set <path=value>",
      "override a config field (repeatable)",
      collect,
      [] as string[],
    )
    .option("--budget <runs>", "the most training runs to spend", "20")
    .option(
      "--min-improvement <fraction>",
      "keep a change only where it beats the best so far by more than this fraction of it " +
        "(0 keeps any gain)",
      "0.001",
    )
    .option(
      "-o, --out <file>",
      "also write the tuned config there (it is always in the tune's own directory, " +
        "<runsDir>/tune-<time>-<random>/tuned_config.json)",
    )
    .addHelpText(
      "after",
      `
Each stage starts from the best config so far and keeps a change only when it improves the
config's sweep.metric (without a sweep section: valAccuracy for classification, else valLoss) by
more than --min-improvement (0.1% by default: a smaller gain is within one run's noise).
Each tune has its own directory: its runs, tune.json and tuned_config.json (the best config so
far, after every run).
Ctrl-C stops it with the best config so far (exit 130); a tune is not resumed: it starts over.

Example:
  anneal tune -c examples/fashion_mnist_mlp.json --set epochs=3 --set data.limit=6000 --budget 14`,
    )
    .action((options) => run(async () => (await tuneModule()).tuneCommand(options)));

  program.command("worker")
    .description(
      "join a sweep's study from any machine and run its trials until the budget is spent",
    )
    .requiredOption(
      "--storage <url>",
      "the study's storage, e.g. postgres://anneal@db.example/anneal",
    )
    .requiredOption("--study <name>", "the study's name")
    .option(
      "--parallel <n>",
      "trials this worker runs at once (default: the study's sweep.parallel)",
    )
    .addHelpText(
      "after",
      "\nCtrl-C: the running trials stop after their current step and are queued again (exit 130)." +
        "\n\nExample:\n  anneal worker --storage postgres://anneal@db.example/anneal --study lr-search",
    )
    .action((options) => run(async () => (await sweepModule()).workerCommand(options)));

  program.command("batch-size")
    .description(
      "measure throughput and memory per batch size; the LR the batch-scaling rule gives for each " +
        "(linear for sgd, sqrt for adaptive optimizers; optimizer.batchScaling picks)",
    )
    .option("-c, --config <file>", "JSON config file (default: the seed experiment)")
    .option(
      "-s, --set <path=value>",
      "override a config field (repeatable)",
      collect,
      [] as string[],
    )
    .option(
      "--sizes <list>",
      "batch sizes to try, e.g. 16,32,64 (default: powers of two from 8 up to the training set, " +
        "at most 4096)",
    )
    .option(
      "--memory-limit <MiB>",
      "memory budget: a batch fits when its step's peak memory (tfjs's tensors and the step's own buffers) is under it",
    )
    .option(
      "--steps <n>",
      "timed steps per size, at least (default 3; steps under 50 ms in all are timed on to 50 ms, in blocks of 5 ms, and the median block taken)",
    )
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
Examples:
  anneal batch-size -c examples/fashion_mnist_mlp.json --sizes 32,64,128,256,512
  anneal batch-size -c examples/fashion_mnist_mlp.json --memory-limit 512
  anneal batch-size -c examples/fashion_mnist_mlp.json --set optimizer.batchScaling=linear`,
    )
    .action((options) =>
      run(async () => (await batchSizeModule()).batchSizeCommand(options), options.json)
    );

  const runsDirOption = () =>
    new Option("--runs-dir <dir>", "where run directories are").default("runs");
  const runs = program.command("runs")
    .description("list runs (table: id, date, model, optimizer, lr, batch, epochs, best, status)")
    .addOption(runsDirOption())
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      `
Examples:
  anneal runs
  anneal runs show last
  anneal runs compare RUN_A RUN_B`,
    )
    // (`anneal runs shw` was "too many arguments for 'runs'": a word after it is a command meant)
    .allowExcessArguments()
    .action((options, command) =>
      run(async () => {
        const [word, asked] = command.args;
        if (word === "help") {
          // (`anneal runs help show`: its action takes the words, so commander's help command
          // never saw them; a subcommand it lacks was refused before the parse)
          (command.commands.find((sub) => sub.name() === asked) ?? command).outputHelp();
          return 0;
        }
        if (command.args.length > 0) throw unknownSubcommand(command, command.args[0]);
        return (await runsModule()).runsListCommand(options);
      }, options.json)
    );
  runs.command("show")
    .description("one run: summary, diagnosis, charts")
    .argument("<run>", "run id, or 'last'")
    // (inherited from runs, which takes the word meant as its command: `anneal runs show a b`
    // showed a and left b unsaid)
    .allowExcessArguments(false)
    .addOption(runsDirOption())
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      "\nExamples:\n  anneal runs show last\n  anneal runs show 20261122-190000-ab12 --json",
    )
    .action((id, own, command) => {
      const options = withParentOptions(own, command);
      return run(async () => (await runsModule()).runsShowCommand(id, options), options.json);
    });
  runs.command("compare")
    .description("the hyperparameters that differ between runs, and their metrics side by side")
    .argument("<runs...>", "two or more run ids")
    .addOption(runsDirOption())
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      "\nExamples:\n  anneal runs compare RUN_A RUN_B\n" +
        "  anneal runs compare RUN_A RUN_B RUN_C --runs-dir runs/fashion-sweep   (a sweep's trials)",
    )
    .action((ids, own, command) => {
      const options = withParentOptions(own, command);
      return run(async () => (await runsModule()).runsCompareCommand(ids, options), options.json);
    });

  program.command("diagnose")
    .description(
      "read a run's curves: divergence, LR too low/high, plateau, overfitting, spikes, with fixes",
    )
    .argument("<run>", "run id, or 'last'")
    .addOption(runsDirOption())
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      "\n'last' is the newest training run (an lr-find record has no curves to read).\n" +
        "\nExamples:\n  anneal diagnose last\n  anneal diagnose 20261122-190000-ab12 --json",
    )
    .action((id, options) =>
      run(async () => (await runsModule()).diagnoseCommand(id, options), options.json)
    );

  program.command("report")
    .description("write a self-contained HTML report of a run (or one SVG plot with --plot)")
    .argument("<run>", "run id, or 'last'")
    .addOption(runsDirOption())
    .option(
      "-o, --out <file>",
      "output file (default: report.html or <plot>.svg in the run directory; '-': stdout)",
    )
    .addOption(choiceOption("--plot <name>", "one plot as SVG", PLOTS))
    .addHelpText(
      "after",
      "\n'last' is the newest training run; with --plot lrFind, the newest LR range test's " +
        "record.\n\nExamples:\n  anneal report last\n  anneal report last --plot loss --out " +
        "loss.svg",
    )
    .action((id, options) => run(async () => (await runsModule()).reportCommand(id, options)));

  program.command("schema")
    .description("print the config's JSON Schema (for editor completion)")
    .addHelpText(
      "after",
      `
Example:
  anneal schema > anneal.schema.json   then in a config: "$schema": "./anneal.schema.json"`,
    )
    .action(() =>
      run(() => {
        console.log(JSON.stringify(configJsonSchema(), null, 2));
        return Promise.resolve(0);
      })
    );

  program.command("completions")
    .description("print a shell completion script")
    .addArgument(
      choiceArgument(
        "<shell>",
        "the shell",
        SHELLS,
        "The <shell> of anneal completions",
        (shell) => `anneal completions ${shell}`,
      ),
    )
    .addHelpText(
      "after",
      "\nExamples:\n  source <(anneal completions bash)\n  anneal completions fish | source",
    )
    .action((shell) =>
      run(() => {
        console.log(completionScript(shell, shapeOf(program)));
        return Promise.resolve(0);
      })
    );
  // (a usage error commander finds, as a missing argument, is thrown to the caller, which says
  // it in anneal's words and exits 2, instead of commander's message and process.exit(1))
  routeUsageErrors(program);
  return program;
}

/**
 * Refuses an option of `command` given an empty value (or spaces alone) on the command line
 * (`--epochs ""`, `-c "$CONFIG"` with CONFIG unset): it names the flag and what the flag takes. A list (`--set`)
 * is left to its own checks, which name the `--set` that is empty.
 */
export function refuseEmptyValues(command: {
  name(): string;
  options: readonly {
    long?: string;
    short?: string;
    flags: string;
    mandatory: boolean;
    attributeName(): string;
  }[];
  getOptionValue(key: string): unknown;
  getOptionValueSource(key: string): string | undefined;
  parent?: { name(): string; parent?: unknown } | null;
}): void {
  for (const option of command.options) {
    const key = option.attributeName();
    const value = command.getOptionValue(key);
    // (spaces alone are empty too: `--epochs " "` was "must be a number")
    if (command.getOptionValueSource(key) !== "cli" || typeof value !== "string") continue;
    if (value.trim() !== "") continue;
    const flag = option.long ?? option.short ?? option.flags;
    const takes = option.flags.match(/<[^>]+>/)?.[0] ?? "VALUE";
    const path = [command.name()];
    for (let at = command.parent; at?.parent; at = at.parent as typeof at) path.unshift(at.name());
    throw new AnnealError("usage", `${flag} was given an empty value ('${value}')`, {
      hint: `give it a value (${flag} ${takes}: anneal ${path.join(" ")} --help says what it ` +
        `takes)${option.mandatory ? "" : ", or leave it out"}; an empty or unset shell ` +
        `variable in quotes gives ''`,
    });
  }
}

/**
 * The error for `word` after a command that takes no argument but has commands of its own
 * (`anneal runs shw`): its commands, and the one likely meant.
 */
export function unknownSubcommand(
  command: { name(): string; commands: readonly { name(): string; usage(): string }[] },
  word: string,
): AnnealError {
  const names = command.commands.map((sub) => sub.name());
  const meant = closestName(word, names);
  return new AnnealError(
    "usage",
    `anneal ${command.name()} has no command '${word}'${
      meant === undefined ? "" : ` (did you mean '${meant}'?)`
    }`,
    {
      // (`anneal runs last`: the run it names, shown)
      hint: meant === undefined && /^[\w.-]+$/.test(word)
        ? `to show run '${word}': anneal ${command.name()} show ${word}`
        : `its commands: ${
          command.commands.map((sub) =>
            `anneal ${command.name()} ${sub.name()} ${sub.usage().replace("[options] ", "")}`
          ).join(", ")
        }; anneal ${command.name()} alone lists the runs`,
    },
  );
}

/** The shells `anneal completions` writes a script for. */
const SHELLS = ["bash", "zsh", "fish"] as const;

/**
 * What a value completes to: one of its choices (`choiceOption`, `choiceArgument`), else what its
 * placeholder names, a file (`<file>`, `<file.svg>`), a directory (`<dir>`) or a run (`<run>`,
 * `<run-id>`, `<runs...>`), else anything.
 */
function valueShape(
  placeholder: string,
  choices: readonly string[] | undefined,
  variadic = false,
  long?: string,
): ValueShape {
  if (choices !== undefined) return { kind: "choice", values: choices };
  // (`<runs>` alone is a count, tune's --budget)
  if (/^<(run|run-id|runs\.\.\.)>/.test(placeholder)) {
    // (`--resume` continues a training run: an lr-find record has no checkpoint to resume from)
    return variadic
      ? { kind: "run", many: true }
      : long === "--resume"
      ? { kind: "run", training: true }
      : { kind: "run" };
  }
  if (/^[<[]file\b/.test(placeholder)) return { kind: "file" };
  if (/^[<[]dir\b/.test(placeholder)) return { kind: "directory" };
  return { kind: "any" };
}

/** The command tree as completions see it. */
export function shapeOf(
  command: {
    name(): string;
    description(): string;
    options: readonly {
      long?: string;
      short?: string;
      flags: string;
      required: boolean;
      optional: boolean;
      argChoices?: string[];
    }[];
    registeredArguments: readonly { name(): string; argChoices?: string[]; variadic: boolean }[];
    commands: readonly unknown[];
  },
): CommandShape {
  const subcommands = (command.commands as typeof command[]).map(shapeOf);
  return {
    name: command.name(),
    description: command.description(),
    options: [
      ...command.options.map((o) => ({
        flags: [o.short, o.long].filter((x): x is string => !!x),
        value: o.required || o.optional
          ? valueShape(o.flags.match(/[<[].*$/)?.[0] ?? "", o.argChoices, false, o.long)
          : undefined,
      })),
      // (commander's own, on every command, and in no command's options)
      { flags: ["-h", "--help"] },
    ],
    arguments: command.registeredArguments.map((a) =>
      valueShape(`<${a.name()}${a.variadic ? "..." : ""}>`, a.argChoices, a.variadic)
    ),
    subcommands: subcommands.length === 0 ? [] : [
      ...subcommands,
      // (a command with commands takes `help <command>` too: commander's implicit help command at
      // the top, and `runs`' action reads it: `anneal runs help show`)
      {
        name: "help",
        description: "display help for command",
        options: [],
        arguments: [{ kind: "choice", values: subcommands.map((sub) => sub.name) }],
        subcommands: [],
      },
    ],
  };
}

if (import.meta.main) {
  // (this thread lives as long as the process: its runs look for the WebGPU adapter here, so that
  // on a machine with none but a software one their trainers' Workers need not)
  findAdapterBeforeWorkers();
  survivingConsole();
  let exitCode = 0;
  const debug = Deno.args.includes("--debug");
  const program = buildProgram(async (work, json) => {
    try {
      exitCode = await work();
    } catch (error) {
      // with --json, a program reading stdout gets the error too (stderr keeps the message)
      const line = json ? jsonErrorLine(error) : undefined;
      if (line !== undefined) console.log(line);
      exitCode = reportError(error, debug);
    }
  });
  try {
    // --debug may stand anywhere (it is read above), so it is taken out before commander parses.
    const args = Deno.args.filter((arg) => arg !== "--debug");
    const unknownHelp = unknownHelpCommand(program, args);
    if (unknownHelp !== undefined) throw unknownHelp;
    await program.parseAsync(helpAsFlag(args), { from: "user" });
  } catch (thrown) {
    const newestRuns = async (runsDir: string) => (await runsModule()).newestRunIds(runsDir);
    const error = await usageErrorOf(thrown, newestRuns) ?? thrown;
    // (help and the version end commander's parse with code 0; help asked of a command that
    // needs a subcommand, `anneal` alone, with code 1: a usage error too)
    const code = (error as { exitCode?: number }).exitCode;
    exitCode = code === 0 ? 0 : code !== undefined ? 2 : reportError(error, debug);
    // with --json, a program reading stdout gets the usage error too, as a command's own
    if (exitCode !== 0 && code === undefined && Deno.args.includes("--json")) {
      const line = jsonErrorLine(error);
      if (line !== undefined) console.log(line);
    }
  }
  // Set the code and let the process end by itself: Deno.exit() while a terminated Worker's
  // WebGPU device was still being torn down crashed the process on a real GPU (H100).
  Deno.exitCode = exitCode;
  exitIfHeld(exitCode);
}
