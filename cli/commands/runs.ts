/**
 * `anneal runs`, `anneal diagnose`, `anneal report`: reading run records.
 *
 * @module
 */
import { basename } from "node:path";
import { AnnealError } from "../../errors.ts";
import { checkRunId, RUN_ID_PATTERN } from "../../runtime/records.ts";
import {
  compareRuns,
  diagnose,
  formatDiagnosis,
  formatTable,
  listRuns,
  type PlotName,
  PLOTS,
  plotSvg,
  readRun,
  renderReport,
  terminalCharts,
} from "../../report/mod.ts";
import {
  checkRunsDir,
  configValue,
  countedAs,
  DAMAGED,
  formatRate,
  listRunDirectories,
  provenanceOf,
  RATE_LEGEND,
  runBest,
  type RunComparison,
  type RunRow,
  summaryBest,
} from "../../report/records.ts";
import type { RunRecord } from "../../report/types.ts";
import { formatMetrics, formatNumber, writeFlagFile } from "../output.ts";
import { counted, formatSetting, nonFiniteAsText } from "../../number_format.ts";
import { choiceError } from "../choices.ts";
import { writeQuietly } from "../quiet_write.ts";
import { newestRunsHint } from "../usage_errors.ts";
import { runsDirFlag, shellWord } from "../../shell_word.ts";

/** Where runs live, and how a user names one. */
export interface RunsOptions {
  runsDir: string;
}

/** The runs of `runsDir`, newest first, as `last` reads them (none where it has none). */
async function newestRuns(runsDir: string): Promise<RunRow[]> {
  const rows = await listRuns(runsDir);
  return rows.sort((a, b) => String(b.date).localeCompare(String(a.date)));
}

/**
 * The epochs or steps a run took, as its summary counts them, with how many its records hold
 * where they hold fewer (lines lost to a crash, which a resume said it lacks): `runs show` said
 * the records' count, 341 steps of a run of 400.
 */
function trained(recorded: number, summary: unknown, unit: "epoch" | "step"): string {
  const total = countedAs(recorded, summary);
  return counted(total, unit) +
    (total > recorded ? ` (${recorded} of them in ${unit}s.ndjson)` : "");
}

/** The ids of the newest runs in `runsDir`, newest first (none where it has none). */
export async function newestRunIds(runsDir: string): Promise<string[]> {
  return (await newestRuns(runsDir)).map((row) => row.id);
}

/**
 * Resolves a run id (or `last`) to its directory inside the runs directory, never outside it.
 * `training`: `last` is the newest training run, leaving out LR range tests' records (`anneal
 * lr-find`'s, which `--resume last` took after a test and could not resume, and `diagnose last`
 * and `report last --plot loss` read as a run without curves); `rangeTest`: the newest of those
 * records (`report last --plot lrFind`).
 */
export async function runDirOf(
  id: string,
  options: RunsOptions,
  { training = false, rangeTest = false }: { training?: boolean; rangeTest?: boolean } = {},
): Promise<string> {
  if (id === "last" || id === "latest") {
    const sorted = await newestRuns(options.runsDir);
    let newest: RunRow | undefined = sorted[0];
    if (training || rangeTest) {
      newest = undefined;
      for (const row of sorted) {
        const test = await Deno.stat(`${options.runsDir}/${row.id}/lr_find.json`).then(
          () => true,
          () => false,
        );
        if (test === rangeTest) {
          newest = row;
          break;
        }
      }
    }
    if (!newest && rangeTest && sorted.length > 0) {
      throw new AnnealError(
        "usage",
        `No LR range test's record in '${options.runsDir}' (only training runs)`,
        {
          hint: `run one first: anneal lr-find${
            options.runsDir === "runs" ? "" : ` --set runsDir=${shellWord(options.runsDir)}`
          }`,
        },
      );
    }
    if (!newest) {
      // (a runs directory holding only a sweep's study or a tune's: named, as `anneal runs`
      // names it, where 'train one first' sent the user away from the runs it has)
      const inner = sorted.length > 0 ? [] : await listRunDirectories(options.runsDir);
      const holders = inner.map(({ name, runs, kind }) =>
        `${name}/ holds ${counted(runs, "run")}${
          kind === "sweep" ? " of a sweep's study" : kind === "tune" ? " of a tune" : ""
        }`
      );
      const [first] = inner.map(({ name }) => shellWord(`${options.runsDir}/${name}`));
      throw new AnnealError(
        "usage",
        `No ${training && sorted.length > 0 ? "training " : ""}runs in '${options.runsDir}'` +
          (training && sorted.length > 0 ? " (only LR range tests' records)" : "") +
          (holders.length > 0 ? ` itself; ${holders.join(", ")}` : ""),
        {
          hint: first === undefined
            ? `train one first: anneal train${runsDirFlag(options.runsDir)}`
            : `give that directory as --runs-dir (${id} then reads its newest run): --runs-dir ` +
              `${first}; \`anneal runs --runs-dir ${first}\` lists its runs`,
        },
      );
    }
    return `${options.runsDir}/${newest.id}`;
  }
  await checkRunsDir(options.runsDir);
  return `${options.runsDir}/${await runIdOf(id)}`;
}

/**
 * A run id as given, checked; a run's path (what `anneal train` prints after 'run record:') is
 * refused as any path is, its hint naming the id and the directory to give instead (after `flag`,
 * where the id is a flag's: `--resume`).
 */
export async function runIdOf(id: string, flag?: string): Promise<string> {
  try {
    return checkRunId(id);
  } catch (error) {
    const parts = id.replace(/\/+$/, "").split("/");
    const [name, dir] = [parts.at(-1)!, parts.slice(0, -1).join("/") || "/"];
    const isRun = parts.length > 1 && RUN_ID_PATTERN.test(name) &&
      (await Promise.all(
        ["config.json", "meta.json"].map((file) =>
          Deno.stat(`${id}/${file}`).then(() => true, () => false)
        ),
      )).some(Boolean);
    if (!(error instanceof AnnealError) || !isRun) throw error;
    throw new AnnealError("usage", `'${id}' is the path of a run, not its id`, {
      hint: `give its id and the directory it is in: ${flag ? `${flag} ` : ""}${name} ` +
        `--runs-dir ${shellWord(dir)}`,
    });
  }
}

/**
 * The table `anneal runs` prints: the learning rate each run trains at, marked `(max)` under
 * onecycle or cyclic, whose rates come from its `maxLr` (the peak of its cycle) and not
 * `optimizer.lr`, with a line under the table saying so.
 *
 * @example
 * ```ts
 * import { runsTable } from "./runs.ts";
 * const row = { id: "a", date: "", model: "mlp", optimizer: "sgd", batch: 16, epochs: 1, best: "-" };
 * const table = runsTable([{ ...row, lr: 0.4, lrSetting: "scheduler.maxLr", status: "completed" }]);
 * console.assert(table.includes("0.4 (max)") && table.includes("maxLr, the peak of its cycle"));
 * ```
 */
export function runsTable(rows: RunRow[]): string {
  const columns = ["id", "date", "model", "optimizer", "lr", "batch", "epochs", "best", "status"];
  const marked = rows.some((row) => row.lrSetting && row.lr !== undefined);
  const cells = rows.map((row) => ({
    ...row,
    lr: marked && row.lr !== undefined ? formatRate(row.lr, row.lrSetting) : row.lr,
  }));
  const table = formatTable(cells as unknown as Record<string, unknown>[], columns);
  return marked ? `${table}\n${RATE_LEGEND}` : table;
}

/** `anneal runs`: a table of runs, oldest first (the newest last, by the prompt). */
export async function runsListCommand(options: RunsOptions & { json?: boolean }): Promise<number> {
  const rows = await listRuns(options.runsDir);
  if (options.json) {
    console.log(JSON.stringify(rows, nonFiniteAsText));
    return 0;
  }
  // directories of runs in it (a sweep's study, a tune's): their runs are listed from there
  const inner = await listRunDirectories(options.runsDir);
  if (rows.length === 0) {
    // (a missing directory holds no runs: a --runs-dir mistyped, or one not trained in yet)
    const missing = !await Deno.stat(options.runsDir).then(() => true, () => false);
    const train = `train one: anneal train${runsDirFlag(options.runsDir)}`;
    console.log(
      missing
        ? `no runs in ${options.runsDir}: it does not exist (${train}; or check --runs-dir)`
        : `no runs in ${options.runsDir}${inner.length ? "" : ` (${train})`}`,
    );
  } else {
    console.log(runsTable(rows));
    // a crashed run's way on, or why a running one could not be checked, below the table
    for (const row of rows) if (row.note) console.log(`${row.id} ${row.status}: ${row.note}`);
  }
  for (const { name, runs, kind } of inner) {
    const whose = kind === "sweep" ? " of a sweep's study" : kind === "tune" ? " of a tune" : "";
    console.log(
      `${name}/: ${runs} run${runs === 1 ? "" : "s"}${whose}, listed by: anneal runs ` +
        `--runs-dir ${shellWord(`${options.runsDir}/${name}`)}`,
    );
  }
  return 0;
}

/**
 * The best epoch `anneal runs show` names, as the table of `anneal runs` gives it (see
 * `runBest`; its value in the table's digits): with its metric and value, and `so far` for a run
 * that has not ended (running) or ended before recording its best (killed, interrupted); a run
 * that ended without a best epoch (its watched value never finite) says so.
 *
 * @example
 * ```ts
 * import { bestText } from "./runs.ts";
 * const epochs = [{ epoch: 0, loss: 2 }, { epoch: 1, loss: 1.5 }];
 * const text = bestText({ config: {}, epochs, summary: { status: "running" } });
 * console.assert(text === "best loss 1.5 at epoch 1, so far");
 * ```
 */
export function bestText(record: Pick<RunRecord, "config" | "epochs" | "summary">): string {
  const best = runBest(record);
  const kept = record.summary.bestEpoch;
  if (!best && typeof kept === "number") {
    // (its summary keeps the best epoch and value; epochs.ndjson, which held its metrics, lost
    // them: it said "no epoch ended" of a run of 3)
    const summary = summaryBest(record.summary);
    return summary
      ? `best ${summary.metric} ${formatNumber(summary.value)} at epoch ${kept} ` +
        "(as its summary keeps it)"
      : `best epoch ${kept} (its metrics not in epochs.ndjson)`;
  }
  if (!best) {
    return record.epochs.length === 0
      ? "no best epoch (no epoch ended)"
      : "no best epoch (no epoch recorded a finite metric)";
  }
  const open = ["running", "crashed", "interrupted"].includes(record.summary.status);
  // (a run that ended without a best epoch watched a value no epoch had finite: the best of
  // another metric stands in, which "so far" said of a run still going)
  const monitor = configValue(record.config, "earlyStopping.monitor");
  const sofar = typeof record.summary.bestEpoch === "number"
    ? ""
    : open
    ? ", so far"
    : typeof monitor === "string" && monitor !== best.metric
    ? ` (the run kept no best epoch: no epoch's ${monitor} was finite)`
    : " (the run kept no best epoch)";
  return `best ${best.metric} ${formatNumber(best.value)} at epoch ${best.epoch}${sofar}`;
}

/**
 * Where a run ran, as `anneal runs show` names it (`provenanceOf`, as the HTML report does): its
 * backend, its seed and its data's fingerprint, `not recorded` for what its record does not hold.
 *
 * @example
 * ```ts
 * import { provenance } from "./runs.ts";
 * const text = provenance({ meta: { id: "a" }, config: { seed: 7 }, summary: { status: "completed", backend: "cpu" } });
 * console.assert(text === "backend cpu, seed 7, dataset not recorded");
 * ```
 */
export function provenance(record: Pick<RunRecord, "meta" | "config" | "summary">): string {
  const { backend, seed, dataset } = provenanceOf(record);
  return `backend ${backend}, seed ${seed}, dataset ${dataset}`;
}

/** `anneal runs show ID`: config, summary, diagnosis and charts of one run. */
export async function runsShowCommand(
  id: string,
  options: RunsOptions & { json?: boolean },
): Promise<number> {
  const record = await readRun(await runDirOf(id, options));
  if (options.json) {
    console.log(JSON.stringify({ ...record, diagnosis: diagnose(record) }, nonFiniteAsText));
    return 0;
  }
  const s = record.summary;
  console.log(`run ${record.id}: ${s.status}${s.stopReason ? ` (${s.stopReason})` : ""}`);
  if (DAMAGED.has(s.status) && s.hint) console.log(`  hint: ${s.hint}`);
  console.log(`  ${provenance(record)}`);
  console.log(
    record.lrFind && record.epochs.length === 0 && record.steps.length === 0
      ? `  an LR range test of ${counted(record.lrFind.lrs.length, "step")} (no training epochs)`
      : `  ${trained(record.epochs.length, s.epochs, "epoch")}, ${
        trained(record.steps.length, s.steps, "step")
      }; ${bestText(record)}`,
  );
  if (s.test) console.log(`  test: ${formatMetrics(s.test)}`);
  // (meta.json read loosely: a record of another anneal may hold anything there)
  const given = Array.isArray(record.meta.warnings) ? record.meta.warnings : [];
  for (const { actor, message, hint, noLongerApplies: lapsed } of given) {
    console.log(
      `  warning at its start (${actor}): ${message}${hint ? `\n    hint: ${hint}` : ""}`,
    );
    // one a later start did not give again: its cause is gone (runtime/start_warnings.ts)
    if (lapsed && typeof lapsed === "object") {
      console.log(
        `    no longer applies: not given by its resume at step ${lapsed.step} (${lapsed.resumedAt})`,
      );
    }
  }
  for (const warning of record.warnings) console.log(`  note: ${warning}`);
  console.log(formatDiagnosis(diagnose(record)));
  // (in colour on a terminal, unless NO_COLOR: train and validation drawn alike were one curve)
  if (Deno.stdout.isTerminal()) console.log(terminalCharts(record, { colors: !Deno.noColor }));
  return 0;
}

/** `anneal runs compare A B ...`: the hyperparameters that differ, and the metrics side by side. */
export async function runsCompareCommand(
  ids: string[],
  options: RunsOptions & { json?: boolean },
): Promise<number> {
  if (ids.length < 2) {
    // (as a missing <runs> is said, cli/usage_errors.ts: the newest runs to compare it with)
    const others = (await newestRunIds(options.runsDir).catch(() => [])).filter((id) =>
      id !== ids[0]
    );
    const flag = runsDirFlag(options.runsDir);
    throw new AnnealError(
      "usage",
      `anneal runs compare needs two or more runs, and was given one: '${ids[0]}'`,
      {
        hint: others.length === 0
          ? `give another: anneal runs compare ${shellWord(ids[0])} RUN_B${flag}`
          : newestRunsHint(
            `anneal runs compare ${shellWord(ids[0])} ${shellWord(others[0])}`,
            options.runsDir,
            others,
          ),
      },
    );
  }
  // (read at once; a failure is the first run in the order given that cannot be read, not the
  // first to fail)
  const dirs = await Promise.allSettled(ids.map((id) => runDirOf(id, options)));
  const unknown = dirs.find((dir) => dir.status === "rejected");
  if (unknown) throw unknown.reason;
  const found = dirs.map((dir) => (dir as PromiseFulfilledResult<string>).value);
  // (each run is a column named by its id: a run given twice would be one column; `last` is the
  // newest run's id, given twice as `last` and that id)
  const again = found.findIndex((dir, i) => found.indexOf(dir) !== i);
  if (again >= 0) {
    const first = ids[found.indexOf(found[again])];
    const as = ids[again] === first ? "" : ` (as '${first}' and '${ids[again]}')`;
    throw new AnnealError(
      "usage",
      `compare names run '${basename(found[again])}' more than once${as}`,
      {
        where: ids[again],
        hint: "give each run once: anneal runs compare RUN_A RUN_B",
      },
    );
  }
  const reads = await Promise.allSettled(found.map((dir) => readRun(dir)));
  const failed = reads.find((read) => read.status === "rejected");
  if (failed) throw failed.reason;
  const records = reads.flatMap((read) => read.status === "fulfilled" ? [read.value] : []);
  const comparison = compareRuns(records);
  if (options.json) {
    console.log(JSON.stringify(comparison, nonFiniteAsText));
    return 0;
  }
  console.log(compareTable(comparison));
  return 0;
}

/**
 * The table `anneal runs compare` prints: how each run ended (its status and the epochs it
 * recorded, `epochs run`), the config fields that differ (`epochs`, the planned ones, among them), then the metrics. Where a
 * run trains under onecycle, whose rates come from its `maxLr` and not `optimizer.lr`, and the
 * rates differ (or `optimizer.lr` does), an `lr` row first says the rate each run trains at, marked
 * `(max)` as in `anneal runs`, and a onecycle run's `optimizer.lr` is marked `(unused)`.
 *
 * @example
 * ```ts
 * import { compareTable } from "./runs.ts";
 * const table = compareTable({
 *   ids: ["a", "b"],
 *   differences: [{ path: "optimizer.lr", values: [0.1, 0.01] }],
 *   metrics: [],
 *   lr: { values: [0.4, 0.01], settings: ["scheduler.maxLr", "optimizer.lr"] },
 *   status: ["completed", "diverged"],
 *   epochs: [10, 3],
 * });
 * console.assert(table.includes("0.4 (max)") && table.includes("0.1 (unused)"));
 * const rates = compareTable({
 *   ids: ["a", "b"],
 *   differences: [{ path: "optimizer.lr", values: [0.00020461952206579163, 0.003] }],
 *   metrics: [],
 *   lr: { values: [0.00020461952206579163, 0.003], settings: ["optimizer.lr", "optimizer.lr"] },
 *   status: ["completed", "completed"],
 *   epochs: [10, 10],
 * });
 * console.assert(rates.includes("2.046e-4") && !rates.includes("0.000204619"));
 * ```
 */
export function compareTable(comparison: RunComparison): string {
  const { ids, differences, metrics, lr, status, epochs } = comparison;
  const oneCycle = lr.settings.map((setting) => setting !== "optimizer.lr");
  const same = (values: unknown[]) => new Set(values.map((v) => JSON.stringify(v))).size <= 1;
  const lrDiffers = differences.some((d) => d.path === "optimizer.lr");
  const showRate = oneCycle.some(Boolean) &&
    (lrDiffers || !same(lr.values) || !same(oneCycle));
  const json = (value: unknown) => JSON.stringify(value) ?? "-";
  const rows = [
    // how each ended first: a diverged or killed run's metrics are not a completed one's
    ["status", ...status],
    // (not "epochs": the config's, where it differs, is a row of its own below)
    ["epochs run", ...epochs.map(String)],
    ...(showRate
      ? [[
        "lr",
        ...lr.values.map((v, i) => formatRate(v, oneCycle[i] ? lr.settings[i] : undefined)),
      ]]
      : []),
    ...differences.map((d) => {
      // numbers as anneal prints any (a rate of 0.00020461952206579163 as 2.046e-4), unless two
      // values differ beyond those digits: then as written, or the row would show them alike
      // (whole numbers exactly: a seed of 1234567 read 1.235e+6, a maxSteps of 250000 2.5e+5)
      const shown = d.values.map((v) => typeof v === "number" ? formatSetting(v) : json(v));
      const alike = new Set(shown).size < new Set(d.values.map(json)).size;
      return [
        d.path,
        ...d.values.map((v, i) => {
          const text = alike ? json(v) : shown[i];
          return d.path === "optimizer.lr" && oneCycle[i] && v !== undefined
            ? `${text} (unused)`
            : text;
        }),
      ];
    }),
    ...metrics.map((m) => [
      m.name,
      ...m.values.map((value) => formatNumber(value)),
    ]),
  ];
  const header = ["field", ...ids];
  const lines = [
    formatTable(rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])))),
  ];
  if (showRate) lines.push(RATE_LEGEND);
  if (showRate && lrDiffers) {
    lines.push("optimizer.lr (unused): a onecycle or cyclic run's rates ignore it");
  }
  if (differences.length === 0) lines.push("(the configs are identical)");
  return lines.join("\n");
}

/** `anneal diagnose RUN`: what the curves say, with evidence and a fix. */
export async function diagnoseCommand(
  id: string,
  options: RunsOptions & { json?: boolean },
): Promise<number> {
  // (`last`: the newest training run; an LR range test's record has no curves to read)
  const record = await readRun(await runDirOf(id, options, { training: true }));
  const diagnosis = diagnose(record);
  if (!options.json) {
    // the curves of a run killed without warning stop where it died, and how a run with a
    // corrupt or unreadable summary ended is unknown: say so first
    const { status, stopReason, hint } = record.summary;
    if (DAMAGED.has(status)) {
      console.log(`run ${record.id} ${status}: ${stopReason}\n  hint: ${hint}`);
    }
    // what reading the record found: an unchecked process, lines of its curves left out
    for (const warning of record.warnings) console.log(`note: ${warning}`);
  }
  console.log(
    options.json
      ? JSON.stringify({ ...diagnosis, notes: record.warnings })
      : formatDiagnosis(diagnosis),
  );
  return 0;
}

/**
 * The error for `--plot lrFind` on a run without a range test: `anneal lr-find` records its test
 * in a run directory of its own, so the fix is to report that run; the newest one is named.
 */
async function noLrFindError(id: string, runsDir: string): Promise<AnnealError> {
  const newestFirst = [...await listRuns(runsDir)].reverse();
  let test: string | undefined;
  for (const row of newestFirst) {
    const found = await Deno.stat(`${runsDir}/${row.id}/lr_find.json`).catch(() => undefined);
    if (found) {
      test = row.id;
      break;
    }
  }
  const where = runsDirFlag(runsDir);
  return new AnnealError(
    "usage",
    `Cannot plot 'lrFind' for run '${id}': it holds no LR range test (anneal lr-find records its test in a run directory of its own)`,
    {
      where: `${runsDir}/${id}`,
      hint: test
        ? `report the newest range test's run: anneal report ${test} --plot lrFind${where}`
        : `run the test (anneal lr-find -c CONFIG${
          // (lr-find records in its config's runsDir: runs/ unless set)
          runsDir === "runs"
            ? ""
            : ` --set runsDir=${
              shellWord(runsDir)
            }`}), then report the run it names after 'record in': anneal report <its id> --plot lrFind${where}`,
    },
  );
}

/** `anneal report RUN [--out FILE] [--plot NAME]`: a self-contained HTML page, or one SVG plot. */
export async function reportCommand(
  id: string,
  options: RunsOptions & { out?: string; plot?: string },
): Promise<number> {
  // (a plot's name is checked before the run is looked for: it is wrong whichever run is named)
  if (options.plot !== undefined && !(PLOTS as readonly string[]).includes(options.plot)) {
    throw choiceError("--plot", options.plot, PLOTS, (plot) => `--plot ${plot}`);
  }
  // (`last`: the newest training run, or with --plot lrFind the newest range test's record)
  const dir = await runDirOf(
    id,
    options,
    options.plot === "lrFind" ? { rangeTest: true } : { training: true },
  );
  const record = await readRun(dir);
  const svg = options.plot !== undefined;
  if (options.plot === "lrFind" && !record.lrFind?.lrs.length) {
    throw await noLrFindError(record.id, options.runsDir);
  }
  // (the file's name says one thing, --plot another: written as asked, and said)
  const named = options.out?.toLowerCase().match(/\.(svg|html?)$/)?.[1];
  if (named && (named === "svg") !== svg) {
    console.error(
      svg
        ? `note: ${options.out} holds the SVG plot --plot ${options.plot} asks for, not HTML ` +
          "(name it .svg; without --plot, the HTML report)"
        : `note: ${options.out} holds the HTML report, not an SVG (name it .html; one plot as ` +
          "SVG: --plot NAME)",
    );
  }
  const content = svg
    ? await plotSvg(record, options.plot as PlotName)
    : await renderReport(record);
  if (options.out === "-") {
    // (to stdout, as `-` means for most commands' output files: it made a file named '-'); a
    // reader that goes (| head) ends it quietly, as every command's output
    writeQuietly(Deno.stdout, content);
    return 0;
  }
  const out = options.out ?? (svg ? `${dir}/${options.plot}.svg` : `${dir}/report.html`);
  await writeFlagFile(options.out && "--out", out, content, "--out");
  console.log(
    svg
      ? `plot written to ${out}`
      : `report written to ${out} (open it in a browser; it works offline)`,
  );
  return 0;
}
