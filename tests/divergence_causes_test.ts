/**
 * Runs whose loss turns NaN or rises for a reason other than a learning rate too high, through
 * `train`: RMSprop with `alpha` above 1 (its square average turns negative) or centered at 0 (its
 * variance is all rounding), and torch's
 * `maximize` (the loss rises by design). The guards must name the real cause, or not stop at all.
 */
import assert from "node:assert/strict";
import { AnnealError, parseConfig, tune } from "../mod.ts";
import { tempRunsDir, trainCollect } from "./_helpers.ts";

Deno.test("rmsprop with alpha above 1 warns at the start, and its NaN is blamed on alpha, not the learning rate", async () => {
  await using runs = await tempRunsDir();
  for (const onNonFinite of ["stop", "rollback"] as const) {
    const { result, events } = await trainCollect({
      backend: "cpu",
      runsDir: runs.dir,
      epochs: 5,
      optimizer: { name: "rmsprop", lr: 0.01, alpha: 1.5 },
      clipping: { onNonFinite },
    });
    assert.equal(result.status, "diverged", onNonFinite);
    assert.match(result.reason, /training diverged at step 1: the loss became NaN/);
    assert.match(result.hint ?? "", /alpha 1\.5 is above 1: its square average .* turns negative/);
    assert.match(result.hint ?? "", /square root NaN/);
    assert.match(result.hint ?? "", /--set optimizer\.alpha=0\.99 \(torch's default\)/);
    assert.doesNotMatch(result.hint ?? "", /learning rate too high/);
    const warnings = events.filter((e) => e.type === "warning");
    assert.match(warnings[0]?.message ?? "", /^optimizer\.alpha: rmsprop's alpha 1\.5 is above 1/);
    // Cutting the learning rate cannot help: no rollbacks, one stop.
    assert.ok(!warnings.some((w) => /rolled back/.test(w.message)), onNonFinite);
    const finding = result.diagnosis?.findings[0];
    assert.equal(finding?.title, "diverged: rmsprop alpha above 1");
    assert.deepEqual(finding?.set, ["optimizer.alpha=0.99"]);
  }
});

Deno.test("centered rmsprop with alpha 0 warns at the start, and its NaN is blamed on alpha and centered", async () => {
  await using runs = await tempRunsDir();
  const { result, events } = await trainCollect({
    backend: "cpu",
    runsDir: runs.dir,
    epochs: 5,
    optimizer: { name: "rmsprop", lr: 1e-4, alpha: 0, centered: true },
    clipping: { onNonFinite: "rollback" },
  });
  assert.equal(result.status, "diverged");
  // the first step makes NaN the weights whose gradient² rounded down, as alpha above 1 does
  assert.match(
    result.reason,
    /training diverged at step 1: the loss became NaN \(rollback cannot help/,
  );
  assert.match(result.hint ?? "", /centered rmsprop's alpha 0 makes its variance/);
  assert.match(
    result.hint ?? "",
    /--set optimizer\.alpha=0\.99 .* --set optimizer\.centered=false/,
  );
  assert.doesNotMatch(result.hint ?? "", /learning rate too high/);
  const warnings = events.filter((e) => e.type === "warning");
  assert.match(warnings[0]?.message ?? "", /^optimizer\.alpha: centered rmsprop's alpha 0/);
  assert.ok(!warnings.some((w) => /rolled back/.test(w.message)));
  assert.equal(result.diagnosis?.findings[0]?.title, "diverged: centered rmsprop alpha of 0");
});

Deno.test("maximize: a loss that rises by design trains to the end, its best epoch the highest loss", async () => {
  await using runs = await tempRunsDir();
  // SGD ascending MSE: the loss grows ~60% an epoch, past 10x its first value by epoch 5 (where
  // the divergence guard took it for a divergence) and past 100x by epoch 10 (the explosion watch).
  const { result, events } = await trainCollect({
    backend: "cpu",
    runsDir: runs.dir,
    epochs: 15,
    optimizer: { name: "sgd", lr: 0.01, maximize: true },
    // (the training loss, named: valLoss over data with no validation split watches it too, and
    // says so at the start)
    earlyStopping: { patience: 3, monitor: "loss" },
  });
  assert.equal(result.status, "completed", `${result.reason} (${result.hint})`);
  const losses = events.flatMap((e) => e.type === "epoch" ? [e.metrics.loss] : []);
  assert.equal(losses.length, 15);
  assert.ok(
    losses.at(-1)! > 100 * losses[0],
    `the loss rose from ${losses[0]} to ${losses.at(-1)}`,
  );
  // Early stopping watches the loss in mode max (maximize's default): it never stopped, and the
  // best epoch is the last, highest one.
  assert.equal(result.bestEpoch, 14);
  assert.ok(!events.some((e) => e.type === "warning"), "no config warning, no spike warnings");
  const finding = result.diagnosis?.findings[0];
  assert.equal(finding?.kind, "maximizing");
  assert.doesNotMatch(result.diagnosis?.verdict ?? "", /diverged|too low|learning rate/);
});

Deno.test("maximize: a loss that rises until it overflows stops as diverged, saying the ascent overflowed", async () => {
  await using runs = await tempRunsDir();
  const { result } = await trainCollect({
    backend: "cpu",
    runsDir: runs.dir,
    epochs: 50,
    optimizer: { name: "sgd", lr: 0.5, maximize: true },
  });
  assert.equal(result.status, "diverged");
  assert.match(result.reason, /the loss became (Infinity|NaN)|the gradient norm became/);
  assert.match(result.hint ?? "", /optimizer\.maximize ascends the loss/);
  assert.match(result.hint ?? "", /--set optimizer\.maximize=false/);
  assert.equal(result.diagnosis?.findings[0].title, "diverged: the maximized loss overflowed");
});

Deno.test("tune refuses maximize and rmsprop alpha above 1 before any run: its range test cannot read them", async () => {
  await using runs = await tempRunsDir();
  const base = {
    backend: "cpu",
    runsDir: runs.dir,
    epochs: 1,
    data: { kind: "synthetic-linear", validationSplit: 0.2 },
  };
  for (
    const [optimizer, where] of [
      [{ name: "adam", lr: 1e-3, maximize: true }, "optimizer.maximize"],
      [{ name: "rmsprop", lr: 1e-3, alpha: 1.5 }, "optimizer.alpha"],
    ] as const
  ) {
    await assert.rejects(
      tune(parseConfig({ ...base, optimizer })),
      (error: unknown) => {
        assert.ok(error instanceof AnnealError);
        assert.equal(error.code, "config");
        assert.equal(error.where, where);
        assert.match(error.message, /^Cannot tune this config: its learning-rate stage is an LR/);
        return true;
      },
    );
  }
  assert.deepEqual(await Array.fromAsync(Deno.readDir(runs.dir)), [], "nothing ran");
});

Deno.test("a divergence's hint divides the run's optimizer.lr by 10, not the rate its schedule or the scaling rule made of it", async () => {
  await using runs = await tempRunsDir();
  const diverge = async (config: Record<string, unknown>) => {
    const { result } = await trainCollect({ backend: "cpu", runsDir: runs.dir, ...config });
    assert.equal(result.status, "diverged", JSON.stringify(config));
    return result;
  };
  // sgd's linear scaling rule trains at 16x optimizer.lr (batch 16 over baseBatch 1): the step's
  // rate was 3.2, and a tenth of it set as optimizer.lr (0.32) would have raised the rate
  const scaled = await diverge({ epochs: 3, optimizer: { name: "sgd", lr: 0.2, baseBatch: 1 } });
  assert.match(scaled.hint ?? "", /divide by 10 \(--set optimizer\.lr=0\.02\)/);
  assert.deepEqual(scaled.diagnosis?.findings[0].set, ["optimizer.lr=0.02"]);
  // a warmup had lowered the step's rate to 1.5: a tenth of that (0.15) is a thirtieth of 5
  const warm = await diverge({
    epochs: 10,
    optimizer: { name: "sgd", lr: 5 },
    scheduler: { name: "warmupLinear", warmupSteps: 100, totalSteps: 200 },
  });
  assert.match(warm.hint ?? "", /divide by 10 \(--set optimizer\.lr=0\.5\)/);
  assert.doesNotMatch(warm.hint ?? "", /schedule had raised/);
  // gamma 3 had raised 0.01 to 2.43 by step 28: the hint names it (0.243 raised the rate 24x)
  const rising = await diverge({
    epochs: 8,
    optimizer: { name: "sgd", lr: 0.01 },
    scheduler: { name: "step", stepSize: 5, gamma: 3 },
  });
  assert.match(
    rising.hint ?? "",
    /^learning rate too high: the schedule had raised the step's rate to 2\.43, 243x optimizer\.lr \(scheduler\.gamma 3 is above 1: every decay multiplies the rate by 3\): keep its rates at or below optimizer\.lr, or divide by 10 \(--set optimizer\.lr=0\.001\)/,
  );
  const finding = rising.diagnosis?.findings[0];
  assert.match(
    finding?.fix ?? "",
    /the schedule raised the rate to 2\.4, 240x optimizer\.lr \(scheduler\.gamma 3 is above 1/,
  );
  assert.deepEqual(finding?.set, ["optimizer.lr=0.001"]);
});
