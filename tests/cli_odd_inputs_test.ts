import assert from "node:assert/strict";
import { anneal, tempRunsDir } from "./_helpers.ts";

Deno.test("a flag given an empty value is refused naming the flag, not read as absent nor blamed on a --set", async () => {
  const cases: [string[], string][] = [
    // (trained the default 50 epochs)
    [
      ["train", "--epochs", ""],
      "--epochs <n>: anneal train --help says what it takes), or leave it out",
    ],
    // ("Cannot read config file ''")
    [
      ["train", "-c", ""],
      "--config <file>: anneal train --help says what it takes), or leave it out",
    ],
    // ("Cannot apply --set 'optimizer.lr='")
    [
      ["schedule", "--scheduler", '{"name":"constant"}', "--steps", "2", "--base-lr", ""],
      "--base-lr <lr>: anneal schedule --help says what it takes), or leave it out",
    ],
    // (a subcommand's, and a required option's: it may not be left out)
    [["runs", "show", "last", "--runs-dir", ""], "--runs-dir <dir>: anneal runs show --help"],
    [
      ["worker", "--storage", "", "--study", "s"],
      "--storage <url>: anneal worker --help says what it takes);",
    ],
  ];
  for (const [args, hint] of cases) {
    const out = await anneal(...args);
    const flag = args[args.indexOf("") - 1].replace(/^-c$/, "--config");
    assert.equal(out.code, 2, `${args.join(" ")}: ${out.stderr}`);
    assert.equal(
      out.stderr.split("\n")[0],
      `error[usage]: ${flag} was given an empty value ('')`,
      args.join(" "),
    );
    assert.ok(out.stderr.includes(`hint: give it a value (${hint}`), out.stderr);
    assert.match(out.stderr, /an empty or unset shell variable in quotes gives ''\n$/);
  }
  // (spaces alone: "'epochs': must be a number, current value is \" \"")
  const spaces = await anneal("train", "--epochs", " ");
  assert.equal(spaces.code, 2, spaces.stderr);
  assert.match(spaces.stderr, /^error\[usage\]: --epochs was given an empty value \(' '\)\n/);
  // (--json: the error line on stdout too; no run started)
  const json = await anneal("train", "--json", "--lr", "");
  assert.equal(json.code, 2, json.stderr);
  assert.equal(JSON.parse(json.stdout).error.message, "--lr was given an empty value ('')");
});

Deno.test("a word after anneal runs that is no command of it names its commands, the one meant, or the run it names", async () => {
  const typo = await anneal("runs", "shw");
  assert.equal(typo.code, 2, typo.stderr);
  assert.equal(
    typo.stderr,
    "error[usage]: anneal runs has no command 'shw' (did you mean 'show'?)\n" +
      "  hint: its commands: anneal runs show <run>, anneal runs compare <runs...>; " +
      "anneal runs alone lists the runs\n",
  );
  const run = await anneal("runs", "last");
  assert.equal(run.code, 2, run.stderr);
  assert.equal(
    run.stderr,
    "error[usage]: anneal runs has no command 'last'\n  hint: to show run 'last': anneal runs show last\n",
  );
});

Deno.test("a config file given without -c is refused with the -c that gives it", async () => {
  const out = await anneal("train", "examples/fashion_mnist_mlp.json");
  assert.equal(out.code, 2, out.stderr);
  assert.match(
    out.stderr,
    /^error\[usage\]: anneal train takes no arguments, and was given one more: 'examples\/fashion_mnist_mlp\.json'\n/,
  );
  assert.match(
    out.stderr,
    /\n {2}hint: a config file is given with -c: anneal train -c examples\/fashion_mnist_mlp\.json\n$/,
  );
  // (quoted for the shell where it needs it; a word that is no JSON file gets no such hint)
  const spaced = await anneal("sweep", "my sweep.json");
  assert.match(
    spaced.stderr,
    /hint: a config file is given with -c: anneal sweep -c 'my sweep\.json'/,
  );
  const other = await anneal("train", "extra");
  assert.equal(other.code, 2, other.stderr);
  assert.match(other.stderr, /\n {2}hint: anneal train --help says what it takes\n$/);
});

Deno.test("sweep's and worker's --trials and --parallel not positive integers say a value to give", async () => {
  const trials = await anneal("sweep", "--trials", "0");
  assert.equal(trials.code, 2, trials.stderr);
  assert.equal(
    trials.stderr,
    "error[usage]: --trials must be a positive integer, current value is '0'\n" +
      "  hint: give it like --trials 20\n",
  );
  const parallel = await anneal("worker", "--storage", "x.db", "--study", "s", "--parallel", "-1");
  assert.equal(parallel.code, 2, parallel.stderr);
  assert.equal(
    parallel.stderr,
    "error[usage]: --parallel must be a positive integer, current value is '-1'\n" +
      "  hint: give it like --parallel 2\n",
  );
});

Deno.test("an --out or --plot that names a directory with a trailing '/' is refused as a directory, not as a bug", async () => {
  await using runs = await tempRunsDir();
  const trained = await anneal(
    "train",
    "--backend",
    "cpu",
    "--epochs",
    "1",
    "--set",
    "data.n=50",
    "--runs-dir",
    runs.dir,
  );
  assert.equal(trained.code, 0, trained.stderr);
  // ("Directory not empty (os error 39): rename ...", and the hint to report a bug)
  for (const args of [["report", "last", "--out"], ["report", "last", "--plot", "lr", "--out"]]) {
    const out = await anneal(...args, `${runs.dir}/`, "--runs-dir", runs.dir);
    assert.equal(out.code, 1, out.stderr);
    assert.equal(
      out.stderr,
      `error[file]: Cannot write the --out file '${runs.dir}/': it is a directory, not a file ` +
        `(expected a file path in an existing directory) (at ${runs.dir}/)\n` +
        "  hint: give the path of a file\n",
    );
  }
  // the default path, in the run's directory, which the user never chose: --out is the fix
  // (a read-only run directory said "choose a path on a writable file system", no word of it)
  const [id] = [...Deno.readDirSync(runs.dir)].map((entry) => entry.name);
  await Deno.mkdir(`${runs.dir}/${id}/report.html`);
  const fixed = await anneal("report", "last", "--runs-dir", runs.dir);
  assert.equal(fixed.code, 1, fixed.stderr);
  assert.match(
    fixed.stderr,
    /\n {2}hint: write it elsewhere with --out FILE; or give the path of a file\n$/,
  );
  const plot = await anneal(
    "schedule",
    "--scheduler",
    '{"name":"constant"}',
    "--steps",
    "2",
    "--plot",
    `${runs.dir}/`,
  );
  assert.equal(plot.code, 1, plot.stderr);
  assert.match(plot.stderr, /Cannot write the --plot file '.*\/': it is a directory, not a file/);
});

Deno.test("a --scheduler or --metrics of '@' alone says the file's path goes after it, not as a bug", async () => {
  // ("error: Empty path is not allowed", and the hint to report a bug)
  const out = await anneal("schedule", "--scheduler", "@", "--steps", "2");
  assert.equal(out.code, 2, out.stderr);
  assert.equal(
    out.stderr,
    "error[usage]: --scheduler @ names no file: the file's path goes after the '@'\n" +
      "  hint: give it like --scheduler @scheduler.json, or give the JSON itself: --scheduler '...'\n",
  );
});

Deno.test("batch-size's --memory-limit not a positive number says a value to give", async () => {
  const out = await anneal("batch-size", "--memory-limit", "-5");
  assert.equal(out.code, 2, out.stderr);
  assert.equal(
    out.stderr,
    "error[usage]: --memory-limit must be a positive number of MiB, current value is '-5'\n" +
      "  hint: give it like --memory-limit 512 (MiB)\n",
  );
  for (const limit of ["Infinity", "1e999"]) {
    const infinite = await anneal("batch-size", "--memory-limit", limit);
    assert.equal(infinite.code, 2, infinite.stderr);
    assert.match(
      infinite.stderr,
      new RegExp(
        `^error\\[usage\\]: --memory-limit must be a positive number of MiB, current value is '${limit}'\n`,
      ),
    );
  }
});

Deno.test("a resume's --epochs or --max-steps that is no positive integer names the flag, its run's path the id and directory to give; a budget refused counts its epoch and step in the singular", async () => {
  await using runs = await tempRunsDir();
  const trained = await anneal(
    "train",
    "--backend",
    "cpu",
    "--epochs",
    "1",
    "--set",
    "data.n=50",
    "--runs-dir",
    runs.dir,
  );
  assert.equal(trained.code, 0, trained.stderr);
  // ("Invalid config: 'epochs': must be > 0", and to fix the field named above)
  const zero = await anneal("train", "--resume", "last", "--epochs", "0", "--runs-dir", runs.dir);
  assert.equal(zero.code, 2, zero.stderr);
  assert.match(
    zero.stderr,
    /error\[usage\]: --epochs must be a positive integer, current value is '0'\n {2}hint: give it like --epochs 10\n$/,
  );
  const steps = await anneal(
    "train",
    "--resume",
    "last",
    "--max-steps",
    "x",
    "--runs-dir",
    runs.dir,
  );
  assert.equal(steps.code, 2, steps.stderr);
  assert.match(steps.stderr, /--max-steps must be a positive integer, current value is 'x'/);
  // (a run's path, as train prints it: "is not a valid run id ... paths are not allowed")
  const id = (await Array.fromAsync(Deno.readDir(runs.dir)))[0].name;
  const path = await anneal("train", "--resume", `${runs.dir}/${id}`);
  assert.equal(path.code, 2, path.stderr);
  assert.equal(
    path.stderr,
    `error[usage]: '${runs.dir}/${id}' is the path of a run, not its id\n` +
      `  hint: give its id and the directory it is in: --resume ${id} --runs-dir ${runs.dir}\n`,
  );
  // ("it trains its 1 epochs", "a run of 1 steps")
  const budget = await anneal(
    "train",
    "--resume",
    "last",
    "--max-steps",
    "1",
    "--runs-dir",
    runs.dir,
  );
  assert.equal(budget.code, 2, budget.stderr);
  assert.match(budget.stderr, /it has no step budget \(it trains its 1 epoch\)/);
  assert.match(budget.stderr, /finish its 1 epoch \(--epochs N .*for a run of 1 step, start/);
});

Deno.test("train's plan line counts one step an epoch in the singular", async () => {
  await using runs = await tempRunsDir();
  const out = await anneal(
    ...["train", "--backend", "cpu", "--epochs", "1", "--set", "data.n=10"],
    ...["--set", "batchSize=16", "--runs-dir", runs.dir],
  );
  assert.equal(out.code, 0, out.stderr);
  // ("1 steps/epoch, 1 steps")
  assert.match(
    out.stdout + out.stderr,
    /10 training samples; 3 parameters; 1 step\/epoch, 1 step\n/,
  );
});

Deno.test("a --runs-dir with a name over 255 bytes says so of the run to start, and of the runs to list", async () => {
  await using runs = await tempRunsDir();
  const long = `${runs.dir}/${"r".repeat(300)}`;
  const train = await anneal("train", "--backend", "cpu", "--epochs", "1", "--runs-dir", long);
  assert.equal(train.code, 1, train.stderr);
  assert.match(
    train.stderr,
    /error\[file\]: Cannot start a run in '.*\/r{300}\/[^']+': its name 'r{24}\.\.\.' is too long for the file system \(300 bytes; 255 at most\)/,
  );
  assert.match(train.stderr, /hint: choose a shorter path/);
  const listed = await anneal("runs", "--runs-dir", long);
  assert.equal(listed.code, 1, listed.stderr);
  assert.match(listed.stderr, /error\[file\]: Cannot list the runs in '.*\/r{300}': its name/);
});
