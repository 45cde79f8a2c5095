/**
 * `anneal schedule` reads its schedule as the scheduler of a run config and validates it as
 * `anneal train` does: it previews no schedule train refuses, and refuses it with train's words.
 */
import assert from "node:assert/strict";
import { anneal, tempRunsDir } from "./_helpers.ts";

/** The first line of a config refusal from its field on (the header names what was typed). */
function refusal(stderr: string): string {
  const line = stderr.split("\n")[0];
  const at = line.search(/: '(scheduler|optimizer)\./);
  assert.ok(/^error\[(config|usage)\]: Invalid /.test(line) && at > 0, stderr);
  return line.slice(at + 2);
}

const cyclic = { name: "cyclic", baseLr: 0.01, maxLr: 0.1, stepSizeUp: 2 };

Deno.test("anneal schedule refuses every schedule anneal train refuses up front, with train's message", async () => {
  await using runs = await tempRunsDir();
  const cases: { scheduler: unknown; set?: string[]; field: RegExp }[] = [
    // exp_range's gamma ** t takes the cycled momentum below 0
    {
      scheduler: { ...cyclic, mode: "exp_range", gamma: 1.5, cycleMomentum: true },
      field: /^'scheduler\.gamma': must be in \[0, 1\] when cycleMomentum is true/,
    },
    // both rates 0
    { scheduler: { ...cyclic, baseLr: 0, maxLr: 0 }, field: /^'scheduler\.maxLr': must not be 0/ },
    // adam has no momentum for CyclicLR to cycle
    {
      scheduler: cyclic,
      set: ["optimizer.name=adam"],
      field: /^'scheduler\.cycleMomentum': must be false with optimizer adam/,
    },
    // RMSprop's momentum rising from 0
    {
      scheduler: { ...cyclic, maxMomentum: 0 },
      set: ["optimizer.name=rmsprop"],
      field: /^'scheduler\.maxMomentum': must not be 0 with optimizer rmsprop/,
    },
    // adagrad has no momentum or beta1 for onecycle to cycle
    {
      scheduler: { name: "onecycle", maxLr: 0.1, totalSteps: 20 },
      set: ["optimizer.name=adagrad"],
      field: /^'scheduler\.cycleMomentum': must be false with optimizer adagrad/,
    },
    // a schema refusal, named by its config path as train names it
    { scheduler: { name: "cosine", tMax: 0 }, field: /^'scheduler\.tMax': must not be 0/ },
  ];
  for (const { scheduler, set = [], field } of cases) {
    const sets = set.flatMap((override) => ["--set", override]);
    const spec = JSON.stringify(scheduler);
    const train = await anneal(
      "train",
      "--set",
      `scheduler=${spec}`,
      ...sets,
      "--epochs",
      "1",
      "--runs-dir",
      runs.dir,
    );
    assert.equal(train.code, 1, `train ${spec}: ${train.stdout}${train.stderr}`);
    const preview = await anneal("schedule", "--scheduler", spec, ...sets, "--steps", "5");
    // (the flag's value: a usage error, exit 2, where train's --set is a config error, exit 1)
    assert.equal(preview.code, 2, `schedule ${spec}: ${preview.stdout}${preview.stderr}`);
    assert.equal(preview.stdout, "");
    assert.match(refusal(train.stderr), field);
    assert.equal(refusal(preview.stderr), refusal(train.stderr));
    // the refusal names the flag the schedule was typed in
    assert.match(preview.stderr, /^error\[usage\]: Invalid --scheduler '\{/);
    assert.match(preview.stderr, /hint: change the --scheduler value/);
  }
  assert.deepEqual([...Deno.readDirSync(runs.dir)], [], "the refused runs left nothing behind");
});

Deno.test("anneal schedule -c previews the config's own schedule at the rate train starts from", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = `${dir}/config.json`;
    await Deno.writeTextFile(
      config,
      JSON.stringify({
        batchSize: 16,
        optimizer: { name: "sgd", lr: 0.1, baseBatch: 32 },
        scheduler: { name: "step", stepSize: 2, gamma: 0.5 },
      }),
    );
    // optimizer.lr 0.1 scaled to the batch of 16 by sgd's linear scaling rule: 0.05
    const out = await anneal("schedule", "-c", config, "--steps", "4", "--json");
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(JSON.parse(out.stdout), [0.05, 0.05, 0.025, 0.025]);
    // --base-lr sets optimizer.lr; --scheduler replaces the config's scheduler
    const other = await anneal(
      "schedule",
      "-c",
      config,
      "--base-lr",
      "0.2",
      "--scheduler",
      '{"name":"constant"}',
      "--steps",
      "2",
      "--json",
    );
    assert.equal(other.code, 0, other.stderr);
    assert.deepEqual(JSON.parse(other.stdout), [0.1, 0.1]);
    // a config's optimizer is what the momentum checks see: adam under a cyclic is refused
    const adam = await anneal(
      "schedule",
      "-c",
      config,
      "--set",
      "optimizer.name=adam",
      "--scheduler",
      JSON.stringify(cyclic),
      "--steps",
      "2",
    );
    assert.equal(adam.code, 2, adam.stdout);
    assert.match(adam.stderr, /'scheduler\.cycleMomentum': must be false with optimizer adam/);
    // under a schedule that sets its own rates, --base-lr changes nothing: said, not ignored
    const peak = await anneal(
      "schedule",
      "--scheduler",
      JSON.stringify(cyclic),
      "--base-lr",
      "0.5",
      "--steps",
      "1",
      "--json",
    );
    assert.equal(peak.code, 0, peak.stderr);
    assert.deepEqual(JSON.parse(peak.stdout), [0.01]);
    assert.match(
      peak.stderr,
      /--base-lr 0\.5 changes nothing here: cyclic's rates run between its baseLr and maxLr, not from optimizer\.lr \(scheduler\.maxLr sets them\)/,
    );
    // a config without a scheduler trains at optimizer.lr throughout: previewed, saying so
    const plain = `${dir}/plain.json`;
    await Deno.writeTextFile(plain, JSON.stringify({ optimizer: { name: "sgd", lr: 0.2 } }));
    const constant = await anneal("schedule", "-c", plain, "--steps", "2", "--json");
    assert.equal(constant.code, 0, constant.stderr);
    assert.deepEqual(JSON.parse(constant.stdout), [0.2, 0.2]);
    assert.match(
      constant.stderr,
      /plain\.json has no scheduler: its rate is optimizer\.lr at every step/,
    );
    // one whose scheduler a --set removed: said of the --set, not of the file
    const removed = await anneal(
      "schedule",
      "-c",
      "examples/fashion_mnist_cyclic.json",
      "--set",
      "scheduler=null",
      "--steps",
      "2",
      "--json",
    );
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(
      removed.stderr,
      /--set scheduler=null leaves examples\/fashion_mnist_cyclic\.json with no scheduler: its rate/,
    );
    // a schedule given with --set, as train takes it
    const set = await anneal(
      "schedule",
      "--set",
      'scheduler={"name":"step","stepSize":1,"gamma":0.5}',
      "--steps",
      "2",
      "--json",
    );
    assert.equal(set.code, 0, set.stderr);
    assert.deepEqual(JSON.parse(set.stdout), [0.1, 0.05]);
    // neither a schedule nor a config: nothing to preview
    const none = await anneal("schedule", "--steps", "2");
    assert.equal(none.code, 2, none.stdout);
    assert.match(none.stderr, /needs a schedule: --scheduler JSON or -c FILE/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("anneal schedule lists a schedule stepped once an epoch by epoch, in its lines and its plot's axis", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const perEpoch = await anneal(
      "schedule",
      "--scheduler",
      '{"name":"step","stepSize":2,"interval":"epoch"}',
      "--steps",
      "3",
      "--plot",
      `${dir}/epochs.svg`,
    );
    assert.equal(perEpoch.code, 0, perEpoch.stderr);
    assert.deepEqual(perEpoch.stdout.trim().split("\n").map((line) => line.split("\t")[0]), [
      "epoch 0",
      "epoch 1",
      "epoch 2",
    ]);
    assert.match(await Deno.readTextFile(`${dir}/epochs.svg`), />epoch</);
    // plateau steps at each epoch's metric
    const plateau = await anneal(
      "schedule",
      "--scheduler",
      '{"name":"plateau","patience":0}',
      "--steps",
      "2",
      "--metrics",
      "[1]",
    );
    assert.match(plateau.stdout, /^epoch 0\tlr 0\.1/);
    assert.doesNotMatch(plateau.stderr, /--metrics/);
    // metrics past the last epoch shown: said, not silently dropped
    const past = await anneal(
      "schedule",
      "--scheduler",
      '{"name":"plateau","patience":0}',
      "--steps",
      "2",
      "--metrics",
      "[1,2,3,4]",
    );
    assert.equal(past.code, 0, past.stderr);
    assert.equal(past.stdout, plateau.stdout);
    assert.match(
      past.stderr,
      /anneal: --metrics: 3 of its 4 values are past the last epoch shown, and unused \(2 epochs read 1, the metric after each epoch but the last\); --steps 5 uses every one/,
    );
    const one = await anneal(
      "schedule",
      ...["--scheduler", '{"name":"plateau","patience":0}', "--steps", "2", "--metrics", "[1,2]"],
    );
    assert.match(one.stderr, /--metrics: 1 of its 2 values is past the last epoch shown/);
    // a schedule of steps is listed by step, as before
    const perStep = await anneal(
      "schedule",
      "--scheduler",
      '{"name":"step","stepSize":2}',
      "--steps",
      "1",
      "--plot",
      `${dir}/steps.svg`,
    );
    assert.match(perStep.stdout, /^step 0\tlr 0\.1/);
    // metrics only a plateau reads: said, not silently dropped
    const ignored = await anneal(
      "schedule",
      "--scheduler",
      '{"name":"step","stepSize":2}',
      "--steps",
      "1",
      "--metrics",
      "[1]",
    );
    assert.equal(ignored.code, 0, ignored.stderr);
    assert.match(
      ignored.stderr,
      /--metrics is read by a plateau schedule only: the step schedule ignores it/,
    );
    assert.match(await Deno.readTextFile(`${dir}/steps.svg`), />step</);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("anneal schedule refuses more steps than it can list, saying how many it lists, instead of crashing", async () => {
  const out = await anneal(
    "schedule",
    "--scheduler",
    '{"name":"cosine","tMax":10}',
    "--steps",
    "2e8",
    "--json",
  );
  assert.equal(out.code, 2, out.stderr);
  assert.match(
    out.stderr,
    /^error\[usage\]: --steps 2e8 is more than anneal schedule lists \(at most 10,000,000 steps, a line each\)/,
  );
  assert.doesNotMatch(out.stderr, /report it if it looks like a bug/);
  // (--json: the error, as one JSON line, and no list)
  const { type, error } = JSON.parse(out.stdout);
  assert.equal(type, "error");
  assert.equal(error.code, "usage");
  assert.match(error.message, /^--steps 2e8 is more than anneal schedule lists/);
});
