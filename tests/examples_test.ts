import assert from "node:assert/strict";
import { configWarnings, loadConfig } from "../config.ts";
import { churnCsv } from "../examples/data/make_churn.ts";
import { sensorsCsv } from "../examples/data/make_sensors.ts";
import { anneal, REPO_ROOT, tempRunsDir, withoutDenoLockWait } from "./_helpers.ts";

// Every example the README and `--help` point users at must keep running as shipped. The image
// examples train minutes as written: here they run shortened (a slice of the data, one or two
// epochs) through the CLI, which still parses, builds and trains everything they configure.

const examples = async () => {
  const names: string[] = [];
  for await (const entry of Deno.readDir(`${REPO_ROOT}examples`)) {
    if (entry.isFile && entry.name.endsWith(".json")) names.push(`examples/${entry.name}`);
  }
  return names.sort();
};

Deno.test("every example config parses, and none starts with a warning", async () => {
  const names = await examples();
  assert.ok(names.length >= 6, `examples: ${names.join(", ")}`);
  for (const name of names) {
    const config = await loadConfig(`${REPO_ROOT}${name}`);
    assert.deepEqual(configWarnings(config), [], name);
  }
});

Deno.test("every image example trains (shortened) through the CLI", async () => {
  const names = (await examples()).filter((name) => name.includes("fashion_mnist"));
  for (const name of names) {
    await using runs = await tempRunsDir();
    const out = await anneal(
      "train",
      "-c",
      name,
      "--runs-dir",
      runs.dir,
      "--set",
      "data.limit=512",
      "--set",
      "data.testLimit=256",
      "--epochs",
      "1",
    );
    // (stdout's end too: whether a run that failed got to its end, as after an exit crash)
    assert.equal(out.code, 0, `${name}:\n${out.stderr}\nstdout ends:\n${out.stdout.slice(-800)}`);
    assert.match(out.stdout, /^Epoch 0: loss = /m, name);
    assert.match(out.stdout, /completed: finished 1 epoch \(1 epoch, /, name);
  }
});

Deno.test("the sensors example learns its CSV as shipped, and the CSV is what its generator writes", async () => {
  const csv = await Deno.readTextFile(`${REPO_ROOT}examples/data/sensors.csv`);
  assert.equal(csv, sensorsCsv(), "run examples/data/make_sensors.ts again");
  await using runs = await tempRunsDir();
  const out = await anneal(
    "train",
    "-c",
    "examples/sensors_classification.json",
    "--runs-dir",
    runs.dir,
    "--json",
  );
  assert.equal(out.code, 0, out.stderr);
  const events = out.stdout.trim().split("\n").map((line) => JSON.parse(line));
  const best = Math.max(
    ...events.filter((e) => e.type === "epoch").map((e) => e.metrics.valAccuracy),
  );
  // three overlapping states: a working run gets most readings right, a broken one a third
  assert.ok(best >= 0.8, `best valAccuracy ${best}`);
});

Deno.test("the churn example learns its Kaggle-style CSV (an id, string columns, empty cells) as shipped, and the CSV is what its generator writes", async () => {
  const csv = await Deno.readTextFile(`${REPO_ROOT}examples/data/churn.csv`);
  assert.equal(csv, churnCsv(), "run examples/data/make_churn.ts again");
  await using runs = await tempRunsDir();
  const out = await anneal(
    "train",
    "-c",
    "examples/churn_tabular.json",
    "--runs-dir",
    runs.dir,
    "--json",
  );
  assert.equal(out.code, 0, out.stderr);
  const events = out.stdout.trim().split("\n").map((line) => JSON.parse(line));
  // tenure, monthly_charges, 3 contracts and 3 payment methods; customer_id left out
  const plan = events.find((e) => e.type === "plan");
  assert.deepEqual(plan.dataset.inputShape, [8]);
  assert.equal(plan.dataset.trainSize + plan.dataset.validationSize, 400, "no row dropped");
  const best = Math.max(
    ...events.filter((e) => e.type === "epoch").map((e) => e.metrics.valAccuracy),
  );
  // 64% of the customers stay: a model that learns nothing gets that; the contract says most
  assert.ok(best >= 0.72, `best valAccuracy ${best}`);
});

Deno.test("examples/train_module.ts trains through mod.ts and prints each rate's lowest loss", async () => {
  await using runs = await tempRunsDir();
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${REPO_ROOT}examples/train_module.ts`,
      "--lrs",
      "0.003,0.03",
      "--epochs",
      "3",
      "--runs-dir",
      runs.dir,
    ],
    // (from another directory: the script finds its config's data file wherever it runs)
    cwd: runs.dir,
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder();
  assert.equal(code, 0, text.decode(stderr));
  const out = text.decode(stdout);
  assert.match(out, /^lr 0\.003 epoch 2: loss /m);
  assert.match(out, /^lr 0\.03: completed: /m);
  const rows = out.slice(out.indexOf("lowest valLoss")).trim().split("\n").slice(1);
  assert.equal(rows.length, 2);
  for (const row of rows) assert.match(row, new RegExp(`^0\\.0?03 +\\d\\.\\d{4} +${runs.dir}/`));
});

Deno.test("examples/train_module.ts answers a bad flag with what is wrong and a hint, exit 2, no stack trace", async () => {
  for (
    const [args, said] of [
      [["--lrs", "abc"], /error: --lrs takes numbers, current value is 'abc'\n {2}hint: /],
      [["--lrs", "0.01", "--epochs", "x"], /error: --epochs takes numbers/],
      [["--lrs=-1"], /error: Invalid config: 'optimizer\.lr': .*\n {2}hint: /],
      [["--bogus"], /error: Unknown option '--bogus'\nusage: /],
    ] as const
  ) {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${REPO_ROOT}examples/train_module.ts`, ...args],
      env: { NO_COLOR: "1" },
    }).output();
    const text = new TextDecoder().decode(stderr);
    assert.equal(code, 2, `${args.join(" ")}: ${text}`);
    assert.match(text, said);
    assert.doesNotMatch(text, /\n\s+at /, "no stack trace");
  }
});

Deno.test("examples/train_module.ts --help prints its usage and exits 0, training nothing", async () => {
  await using runs = await tempRunsDir();
  for (const flag of ["--help", "-h"]) {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${REPO_ROOT}examples/train_module.ts`, flag, "--runs-dir", runs.dir],
      env: { NO_COLOR: "1" },
    }).output();
    const text = new TextDecoder();
    assert.equal(code, 0, `${flag}: ${text.decode(stderr)}`);
    assert.match(text.decode(stdout), /^usage: deno run -A examples\/train_module\.ts \[--lrs /);
    assert.equal(withoutDenoLockWait(text.decode(stderr)), "");
    assert.deepEqual([...Deno.readDirSync(runs.dir)], [], "no run");
  }
});

Deno.test("every example file the README and the CLI's help name exists", async () => {
  const texts = [
    await Deno.readTextFile(`${REPO_ROOT}README.md`),
    (await anneal("--help")).stdout,
    ...await Promise.all(
      ["train", "lr-find", "sweep", "tune", "batch-size"].map(async (c) =>
        (await anneal(c, "--help")).stdout
      ),
    ),
  ];
  const named = new Set(
    texts.flatMap((text) => text.match(/examples\/[\w./-]+\.(json|ts|csv)/g) ?? []),
  );
  assert.ok(named.size >= 6, [...named].join(", "));
  for (const path of named) {
    const stat = await Deno.stat(`${REPO_ROOT}${path}`).catch(() => undefined);
    assert.ok(stat?.isFile, `${path} is named but does not exist`);
  }
});
