/**
 * `anneal train`: runs a config through the actors and prints the epochs like the seed notebook.
 *
 * @module
 */
import { formatDiagnosis, loadConfig, readRun, terminalCharts, train } from "../../mod.ts";
import type { RunEvent, RunResult } from "../../mod.ts";
import { formatMetrics, formatNumber } from "../output.ts";
import { StepProgress } from "../progress.ts";

/** Options of `anneal train`, as parsed by the CLI. */
export interface TrainCommandOptions {
  config?: string;
  set: string[];
  backend?: string;
  epochs?: string;
  batchSize?: string;
  lr?: string;
  resume?: string;
  runsDir?: string;
  name?: string;
  json?: boolean;
  logEvery?: string;
  progress: boolean;
}

/** Exit codes: 0 completed or stopped early, 1 failed, 3 diverged. */
export function exitCodeFor(result: RunResult): number {
  if (result.status === "failed") return 1;
  if (result.status === "diverged") return 3;
  return 0;
}

/** Turns the shortcut flags into `--set` overrides. */
export function shortcutOverrides(options: TrainCommandOptions): string[] {
  const overrides = [...options.set];
  if (options.backend) overrides.push(`backend=${JSON.stringify(options.backend)}`);
  if (options.epochs) overrides.push(`epochs=${options.epochs}`);
  if (options.batchSize) overrides.push(`batchSize=${options.batchSize}`);
  if (options.lr) overrides.push(`optimizer.lr=${options.lr}`);
  if (options.runsDir) overrides.push(`runsDir=${JSON.stringify(options.runsDir)}`);
  if (options.name) overrides.push(`name=${JSON.stringify(options.name)}`);
  return overrides;
}

/** Runs `anneal train`; returns the exit code. */
export async function trainCommand(options: TrainCommandOptions): Promise<number> {
  const config = await loadConfig(options.config, shortcutOverrides(options));
  const run = train(config, { resume: options.resume });
  if (options.json) {
    let result: RunResult | undefined;
    for await (const event of run.events()) {
      console.log(JSON.stringify(event));
      if (event.type === "run.finished") result = event.result;
    }
    return exitCodeFor(result ?? await run.result);
  }
  const logEvery = options.logEvery ? Number(options.logEvery) : config.epochs <= 20 ? 1 : 10;
  const progress = new StepProgress(options.progress && Deno.stderr.isTerminal());
  let result: RunResult | undefined;
  const context = {
    progress,
    logEvery,
    epochs: config.epochs,
    unprinted: undefined as string | undefined,
  };
  for await (const event of run.events()) result = printEvent(event, context) ?? result;
  progress.stop();
  result ??= await run.result;
  if (result.diagnosis) console.log(formatDiagnosis(result.diagnosis));
  if (Deno.stdout.isTerminal() && result.epochs > 1) {
    try {
      console.log(terminalCharts(await readRun(result.runDir)));
    } catch {
      // Charts are a convenience: a record that cannot be read back is reported by the summary.
    }
  }
  printSummary(result);
  return exitCodeFor(result);
}

interface PrintContext {
  progress: StepProgress;
  logEvery: number;
  epochs: number;
  /** The last epoch's line when it was not printed (a run that stops between logged epochs). */
  unprinted: string | undefined;
}

function printEvent(event: RunEvent, context: PrintContext): RunResult | undefined {
  const { progress } = context;
  switch (event.type) {
    case "backend": {
      const adapter = event.adapter ? ` (${event.adapter.description})` : "";
      progress.log(
        `anneal: backend ${event.backend}${adapter}, tfjs ${event.tfjs}: ${event.reason}`,
      );
      break;
    }
    case "plan":
      progress.log(
        `anneal: ${event.dataset.trainSize} training samples` +
          (event.dataset.validationSize ? `, ${event.dataset.validationSize} validation` : "") +
          (event.dataset.testSize ? `, ${event.dataset.testSize} test` : "") +
          `; ${event.parameters} parameters; ${event.stepsPerEpoch} steps/epoch, ${event.totalSteps} steps` +
          (event.startStep
            ? ` (resuming at epoch ${event.startEpoch}, step ${event.startStep})`
            : ""),
      );
      progress.start(event.totalSteps, event.startStep);
      break;
    case "steps": {
      const i = event.losses.length - 1;
      progress.update(event.fromStep + i + 1, {
        epoch: event.epoch,
        loss: formatNumber(event.losses[i]),
        lr: formatNumber(event.lr[i]),
      });
      break;
    }
    case "epoch": {
      const line = `Epoch ${event.epoch}: ${formatMetrics(event.metrics)}`;
      const shown = event.epoch % context.logEvery === 0 || event.epoch === context.epochs - 1;
      if (shown) progress.log(line);
      context.unprinted = shown ? undefined : line;
      break;
    }
    case "warning":
      progress.log(
        `warning (${event.actor}): ${event.message}${event.hint ? `\n  hint: ${event.hint}` : ""}`,
      );
      break;
    case "restored":
      progress.log(`anneal: restored the best epoch's weights (epoch ${event.epoch})`);
      break;
    case "test":
      progress.log(`Test: ${formatMetrics(event.metrics)}`);
      break;
    case "run.finished":
      if (context.unprinted) progress.log(context.unprinted);
      return event.result;
  }
  return undefined;
}

function printSummary(result: RunResult): void {
  if (result.test?.accuracy !== undefined) {
    console.log(`test accuracy = ${formatNumber(result.test.accuracy)}`);
  }
  const line = `${result.status}: ${result.reason} (${plural(result.epochs, "epoch")}, ${
    plural(result.steps, "step")
  }, ${result.seconds.toFixed(1)} s); run record: ${result.runDir}`;
  if (result.status === "completed" || result.status === "stopped") console.log(line);
  else {
    console.error(line);
    if (result.hint) console.error(`  hint: ${result.hint}`);
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
