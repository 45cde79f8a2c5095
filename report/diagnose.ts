/**
 * Reads a run's curves the way a practitioner would and names what went wrong, with the evidence
 * (epochs, values) and one concrete next step as `--set path=value` computed from the run's own
 * config. The classes follow the usual symptom tables: diverged, LR too low, early plateau,
 * oscillation, overfitting, underfitting, gradient spikes — or healthy, only when none applies.
 * They read a falling loss: a run that maximizes its loss (torch's `maximize`) is judged only on
 * a loss that stopped being finite and on gradient spikes, and says so (`maximizing`).
 *
 * @module
 */
import {
  checkAtLabelPrior,
  checkAtTargetMean,
  checkDiverged,
  checkLrTooLow,
  checkOscillating,
  checkPlateau,
  checkWarmupOutlasted,
  checkWorseThanMean,
  curves,
  f,
  largeTargetsHold,
  longerRun,
  LOW_LR_DROP,
  MIN_EPOCHS_FOR_OSCILLATION,
  MIN_EPOCHS_FOR_TRENDS,
  MIN_FLAT_MOVES,
  OVERFIT_RISE,
  setText,
  STEADY_EPOCHS,
  STILL_FALLING,
  stillFalling,
  UNDERFIT_ACCURACY,
  unfinished,
} from "./checks.ts";
import { configValue } from "./records.ts";
import { counted } from "../number_format.ts";
import { runsDirFlagOf, shellWord } from "../shell_word.ts";
import {
  adaptiveOptimizer,
  checkGradientSpikes,
  checkHeavyDecay,
  checkHeavyDropout,
  checkNoValidationGain,
  checkOverfitting,
  checkValidationAtBaseline,
  CLIP_TOO_TIGHT,
  dropoutNoise,
} from "./checks_generalization.ts";
import { checkBlowUp } from "./check_blow_up.ts";
import type { Diagnosis, Finding, FindingKind, RunRecord } from "./types.ts";
import { AnnealError } from "../errors.ts";
import { checkRunRecord } from "./record_check.ts";

export type { Diagnosis, Finding, FindingKind } from "./types.ts";

const ORDER = { critical: 0, warning: 1, info: 2 };

/**
 * The findings read off the curves' trend, which the rest of a run not ended may change (a
 * divergence or a gradient spike happened, whatever comes after).
 */
const TRENDS: ReadonlySet<FindingKind> = new Set([
  "lrTooLow",
  "plateauEarly",
  "oscillating",
  "overfitting",
  "underfitting",
]);

/** The early stopper's reason where it ended the run (patience ran out); undefined otherwise. */
function earlyStop(record: RunRecord): string | undefined {
  const { status, stopReason } = record.summary;
  return status === "stopped" && stopReason?.startsWith("early stopping:") ? stopReason : undefined;
}

/**
 * What the record of an LR range test (`anneal lr-find`, which records in a run directory of its
 * own) is, where it has no training curves to read: its steps and suggestion; undefined for
 * another record.
 */
function rangeTest(record: RunRecord): string | undefined {
  if (!record.lrFind) return undefined;
  const recorded = record.summary.lrFind as { suggestion?: unknown; rule?: unknown } | undefined;
  const suggestion = typeof recorded?.suggestion === "number"
    ? `: it suggested lr ${f(recorded.suggestion)}${
      typeof recorded.rule === "string" ? ` (${recorded.rule})` : ""
    }`
    : "";
  // (as `anneal lr-find` printed it: a suggestion the curve did not pin down is not quoted bare)
  const agreement = record.lrFind.agreement;
  const reasons = Array.isArray(agreement?.reasons)
    ? agreement.reasons.filter((reason) => typeof reason === "string")
    : [];
  const unreliable = suggestion && agreement?.verdict === "unreliable"
    ? `, which it called unreliable${reasons.length ? ` (${reasons.join("; ")})` : ""}`
    : "";
  return `an LR range test of ${counted(record.lrFind.lrs.length, "step")}, not a training run` +
    `${suggestion}${unreliable}; its loss against the rate: anneal report ${record.id} ` +
    `--plot lrFind${runsDirFlagOf(record.dir)}`;
}

/** The early stopping patience suggested where one of 0 or 1 stopped a run still improving. */
const PATIENT = 3;

function healthy(c: ReturnType<typeof curves>): Finding {
  const { record, train, val, start } = c;
  const last = train.at(-1)!;
  const previous = train.at(-2)!;
  const { falling, steady, lastDrop } = stillFalling(train);
  const since = train.at(-STEADY_EPOCHS - 1)!;
  // (a loss that ended above its start "fell ... (--4.908%)")
  const change = (last - start) / Math.abs(start) * 100;
  let evidence =
    `training loss ${last > start ? "rose" : "fell"} from ${f(start)} at epoch ${
      record.epochs[0].epoch
    } to ${f(last)} at epoch ${record.epochs.at(-1)!.epoch} (${change > 0 ? "+" : "-"}${
      f(Math.abs(change))
    }%) over ${counted(train.length, "epoch")}, ` +
    (steady
      ? `and was still falling at the end, steadily (${f(since)} to ${f(last)} over the last ` +
        `${STEADY_EPOCHS} epochs, each lower, at ${
          f((since - last) / STEADY_EPOCHS / ((start - last) / (train.length - 1)) * 100)
        }% of the run's mean drop an epoch)`
      : falling
      ? `and was still falling at the end (${f(previous)} to ${f(last)} in the last epoch, ` +
        `-${f(lastDrop * 100)}%)`
      : -lastDrop > STILL_FALLING
      // (up by more than a still-falling epoch is down: "levelled off (+7.586% in the last
      // epoch)" said a rise was a level)
      ? `and rose in the last epoch (${f(previous)} to ${f(last)}, +${f(-lastDrop * 100)}%)`
      : `and levelled off (${lastDrop > 0 ? "-" : "+"}${
        f(Math.abs(lastDrop) * 100)
      }% in the last epoch)`);
  if (val) {
    const m = val.indexOf(Math.min(...val));
    // (up in its last epoch, before the overfitting check reads a turn: not "tracking" it; nor
    // one whose first epoch was its lowest, while the training loss fell)
    const up = val.at(-1)! - val[m] > OVERFIT_RISE * Math.abs(val[m]);
    const never = m === 0 && val.length > 1 && val.at(-1)! > val[0] && last < start;
    evidence += never
      ? `; validation loss ${f(val.at(-1))} never went below its first epoch's, ${f(val[0])}`
      : `; validation loss ${f(val.at(-1))} ${up ? "rose from" : "tracks it (lowest"} ${
        f(val[m])
      } at epoch ${record.epochs[m].epoch}${up ? "" : ")"}`;
  }
  const cut = unfinished(record);
  if (cut) {
    // the run has epochs of its own still to train: not a reason to ask for more
    return {
      kind: "healthy",
      severity: "info",
      title: falling ? "healthy so far, still improving" : "healthy so far",
      evidence,
      fix: cut.fix,
    };
  }
  const stoppedEarly = earlyStop(record);
  const patience = configValue(record.config, "earlyStopping.patience");
  // a patience of 0 or 1 stopped at the first epoch its metric did not improve (one sample of
  // 200 in an accuracy), with the validation loss at its lowest in the last epoch: the patience,
  // not the model, ended it ("more epochs would stop the same way ... regularise"; a patience
  // of 3 trained the 10 epochs and took test accuracy from 0.70 to 0.79)
  if (
    stoppedEarly && typeof patience === "number" && patience <= 1 && val &&
    val.indexOf(Math.min(...val)) === val.length - 1
  ) {
    const set = [`earlyStopping.patience=${PATIENT}`];
    return {
      kind: "healthy",
      severity: "info",
      title: `healthy, stopped early by a patience of ${patience} while it still improved`,
      evidence: `${evidence}; ${stoppedEarly}`,
      fix: `a patience of ${patience} stops at the first epoch its metric does not improve, ` +
        "noise included, and the validation loss was still at its lowest in the last epoch: give " +
        `it more (${setText(set)})`,
      set,
    };
  }
  if (stoppedEarly) {
    // more epochs would stop the same way: the early stopper's metric, not the run's length,
    // ended it
    return {
      kind: "healthy",
      severity: "info",
      title: falling ? "healthy, stopped early while the training loss still fell" : "healthy",
      evidence: `${evidence}; ${stoppedEarly}`,
      fix: falling && configValue(record.config, "earlyStopping.monitor") === "loss"
        // it watched the training loss itself, which still fell: by less than minDelta, or
        // not for patience epochs; regularising would not make it fall faster
        ? "the training loss it watched still fell, by less than earlyStopping.minDelta " +
          `(${f(Number(configValue(record.config, "earlyStopping.minDelta") ?? 0))}) an epoch ` +
          "or not within earlyStopping.patience: lower the minDelta or give it more patience " +
          "to go further, or watch the validation loss (earlyStopping.monitor=valLoss)"
        : falling
        ? "more epochs would stop the same way: the watched metric stopped improving while the " +
          "training loss still fell; to go further, regularise (model.dropout, " +
          "optimizer.weightDecay) so that it improves with the training loss, or, where it is " +
          "noisy, give it more earlyStopping.patience"
        : "nothing to fix; to go further, compare a few learning rates (anneal lr-find)",
    };
  }
  if (falling) {
    const epochs = configValue(record.config, "epochs");
    // a budget (maxSteps, maxWallTimeSeconds) that ended the run before its epochs: more epochs
    // would stop at it again, a larger one trains longer
    const budget = record.summary.status === "stopped"
      ? record.summary.stopReason?.match(/^budget: reached (maxSteps|maxWallTimeSeconds) = (\S+)/)
      : undefined;
    const spent = budget ? Number(budget[2]) : NaN;
    const set = budget && spent > 0 && typeof epochs === "number" && epochs > train.length
      ? [`${budget[1]}=${2 * spent}`]
      : longerRun(record.config, 2 * (typeof epochs === "number" ? epochs : train.length));
    // a loss still falling at a training accuracy far from fitting: longer first, and the
    // model's size named in case it stays low (a 2-unit MLP on Fashion-MNIST: 0.30, falling)
    const accuracy = record.epochs.at(-1)!.accuracy;
    const low = accuracy !== undefined && accuracy < UNDERFIT_ACCURACY
      ? `; training accuracy is only ${f(accuracy)}: if it stays low, the model may be too ` +
        "small to fit the data (a larger model.hidden or model.filters)"
      : "";
    return {
      kind: "healthy",
      severity: "info",
      title: "healthy, still improving",
      evidence,
      fix: `train longer: the loss had not levelled off (${setText(set)})${low}`,
      set,
    };
  }
  return {
    kind: "healthy",
    severity: "info",
    title: "healthy",
    evidence,
    fix:
      "nothing to fix; to go further, compare a few learning rates (anneal lr-find) or train longer",
  };
}

/**
 * A training loss that ended above where it started, never LOW_LR_DROP below it: the run made no
 * progress, whatever its epochs did between. Undefined otherwise.
 */
function noProgress({ record, train, start }: ReturnType<typeof curves>): Finding | undefined {
  const last = train.at(-1)!;
  const min = Math.min(...train);
  if (!(start > 0) || !(last > start) || !(min > (1 - LOW_LR_DROP) * start)) return undefined;
  return {
    kind: "plateauEarly",
    severity: "warning",
    title: "no progress: the training loss ended above where it started",
    evidence:
      `the training loss went from ${f(start)} at epoch ${record.epochs[0].epoch} to ${
        f(last)
      } at epoch ${record.epochs.at(-1)!.epoch} (+${f((last - start) / start * 100)}%), never ` +
      `lower than ${f(min)}, ${f((1 - min / start) * 100)}% under its start`,
    fix: "compare a few learning rates (anneal lr-find): one too high jitters at a level, one " +
      "too low barely moves the loss; and check what holds the model (optimizer.weightDecay, " +
      "model.dropout, clipping.maxNorm)",
    set: [],
  };
}

/** What the curves of a run that maximizes its loss show: where the loss went, nothing judged. */
function maximizing({ record, train, start }: ReturnType<typeof curves>): Finding {
  const last = train.at(-1);
  const change = last === undefined ? NaN : (last - start) / Math.abs(start) * 100;
  const went = last === undefined
    ? "no epoch was recorded"
    : `the training loss went from ${f(start)} at epoch ${record.epochs[0].epoch} to ${f(last)}${
      Number.isFinite(change) ? ` (${change >= 0 ? "+" : "-"}${f(Math.abs(change))}%)` : ""
    } over ${counted(train.length, "epoch")}`;
  return {
    kind: "maximizing",
    severity: "info",
    title: "maximizing the loss: the checks of a falling loss do not apply",
    evidence: `optimizer.maximize is on, so the loss is meant to rise: ${went}`,
    fix: "nothing read from the curves: a learning rate too low, a plateau, oscillation, " +
      "overfitting and a healthy run are all read off a falling loss; to pick a learning rate, " +
      "compare a few in a short sweep (anneal sweep)",
  };
}

/**
 * Diagnoses a run from its epoch and step curves.
 *
 * @example
 * ```ts
 * import { diagnose } from "./diagnose.ts";
 * const losses = [1, 3, 40, NaN];
 * const d = diagnose({
 *   id: "x", dir: "x", meta: { id: "x" }, steps: [], warnings: [],
 *   summary: { status: "diverged" }, config: { optimizer: { name: "sgd", lr: 0.5 } },
 *   epochs: losses.map((loss, epoch) => ({ epoch, loss })),
 * });
 * console.assert(d.findings[0].kind === "diverged" && d.findings[0].set?.[0] === "optimizer.lr=0.05");
 * ```
 */
export function diagnose(record: RunRecord): Diagnosis {
  checkRunRecord(record, "diagnose the run");
  const diagnosis = diagnoseCurves(countedEpochs(record));
  for (const finding of diagnosis.findings) {
    const resume = finding.set && continuation(record, finding.set);
    if (resume) finding.resume = resume;
  }
  const cut = unfinished(record);
  // the curves of a run that has not ended stop short of the run its config plans: say so
  return cut ? { ...diagnosis, verdict: `${diagnosis.verdict} (${cut.note})` } : diagnosis;
}

/**
 * The record without its epochs whose training loss is no number while every recorded step's is
 * finite: on WebGPU a rollback, acting windows after the step it judged, undid all their steps
 * (the epoch event's `allUndone`), so their training metrics measure nothing. Read as curves,
 * they were a NaN loss the run never had ("fell from 2 to NaN"). A step's own NaN keeps them.
 */
function countedEpochs(record: RunRecord): RunRecord {
  if (record.steps.length === 0 || record.steps.some((s) => !Number.isFinite(s.loss))) {
    return record;
  }
  const epochs = record.epochs.filter((e) => Number.isFinite(e.loss));
  return epochs.length === record.epochs.length ? record : { ...record, epochs };
}

/**
 * The command that goes on from the run's last checkpoint where the `--set`s `set` only train it
 * longer: more epochs of a completed run (`longerRun` then stretched no schedule: its rates past
 * the old end are those a run set longer from the start takes), a larger step budget of a run
 * that budget stopped, or another wall-time budget (one of each process). Undefined otherwise.
 */
function continuation(record: RunRecord, set: string[]): string | undefined {
  const [path, value] = set.length === 1 ? set[0].split("=") : [];
  const { status, stopReason } = record.summary;
  const resume = `anneal train --resume ${shellWord(record.id)}${runsDirFlagOf(record.dir)}`;
  if (path === "epochs" && status === "completed") return `${resume} --epochs ${value}`;
  const budget = status === "stopped" ? stopReason?.match(/^budget: reached (\w+) = /)?.[1] : "";
  if (path === "maxSteps" && budget === path) return `${resume} --max-steps ${value}`;
  if (path === "maxWallTimeSeconds" && budget === path) return resume;
  return undefined;
}

function diagnoseCurves(record: RunRecord): Diagnosis {
  if (record.epochs.length === 0 && record.steps.length === 0) {
    const test = rangeTest(record);
    if (test) return { verdict: test, findings: [] };
    return { verdict: "no data: the run recorded no steps or epochs", findings: [] };
  }
  // (a config.json lost or unreadable: no command may name it, readRun notes why)
  const config = Object.keys(record.config ?? {}).length > 0
    ? `${record.dir}/config.json`
    : undefined;
  const c = curves(record);
  const diverged = checkDiverged(c);
  if (diverged) return { verdict: diverged.title, findings: [diverged], config };
  const findings: Finding[] = [];
  const spikes = checkGradientSpikes(c);
  if (c.maximize) {
    const ascent = maximizing(c);
    return {
      verdict: spikes ? `${spikes.title}; ${ascent.title}` : ascent.title,
      findings: spikes ? [spikes, ascent] : [ascent],
      config,
    };
  }
  const blewUp = checkBlowUp(c);
  if (blewUp) findings.push(blewUp);
  if (c.train.length < MIN_EPOCHS_FOR_TRENDS) {
    if (spikes) findings.push(spikes);
    const short =
      `too short to judge the curves (${counted(c.train.length, "epoch")}; trends need ` +
      `${MIN_EPOCHS_FOR_TRENDS})`;
    const titles = findings.map((finding) => finding.title);
    return { verdict: [...titles, short].join("; "), findings, config };
  }
  // at the labels' entropy, or the targets' variance: no rate or schedule moves it (the checks
  // of a plateau would say so)
  const atBaseline = checkAtLabelPrior(c) ?? checkAtTargetMean(c);
  // what holds the loss other than the rate (the checks of the rate and the schedule would blame
  // those): weight decay or dropout far past their usual range, a clip that binds every step of
  // sgd (an adaptive optimizer's steps it changes little)
  const held = [checkHeavyDecay(c), checkHeavyDropout(c)].filter((x) => x !== undefined);
  // (the gradient check's finding says the clip binds: no second reading of the norms)
  const clipHolds = spikes?.title === CLIP_TOO_TIGHT && !adaptiveOptimizer(c.record);
  // what the model learns does not carry to validation at all (random labels): no rate or
  // schedule is the fix
  const noTransfer = atBaseline ? undefined : checkValidationAtBaseline(c);
  // (nor a run whose steps blew up early: its slow fall after is the overshoot's recovery, or a
  // schedule's decay from it; onecycle at a maxLr 100x too high was told both to lower its peak
  // and to raise it 10x, which diverged)
  // (nor one whose targets in the millions hold it: a rate 10x higher diverged there)
  const lrTooLow =
    atBaseline || noTransfer || held.length > 0 || clipHolds || blewUp || largeTargetsHold(c)
      ? undefined
      : checkLrTooLow(c);
  // (weight decay or dropout that holds the model at its baseline is the cause to name: the
  // baseline's fix, capacity, was the wrong one there)
  if (atBaseline && held.length > 0) held[0].evidence += `; ${atBaseline.title}`;
  else if (atBaseline) findings.push(atBaseline);
  findings.push(...held);
  if (lrTooLow) findings.push(lrTooLow);
  else if (!atBaseline) {
    // a regression worse than its targets' mean, a classifier worse than its labels'
    // frequencies: its scale or its rate, not a schedule's decay
    const worse = checkWorseThanMean(c);
    if (worse) findings.push(worse);
    // a loss that never got clearly below its start and ended above it made no progress: not
    // "healthy", nor a plateau of its "drop" (a jitter at a level the checks of a rate too low
    // leave alone)
    const stalled = held.length > 0 || clipHolds || noTransfer || worse ? undefined : noProgress(c);
    if (stalled) findings.push(stalled);
    const rateChecks = held.length > 0 || clipHolds || noTransfer || stalled
      ? []
      : worse
      ? [checkOscillating]
      : [checkPlateau, checkOscillating];
    for (const check of rateChecks) {
      const finding = check(c);
      // (a zig-zag that heavy dropout makes: its masks, not the rate)
      if (finding) {
        findings.push(
          finding.kind === "oscillating" ? dropoutNoise(c, finding) ?? finding : finding,
        );
      }
    }
    // (nothing carried to validation: more than a turn to stop at)
    // (a validation loss that ended no lower than it began, below the turn overfitting reads:
    // not "healthy, tracks it", nor a run to train longer)
    const generalization = noTransfer ?? checkOverfitting(c) ?? checkNoValidationGain(c);
    if (generalization) findings.push(generalization);
  }
  if (spikes) findings.push(spikes);
  if (findings.length === 0) {
    // the warmup outlasted the run: the rate never got to optimizer.lr, and a longer run (the
    // fix of a healthy one still falling) would stretch the warmup with it
    const warmup = checkWarmupOutlasted(c);
    if (warmup) findings.push(warmup);
  }

  if (findings.length === 0) {
    const ok = healthy(c);
    const n = c.train.length;
    // an ended run too short for every check says what it could not read, not that all is well
    const few = !unfinished(record) && n < MIN_EPOCHS_FOR_OSCILLATION;
    return {
      verdict: few
        ? `healthy as far as ${counted(n, "epoch")} tell: too few to read ${
          n - 1 - Math.floor(n / 2) < MIN_FLAT_MOVES
            ? `a plateau, which needs ${2 * MIN_FLAT_MOVES + 1}, or `
            : ""
        }oscillation, which needs ${MIN_EPOCHS_FOR_OSCILLATION}`
        : `healthy: no problem found in ${counted(n, "epoch")}`,
      findings: [ok],
      config,
    };
  }
  if (unfinished(record)) {
    // read off curves that stop short of the run: what they show so far
    for (const finding of findings) {
      if (TRENDS.has(finding.kind) && !finding.title.includes("so far")) {
        finding.title += " so far";
      }
    }
  }
  findings.sort((a, b) => ORDER[a.severity] - ORDER[b.severity]);
  const verdict = findings.length === 1
    ? findings[0].title
    : `${findings.length} problems: ${findings.map((x) => x.title).join("; ")}`;
  return { verdict, findings, config };
}

const MARK = { critical: "✗", warning: "!", info: "✓" };

/**
 * The command that trains the run again with a finding's `--set` fixes: `-c` the run's own
 * config (a plain `anneal train` would train the seed experiment), each value quoted for the shell.
 *
 * @example
 * ```ts
 * import { retrainCommand } from "./diagnose.ts";
 * const line = retrainCommand({ verdict: "", findings: [], config: "runs/a/config.json" }, [
 *   "model.hidden=[16]",
 * ]);
 * console.assert(line === "anneal train -c runs/a/config.json --set 'model.hidden=[16]'");
 * ```
 */
export function retrainCommand(diagnosis: Diagnosis, set: string[]): string {
  const config = diagnosis.config ? shellWord(diagnosis.config) : "<the run's config.json>";
  return `anneal train -c ${config} ${set.map((s) => `--set ${shellWord(s)}`).join(" ")}`;
}

/**
 * Formats a diagnosis for the terminal: the verdict, then each finding with its evidence and fix.
 *
 * @example
 * ```ts
 * import { formatDiagnosis } from "./diagnose.ts";
 * const text = formatDiagnosis({ verdict: "healthy", findings: [] });
 * console.assert(text.startsWith("Diagnosis: healthy"));
 * ```
 */
export function formatDiagnosis(diagnosis: Diagnosis): string {
  if (
    typeof diagnosis !== "object" || diagnosis === null ||
    !Array.isArray((diagnosis as { findings?: unknown }).findings)
  ) {
    throw new AnnealError(
      "usage",
      "Cannot format the diagnosis: it must be an object with a 'findings' array, current value " +
        `is ${JSON.stringify(diagnosis) ?? String(diagnosis)}`,
      { where: "diagnosis", hint: "pass what diagnose(record) gives" },
    );
  }
  const lines = [`Diagnosis: ${diagnosis.verdict}`];
  for (const finding of diagnosis.findings) {
    lines.push(
      "",
      `  ${MARK[finding.severity]} ${finding.title} [${finding.kind}, ${finding.severity}]`,
    );
    lines.push(`    evidence: ${finding.evidence}`);
    lines.push(`    next:     ${finding.fix}`);
    if (finding.set?.length && diagnosis.config === undefined) {
      // (its config.json lost: a command with -c of it fails; the resume, where offered, works)
      lines.push(
        `    try:      ${finding.set.map((s) => `--set ${shellWord(s)}`).join(" ")} on the ` +
          "config the run was trained from (its config.json is missing or unreadable)",
      );
    } else if (finding.set?.length) {
      lines.push(`    try:      ${retrainCommand(diagnosis, finding.set)}`);
    }
    if (finding.resume) {
      lines.push(`    or:       ${finding.resume} (goes on from where the run ended)`);
    }
  }
  return lines.join("\n");
}
