import assert from "node:assert/strict";
import { openStorage } from "../mod.ts";
import type { StudyDefinition } from "../mod.ts";
import { anneal, tempRunsDir } from "./_helpers.ts";

/** A sweep of two tiny trials (one epoch of 64 samples each) over the learning rate. */
async function writeSweepConfig(dir: string): Promise<string> {
  const file = `${dir}/sw.json`;
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      name: "sw",
      backend: "cpu",
      runsDir: dir,
      epochs: 1,
      data: { kind: "synthetic-linear", n: 64, validationSplit: 0.25 },
      sweep: {
        space: { "optimizer.lr": { type: "logUniform", low: 0.0001, high: 0.1 } },
        trials: 2,
        sampler: "random",
        pruner: "none",
      },
    }),
  );
  return file;
}

async function storedStudy(dir: string) {
  const storage = await openStorage(`sqlite:${dir}/sweeps.db`);
  try {
    const study = await storage.loadStudy("sw");
    return {
      definition: study.space as StudyDefinition,
      trials: await storage.listTrials(study.id),
    };
  } finally {
    await storage.close();
  }
}

Deno.test("anneal sweep --trials extends a study to that many trials in all, under other execution settings", async () => {
  await using runs = await tempRunsDir();
  const config = await writeSweepConfig(runs.dir);
  const first = await anneal("sweep", "-c", config);
  assert.equal(first.code, 0, first.stderr);
  assert.equal((await storedStudy(runs.dir)).trials.length, 2);

  const more = await anneal(
    "sweep",
    "-c",
    config,
    "--trials",
    "5",
    "--parallel",
    "2",
    "--sampler",
    "tpe",
  );
  assert.equal(more.code, 0, more.stderr);
  assert.match(more.stdout, /study sw: 5 trials \(5 complete\)/);
  const { definition, trials } = await storedStudy(runs.dir);
  assert.deepEqual(trials.map((t) => t.number), [0, 1, 2, 3, 4]);
  // The study holds the settings it was last run with, for `anneal worker` on other machines.
  assert.equal(definition.sweep.trials, 5);
  assert.equal(definition.sweep.sampler, "tpe");
  assert.equal(definition.sweep.parallel, 2);

  const again = await anneal("sweep", "-c", config, "--trials", "5");
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /already has 5 trials and its budget is 5: no new trial is sampled/);
  assert.equal((await storedStudy(runs.dir)).trials.length, 5);
});

Deno.test("anneal sweep on a study with another search space or base config names each difference", async () => {
  await using runs = await tempRunsDir();
  const config = await writeSweepConfig(runs.dir);
  assert.equal((await anneal("sweep", "-c", config)).code, 0);
  const changed = await anneal(
    "sweep",
    "-c",
    config,
    "--set",
    'sweep.space={"optimizer.lr":{"type":"logUniform","low":0.001,"high":1}}',
    "--set",
    "epochs=2",
  );
  assert.equal(changed.code, 1);
  assert.match(changed.stderr, /error\[storage\]: Cannot load study 'sw'/);
  assert.match(changed.stderr, /base\.epochs: 1 stored, 2 given/);
  assert.match(changed.stderr, /space\["optimizer\.lr"\]\.low: 0\.0001 stored, 0\.001 given/);
  assert.match(changed.stderr, /space\["optimizer\.lr"\]\.high: 0\.1 stored, 1 given/);
  assert.match(changed.stderr, /hint: .*--study NAME/);
  assert.equal((await storedStudy(runs.dir)).trials.length, 2);
  // Under a new study name the changed sweep runs.
  const renamed = await anneal("sweep", "-c", config, "--set", "epochs=2", "--study", "sw-2");
  assert.equal(renamed.code, 0, renamed.stderr);
});
