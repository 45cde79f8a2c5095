import assert from "node:assert/strict";
import { anneal, annealCommand, REPO_ROOT, tempRunsDir } from "./_helpers.ts";

async function withRunsDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "anneal-cli-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("anneal --help teaches with examples, and --version prints the version", async () => {
  const help = await anneal("--help");
  assert.equal(help.code, 0);
  for (const word of ["train", "schedule", "schema", "completions", "Examples:"]) {
    assert.match(help.stdout, new RegExp(word));
  }
  const trainHelp = await anneal("train", "--help");
  assert.match(trainHelp.stdout, /--set <path=value>/);
  assert.match(trainHelp.stdout, /Exit codes/);
  const version = await anneal("--version");
  const denoJson = JSON.parse(await Deno.readTextFile(`${REPO_ROOT}deno.json`));
  assert.equal(version.stdout.trim(), denoJson.version);
});

Deno.test("anneal --help whose reader has gone (a closed pipe, as `| head`) ends quietly", async () => {
  for (const args of [["--help"], ["train", "--help"], ["--bogus"]]) {
    const child = annealCommand(args).spawn();
    // (the pipe's reading end closed before the CLI writes: every write of its finds it gone)
    await child.stdout.cancel();
    const [status, stderr] = await Promise.all([child.status, new Response(child.stderr).text()]);
    // (help exits 0, a usage error 2, as with a reader; no uncaught EPIPE, exit 1, stack trace)
    assert.equal(status.code, args[0] === "--bogus" ? 2 : 0, stderr);
    assert.doesNotMatch(stderr, /EPIPE|Uncaught/);
  }
});

Deno.test("a command whose module anneal may not read is refused with what to allow", async () => {
  // (the CLI loads a command's module when it runs: --allow-read narrowed to elsewhere)
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read=/nonexistent", `${REPO_ROOT}cli/main.ts`, "runs"],
    env: { NO_COLOR: "1" },
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 2, stderr);
  assert.match(stderr, /Cannot load the command's module: Requires read access/);
  assert.match(stderr, /cli\/commands\/runs\.ts/);
  assert.match(stderr, /hint: allow anneal's own folder to be read: --allow-read/);
});

Deno.test("anneal train prints 'Epoch N: loss = ...' lines and where the run record is", async () => {
  await withRunsDir(async (dir) => {
    const out = await anneal("train", "--backend", "cpu", "--epochs", "3", "--runs-dir", dir);
    assert.equal(out.code, 0, out.stderr);
    const lines = out.stdout.split("\n").filter((l) => l.startsWith("Epoch "));
    assert.deepEqual(lines.map((l) => l.split(":")[0]), ["Epoch 0", "Epoch 1", "Epoch 2"]);
    assert.match(lines[0], /^Epoch 0: loss = \d+(\.\d+)?, mae = /);
    assert.match(out.stdout, new RegExp(`completed: .*run record: ${dir}/`));
  });
});

Deno.test("anneal train --json prints the event stream as NDJSON", async () => {
  await withRunsDir(async (dir) => {
    const out = await anneal(
      "train",
      "--backend",
      "cpu",
      "--epochs",
      "2",
      "--runs-dir",
      dir,
      "--json",
    );
    assert.equal(out.code, 0, out.stderr);
    const events = out.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(events[0].type, "run.started");
    assert.equal(events.at(-1).type, "run.finished");
    assert.equal(events.filter((e) => e.type === "epoch").length, 2);
  });
});

Deno.test("a bad config value gets an error naming the field, the value and the fix, without a stack trace", async () => {
  const out = await anneal("train", "--set", "batchSize=0");
  assert.equal(out.code, 1);
  assert.match(out.stderr, /'batchSize'/);
  assert.match(out.stderr, /current value is 0/);
  assert.match(out.stderr, /hint:/);
  assert.doesNotMatch(out.stderr, /^\s+at /m);
  const unknown = await anneal("train", "--set", "optimiser.lr=0.1");
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /optimiser/);
  const badLr = await anneal("train", "--set", "optimizer.lr=-1");
  assert.equal(badLr.code, 1);
  assert.match(badLr.stderr, /lr/);
});

Deno.test("a loss that does not fit the task fails before training, naming the data and the loss that fits", async () => {
  await withRunsDir(async (dir) => {
    const regression = await anneal("train", "--runs-dir", dir, "--set", "loss=crossEntropy");
    assert.equal(regression.code, 1);
    assert.match(regression.stderr, /error\[config\]: Cannot train with loss 'crossEntropy'/);
    assert.match(
      regression.stderr,
      /synthetic-linear data is a regression with 1 continuous target/,
    );
    assert.match(regression.stderr, /hint: the loss that fits a regression is 'mse'/);
    assert.doesNotMatch(regression.stderr, /--resume/, "there is no checkpoint to resume");
    assert.doesNotMatch(regression.stdout, /^Epoch /m, "nothing trained");
    assert.deepEqual([...Deno.readDirSync(dir)], [], "no run directory was made");
    const images = await anneal(
      "train",
      "-c",
      "examples/fashion_mnist_mlp.json",
      "--runs-dir",
      dir,
      "--set",
      "loss=mse",
    );
    assert.equal(images.code, 1);
    assert.match(images.stderr, /loss 'mse': it needs continuous targets/);
    assert.match(images.stderr, /is a classification/);
    assert.match(images.stderr, /--set loss=crossEntropy/);
    assert.doesNotMatch(images.stderr, /Size\(|broadcast/, "not a tfjs shape error");
  });
});

Deno.test("a misspelled early-stopping monitor fails before training, with the metrics the run logs", async () => {
  const out = await anneal(
    "train",
    "-c",
    "examples/fashion_mnist_mlp.json",
    "--set",
    "earlyStopping.monitor=valAcc",
  );
  assert.equal(out.code, 1);
  assert.match(out.stderr, /error\[config\]: Cannot watch 'valAcc' for early stopping/);
  assert.match(
    out.stderr,
    /loss, accuracy, valLoss, valAccuracy \(at earlyStopping\.monitor\)/,
  );
  assert.match(out.stderr, /hint: did you mean 'valAccuracy'\?/);
  const regression = await anneal("train", "--set", "earlyStopping.monitor=accuracy");
  assert.equal(regression.code, 1);
  assert.match(regression.stderr, /'accuracy' is logged for classification and binary tasks only/);
  assert.match(regression.stderr, /hint: watch 'mae' instead/);
});

Deno.test("a bad data file is refused naming its file:line, as the data loader found it, leaving no run", async () => {
  await withRunsDir(async (dir) => {
    const cases = [
      ["ragged.csv", /expected 3 fields, found 4 \(at tests\/fixtures\/data\/ragged\.csv:3\)/],
      [
        "empty_field.csv",
        /column 'x1' has an empty cell \(at tests\/fixtures\/data\/empty_field\.csv:2\)/,
      ],
    ] as const;
    for (const [file, where] of cases) {
      const data = { kind: "csv", path: `tests/fixtures/data/${file}`, target: "y" };
      const out = await anneal(
        "train",
        "--backend",
        "cpu",
        "--runs-dir",
        dir,
        "--set",
        `data=${JSON.stringify(data)}`,
      );
      assert.equal(out.code, 1);
      assert.match(out.stderr, /^error\[data\]: Cannot read CSV/m);
      assert.match(out.stderr, where);
      assert.match(out.stderr, /hint: /);
      assert.doesNotMatch(out.stdout + out.stderr, /actor 'dataLoader'|failed|run record|--resume/);
      assert.deepEqual([...Deno.readDirSync(dir)], [], "no run of 0 steps is left");
    }
  });
});

Deno.test("bad flag values are refused clearly: --log-every not a positive integer, an lr that is not finite or negative", async () => {
  for (const value of ["0", "abc", "1.5"]) {
    const out = await anneal("train", "--log-every", value);
    assert.equal(out.code, 2, value);
    assert.match(
      out.stderr,
      new RegExp(`--log-every must be a positive integer, current value is '${value}'`),
    );
    assert.match(out.stderr, /hint: /);
  }
  const infinite = await anneal("train", "--lr", "1e400");
  assert.equal(infinite.code, 2);
  assert.match(
    infinite.stderr,
    /--lr 1e400 has the number 1e400 at 'optimizer\.lr', which reads as Infinity: it is beyond/,
  );
  const negative = await anneal("train", "--lr", "-1");
  assert.equal(negative.code, 2);
  assert.equal(negative.stderr.match(/'optimizer\.lr'/g)?.length, 1, "the field is named once");
});

Deno.test("a config file that is not JSON gets an error naming the file", async () => {
  const file = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(file, "{ epochs: 3, }");
    const out = await anneal("train", "--config", file);
    assert.equal(out.code, 1);
    assert.match(out.stderr, new RegExp(`${file}.*not valid JSON`));
    const missing = await anneal("train", "--config", `${file}.missing`);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Cannot read config file/);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("anneal train --lr 10 exits 3 with 'learning rate too high: divide by 10'", async () => {
  await withRunsDir(async (dir) => {
    const out = await anneal("train", "--backend", "cpu", "--lr", "10", "--runs-dir", dir);
    assert.equal(out.code, 3);
    assert.match(out.stderr, /diverged/);
    assert.match(out.stderr, /learning rate too high: divide by 10/);
    assert.doesNotMatch(out.stdout, /^Epoch .*NaN/m, "no NaN epoch losses are printed");
  });
});

Deno.test("rmsprop alpha above 1: train warns, exits 3 blaming alpha; lr-find refuses it and maximize", async () => {
  await withRunsDir(async (dir) => {
    const rmsprop = ["--set", "optimizer.name=rmsprop", "--set", "optimizer.alpha=1.5"];
    const out = await anneal(
      "train",
      "--backend",
      "cpu",
      "--epochs",
      "2",
      "--runs-dir",
      dir,
      ...rmsprop,
    );
    assert.equal(out.code, 3, out.stderr);
    // The warning at the start and the diagnosis are on stdout; the end and its hint on stderr.
    assert.match(
      out.stdout,
      /warning \(supervisor\): optimizer\.alpha: rmsprop's alpha 1\.5 is above 1/,
    );
    assert.match(out.stderr, /hint: rmsprop's alpha 1\.5 is above 1: its square average/);
    assert.match(out.stdout, /Diagnosis: diverged: rmsprop alpha above 1/);
    assert.match(out.stdout, /try: .* --set optimizer\.alpha=0\.99/);
    assert.doesNotMatch(out.stdout + out.stderr, /learning rate too high/);
    const found = await anneal("lr-find", "--set", `runsDir=${dir}`, ...rmsprop);
    assert.equal(found.code, 1);
    assert.match(
      found.stderr,
      /error\[config\]: Cannot run the LR range test: rmsprop's alpha 1\.5/,
    );
    assert.match(found.stderr, /hint: use alpha in \[0, 1\): --set optimizer\.alpha=0\.99/);
    const ascent = ["--set", "optimizer.name=adam", "--set", "optimizer.maximize=true"];
    const maximized = await anneal("lr-find", "--set", `runsDir=${dir}`, ...ascent);
    assert.equal(maximized.code, 1);
    assert.match(maximized.stderr, /Cannot run the LR range test with optimizer\.maximize/);
    assert.match(maximized.stderr, /\(at optimizer\.maximize\)/);
  });
});

Deno.test("anneal train with dropLast and a batch larger than the data fails up front, not as NaN", async () => {
  await withRunsDir(async (dir) => {
    const out = await anneal(
      "train",
      "--backend",
      "cpu",
      "--epochs",
      "2",
      "--batch-size",
      "500",
      "--set",
      "data.dropLast=true",
      "--runs-dir",
      dir,
    );
    assert.equal(out.code, 1, out.stderr);
    assert.match(
      out.stderr,
      /'batchSize' is 500, more than the 200 training samples, and 'data\.dropLast' drops the short batch/,
    );
    assert.match(out.stderr, /hint: lower batchSize to at most 200 \(--set batchSize=200\)/);
    assert.doesNotMatch(out.stdout + out.stderr, /NaN|diverged|learning rate too high/);
  });
});

Deno.test("anneal schema prints the config's JSON Schema", async () => {
  const out = await anneal("schema");
  assert.equal(out.code, 0);
  const schema = JSON.parse(out.stdout);
  for (
    const field of [
      "optimizer",
      "scheduler",
      "batchSize",
      "epochs",
      "clipping",
      "earlyStopping",
      "data",
      "model",
    ]
  ) {
    assert.ok(field in schema.properties, `schema lacks ${field}`);
  }
  assert.equal(schema.additionalProperties, false);
  // a data section without its kind is the default data, in the schema as in the parser
  const kindless = schema.properties.data.oneOf.filter((variant: { properties: object }) =>
    !("kind" in variant.properties)
  );
  assert.equal(kindless.length, 1);
  assert.ok("validationSplit" in kindless[0].properties && !("path" in kindless[0].properties));
});

Deno.test("anneal train -c with a data section without its kind trains the default data with those fields", async () => {
  await using runs = await tempRunsDir();
  const file = `${runs.dir}/c.json`;
  const config = { backend: "cpu", epochs: 1, runsDir: runs.dir, data: { validationSplit: 0.25 } };
  await Deno.writeTextFile(file, JSON.stringify(config));
  const out = await anneal("train", "-c", file, "--set", "data.n=64", "--no-progress");
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /Epoch 0: .*valLoss/);
  const runId = out.stdout.match(/run record: \S+\/(\S+)/)![1];
  const saved = JSON.parse(await Deno.readTextFile(`${runs.dir}/${runId}/config.json`));
  assert.deepEqual(
    [saved.data.kind, saved.data.n, saved.data.validationSplit],
    ["synthetic-linear", 64, 0.25],
  );
  // one whose fields are a CSV file's says what is missing
  await Deno.writeTextFile(file, JSON.stringify({ ...config, data: { path: "x.csv", target: 0 } }));
  const refused = await anneal("train", "-c", file);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(
    refused.stderr,
    /'data\.kind': missing \(one of 'synthetic-linear', 'csv', 'idx'\).*the fields given fit 'csv' \(add "kind": "csv"\)/,
  );
});

Deno.test("anneal completions prints scripts for bash, zsh and fish", async () => {
  for (const shell of ["bash", "zsh", "fish"]) {
    const out = await anneal("completions", shell);
    assert.equal(out.code, 0);
    assert.match(out.stdout, /train/);
    assert.match(out.stdout, /resume/);
  }
  const bad = await anneal("completions", "tcsh");
  assert.equal(bad.code, 2);
});

Deno.test("anneal's fish completion keeps a description's quote and completes file names after a command", async () => {
  const script = (await anneal("completions", "fish")).stdout.split("\n");
  // (fish reads \' in single quotes as a quote: "config's", not "configs")
  assert.ok(
    script.includes(
      "complete -c anneal -n '__anneal_at' -a lr-find -d 'LR range test (Leslie Smith) " +
        "on the config\\'s data and model: suggests a learning rate'",
    ),
    script.join("\n"),
  );
  // no file names where a command goes, but not everywhere: `anneal train -c <TAB>` lists files
  assert.ok(script.includes("complete -c anneal -n '__anneal_at' -f"));
  assert.ok(!script.includes("complete -c anneal -f"), script.join("\n"));
});

Deno.test("anneal's bash completion goes on completing a command's options after an option's value or a run id", async () => {
  const script = (await anneal("completions", "bash")).stdout;
  // (each line: the words typed, the last one being completed)
  const typed = [
    "train -c x.json --ep",
    "diagnose last --js",
    "runs --runs-dir /tmp/r sh",
    "runs show last --runs-dir /tmp/r --js",
    "report last --pl",
  ];
  const output = await new Deno.Command("bash", {
    args: [
      "-c",
      [
        script,
        ...typed.map((words) =>
          `COMP_WORDS=(anneal ${words}); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); ` +
          `_anneal_complete; echo "[\${COMPREPLY[*]}]"`
        ),
      ].join("\n"),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  assert.equal(
    new TextDecoder().decode(output.stdout),
    "[--epochs]\n[--json]\n[show]\n[--json]\n[--plot]\n",
  );
});

Deno.test("tools/anneal on PATH runs the CLI where it is called, and the README's source <(anneal completions bash) completes it", async () => {
  await using runs = await tempRunsDir();
  // on PATH as the README puts it: a link to tools/anneal named anneal
  await Deno.mkdir(`${runs.dir}/bin`);
  await Deno.symlink(`${REPO_ROOT}/tools/anneal`, `${runs.dir}/bin/anneal`);
  await Deno.mkdir(`${runs.dir}/here`);
  const script = [
    "set -e",
    // a relative path is read from the directory anneal is called in
    "anneal runs --runs-dir here",
    "source <(anneal completions bash)",
    "complete -p anneal",
    'COMP_WORDS=(anneal tr); COMP_CWORD=1; _anneal_complete; echo "[${COMPREPLY[*]}]"',
    'COMP_WORDS=(anneal train --resu); COMP_CWORD=2; _anneal_complete; echo "[${COMPREPLY[*]}]"',
  ].join("\n");
  const output = await new Deno.Command("bash", {
    args: ["-c", script],
    cwd: runs.dir,
    env: { PATH: `${runs.dir}/bin:${Deno.env.get("PATH")}` },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  assert.equal(
    stdout,
    "no runs in here (train one: anneal train --runs-dir here)\n" +
      "complete -o default -F _anneal_complete anneal\n[train]\n[--resume]\n",
  );
  // its permissions are the task's: the README's two ways run the same CLI
  const { command: task, dependencies } = JSON.parse(
    await Deno.readTextFile(`${REPO_ROOT}/deno.json`),
  ).tasks.anneal;
  const wrapper = await Deno.readTextFile(`${REPO_ROOT}/tools/anneal`);
  const flags = (text: string) =>
    text.match(/--(?:unstable|allow|node-modules)[\w-]*(?:=[\w.,]+)?/g)?.sort();
  assert.deepEqual(flags(wrapper.slice(wrapper.indexOf("exec deno run "))), flags(task));
  assert.match(task, /^ANNEAL_ACTOR_PERMISSIONS=narrow /);
  assert.match(wrapper, /\nexport ANNEAL_ACTOR_PERMISSIONS=narrow\n/);
  // (and both install the npm packages first: the test below)
  assert.deepEqual(dependencies, ["install"]);
});

Deno.test("every task and script that runs Deno with --node-modules-dir=manual installs the npm packages first", async () => {
  // (under deno.json's auto, Deno 2.9.6 checks node_modules anew for each module of a Worker
  // that imports an npm package, ~55 times in a trainer's start: a seventh of an anneal train's
  // CPU time; manual takes node_modules as it is, and fails on a fresh clone without an install)
  const denoJson = JSON.parse(await Deno.readTextFile(`${REPO_ROOT}/deno.json`));
  assert.equal(denoJson.tasks.install.command, "deno install --quiet");
  const manual: string[] = [];
  for (const [name, value] of Object.entries(denoJson.tasks)) {
    const { command, dependencies = [] } = typeof value === "string"
      ? { command: value }
      : value as { command: string; dependencies?: string[] };
    const script = command.match(/^bash (tools\/\S+)$/)?.[1];
    const text = script === undefined ? command : await Deno.readTextFile(`${REPO_ROOT}/${script}`);
    if (!text.includes("--node-modules-dir=manual")) continue;
    manual.push(name);
    if (script === undefined) {
      assert.ok(dependencies.includes("install"), `task ${name} depends on install`);
    } else {
      // a script installs them itself (so that it does when run as bash tools/x.sh, too), before
      // its first deno run or test
      const install = text.search(/\n\(?(cd "\$root" && )?deno install --quiet\)?\n/);
      const run = text.search(/\bdeno (run|test)\b[^\n]*(--node-modules-dir=manual|"\$manual")/);
      assert.ok(install >= 0 && install < run, `${script} (task ${name}) installs, then runs`);
    }
  }
  assert.deepEqual(manual.sort(), ["anneal", "bench", "test"]);
  const wrapper = await Deno.readTextFile(`${REPO_ROOT}/tools/anneal`);
  const install = wrapper.indexOf('\n(cd "$root" && deno install --quiet)\n');
  const run = wrapper.search(/\nexec deno run [^\n]*--node-modules-dir=manual/);
  assert.ok(install > 0 && install < run, "tools/anneal installs, then runs");
});

Deno.test("anneal schedule previews learning rates as JSON and as a plot", async () => {
  const out = await anneal(
    "schedule",
    "--scheduler",
    '{"name":"step","stepSize":2,"gamma":0.5}',
    "--base-lr",
    "0.1",
    "--steps",
    "6",
    "--json",
  );
  assert.equal(out.code, 0, out.stderr);
  const lrs = JSON.parse(out.stdout);
  assert.deepEqual(lrs.map((v: number) => Number(v.toPrecision(6))), [
    0.1,
    0.1,
    0.05,
    0.05,
    0.025,
    0.025,
  ]);
  const plot = await Deno.makeTempFile({ suffix: ".svg" });
  try {
    const withPlot = await anneal(
      "schedule",
      "--scheduler",
      '{"name":"cosine","tMax":10}',
      "--steps",
      "10",
      "--plot",
      plot,
    );
    assert.equal(withPlot.code, 0, withPlot.stderr);
    assert.equal(withPlot.stdout.trim().split("\n").length, 10);
    assert.match(await Deno.readTextFile(plot), /<svg/);
  } finally {
    await Deno.remove(plot);
  }
  const bad = await anneal("schedule", "--scheduler", '{"name":"cosine","tMax":0}', "--steps", "5");
  assert.equal(bad.code, 2, "a flag's value: a usage error");
  assert.match(bad.stderr, /tMax/);
});

Deno.test("anneal batch-size prints throughput, memory and the scaled LR per batch size", async () => {
  const out = await anneal(
    "batch-size",
    "--set",
    "backend=cpu",
    "--sizes",
    "8,16,32",
    "--steps",
    "1",
  );
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /batch\s+ms\/step\s+samples\/s\s+peak MiB\s+scaled lr\s+fits/);
  assert.match(out.stdout, /largest batch that fits 32/);
  assert.match(out.stdout, /--set batchSize=32 --set optimizer.lr=0.02/);
  // samples/s in whole samples: the seed's tiny steps run ~1e6 a second, which read "1.913e+5"
  const rows = [...out.stdout.matchAll(/^ +(?:8|16|32) +\S+ +(\S+) /gm)].map((m) => m[1]);
  assert.equal(rows.length, 3, out.stdout);
  for (const cell of rows) assert.match(cell, /^(\d+|\d+\.\d+)$/, out.stdout);
  assert.match(out.stdout, /^scaled lr: by the linear rule \(lr x batch \/ base;/m);
  // adam scales by the square root: 0.001 at batch 16 is 0.001414 at 32 (the linear rule, 0.002,
  // overshoots an adaptive optimizer)
  const adam = await anneal(
    "batch-size",
    ...["--set", "backend=cpu", "--set", "optimizer.name=adam", "--set", "optimizer.lr=0.001"],
    ...["--sizes", "32", "--steps", "1"],
  );
  assert.equal(adam.code, 0, adam.stderr);
  assert.match(adam.stdout, /^ +32 +\S+ +\S+ +\S+ +0\.001414 +yes$/m, adam.stdout);
  assert.match(adam.stdout, /^scaled lr: by the sqrt rule \(lr x sqrt\(batch \/ base\);/m);
  assert.match(adam.stdout, /--set batchSize=32 --set optimizer\.lr=0\.001414$/m);
  // the default sizes stop at 4096, which is said where the data holds more (it read "largest
  // batch that fits 4096" of 5000 samples, as if 8192 had been tried)
  const capped = await anneal(
    ...["batch-size", "--set", "backend=cpu", "--set", "data.n=5000", "--steps", "1"],
  );
  assert.equal(capped.code, 0, capped.stderr);
  assert.match(capped.stdout, /^ 4096 /m);
  assert.match(
    capped.stdout,
    /^note: the default sizes stop at 4096 of the 5000 training samples; to try larger ones: --sizes 4096,5000$/m,
  );
  const bad = await anneal("batch-size", "--sizes", "8,x");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--sizes/);
  // (0 steps timed printed a row of Infinity ms, 'abc' one of NaN, each 'fits')
  for (const steps of ["0", "abc"]) {
    const none = await anneal(
      "batch-size",
      "--set",
      "backend=cpu",
      "--sizes",
      "8",
      "--steps",
      steps,
    );
    assert.equal(none.code, 2, none.stderr);
    assert.match(
      none.stderr,
      new RegExp(`--steps must be a positive integer, current value is '${steps}'`),
    );
    assert.doesNotMatch(none.stdout, /Infinity|NaN|yes/);
  }
});

Deno.test("anneal batch-size measures the TypeScript step's memory, so --memory-limit rules, and skips batches larger than the data", async () => {
  const out = await anneal("batch-size", "--set", "backend=cpu", "--sizes", "8,16,1000");
  assert.equal(out.code, 0, out.stderr);
  assert.doesNotMatch(out.stdout, /Infinity|NaN/);
  assert.match(out.stdout, /^ +16 +\S+ +\S+ +\d\.\d+e-4 +0\.01 +yes$/m, "a finite peak, in MiB");
  assert.match(out.stdout, /^ 1000 .* no \(not tried: more than the 200 training samples/m);
  assert.match(out.stdout, /note: sizes above the 200 training samples were not tried/);
  assert.match(out.stdout, /--set batchSize=16 --set optimizer.lr=0.01$/m);
  // A batch of 8 holds about 280 bytes, one of 16 about 500: a 400-byte budget fits 8 only.
  const limited = await anneal(
    "batch-size",
    "--set",
    "backend=cpu",
    "--sizes",
    "8,16",
    "--memory-limit",
    String(400 / 2 ** 20),
  );
  assert.equal(limited.code, 0, limited.stderr);
  assert.match(
    limited.stdout,
    /^ +16 .* no \(peak \d(?:\.\d{0,2}[1-9])?e-4 MiB above the memory limit of 3\.815e-4 MiB\)$/m,
  );
  assert.match(limited.stdout, /largest batch that fits 8,/);
  // No size fits: the table's rows say why, and an error says what would let one fit (it ended
  // "largest batch that fits none, fastest -", exit 1, without a word of why).
  const none = await anneal(
    "batch-size",
    "--set",
    "backend=cpu",
    "--sizes",
    "8,16",
    "--memory-limit",
    String(100 / 2 ** 20),
  );
  assert.match(
    none.stdout,
    /^ +8 .* no \(peak (\d(?:\.\d{0,2}[1-9])?e-4) MiB above the memory limit of 9\.537e-5 MiB\)$/m,
  );
  assert.match(none.stdout, /^ +16 .* no \(not tried: a smaller batch, 8, did not fit\)$/m);
  assert.equal(none.code, 2, none.stderr);
  assert.match(
    none.stderr,
    /^error\[usage\]: No batch size fits --memory-limit 0\.0000953\d* MiB on backend cpu: the smallest tried, 8, peaks at \d(?:\.\d{0,2}[1-9])?e-4 MiB \(at --memory-limit\)\n {2}hint: raise --memory-limit to at least \d\.\d+ \(MiB\), or make the model smaller/m,
  );
  // under batch norm, sizes that leave a batch of one sample, which train refuses, are not tried
  // (64 of 65 samples was named the largest that fits); where none is left, an error says so
  const norm = await anneal(
    "batch-size",
    "--set",
    "backend=cpu",
    "--set",
    "data.n=81",
    "--set",
    'model={"kind":"mlp","hidden":[8],"batchNorm":true}',
    "--set",
    "data.validationSplit=0.2",
    "--sizes",
    "16,64",
  );
  assert.equal(norm.code, 2, norm.stderr);
  assert.match(
    norm.stdout,
    /^ +64 .* no \(not tried: 65 training samples in batches of 64 leave a last batch of one sample, which batch norm cannot normalize \(train refuses it; --set data\.dropLast=true drops it\)\)$/m,
  );
  assert.match(
    norm.stderr,
    /^error\[usage\]: No batch size tried: each size given \(16, 64\) leaves batches of one sample among the 65 training samples, which the model's batch norm cannot normalize \(at --sizes\)\n {2}hint: drop the short batch \(--set data\.dropLast=true\), or try sizes that leave none \(--sizes 10,12,20,50,65\)$/m,
  );
  // every size's accumulation group above the data under dropLast: the sizes that make a step,
  // or, with fewer samples than batches a step, no accumulation
  const grouped = ["--set", "backend=cpu", "--set", "data.dropLast=true", "--set"];
  const groups = await anneal("batch-size", ...grouped, "gradientAccumulation=4", "--sizes", "64");
  assert.equal(groups.code, 2, groups.stderr);
  assert.match(
    groups.stderr,
    /hint: give sizes up to 50 \(--sizes 8,32,50\), or keep the short group/,
  );
  const few = await anneal(
    "batch-size",
    ...grouped,
    "gradientAccumulation=4",
    "--set",
    "data.n=3",
    "--sizes",
    "2",
  );
  assert.equal(few.code, 2, few.stderr);
  assert.match(
    few.stderr,
    /hint: keep the short group \(--set data\.dropLast=false\), or train without accumulation \(--set gradientAccumulation=1\)$/m,
  );
  // every size above the data: none tried, said so (it ended "fits none", exit 1, no error; with
  // --json, exit 0)
  const above = await anneal("batch-size", "--set", "backend=cpu", "--sizes", "1000");
  assert.equal(above.code, 2, above.stderr);
  assert.match(
    above.stderr,
    /^error\[usage\]: No batch size tried: every size given is above the 200 training samples \(at --sizes\)\n {2}hint: give sizes up to 200 .*--sizes 1,8,32,200$/m,
  );
  const json = await anneal(
    "batch-size",
    "--set",
    "backend=cpu",
    "--sizes",
    "8",
    "--json",
    "--memory-limit",
    String(100 / 2 ** 20),
  );
  // (with --json, the result line, then the error as the text's, and its exit status)
  assert.equal(json.code, 2, json.stderr);
  const [line, error] = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(line.largest, undefined);
  assert.ok(Array.isArray(line.rows), json.stdout);
  assert.match(JSON.stringify(error), /No batch size fits --memory-limit/);
});

Deno.test("anneal runs / runs show / runs compare / diagnose / report read the run records", async () => {
  await withRunsDir(async (dir) => {
    const a = await anneal(
      "train",
      "--backend",
      "cpu",
      "--epochs",
      "3",
      "--runs-dir",
      dir,
      "--name",
      "alpha",
    );
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /Diagnosis: /, "every run ends with its diagnosis");
    const b = await anneal(
      "train",
      "--backend",
      "cpu",
      "--epochs",
      "3",
      "--lr",
      "0.05",
      "--runs-dir",
      dir,
      "--name",
      "beta",
    );
    assert.equal(b.code, 0, b.stderr);
    const list = await anneal("runs", "--runs-dir", dir);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /alpha-.*linear\s+sgd\s+0\.01\s+16\s+3/);
    assert.match(list.stdout, /beta-.*0\.05/);
    const ids = list.stdout.match(/(alpha|beta)-\S+/g)!;
    const compare = await anneal("runs", "compare", ...ids, "--runs-dir", dir);
    assert.equal(compare.code, 0, compare.stderr);
    assert.match(compare.stdout, /optimizer\.lr/);
    assert.doesNotMatch(compare.stdout, /batchSize/, "only the fields that differ");
    assert.match(compare.stdout, /^status +completed +completed *$/m);
    assert.match(compare.stdout, /^epochs run +3 +3 *$/m);
    const show = await anneal("runs", "show", "last", "--runs-dir", dir);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /completed/);
    const diagnosis = await anneal("diagnose", ids[0], "--runs-dir", dir, "--json");
    assert.ok(Array.isArray(JSON.parse(diagnosis.stdout).findings));
    const report = await anneal("report", "last", "--runs-dir", dir);
    assert.equal(report.code, 0, report.stderr);
    const html = await Deno.readTextFile(report.stdout.match(/written to (\S+)/)![1]);
    assert.match(html, /<svg/);
    const plot = await anneal(
      "report",
      "last",
      "--runs-dir",
      dir,
      "--plot",
      "loss",
      "--out",
      `${dir}/loss.svg`,
    );
    assert.equal(plot.code, 0, plot.stderr);
    assert.match(await Deno.readTextFile(`${dir}/loss.svg`), /<svg/);
    assert.equal(plot.stderr, "");
    // '-' is stdout (it made a file named '-'); a name whose kind is not what --plot writes is said
    const piped = await anneal("report", "last", "--runs-dir", dir, "--plot", "loss", "--out", "-");
    assert.equal(piped.code, 0, piped.stderr);
    assert.match(piped.stdout, /^<svg[^]*<\/svg>\s*$/);
    // its reader gone (| head): the HTML page, larger than a pipe's buffer, ends quietly (it
    // failed: "Broken pipe (os error 32)", report it if it looks like a bug)
    const child = annealCommand(["report", "last", "--runs-dir", dir, "--out", "-"]).spawn();
    await child.stdout.cancel();
    const [status, stderr] = await Promise.all([child.status, new Response(child.stderr).text()]);
    assert.equal(status.code, 0, stderr);
    assert.equal(stderr, "");
    const misnamed = await anneal(
      "report",
      "last",
      "--runs-dir",
      dir,
      "--plot",
      "loss",
      "--out",
      `${dir}/loss.html`,
    );
    assert.equal(misnamed.code, 0, misnamed.stderr);
    assert.match(misnamed.stderr, /^note: .*loss\.html holds the SVG plot --plot loss asks for/m);
    const escape = await anneal("report", "../../etc", "--runs-dir", dir);
    assert.equal(escape.code, 2, "a path is not a run id");
    assert.match(escape.stderr, /not a valid run id/);
  });
});

Deno.test("anneal lr-find suggests a learning rate, writes the plot, and --apply edits the config", async () => {
  await withRunsDir(async (dir) => {
    const file = `${dir}/config.json`;
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        backend: "cpu",
        epochs: 4,
        runsDir: dir,
        data: { kind: "synthetic-linear" },
      }),
    );
    const out = await anneal(
      "lr-find",
      "-c",
      file,
      "--iterations",
      "60",
      "--schedule",
      "warmupCosine",
      "--apply",
    );
    // the seed's curve at batch 16 is too noisy to pin a rate down: the suggestion is not written
    // (it was, and the config trained at a rate nothing vouched for)
    const written = await Deno.readTextFile(file);
    assert.equal(out.code, 1, out.stderr);
    assert.match(
      out.stdout,
      /suggested lr = [0-9.e+-]+ \((valley|steepest|minimumDiv10)\).*: unreliable$/m,
    );
    assert.match(out.stdout, /^to use it: anneal train -c \S+config\.json --set 'optimizer\.lr=/m);
    assert.match(
      out.stderr,
      /^anneal: not applied to \S+config\.json: the suggestion is unreliable .* or write it anyway with --apply --force$/m,
    );
    assert.equal(JSON.parse(written).scheduler, undefined, "the file is left as it was");
    const plot = out.stdout.match(/plot written to (\S+?);/)![1];
    assert.match(await Deno.readTextFile(plot), /<svg/);
    // with --json the reasons are in the JSON, not above (it said "above", with nothing there)
    const json = await anneal("lr-find", "-c", file, "--iterations", "60", "--apply", "--json");
    assert.equal(json.code, 1, json.stderr);
    assert.equal(JSON.parse(json.stdout).applied, false);
    assert.match(json.stderr, /unreliable \(the reasons are the JSON's agreement\.reasons\)/);
    // --force writes it, saying so
    const forced = await anneal(
      ...["lr-find", "-c", file, "--iterations", "60", "--schedule", "warmupCosine"],
      ...["--apply", "--force"],
    );
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /^applied to \S+ \(unreliable, as --force asked\): /m);
    const applied = JSON.parse(await Deno.readTextFile(file));
    assert.equal(applied.scheduler.name, "warmupCosine");
    assert.ok(applied.optimizer.lr > 1e-7 && applied.optimizer.lr < 10);
    assert.equal(applied.epochs, 4, "the rest of the config is kept");
    const runDir = out.stdout.match(/record in (\S+)/)![1];
    const report = await anneal(
      "report",
      runDir.split("/").pop()!,
      "--runs-dir",
      dir,
      "--plot",
      "lrFind",
      "--out",
      `${dir}/lr.svg`,
    );
    assert.equal(report.code, 0, report.stderr);
    const noConfig = await anneal("lr-find", "--apply");
    assert.equal(noConfig.code, 2);
    assert.match(noConfig.stderr, /needs -c FILE/);
    const forceAlone = await anneal("lr-find", "-c", file, "--force");
    assert.equal(forceAlone.code, 2);
    assert.match(forceAlone.stderr, /--force writes an unreliable suggestion with --apply/);
  });
});

Deno.test("anneal train says the rate optimizer.baseBatch scales optimizer.lr to, by its rule", async () => {
  await withRunsDir(async (dir) => {
    const out = await anneal(
      ...["train", "--backend", "cpu", "--epochs", "1", "--runs-dir", dir],
      ...["--set", 'optimizer={"name":"adam","lr":0.001,"baseBatch":64}'],
    );
    assert.equal(out.code, 0, out.stderr);
    // (it was in meta.json alone)
    assert.match(
      out.stderr,
      /^anneal: optimizer\.lr 0\.001 trains at 5e-4: optimizer\.baseBatch 64 scaled to the effective batch 16 by the sqrt rule \(x sqrt\(16 \/ 64\)\)$/m,
    );
    const runDir = out.stdout.match(/run record: (\S+)/)![1];
    const meta = JSON.parse(await Deno.readTextFile(`${runDir}/meta.json`));
    assert.equal(meta.resolvedLr, 0.0005);
  });
});
