/**
 * Whole runs against PyTorch 1.13: random configs (tests/fixtures/training/generate.py draws them
 * from a fixed seed: every optimizer with its settings, every schedule alone and in sequentials,
 * by step and by epoch, settings at their edges, reduce-on-plateau on validation metrics,
 * clipping by norm, value and percentile, gradient accumulation, short last batches with and
 * without dropLast, linear models, MLPs, convnets and LSTM/GRU nets on CSV and IDX data, the CPU
 * backends and the paths anneal takes there) trained through `train()` and compared with torch's run of the same
 * weights on the same samples in the same order: every step's loss, learning rate, momentum and
 * gradient norm, every epoch's metrics, the final weights.
 *
 * @module
 */
import assert from "node:assert/strict";
import { loadCheckpoint } from "../mod.ts";
import type { RunConfigInput } from "../mod.ts";
import { readNdjson, tempRunsDir, trainCollect } from "./_helpers.ts";
import { type TrainingInputs, trainingInputs } from "./fixtures/training/inputs.ts";
import { FIXTURE, located } from "./fixtures/training/located.ts";
import { assertDivergedAt, assertExplodedAt, fromPy, type PyNumber } from "./torch/python.ts";
import { agrees, close, recentSpread, relativeApart, sameCourse } from "./torch/tolerance.ts";

interface Expected {
  /** torch raised (when built, or at a step): anneal must refuse the config. */
  error?: string;
  steps: { loss: number; gradNorm: number; lr?: number; momentum?: number }[];
  epochs: Record<string, number>[];
  weights: Record<string, number[]>;
  /** The step whose loss exploded as anneal's watch judges it (generate.py's LossWatch). */
  explodedAt?: number | null;
  /** The same run in float64 (torch's own float32 rounding is the difference). */
  float64?: Pick<Expected, "steps" | "epochs" | "weights">;
  /**
   * A run of {@linkcode fewPerNorm}: the same float32 run from initial weights a rounding apart
   * (generate.py's `nudged_inputs`, a few draws), how far two float32 runs part at each step.
   */
  nudged?: { steps: { loss: number; gradNorm: number }[]; weights?: Record<string, number[]> }[];
}

interface Case {
  id: string;
  config: RunConfigInput;
  inputs: TrainingInputs;
  torch: Expected;
}

// ANNEAL_TORCH_TRAINING: another fixture (generate.py --cases N --seed S --out PATH), for more draws.
const fixturePath = Deno.env.get("ANNEAL_TORCH_TRAINING") ??
  new URL("torch_training.json", FIXTURE);
const { cases } = JSON.parse(await Deno.readTextFile(fixturePath)) as { cases: Case[] };
// A drawn run that overflows has non-finite losses and weights, written as their names
// (generate.py's `plain`): read back as numbers.
for (const test of cases) test.torch = numbers(test.torch) as Expected;

/** `value` with every "nan", "inf" and "-inf" in it as the number it names. */
function numbers(value: unknown): unknown {
  if (typeof value === "string" && /^(nan|-?inf)$/.test(value)) return fromPy(value as PyNumber);
  if (Array.isArray(value)) return value.map(numbers);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, numbers(v)]));
  }
  return value;
}

/**
 * Whether the run normalizes an MLP's hidden units over batches of two or three samples (its
 * batch size, or a last batch kept short): batch norm divides each unit by the samples' spread,
 * and where two samples nearly agree in a unit it divides by little more than its epsilon, which
 * multiplies the float32 rounding of the units by as much. Two float32 runs then part at that step
 * (and only there) by far more than 2e-4; such runs' steps are compared to 1e-2 (a wrong clip,
 * rate or stop moves them by more), or to how far torch's own float32 and float64 runs part, where
 * that is further (ANNEAL_TORCH_TRAINING's seed 32, case-08: 440.67 against 373.36 in float64,
 * anneal's 373.40). The 1e-2 is for the steps where the two torch runs happen to agree and
 * anneal's own paths still part: seed 7, case-46, a gradient norm of 1060.44 against torch's
 * 1060.17 at one step (1060.168 in float64; anneal's other paths 1059.94 and 1060.16), the steps
 * before and after it within 1e-7; seed 19, case-46: 144.26 against 143.96 (2e-3). Torch's
 * float64 run rounds in the order its float32 run does, and so understates how far two float32
 * runs part: the fixture also holds such a run trained from weights a rounding apart (`nudged`,
 * a few draws), and a step or a weight is allowed as far as those part too (seed 56,
 * case-23's step 15: float64 8e-5 from float32, the nudged runs up to 1.5%, anneal's layers 1.4%).
 * Past a step where such a run's rounding was amplified that far, see {@linkcode sensitiveStep}.
 */
function fewPerNorm(config: RunConfigInput, inputs: TrainingInputs): boolean {
  const model = config.model as { kind?: string; batchNorm?: boolean } | undefined;
  if (model?.kind !== "mlp" || !model.batchNorm) return false;
  const batch = config.batchSize ?? 16;
  const last = inputs.train.n % batch;
  const dropLast = (config.data as { dropLast?: boolean } | undefined)?.dropLast ?? false;
  return batch <= 3 || (!dropLast && last > 1 && last <= 3);
}

/**
 * In a run of {@linkcode fewPerNorm}, the first step whose gradient norm or loss torch's own
 * float32 run has more than {@linkcode SENSITIVE} from its float64 one (-1: none, or no float64
 * run of the same course). After such a step the float32 runs' courses part by amounts no
 * per-step tolerance bounds: the next steps amplify that step's rounding again. Fixture seed 51,
 * case-91 (hidden [3], tanh, batches of two): torch's float32 and float64 gradient norms 2.4e-3
 * apart at step 46, anneal's cpu and wasm layers 4.8e-3 and 9e-4 from float64 there (the steps
 * before it within 1e-6); at step 48 torch's float32 run 1.6e-3 from its float64, anneal's
 * layers 1.2e-2 and 5.5e-2 (its engine 1.2e-4); at step 77 torch's own two runs 46% apart. Such
 * a run is compared up to and including that step, with the epochs that ended before it, and
 * not by its last weights.
 */
function sensitiveStep(expected: Expected, exact: Expected["float64"]): number {
  if (exact === undefined) return -1;
  const apart = (x: number, y: number) =>
    Math.abs(x - y) / Math.max(Math.abs(x), Math.abs(y), 1e-12);
  return expected.steps.findIndex((step, i) =>
    apart(step.gradNorm, exact.steps[i].gradNorm) > SENSITIVE ||
    apart(step.loss, exact.steps[i].loss) > SENSITIVE
  );
}

/** A thousandfold float32's rounding (2^-24 is 6e-8): a step that amplified it that far. */
const SENSITIVE = 1e-3;

function describe(test: Case): string {
  const c = test.config as Record<string, unknown>;
  return JSON.stringify({
    optimizer: c.optimizer,
    scheduler: c.scheduler,
    clipping: c.clipping,
    batchSize: c.batchSize,
    gradientAccumulation: c.gradientAccumulation,
    data: c.data,
    backend: c.backend,
  });
}

for (const test of cases) {
  Deno.test(`torch parity ${test.id}: ${describe(test)}`, async () => {
    const config = located(test.config);
    // The fixture was made from anneal's own data, order and initial weights: they must not have
    // moved, or torch trained something else (regenerate with generate.py).
    const inputs = await trainingInputs(config);
    assert.deepEqual(
      inputs,
      test.inputs,
      "anneal's data, sample order or initial weights differ from the fixture's: " +
        "regenerate it (/usr/bin/python3 tests/fixtures/training/generate.py)",
    );
    await using runs = await tempRunsDir();
    if (test.torch.error !== undefined) {
      // Refused when parsed, or the run fails at its start (a setting judged against the data).
      let refusal: string | undefined;
      try {
        const { result } = await trainCollect({ ...config, runsDir: runs.dir });
        if (result.status === "failed" && result.steps === 0) refusal = result.reason;
      } catch (error) {
        refusal = (error as Error).message;
      }
      assert.ok(refusal, `torch raised ${test.torch.error}; anneal trained`);
      return;
    }
    const { result } = await trainCollect({ ...config, runsDir: runs.dir });
    const expected = test.torch;
    const exact = sameCourse(expected, expected.float64);
    const steps = await readNdjson(`${result.runDir}/steps.ndjson`);
    // (a budget that stops the run within its first epoch leaves no epoch)
    const ended = expected.epochs.length > 0 || result.epochs > 0;
    const epochs = ended ? await readNdjson(`${result.runDir}/epochs.ndjson`) : [];
    // A loss that overflows (another seed's draw, ANNEAL_TORCH_TRAINING): anneal stops the run
    // there (clipping.onNonFinite, stop by default), where torch's loop trains on; the steps and
    // epochs before it are compared, as tests/torch/training_test.ts does.
    const overflow = expected.steps.findIndex((step) => !Number.isFinite(step.loss));
    const few = fewPerNorm(config, test.inputs);
    const sensitive = few ? sensitiveStep(expected, exact) : -1;
    // One that explodes, still finite (100x its early level), stops it at that step: torch's
    // loop is cut there.
    const exploded = expected.explodedAt ?? -1;
    if (overflow >= 0) {
      assertDivergedAt(result.status, steps.length, overflow, expected.steps[overflow].loss);
      expected.steps = expected.steps.slice(0, Math.min(overflow, steps.length));
      expected.epochs = expected.epochs.slice(0, Math.min(epochs.length, expected.epochs.length));
    } else if (exploded >= 0) {
      assertExplodedAt(result, steps.length, exploded, expected.steps[exploded].loss);
      assert.equal(epochs.length, expected.epochs.length, "epochs run");
    } else {
      // (a maxSteps budget stops it, as torch's loop stops after that many steps)
      const budget = (config as { maxSteps?: number }).maxSteps !== undefined &&
        result.reason.startsWith("budget: reached maxSteps");
      assert.equal(
        result.status,
        budget ? "stopped" : "completed",
        `${result.reason} ${result.hint ?? ""}`,
      );
      if (sensitive < 0) {
        assert.equal(steps.length, expected.steps.length, "steps taken");
        assert.equal(epochs.length, expected.epochs.length, "epochs run");
      } else {
        // (past its sensitive step, an early stop or a plateau's cut may come elsewhere)
        assert.ok(
          steps.length > sensitive,
          `steps taken: ${steps.length}, torch's sensitive step ${sensitive}`,
        );
        expected.steps = expected.steps.slice(0, sensitive + 1);
        expected.epochs = expected.epochs.slice(0, steps[sensitive].epoch);
      }
    }
    // float32 on both sides, through a few dozen updates: differences grow from rounding only.
    // A value far below the run's own scale (a saturated softmax's gradient, a gradient norm of
    // per-sample gradients that cancel) keeps only the rounding of that scale: features left on
    // their own scales (up to 100) part two float32 runs by 1e-4 of it. A value whose
    // conditioning makes two float32 runs part further is also held to how far torch's own
    // float32 run parts from its float64 one there (tests/torch/tolerance.ts).
    const rel = few ? 1e-2 : 2e-4;
    const scale = (values: number[]) => Math.max(1e-6, 1e-4 * Math.max(...values.map(Math.abs)));
    const lossFloor = scale(expected.steps.map((s) => s.loss));
    const normFloor = scale(expected.steps.map((s) => s.gradNorm));
    // (and, in a run of batch norm over few samples, how far the nudged float32 run parts: the
    // float64 run rounds in the same order as the float32 one, and understates it there)
    const spread = (field: "loss" | "gradNorm") => {
      const want = expected.steps.map((s) => s[field]);
      const float64 = recentSpread(want, exact?.steps.map((s) => s[field]));
      const nudged = (few ? expected.nudged ?? [] : [])
        .filter((run) => run.steps.length >= want.length)
        .map((run) => recentSpread(want, run.steps.map((s) => s[field])));
      return float64.map((value, i) => Math.max(value, ...nudged.map((apart) => apart[i])));
    };
    const lossSpread = spread("loss");
    const normSpread = spread("gradNorm");
    expected.steps.forEach((want, i) => {
      const got = steps[i];
      const at = `step ${i} (epoch ${got.epoch})`;
      if (want.lr !== undefined) {
        assert.ok(close(got.lr, want.lr, 1e-6, 1e-12), `${at}: lr ${got.lr}, torch ${want.lr}`);
      }
      if (want.momentum !== undefined) {
        const momentum = (got as Record<string, number>).momentum;
        assert.ok(
          close(momentum, want.momentum, 1e-6, 1e-9),
          `${at}: momentum ${momentum}, torch ${want.momentum}`,
        );
      }
      assert.ok(
        agrees(got.loss, want.loss, exact?.steps[i].loss, rel, lossFloor, lossSpread[i]),
        `${at}: loss ${got.loss}, torch ${want.loss}`,
      );
      assert.ok(
        agrees(
          got.gradNorm,
          want.gradNorm,
          exact?.steps[i].gradNorm,
          rel,
          normFloor,
          normSpread[i],
        ),
        `${at}: gradNorm ${got.gradNorm}, torch ${want.gradNorm}`,
      );
    });
    expected.epochs.forEach((want, i) => {
      for (const [name, value] of Object.entries(want)) {
        assert.ok(
          agrees(epochs[i][name], value, exact?.epochs[i][name], rel, 1e-6),
          `epoch ${i}: ${name} ${epochs[i][name]}, torch ${value}`,
        );
      }
    });
    // (torch's weights went on past the overflow; the exploding step's update is not compared)
    // (nor those of a run past a step that amplified its rounding a thousandfold)
    if (overflow >= 0 || exploded >= 0 || sensitive >= 0) return;
    // The weights sum every step's rounding: where the features keep their own scales (up to
    // 100) two float32 runs part by a few 1e-4 (anneal's cpu and wasm backends alike). The last
    // checkpoint holds them where the run ended: at its last epoch's end, or where a budget
    // stopped it within an epoch (its first one too).
    const { weights } = await loadCheckpoint(`${result.runDir}/checkpoints/last.ckpt`);
    // (a nudged run's weights part from torch's by what rounding alone moves them: the spread)
    const nudgedWeights = few
      ? (expected.nudged ?? []).flatMap((run) => run.weights ? [run.weights] : [])
      : [];
    for (const [name, want] of Object.entries(expected.weights)) {
      const got = weights[name].values;
      want.forEach((value, i) => {
        const apart = Math.max(
          0,
          ...nudgedWeights.map((w) => relativeApart(value, w[name]?.[i] ?? value)),
        );
        assert.ok(
          agrees(got[i], value, exact?.weights[name]?.[i], 1e-3, 1e-5, apart),
          `weight ${name}[${i}]: ${got[i]}, torch ${value}`,
        );
      });
    }
  });
}
