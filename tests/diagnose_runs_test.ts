import assert from "node:assert/strict";
import { diagnose, readRun } from "../mod.ts";
import type { RunConfigInput } from "../mod.ts";
import { anneal, readNdjson, tempRunsDir, trainCollect } from "./_helpers.ts";

/** The run directory `anneal train` printed. */
function runDirOf(stdout: string): string {
  const dir = stdout.match(/run record: (\S+)/)?.[1];
  assert.ok(dir, stdout);
  return dir;
}

/** Trains a config through the actors and diagnoses the record it wrote. */
async function diagnosed(config: RunConfigInput, runsDir: string) {
  const { result } = await trainCollect({ backend: "cpu", runsDir, ...config });
  const diagnosis = diagnose(await readRun(result.runDir));
  assert.deepEqual(
    result.diagnosis,
    diagnosis,
    "the run keeps the same diagnosis as `anneal diagnose`",
  );
  return { result, kinds: diagnosis.findings.map((f) => f.kind), diagnosis };
}

Deno.test("diagnose classifies real runs built to show each symptom", async (t) => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  await t.step("lr = 10 diverges", async () => {
    const { kinds, diagnosis } = await diagnosed({ optimizer: { name: "sgd", lr: 10 } }, dir);
    assert.deepEqual(kinds, ["diverged"]);
    assert.ok(diagnosis.findings[0].set?.some((s) => s === "optimizer.lr=1"));
  });
  await t.step("lr = 1e-6 crawls", async () => {
    const { kinds, diagnosis } = await diagnosed({
      optimizer: { name: "sgd", lr: 1e-6 },
      epochs: 10,
    }, dir);
    assert.ok(kinds.includes("lrTooLow"), `got ${kinds}`);
    assert.ok(!kinds.includes("healthy"));
    const fix = diagnosis.findings.find((f) => f.kind === "lrTooLow")!;
    assert.match(fix.fix, /lr-find|10/);
  });
  await t.step(
    "a big MLP on a tiny noisy dataset overfits, and the turn epoch is reported",
    async () => {
      const { kinds, result, diagnosis } = await diagnosed({
        epochs: 40,
        data: { kind: "synthetic-linear", n: 32, noise: 2, validationSplit: 0.25 },
        model: { kind: "mlp", hidden: [64, 64] },
        optimizer: { name: "adam", lr: 0.02 },
      }, dir);
      assert.ok(kinds.includes("overfitting"), `got ${kinds}`);
      const epochs = await readNdjson(`${result.runDir}/epochs.ndjson`);
      const best = epochs.reduce((a, b) => (b.valLoss < a.valLoss ? b : a));
      const finding = diagnosis.findings.find((f) => f.kind === "overfitting")!;
      assert.match(finding.evidence, new RegExp(`epoch ${best.epoch}\\b`));
    },
  );
  await t.step("the seed experiment is healthy", async () => {
    const { kinds } = await diagnosed({}, dir);
    assert.deepEqual(kinds, ["healthy"]);
  });
  await t.step(
    "features that do not predict an imbalanced target: the loss sits at the labels' entropy",
    async () => {
      // random features, 90% of the rows one class: it read "plateaued early: decay the rate",
      // and the cosine it suggested changed nothing
      let state = 12345;
      const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      const rows = Array.from(
        { length: 400 },
        (_, i) =>
          `${random().toFixed(4)},${random().toFixed(4)},${i % 10 === 0 ? "rare" : "common"}`,
      );
      const path = `${dir}/noise.csv`;
      await Deno.writeTextFile(path, `a,b,y\n${rows.join("\n")}\n`);
      const { kinds, diagnosis, result } = await diagnosed({
        epochs: 20,
        data: { kind: "csv", path, target: "y", task: "classification", validationSplit: 0.1 },
        model: { kind: "linear" },
        optimizer: { name: "adam", lr: 0.02 },
        batchSize: 32,
      }, dir);
      assert.deepEqual(kinds, ["underfitting"], diagnosis.verdict);
      const finding = diagnosis.findings[0];
      assert.equal(
        finding.title,
        "learnt only the class frequencies: the loss sits at the labels' entropy",
      );
      // the entropy of the training split's frequencies, as meta.json's counts give it
      const meta = JSON.parse(await Deno.readTextFile(`${result.runDir}/meta.json`));
      const counts = meta.dataset.classCounts as number[];
      assert.equal(counts.reduce((a, b) => a + b), meta.dataset.trainSize);
      const shares = counts.map((c) => c / meta.dataset.trainSize);
      const entropy = -shares.reduce((sum, p) => sum + p * Math.log(p), 0);
      assert.match(finding.evidence, new RegExp(`frequencies \\(${entropy.toPrecision(4)}:`));
      assert.deepEqual(finding.set, ['model={"kind":"mlp","hidden":[64]}']);
    },
  );
  await t.step(
    "labels that do not depend on the features: nothing the model learns carries to validation",
    async () => {
      // three balanced classes drawn apart from the features: the training loss creeps under
      // ln 3 (it read "healthy", the validation loss said to "track" it)
      let state = 777;
      const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      const rows = Array.from({ length: 600 }, () => {
        const x = Array.from({ length: 6 }, () => (random() * 2 - 1).toFixed(4));
        return `${x.join(",")},${"abc"[Math.floor(random() * 3)]}`;
      });
      const path = `${dir}/random_labels.csv`;
      await Deno.writeTextFile(path, `a,b,c,d,e,f,y\n${rows.join("\n")}\n`);
      const { diagnosis, result } = await diagnosed({
        epochs: 30,
        data: { kind: "csv", path, target: "y", task: "classification", validationSplit: 0.2 },
        model: { kind: "mlp", hidden: [32] },
        optimizer: { name: "adam", lr: 0.01 },
        batchSize: 32,
      }, dir);
      assert.match(diagnosis.verdict, /^nothing learnt carries to validation/, diagnosis.verdict);
      // the baseline as meta.json records it: the training frequencies' cross-entropy on the
      // validation labels
      const meta = JSON.parse(await Deno.readTextFile(`${result.runDir}/meta.json`));
      const { classCounts, trainSize, validationBaseline } = meta.dataset;
      assert.equal(typeof validationBaseline, "number");
      const worst = -Math.log(Math.min(...classCounts) / trainSize);
      const best = -Math.log(Math.max(...classCounts) / trainSize);
      assert.ok(validationBaseline >= best && validationBaseline <= worst, validationBaseline);
    },
  );
  await t.step(
    "a regression records its training targets' variance, and a loss held at it learnt only the mean",
    async () => {
      let state = 4242;
      const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      const ys: number[] = [];
      const rows = Array.from({ length: 300 }, () => {
        const y = 3 + 2 * (random() - 0.5);
        ys.push(Number(y.toFixed(4)));
        return `${random().toFixed(4)},${random().toFixed(4)},${y.toFixed(4)}`;
      });
      const path = `${dir}/heavy_decay.csv`;
      await Deno.writeTextFile(path, `a,b,y\n${rows.join("\n")}\n`);
      const { diagnosis, result } = await diagnosed({
        epochs: 12,
        data: { kind: "csv", path, target: "y", validationSplit: 0 },
        model: { kind: "mlp", hidden: [16] },
        optimizer: { name: "adamw", lr: 0.01, weightDecay: 50 },
        batchSize: 32,
      }, dir);
      assert.equal(diagnosis.findings[0].title, "weight decay far past the usual range");
      assert.deepEqual(diagnosis.findings[0].set, ["optimizer.weightDecay=0.05"]);
      const meta = JSON.parse(await Deno.readTextFile(`${result.runDir}/meta.json`));
      const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
      const variance = ys.reduce((a, b) => a + (b - mean) ** 2, 0) / ys.length;
      assert.ok(Math.abs(meta.dataset.targetVariance - variance) < 1e-5 * variance);
    },
  );
});

Deno.test("the same seed and config on cpu reproduce the same metrics bit for bit", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const config = {
    backend: "cpu" as const,
    runsDir: dir,
    epochs: 3,
    data: { kind: "synthetic-linear" as const, n: 80, validationSplit: 0.2 },
    model: { kind: "mlp" as const, hidden: [16], dropout: 0 },
    optimizer: { name: "adamw" as const, lr: 0.01 },
  };
  const a = await trainCollect(config);
  const b = await trainCollect(config);
  const strip = (rows: Record<string, number>[]) => rows.map(({ seconds: _, ...rest }) => rest);
  assert.deepEqual(
    strip(await readNdjson(`${a.result.runDir}/epochs.ndjson`)),
    strip(await readNdjson(`${b.result.runDir}/epochs.ndjson`)),
  );
  assert.deepEqual(
    await readNdjson(`${a.result.runDir}/steps.ndjson`),
    await readNdjson(`${b.result.runDir}/steps.ndjson`),
  );
});

Deno.test("anneal diagnose quotes the training loss the run printed for its first epoch, not its first steps'", async () => {
  await using runs = await tempRunsDir();
  const run = await anneal("train", "--epochs", "5", "--runs-dir", runs.dir, "--no-progress");
  assert.equal(run.code, 0, run.stderr);
  const printed = run.stdout.match(/^Epoch 0: loss = (\S+),/m)![1];
  const steps = await readNdjson(`${runDirOf(run.stdout)}/steps.ndjson`);
  // the seed experiment's loss falls within its first epoch: its first steps are above its mean
  assert.ok(steps[0].loss > Number(printed) * 1.02, `step 0 ${steps[0].loss}, epoch 0 ${printed}`);
  const id = runDirOf(run.stdout).split("/").at(-1)!;
  const out = await anneal("diagnose", id, "--runs-dir", runs.dir);
  assert.equal(out.code, 0, out.stderr);
  // the loss as train printed it, not merely the same value
  assert.ok(out.stdout.includes(`training loss fell from ${printed} at epoch 0 `), out.stdout);
  // train's own diagnosis says the same
  assert.ok(run.stdout.includes(`training loss fell from ${printed} at epoch 0 `));
});
