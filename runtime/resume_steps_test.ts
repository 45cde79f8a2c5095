import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import { checkResumedData, checkResumedSteps, stepsPerEpoch } from "./resume_steps.ts";
import { parseConfig } from "../config.ts";
import { loadData } from "../data/mod.ts";
import { TrainingEngine } from "./engine.ts";
import { selectBackend } from "./backend.ts";

const run = { runId: "r", dir: "runs/r" };
const now = { trainSize: 200, batchSize: 8, dropLast: true, accumulation: 4 };

Deno.test("stepsPerEpoch is the trainer's: whole groups with dropLast, a short last one without", () => {
  assert.equal(stepsPerEpoch(now), 6);
  assert.equal(stepsPerEpoch({ ...now, dropLast: false }), 7);
  assert.equal(stepsPerEpoch({ ...now, accumulation: 1 }), 25);
  assert.equal(stepsPerEpoch({ ...now, trainSize: 20 }), 0);
});

Deno.test("checkResumedSteps passes a checkpoint at an epoch end, and refuses one elsewhere naming why", () => {
  checkResumedSteps({ epoch: 0, step: 6 }, now, run);
  checkResumedSteps({ epoch: 4, step: 35 }, { ...now, dropLast: false }, run);
  // an epoch of no step: the loader's own error says why
  checkResumedSteps({ epoch: 0, step: 1 }, { ...now, trainSize: 20 }, run);
  assert.throws(() => checkResumedSteps({ epoch: 2, step: 21 }, now, run), (error) => {
    assert.ok(error instanceof AnnealError && error.code === "checkpoint");
    assert.match(
      error.message,
      /older anneal, whose epochs took 7 steps \(step 21 after epoch 2\)/,
    );
    assert.equal(error.where, "runs/r/checkpoints/last.ckpt");
    return true;
  });
  // without accumulation nothing changed: another count is changed data
  assert.throws(
    () => checkResumedSteps({ epoch: 0, step: 26 }, { ...now, accumulation: 1 }, run),
    /its training data has changed since it was written/,
  );
});

Deno.test("checkResumedSteps passes a checkpoint within an epoch at its batches' steps past the epoch end before, and refuses one elsewhere", () => {
  const totals = { sums: [0, 0], samples: 0 };
  // 24 batches of 8 an epoch (dropLast, groups of 4): 6 steps; 8 batches into epoch 1 is step 8
  checkResumedSteps({ epoch: 0, step: 8, within: { batches: 8, totals } }, now, run);
  // a stop in the first epoch: no epoch before it
  checkResumedSteps({ epoch: -1, step: 1, within: { batches: 4, totals } }, now, run);
  assert.throws(
    () => checkResumedSteps({ epoch: 0, step: 9, within: { batches: 8, totals } }, now, run),
    /its checkpoint is at step 9, 8 batches into epoch 1, not at step 8 \(1 epoch of 6 steps, then 2\), where those batches end .*its training data has changed/,
  );
  assert.throws(
    () => checkResumedSteps({ epoch: 0, step: 12, within: { batches: 24, totals } }, now, run),
    /24 batches into epoch 1, more batches than an epoch holds/,
  );
});

Deno.test("the 'anneal train -c' a resume's refusal gives quotes a run path with a space for the shell", async () => {
  const spaced = { runId: "r", dir: "my runs/r" };
  const quoted = "`anneal train -c 'my runs/r/config.json'`";
  assert.throws(() => checkResumedSteps({ epoch: 2, step: 21 }, now, spaced), (error) => {
    assert.ok(error instanceof AnnealError && error.hint?.includes(quoted), String(error));
    return true;
  });
  assert.throws(() => checkResumedSteps({ epoch: 0, step: 9 }, now, spaced), (error) => {
    assert.ok(error instanceof AnnealError && error.hint?.includes(quoted), String(error));
    return true;
  });
  assert.throws(() => checkResumedData("a".repeat(64), "b".repeat(64), spaced), (error) => {
    assert.ok(error instanceof AnnealError && error.hint?.includes(quoted), String(error));
    return true;
  });
  // the engine's refusal of another model's weights
  await selectBackend("cpu");
  const config = parseConfig({
    backend: "cpu",
    data: { kind: "synthetic-linear", n: 64 },
    model: { kind: "mlp", hidden: [4] },
  });
  const engine = new TrainingEngine(config, (await loadData(config.data, config.seed)).train);
  try {
    const from = {
      checkpoint: "my runs/r/checkpoints/last.ckpt",
      config: "my runs/r/config.json",
      runId: "r",
    };
    assert.throws(() => engine.writeWeights({}, from), (error) => {
      assert.ok(error instanceof AnnealError && error.hint?.includes(quoted), String(error));
      return true;
    });
  } finally {
    engine.dispose();
  }
});
