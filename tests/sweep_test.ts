import assert from "node:assert/strict";
import {
  loadConfig,
  optimize,
  type Params,
  runSweep,
  type SearchSpaceInput,
  tune,
} from "../mod.ts";
import { tempRunsDir } from "./_helpers.ts";

// A cheap deterministic objective of the shape a training run's has: a learning rate best near
// 10^-2.5, a width best near 128 (both on log scales), a number best at 1.3 and one of four
// choices best. TPE models each parameter on its own, which this separable objective rewards.
const searchSpace: SearchSpaceInput = {
  lr: { type: "logUniform", low: 1e-5, high: 1 },
  x: { type: "uniform", low: -5, high: 5 },
  width: { type: "int", low: 8, high: 512, log: true },
  activation: { type: "choice", values: ["relu", "tanh", "gelu", "sigmoid"] },
};
const standIn = (p: Params) =>
  (Math.log10(p.lr as number) + 2.5) ** 2 + ((p.x as number) - 1.3) ** 2 +
  (Math.log2(p.width as number) - 7) ** 2 / 4 + (p.activation === "gelu" ? 0 : 1);

Deno.test("over 10 seeds, 60 TPE trials find a best value well below 60 random trials' (the mean of the bests)", async () => {
  const meanBest = async (sampler: "tpe" | "random") => {
    let sum = 0;
    for (let seed = 0; seed < 10; seed++) {
      const result = await optimize({
        space: searchSpace,
        objective: standIn,
        trials: 60,
        sampler,
        pruner: "none",
        seed,
      });
      assert.equal(result.trials.length, 60);
      sum += result.best!.value!;
    }
    return sum / 10;
  };
  const tpe = await meanBest("tpe");
  const random = await meanBest("random");
  // (one seed's comparison is noise: TPE's first 10 trials are random's. Over 10 seeds random's
  // mean was at least 1.7 times TPE's on each of 30 sets of seeds, 0-9 to 290-299; a TPE sampler
  // that drew at random gives 1)
  assert.ok(tpe < 0.7 * random, `TPE's mean best ${tpe} is not well below random's ${random}`);
});

Deno.test("a sweep's median pruner stops a Fashion-MNIST trial whose first epoch is below the others', and the best config is the best trial's", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const config = await loadConfig("examples/fashion_mnist_sweep.json", [
    `runsDir=${JSON.stringify(dir)}`,
    'backend="wasm"',
    "data.limit=600",
    "epochs=2",
    // five learning rates that train, for the median pruner's 5 start-up trials, then one that
    // leaves the weights near their start (chance accuracy after its first epoch)
    'sweep.space={"optimizer.lr":{"type":"choice","values":[0.001,0.002,0.003,0.004,0.005,1e-7]}}',
    'sweep.sampler="grid"',
    "sweep.trials=6",
  ]);
  const result = await runSweep(config, { study: "median" });
  const trials = result.trials.sort((a, b) => a.number - b.number);
  assert.deepEqual(
    trials.map((t) => [t.params["optimizer.lr"], t.state]),
    [
      [0.001, "COMPLETE"],
      [0.002, "COMPLETE"],
      [0.003, "COMPLETE"],
      [0.004, "COMPLETE"],
      [0.005, "COMPLETE"],
      [1e-7, "PRUNED"],
    ],
  );
  const pruned = trials[5];
  assert.match(pruned.reason ?? "", /median/);
  // it stopped after its first epoch: the run's records have that epoch's metrics only
  const epochs = (await Deno.readTextFile(`${pruned.runDir}/epochs.ndjson`)).trim().split("\n");
  assert.deepEqual(epochs.map((line) => JSON.parse(line).epoch), [0]);
  assert.ok(result.best!.state === "COMPLETE" && result.best!.params["optimizer.lr"] !== 1e-7);
  // The best trial's config is a complete, valid config with the winning parameters.
  assert.equal(result.bestConfig!.optimizer.lr, result.best!.params["optimizer.lr"]);
});

Deno.test("anneal tune ends with a config whose test accuracy beats the untuned default", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const config = await loadConfig(undefined, [
    `runsDir=${JSON.stringify(dir)}`,
    'backend="wasm"',
    'data={"kind":"idx","flatten":true,"limit":1500,"testLimit":1000,"validationSplit":0.2}',
    'model={"kind":"mlp","hidden":[64]}',
    "epochs=2",
  ]);
  const result = await tune(config, { budget: 6 });
  assert.equal(result.runs, 6);
  assert.equal(result.stages[0].name, "learning rate");
  assert.ok(result.final > result.baseline, `valAccuracy ${result.baseline} -> ${result.final}`);
  assert.ok(
    result.finalTest!.accuracy > result.baselineTest!.accuracy,
    `test accuracy ${result.baselineTest!.accuracy} -> ${result.finalTest!.accuracy}`,
  );
});
