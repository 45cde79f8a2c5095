/**
 * The run directory of an LR range test: `anneal lr-find` records its test in a run directory of
 * its own (`config.json`, `lr_find.json`, `summary.json` and the plot), which `anneal runs`,
 * `report` and `diagnose` read as a run. It writes it as a training run writes its own: holding
 * the directory's lock (run_lock.ts), so a process that writes the same directory at the same
 * time is refused, naming the one that holds it, and nothing of the two is mixed.
 *
 * @module
 */
import { parseConfig, type RunConfig, type RunConfigInput } from "../config.ts";
import { checkOptionNames } from "../option_names.ts";
import { lrFindRecord, type LrFindResult, lrFindSvg } from "./lr_find.ts";
import { checkRunId, recordedConfig } from "./records.ts";
import { claimNewRun } from "./new_run.ts";
import { writeFileAtomic } from "./checkpoint.ts";
import { AnnealError } from "../errors.ts";
import { writeErrorAgain } from "../file_errors.ts";
import { formatNumber } from "../number_format.ts";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import denoJson from "../deno.json" with { type: "json" };

/** Options of {@linkcode recordLrFind}. */
export interface RecordLrFindOptions {
  /** The run's id (default: a new one, `<name>-lr-find-<time>-<random>`). */
  runId?: string;
  /** Write the plot into the run directory as `lr_find.svg` (default true). */
  plot?: boolean;
}

/** Where {@linkcode recordLrFind} recorded the test. */
export interface RecordedLrFind {
  /** The run's id. */
  runId: string;
  /** Its directory, `<runsDir>/<runId>`. */
  runDir: string;
}

/**
 * Records an LR range test's `result` on `config` in a new run directory under `config.runsDir`,
 * holding the directory's lock while it writes: another process (or another call in this one)
 * writing the same directory is refused with the error `train` gives, naming its holder, and a
 * `runId` of a run already there (a training run, an earlier range test) is refused, as `train`
 * refuses it: nothing of that run is overwritten.
 *
 * @example
 * ```ts
 * import { recordLrFind } from "./lr_find_run.ts";
 * import type { LrFindResult } from "./lr_find.ts";
 * import { parseConfig } from "../config.ts";
 * const config = parseConfig({ runsDir: await Deno.makeTempDir() });
 * // (a result of lrFind(config), here made up)
 * const result = {
 *   lrs: [1e-3, 1e-2], losses: [2, 1], smoothed: [2, 1.5], suggestions: { steepest: 1e-3 },
 *   suggestion: 1e-3, rule: "steepest",
 * } as LrFindResult;
 * const { runDir } = await recordLrFind(config, result, { runId: "lr-find-demo", plot: false });
 * const summary = JSON.parse(await Deno.readTextFile(`${runDir}/summary.json`));
 * console.assert(summary.stopReason === "LR range test");
 * ```
 */
export async function recordLrFind(
  given: RunConfigInput | RunConfig,
  result: LrFindResult,
  options: RecordLrFindOptions = {},
): Promise<RecordedLrFind> {
  checkOptionNames(options, ["runId", "plot"], "record the LR range test");
  // (as lrFind takes it: a config as written threw a TypeError from inside, after a directory
  // named 'undefined' was made for it)
  const config = parseConfig(given);
  const { runsDir } = config;
  const { runId, lock } = await claimNewRun({
    runId: options.runId === undefined ? undefined : checkRunId(options.runId),
    prefix: config.name ? `${config.name}-lr-find` : "lr-find",
    runsDir,
    what: "LR range test",
  });
  const runDir = `${runsDir}/${runId}`;
  // each file whole or not there (a full disk cut lr_find.json short), summary.json last
  const write = (name: string, text: string) =>
    writeFileAtomic(`${runDir}/${name}`, new TextEncoder().encode(text));
  try {
    await write("config.json", JSON.stringify(recordedConfig(config), null, 2) + "\n");
    await write("lr_find.json", JSON.stringify(lrFindRecord(result)) + "\n");
    await write(
      "summary.json",
      JSON.stringify({
        status: "completed",
        stopReason: "LR range test",
        // (the only time the record holds: anneal runs dates the test by it)
        finishedAt: new Date().toISOString(),
        lrFind: { suggestion: result.suggestion, rule: result.rule },
        // (as a training run's summary records it: anneal runs show and report name it)
        backend: result.backend,
        // (as a training run's meta.json records it: the data it trained on)
        ...(result.fingerprint !== undefined && { fingerprint: result.fingerprint }),
        // (as a training run's meta.json records them: the report names them)
        version: denoJson.version,
        deno: Deno.version.deno,
        tfjs: tf.version_core,
      }) + "\n",
    );
    if (options.plot ?? true) await write("lr_find.svg", await lrFindSvg(result));
  } catch (error) {
    // A record cut short was listed by `anneal runs` as a run still running (no summary.json),
    // and the test's suggestion was lost with it: nothing is kept, and the suggestion is said.
    await Deno.remove(runDir, { recursive: true }).catch(() => {});
    throw unrecorded(error, result, runDir);
  } finally {
    await lock.release();
  }
  return { runId, runDir };
}

/** The error of a range test whose record could not be written (its directory removed). */
function unrecorded(error: unknown, result: LrFindResult, runDir: string): unknown {
  if (!(error instanceof AnnealError)) return error;
  // said again with its directory gone
  const cause = writeErrorAgain(error, "write");
  return new AnnealError(
    cause.code,
    `Cannot record the LR range test in ${runDir}: ${cause.message}; the test suggested lr = ` +
      `${formatNumber(result.suggestion)} (${result.rule})`,
    {
      where: cause.where ?? runDir,
      hint: `${cause.hint ?? "check that the runs directory is writable"}; nothing of the test ` +
        "is kept: take the rate above, or run anneal lr-find again",
      cause: error,
    },
  );
}
