/**
 * Runs whose loss turns NaN or rises for a reason other than a learning rate too high, through
 * `train`: RMSprop with `alpha` above 1 (its square average turns negative), and torch's
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

Deno.test("maximize: a loss that rises by design trains to the end, its best epoch the highest loss", async () => {
  await using runs = await tempRunsDir();
  // SGD ascending MSE: the loss grows ~60% an epoch, past 10x its first value by epoch 5 (where
  // the divergence guard took it for a divergence) and past 100x by epoch 10 (the explosion watch).
  const { result, events } = await trainCollect({
    backend: "cpu",
    runsDir: runs.dir,
    epochs: 15,
    optimizer: { name: "sgd", lr: 0.01, maximize: true },
    earlyStopping: { patience: 3 },
  });
  assert.equal(result.status, "completed", `${result.reason} (${result.hint})`);
  const losses = events.flatMap((e) => e.type === "epoch" ? [e.metrics.loss] : []);
  assert.equal(losses.length, 15);
  assert.ok(
    losses.at(-1)! > 100 * losses[0],
    `the loss rose from ${losses[0]} to ${losses.at(-1)}`,
  );
  // Early stopping watches valLoss in mode max (maximize's default): it never stopped, and the
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
