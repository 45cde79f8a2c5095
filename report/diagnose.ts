/**
 * Reads a run's curves the way a practitioner would and names what went wrong, with the evidence
 * (epochs, values) and one concrete next step as `--set path=value` computed from the run's own
 * config. The classes follow the usual symptom tables: diverged, LR too low, early plateau,
 * oscillation, overfitting, underfitting, gradient spikes — or healthy, only when none applies.
 *
 * @module
 */
import {
  checkDiverged,
  checkLrTooLow,
  checkOscillating,
  checkPlateau,
  curves,
  f,
  MIN_EPOCHS_FOR_TRENDS,
} from "./checks.ts";
import { checkGradientSpikes, checkOverfitting } from "./checks_generalization.ts";
import type { Diagnosis, Finding, RunRecord } from "./types.ts";

export type { Diagnosis, Finding, FindingKind } from "./types.ts";

const ORDER = { critical: 0, warning: 1, info: 2 };

function healthy(c: ReturnType<typeof curves>): Finding {
  const { record, train, val, start } = c;
  const last = train.at(-1)!;
  let evidence = `training loss fell from ${f(start)} to ${f(last)} ` +
    `(-${f((1 - last / start) * 100)}%) over ${train.length} epochs and levelled off low`;
  if (val) {
    const m = val.indexOf(Math.min(...val));
    evidence += `; validation loss ${f(val.at(-1))} tracks it (lowest ${f(val[m])} at epoch ` +
      `${record.epochs[m].epoch})`;
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
  if (record.epochs.length === 0 && record.steps.length === 0) {
    return { verdict: "no data: the run recorded no steps or epochs", findings: [] };
  }
  const c = curves(record);
  const diverged = checkDiverged(c);
  if (diverged) return { verdict: diverged.title, findings: [diverged] };
  const findings: Finding[] = [];
  const spikes = checkGradientSpikes(c);
  if (c.train.length < MIN_EPOCHS_FOR_TRENDS) {
    if (spikes) findings.push(spikes);
    const short = `too short to judge the curves (${c.train.length} epoch(s); trends need ` +
      `${MIN_EPOCHS_FOR_TRENDS})`;
    return { verdict: spikes ? `${spikes.title}; ${short}` : short, findings };
  }
  const lrTooLow = checkLrTooLow(c);
  if (lrTooLow) findings.push(lrTooLow);
  else {
    for (const check of [checkPlateau, checkOscillating, checkOverfitting]) {
      const finding = check(c);
      if (finding) findings.push(finding);
    }
  }
  if (spikes) findings.push(spikes);
  if (findings.length === 0) {
    const ok = healthy(c);
    return { verdict: `healthy: no problem found in ${c.train.length} epochs`, findings: [ok] };
  }
  findings.sort((a, b) => ORDER[a.severity] - ORDER[b.severity]);
  const verdict = findings.length === 1
    ? findings[0].title
    : `${findings.length} problems: ${findings.map((x) => x.title).join("; ")}`;
  return { verdict, findings };
}

const MARK = { critical: "✗", warning: "!", info: "✓" };

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
  const lines = [`Diagnosis: ${diagnosis.verdict}`];
  for (const finding of diagnosis.findings) {
    lines.push(
      "",
      `  ${MARK[finding.severity]} ${finding.title} [${finding.kind}, ${finding.severity}]`,
    );
    lines.push(`    evidence: ${finding.evidence}`);
    lines.push(`    next:     ${finding.fix}`);
    if (finding.set?.length) {
      lines.push(`    try:      anneal train ${finding.set.map((s) => `--set ${s}`).join(" ")}`);
    }
  }
  return lines.join("\n");
}
