/**
 * `anneal lr-find`: Leslie Smith's LR range test on the run's own data and model.
 *
 * @module
 */
import {
  AnnealError,
  applyOverrides,
  loadConfig,
  lrFind,
  lrFindRecord,
  lrFindSvg,
  recordLrFind,
  writeFileAtomic,
} from "../../mod.ts";
import { parseConfig, readConfigFile } from "../../config.ts";
import { MAX_ITERATIONS, MIN_ITERATIONS } from "../../runtime/lr_find.ts";
import { onSignals, signalExitCode } from "../signals.ts";
import { checkFlagFile, formatNumber, writeFlagFile } from "../output.ts";
import { parseNumberFlag } from "./schedule.ts";
import { shellWord } from "../../shell_word.ts";
import { counted } from "../../number_format.ts";

/** Options of `anneal lr-find`. */
export interface LrFindCommandOptions {
  config?: string;
  set: string[];
  startLr: string;
  endLr: string;
  iterations: string;
  mode: "exponential" | "linear";
  repeats: string;
  schedule?: "onecycle" | "warmupCosine";
  plot?: string;
  apply?: boolean;
  /** With `apply`: write a suggestion the test calls unreliable too. */
  force?: boolean;
  json?: boolean;
}

/** Runs `anneal lr-find`; returns the exit code. */
export async function lrFindCommand(options: LrFindCommandOptions): Promise<number> {
  if (options.apply && !options.config) {
    throw new AnnealError(
      "usage",
      "--apply writes the suggestion into the config file, so it needs -c FILE",
      {
        hint: "anneal lr-find -c config.json --apply",
      },
    );
  }
  if (options.force && !options.apply) {
    throw new AnnealError(
      "usage",
      "--force writes an unreliable suggestion with --apply, and does nothing without it",
      { hint: "anneal lr-find -c config.json --apply --force" },
    );
  }
  const config = await loadConfig(options.config, options.set);
  const iterations = parseNumberFlag("--iterations", options.iterations, true, "100");
  if (iterations > MAX_ITERATIONS) {
    throw new AnnealError(
      "usage",
      `--iterations must be at most ${MAX_ITERATIONS.toLocaleString("en")}, current value is ` +
        `'${options.iterations}'`,
      {
        hint: "the rules read the whole curve at its end, and a few hundred steps read it: " +
          "--iterations 100 (the default)",
      },
    );
  }
  if (iterations < MIN_ITERATIONS) {
    // (the flag named as typed: the module's refusal named its option, 'iterations')
    throw new AnnealError(
      "usage",
      `--iterations must be at least ${MIN_ITERATIONS}, current value is '${options.iterations}'`,
      {
        hint: "the rules skip the first tenth of the steps (the smoothed loss's warm-up), then " +
          `need a minimum of the smoothed loss after it: --iterations 100 (the default), or at ` +
          `least ${MIN_ITERATIONS}`,
      },
    );
  }
  const startLr = parseNumberFlag("--start-lr", options.startLr, false, "1e-7");
  const endLr = parseNumberFlag("--end-lr", options.endLr, false, "10");
  if (!(endLr > startLr)) {
    throw new AnnealError(
      "usage",
      `--end-lr (${options.endLr}) must be above --start-lr (${options.startLr}): the test raises ` +
        "the rate from --start-lr to --end-lr",
      {
        hint: endLr < startLr
          ? `swap them: --start-lr ${options.endLr} --end-lr ${options.startLr}`
          : "give it a range of rates to read a loss curve off, e.g. --start-lr 1e-7 --end-lr 10 " +
            "(the defaults)",
      },
    );
  }
  const progress = Deno.stderr.isTerminal() && !options.json;
  // (off a terminal, as when piped or logged: a line at the start, then one every few seconds)
  const lines = !Deno.stderr.isTerminal() && !options.json;
  // Ctrl-C (SIGINT) or SIGTERM stops the test after its current step; a second exits at once
  const controller = new AbortController();
  const interruption = onSignals(
    "stopping the range test after its current step (a test cut short records nothing)",
    (reason) => controller.abort(reason),
  );
  try {
    const code = await runTest(
      options,
      config,
      { iterations, startLr, endLr, progress, lines },
      controller,
    );
    if (interruption.signal) {
      // (a signal after the last step stops nothing: the test is whole, and recorded as one)
      console.error(
        `anneal: ${interruption.signal} came after the test's last step: it completed and is ` +
          "recorded as printed above",
      );
    }
    return code;
  } catch (error) {
    if (!(error instanceof AnnealError && error.code === "interrupted")) throw error;
    if (progress) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));
    console.error(`anneal: ${error.message}; nothing recorded; ${rerunHint(iterations)}`);
    return signalExitCode(interruption.signal);
  } finally {
    interruption.dispose();
  }
}

/** Off a terminal, a range test's progress is a line this often. */
const LINE_SECONDS = 5;

/**
 * How to run the interrupted test again: the same command, and (where it has more steps than the
 * fewest) the same with half its steps, which takes about half the time.
 */
function rerunHint(iterations: number): string {
  const same = `anneal ${Deno.args.map(shellWord).join(" ")}`;
  const fewer = Math.max(MIN_ITERATIONS, Math.floor(iterations / 2));
  if (fewer >= iterations) return `run it again: ${same}`;
  const args = Deno.args.filter((arg, i, all) =>
    !arg.startsWith("--iterations=") && arg !== "--iterations" && all[i - 1] !== "--iterations"
  );
  return `run it again (${same}), or with fewer steps, which take less time: anneal ${
    [...args, "--iterations", String(fewer)].map(shellWord).join(" ")
  } (it had ${iterations}, at least ${MIN_ITERATIONS})`;
}

/** The test itself, its record and what it prints; an interrupted test throws before any record. */
async function runTest(
  options: LrFindCommandOptions,
  config: Awaited<ReturnType<typeof loadConfig>>,
  { iterations, startLr, endLr, progress, lines }: {
    iterations: number;
    startLr: number;
    endLr: number;
    progress: boolean;
    lines: boolean;
  },
  controller: AbortController,
): Promise<number> {
  // a --plot that cannot be written is refused before the test runs, not after it
  if (options.plot) await checkFlagFile("--plot", options.plot);
  const step = (i: number, lr: number, loss: number) =>
    `lr-find ${i + 1}/${iterations}  lr ${formatNumber(lr)}  loss ${formatNumber(loss)}`;
  let lineAt = performance.now();
  if (lines) {
    console.error(
      `anneal: LR range test: ${iterations} steps, lr ${formatNumber(startLr)} to ` +
        `${formatNumber(endLr)} (a line every ${LINE_SECONDS} s)`,
    );
  }
  const result = await lrFind(config, {
    interrupt: controller.signal,
    startLr,
    endLr,
    iterations,
    mode: options.mode,
    repeats: parseNumberFlag("--repeats", options.repeats, true),
    schedule: options.schedule,
    onProgress: progress
      ? (i, lr, loss) =>
        Deno.stderr.writeSync(new TextEncoder().encode(`\r ${step(i, lr, loss)}   `))
      : lines
      ? (i, lr, loss) => {
        if (performance.now() - lineAt < LINE_SECONDS * 1000) return;
        lineAt = performance.now();
        console.error(`anneal: ${step(i, lr, loss)}`);
      }
      : undefined,
  });
  if (progress) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));

  // The test's record lives in a run directory of its own, so `anneal report` can show it; it
  // is written holding the directory's lock, as a training run writes its own.
  const { runDir } = await recordLrFind(config, result, { plot: !options.plot });
  const plot = options.plot ?? `${runDir}/lr_find.svg`;
  if (options.plot) await writeFlagFile("--plot", options.plot, await lrFindSvg(result));

  // An unreliable suggestion is not written unless forced: the curve did not pin a rate down,
  // and a config file rewritten with one trains at a rate nothing vouches for.
  const unreliable = result.agreement.verdict === "unreliable";
  const writes = options.apply === true && (!unreliable || options.force === true);
  // Why the suggestion, written into the file, would leave it a config no run reads (a field of
  // a section a --set made: `scheduler.maxLr` of the --set's onecycle, written into a file without
  // it, was a `"scheduler": { "maxLr": ... }` that train refused for its missing name)
  const file = writes ? await readConfigFile(options.config!) : {};
  const updated = writes ? applyOverrides(file, result.suggestedOverrides) : {};
  const breaks = writes
    ? leftInvalid(options.config!, file, updated, options, result.suggestedOverrides)
    : undefined;
  const applied = writes && breaks === undefined;
  if (applied) {
    // (the file's "$schema", which readConfigFile leaves out, is kept, first as it was)
    const { $schema } = JSON.parse(
      (await Deno.readTextFile(options.config!)).replace(/^\uFEFF/, ""),
    ) as { $schema?: unknown };
    const written = typeof $schema === "string" ? { $schema, ...updated } : updated;
    await writeFileAtomic(
      options.config!,
      new TextEncoder().encode(JSON.stringify(written, null, 2) + "\n"),
    );
  }
  if (options.json) {
    console.log(
      JSON.stringify({
        ...lrFindRecord(result),
        runDir,
        plot,
        suggestedOverrides: result.suggestedOverrides,
        ...(options.apply && { applied }),
      }),
    );
    if (options.apply && !applied) {
      console.error(breaks ?? notApplied(options.config!, result.runs.length > 1, true));
      return 1;
    }
    return 0;
  }
  console.log(
    `LR range test: ${counted(result.lrs.length, "step")} from ${formatNumber(result.lrs[0])} to ${
      formatNumber(result.lrs.at(-1)!)
    }${result.diverged ? " (stopped: the loss diverged)" : ""}`,
  );
  // (with repeats, the rules are the first repeat's, and the suggestion the repeats' mean)
  const repeats = result.runs.length;
  if (repeats > 1) console.log(`  the first of ${repeats} repeats' rules:`);
  for (const [rule, lr] of Object.entries(result.suggestions)) {
    const chosen = repeats > 1 ? "   <- the rule taken" : "   <- suggestion";
    console.log(`  ${rule.padEnd(13)} ${formatNumber(lr)}${rule === result.rule ? chosen : ""}`);
  }
  const a = result.agreement;
  console.log(
    `suggested lr = ${formatNumber(result.suggestion)} (${result.rule}${
      repeats > 1 ? `, the geometric mean of the ${repeats} repeats'` : ""
    }); the loss fell ${formatNumber(a.fallToNoise)}x its noise, steepest and minimumDiv10 span ${
      formatNumber(a.ratio)
    }x: ${a.verdict}` +
      (repeats > 1
        ? `; ${repeats} repeats span ${formatNumber(result.spread.ratio)}x (${
          formatNumber(result.spread.min)
        } .. ${formatNumber(result.spread.max)})`
        : ""),
  );
  if (a.verdict === "unreliable") {
    // (each reason says what was wrong and what to change; a test already repeated is not told
    // to repeat it)
    for (const reason of a.reasons) console.log(`  unreliable: ${reason}`);
    console.log(
      `  hint: ${
        result.runs.length > 1 ? "" : "rerun with --repeats 3, or "
      }compare the top candidates in a short sweep (anneal sweep)`,
    );
  }
  console.log(`plot written to ${plot}; record in ${runDir}`);
  // the rate was found on the config as the --sets made it: training needs them too
  const kept = keptOverrides(options.set, result.suggestedOverrides);
  const set = [...kept, ...result.suggestedOverrides].map((o) => `--set ${shellQuote(o)}`)
    .join(" ");
  if (options.apply && !applied) {
    console.log(`to use it: anneal train -c ${shellWord(options.config!)} ${set}`);
    console.error(breaks ?? notApplied(options.config!, result.runs.length > 1));
    return 1;
  }
  console.log(
    options.apply
      ? `applied to ${options.config}${unreliable ? " (unreliable, as --force asked)" : ""}: ` +
        `${result.suggestedOverrides.join(", ")}` +
        (kept.length > 0
          ? `; the test ran with ${kept.map((o) => `--set ${shellQuote(o)}`).join(" ")}, ` +
            "which the file does not hold: train with them too"
          : "")
      : `to use it: anneal train ${options.config ? `-c ${shellWord(options.config)} ` : ""}${set}`,
  );
  return 0;
}

/** Why `--apply` left the config file as it was, and the ways on. */
function notApplied(config: string, repeated: boolean, json = false): string {
  return `anneal: not applied to ${config}: the suggestion is unreliable (the reasons are ` +
    `${json ? "the JSON's agreement.reasons" : "above"}), so the file is left as it was; ${
      repeated ? "" : "rerun with --repeats 3, "
    }compare the candidates in a short sweep, or write it anyway with --apply --force`;
}

/**
 * Why `--apply` leaves the config file as it was where the suggestion, written into it, would
 * make a file that parsed one that does not (it sets a field of a section one of the user's
 * `--set`s made, which the file does not hold); undefined where it may be written.
 */
function leftInvalid(
  path: string,
  file: Record<string, unknown>,
  updated: Record<string, unknown>,
  { set: user, json }: Pick<LrFindCommandOptions, "set" | "json">,
  suggested: string[],
): string | undefined {
  const parses = (input: Record<string, unknown>) => {
    try {
      parseConfig(input);
      return undefined;
    } catch (error) {
      return error instanceof AnnealError ? error : undefined;
    }
  };
  const after = parses(updated);
  if (after === undefined || parses(file) !== undefined) return undefined;
  const pathOf = (override: string) => override.slice(0, override.indexOf("=")).trim();
  const under = user.filter((override) =>
    suggested.some((other) => pathOf(other).startsWith(`${pathOf(override)}.`))
  );
  const made = under.length > 0
    ? `: it sets a field of what the test ran with from ${
      under.map((o) => `--set ${shellQuote(o)}`).join(" ")
    }, which the file does not hold`
    : "";
  return `anneal: not applied to ${path}: written there, the suggestion (${
    suggested.join(", ")
  }) would leave it invalid (${after.message})${made}; so the file is left as it was: put that ` +
    `section into the file and run again, or train with ${
      json ? "the JSON's suggestedOverrides" : "the command above"
    }`;
}

/**
 * The user's `--set`s that the suggestion leaves standing: those of another path than the
 * suggestion's, or above it (a whole section the suggestion then changes a field of).
 *
 * @example
 * ```ts
 * import { keptOverrides } from "./lr_find.ts";
 * const kept = keptOverrides(["batchSize=8", "optimizer.lr=1", "scheduler.maxLr=2"], [
 *   "optimizer.lr=0.01",
 *   'scheduler={"name":"onecycle","maxLr":0.1,"totalSteps":100}',
 * ]);
 * console.assert(kept.join() === "batchSize=8");
 * ```
 */
export function keptOverrides(user: string[], suggested: string[]): string[] {
  const pathOf = (override: string) => override.slice(0, override.indexOf("=")).trim();
  const replaced = suggested.map(pathOf);
  return user.filter((override) => {
    const path = pathOf(override);
    return !replaced.some((other) => path === other || path.startsWith(`${other}.`));
  });
}

/** One shell word: single-quoted, with its own single quotes escaped. */
function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
