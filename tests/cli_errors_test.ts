import assert from "node:assert/strict";
import { anneal, tempRunsDir } from "./_helpers.ts";
import { type AnnealError, lrFind, parseConfig } from "../mod.ts";

/** A user's error: names what is wrong, says how to fix it, and is not called a bug. */
function assertUserError(out: { code: number; stderr: string }, code: number, pattern: RegExp) {
  assert.equal(out.code, code, out.stderr);
  assert.match(out.stderr, pattern);
  assert.match(out.stderr, /\n {2}hint: /);
  assert.doesNotMatch(out.stderr, /report it if it looks like a bug/);
}

Deno.test("a --runs-dir that is a file is named as a file where a directory is expected", async () => {
  await using runs = await tempRunsDir();
  const file = `${runs.dir}/not-a-dir`;
  await Deno.writeTextFile(file, "");
  const list = await anneal("runs", "--runs-dir", file);
  assertUserError(
    list,
    1,
    new RegExp(`error\\[file\\]: .*'${file}': '${file}' is a file, not a directory`),
  );
  assert.match(list.stderr, /hint: point --runs-dir at the directory that holds the runs/);
  const show = await anneal("runs", "show", "some-run", "--runs-dir", file);
  assertUserError(show, 1, new RegExp(`'${file}': it is a file, not a directory`));
  const train = await anneal("train", "--backend", "cpu", "--epochs", "1", "--runs-dir", file);
  assertUserError(
    train,
    1,
    new RegExp(`error\\[file\\]: Cannot create the directory '${file}/.*': '${file}' is a file`),
  );
  assert.match(
    train.stderr,
    /hint: point runsDir at a directory \(anneal train's --runs-dir, --set runsDir=DIR with the other commands\)/,
  );
});

Deno.test("report --out into a missing directory and schedule --scheduler @missing name the flag and the path", async () => {
  await using runs = await tempRunsDir();
  const trained = await anneal(
    "train",
    "--backend",
    "cpu",
    "--epochs",
    "1",
    "--runs-dir",
    runs.dir,
  );
  assert.equal(trained.code, 0, trained.stderr);
  const out = `${runs.dir}/no/such/report.html`;
  const report = await anneal("report", "last", "--runs-dir", runs.dir, "--out", out);
  assertUserError(
    report,
    1,
    new RegExp(
      `Cannot write the --out file '${out}': the directory '${runs.dir}/no/such' does not exist`,
    ),
  );
  assert.match(report.stderr, new RegExp(`hint: create it \\(mkdir -p '${runs.dir}/no/such'\\)`));

  const missing = `${runs.dir}/missing.json`;
  const schedule = await anneal("schedule", "--scheduler", `@${missing}`, "--steps", "3");
  assertUserError(
    schedule,
    1,
    new RegExp(
      `Cannot read the --scheduler file '${missing}': no such file or directory \\(expected a readable JSON file\\)`,
    ),
  );
});

Deno.test("tune --out and lr-find --plot into a missing directory, or onto a directory, are refused before any run, naming the flag and the path", async () => {
  await using runs = await tempRunsDir();
  const config = [
    "--set",
    "backend=cpu",
    "--set",
    "data.validationSplit=0.2",
    "--set",
    `runsDir=${runs.dir}`,
  ];
  const missing = `${runs.dir}/no/such`;
  for (
    const [flag, args] of [
      ["--out", ["tune", ...config, "--budget", "2", "--out"]],
      ["--plot", ["lr-find", ...config, "--iterations", "20", "--plot"]],
    ] as const
  ) {
    const out = await anneal(...args, `${missing}/file`);
    assertUserError(
      out,
      1,
      new RegExp(
        `Cannot write the ${flag} file '${missing}/file': the directory '${missing}' does not exist`,
      ),
    );
    assert.match(out.stderr, new RegExp(`hint: create it \\(mkdir -p '${missing}'\\)`));
    const onto = await anneal(...args, runs.dir);
    assertUserError(
      onto,
      1,
      new RegExp(`Cannot write the ${flag} file '${runs.dir}': it is a directory`),
    );
  }
  // no tune, range test or run was started: the runs directory holds nothing
  assert.deepEqual(await Array.fromAsync(Deno.readDir(runs.dir)), []);
});

Deno.test("an invalid value from --set is blamed on the --set, not on the config file", async () => {
  await using runs = await tempRunsDir();
  const file = `${runs.dir}/config.json`;
  await Deno.writeTextFile(file, JSON.stringify({ backend: "cpu", epochs: 0 }));
  const out = await anneal("train", "-c", file, "--set", "data.validationSplit=1");
  assertUserError(
    out,
    1,
    /Invalid --set 'data\.validationSplit=1': 'data\.validationSplit': must be < 1, current value is 1/,
  );
  // The file's own mistake is still named as the file's.
  assert.match(out.stderr, new RegExp(`'epochs' \\(in config '${file}'\\): must be > 0`));
  assert.match(out.stderr, /hint: change the --set value/);
});

Deno.test("an invalid --epochs, --lr or --batch-size is blamed on that flag, not on a --set nobody typed", async () => {
  await using runs = await tempRunsDir();
  // (a usage error, exit 2, as every command's flags: it was a config error, exit 1)
  const out = await anneal("train", "--runs-dir", runs.dir, "--batch-size", "0", "--lr", "0");
  assertUserError(
    out,
    2,
    /Invalid --batch-size 0: 'batchSize': must be > 0, current value is 0; 'optimizer\.lr' \(in --lr 0\): must be > 0/,
  );
  assert.match(out.stderr, /hint: change the --batch-size value/);
  assert.doesNotMatch(out.stderr, /--set/);
  for (const args of [["--epochs", "abc"], ["--epochs", "2.5"], ["--max-steps", "0"]]) {
    const bad = await anneal("train", "--runs-dir", runs.dir, ...args);
    assertUserError(bad, 2, new RegExp(`Invalid ${args.join(" ")}: `));
  }
  // a --set that writes the same field is still named as the --set
  const set = await anneal("train", "--runs-dir", runs.dir, "--set", "epochs=0");
  assertUserError(set, 1, /Invalid --set 'epochs=0': 'epochs': must be > 0/);
});

Deno.test("report --plot lrFind on a training run points at the lr-find run to report", async () => {
  await using runs = await tempRunsDir();
  const config = `${runs.dir}/config.json`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({ backend: "cpu", epochs: 1, runsDir: runs.dir }),
  );
  const none = await anneal("report", "last", "--runs-dir", runs.dir, "--plot", "lrFind");
  assert.equal(none.code, 2);
  assert.match(none.stderr, /No runs/);
  const trained = await anneal("train", "-c", config);
  assert.equal(trained.code, 0, trained.stderr);
  const trainedRun = trained.stdout.match(/run record: (\S+)/)![1].split("/").pop()!;
  // `last` with --plot lrFind is the newest range test's record: none yet
  const noTest = await anneal("report", "last", "--runs-dir", runs.dir, "--plot", "lrFind");
  assertUserError(noTest, 2, /No LR range test's record in '.*' \(only training runs\)/);
  assert.match(noTest.stderr, /hint: run one first: anneal lr-find --set runsDir=/);
  const before = await anneal("report", trainedRun, "--runs-dir", runs.dir, "--plot", "lrFind");
  assertUserError(before, 2, /it holds no LR range test/);
  // (lr-find records in its config's runsDir, runs/ unless set: the hint sets it)
  assert.match(
    before.stderr,
    /hint: run the test \(anneal lr-find -c CONFIG --set runsDir=\S+\), then report/,
  );
  const found = await anneal("lr-find", "-c", config, "--iterations", "60");
  assert.equal(found.code, 0, found.stderr);
  // (off a terminal, its start is said at once, and then a line every few seconds)
  assert.match(
    found.stderr,
    /^anneal: LR range test: 60 steps, lr 1e-7 to 10 \(a line every 5 s\)$/m,
  );
  const lrFindRun = found.stdout.match(/record in (\S+)/)![1].split("/").pop()!;
  const train = await anneal("train", "-c", config);
  assert.equal(train.code, 0, train.stderr);
  const newer = train.stdout.match(/run record: (\S+)/)![1].split("/").pop()!;
  const after = await anneal("report", newer, "--runs-dir", runs.dir, "--plot", "lrFind");
  assertUserError(after, 2, /it holds no LR range test/);
  const command = `anneal report ${lrFindRun} --plot lrFind --runs-dir ${runs.dir}`;
  assert.ok(after.stderr.includes(`hint: report the newest range test's run: ${command}`));
  const plotted = await anneal(...command.split(" ").slice(1), "--out", `${runs.dir}/lr.svg`);
  assert.equal(plotted.code, 0, plotted.stderr);
  // `last`: the range test's record for --plot lrFind, the newest training run otherwise (the
  // range test's record, newer than it, was taken: "no data for loss", and diagnose read no curves)
  const last = await anneal(
    ...["report", "last", "--runs-dir", runs.dir, "--plot", "lrFind", "--out", `${runs.dir}/l.svg`],
  );
  assert.equal(last.code, 0, last.stderr);
  assert.equal(
    await Deno.readTextFile(`${runs.dir}/l.svg`),
    await Deno.readTextFile(`${runs.dir}/lr.svg`),
  );
  const again = await anneal("lr-find", "-c", config, "--iterations", "60");
  assert.equal(again.code, 0, again.stderr);
  const loss = await anneal(
    ...[
      "report",
      "last",
      "--runs-dir",
      runs.dir,
      "--plot",
      "loss",
      "--out",
      `${runs.dir}/loss.svg`,
    ],
  );
  assert.equal(loss.code, 0, loss.stderr);
  const diagnosed = await anneal("diagnose", "last", "--runs-dir", runs.dir, "--json");
  assert.equal(diagnosed.code, 0, diagnosed.stderr);
  assert.equal(JSON.parse(diagnosed.stdout).config, `${runs.dir}/${newer}/config.json`);
});

Deno.test("lr-find with too few iterations to find a minimum suggests nothing", async () => {
  await using runs = await tempRunsDir();
  const set = ["--set", 'backend="cpu"', "--set", `runsDir=${JSON.stringify(runs.dir)}`];
  const two = await anneal("lr-find", ...set, "--iterations", "2");
  assertUserError(two, 2, /--iterations must be at least 10, current value is '2'/);
  assert.doesNotMatch(two.stdout, /suggested lr/);
  const ten = await anneal("lr-find", ...set, "--iterations", "10");
  assertUserError(ten, 1, /found no minimum of the smoothed loss: it never fell/);
  assert.doesNotMatch(ten.stdout, /suggested lr/);
  // (its rates as every number: 4 significant digits)
  const linear = await anneal("lr-find", ...set, "--iterations", "20", "--mode", "linear");
  assertUserError(linear, 1, /in \d+ steps from 1e-7 to \d\.\d{3}, where it diverged/);
});

Deno.test("lr-find with its rate range reversed or empty names the flags and the fix, and runs nothing", async () => {
  await using runs = await tempRunsDir();
  const set = ["--set", 'backend="cpu"', "--set", `runsDir=${JSON.stringify(runs.dir)}`];
  // (it said "'endLr' must be > startLr, current value is 0.001" and "pass a value in range")
  const reversed = await anneal("lr-find", ...set, "--start-lr", "1", "--end-lr", "0.001");
  assertUserError(
    reversed,
    2,
    /--end-lr \(0\.001\) must be above --start-lr \(1\): the test raises the rate from --start-lr to --end-lr/,
  );
  assert.match(reversed.stderr, /hint: swap them: --start-lr 0\.001 --end-lr 1/);
  const empty = await anneal("lr-find", ...set, "--start-lr", "0.1", "--end-lr", "0.1");
  assertUserError(empty, 2, /--end-lr \(0\.1\) must be above --start-lr \(0\.1\)/);
  assert.match(empty.stderr, /hint: give it a range of rates .* --start-lr 1e-7 --end-lr 10/);
  assert.deepEqual(await Array.fromAsync(Deno.readDir(runs.dir)), [], "no run directory");
  // an unreliable verdict of a test already repeated is not told to repeat it
  const repeated = await anneal("lr-find", ...set, "--repeats", "2");
  assert.equal(repeated.code, 0, repeated.stderr);
  // (its noisy synthetic curve fell by less than 6x its batch losses' scatter)
  assert.match(
    repeated.stdout,
    /2 repeats span .*\n {2}unreliable: repeat \d \(seed \d+\): the smoothed loss fell by /,
  );
  assert.doesNotMatch(repeated.stdout, /--repeats/);
  // the table is the first repeat's, the suggestion the repeats' mean: each says so
  assert.match(repeated.stdout, /\n {2}the first of 2 repeats' rules:\n/);
  assert.match(repeated.stdout, /<- the rule taken\n/);
  assert.doesNotMatch(repeated.stdout, /<- suggestion/);
  assert.match(repeated.stdout, /suggested lr = \S+ \(\w+, the geometric mean of the 2 repeats'\)/);
  // (ratios as every number: 4 significant digits, not 242012.8x)
  assert.doesNotMatch(repeated.stdout, /\d{5,}\.\dx/);
  assert.match(repeated.stdout, /\n {2}hint: compare the top candidates in a short sweep/);
  assert.doesNotMatch(repeated.stdout, /--repeats 3/);
  // through the module: startLr's value, and the swap
  await assert.rejects(
    () => lrFind(parseConfig({ backend: "cpu" }), { startLr: 1, endLr: 0.001 }),
    (error: AnnealError) =>
      /'endLr' must be > startLr \(1\), current value is 0\.001/.test(error.message) &&
      /swap them \(startLr 0\.001, endLr 1\)/.test(error.hint!),
  );
});

Deno.test("anneal train --set with another optimizer's field says which optimizers have it and how to select one", async () => {
  const out = await anneal("train", "--set", "optimizer.beta=0.9", "--no-progress");
  assertUserError(out, 1, /error\[config\]: Invalid --set 'optimizer\.beta=0\.9'/);
  assert.match(
    out.stderr,
    /error\[config\]: Invalid --set 'optimizer\.beta=0\.9': 'optimizer\.beta': unknown field \(did you mean 'optimizer\.betas'\? 'adam', 'adamw', 'lion', 'lamb', 'adamax', 'nadam' and 'radam' have it, not 'sgd': select one with --set optimizer\.name=adam\)/,
  );
  assert.match(out.stderr, /hint: rename 'optimizer\.beta' to 'optimizer\.betas' and select one/);
});

Deno.test("anneal worker on a study that does not exist creates no database: it says so and how to create the study", async () => {
  await using runs = await tempRunsDir();
  const missing = `${runs.dir}/missing.db`;
  const out = await anneal("worker", "--storage", `sqlite:${missing}`, "--study", "sw");
  assertUserError(
    out,
    1,
    new RegExp(
      `error\\[storage\\]: Cannot join study 'sw': the database file ${missing} does not ` +
        "exist, so it holds no study",
    ),
  );
  assert.ok(
    out.stderr.includes(
      `hint: create the study first: \`anneal sweep -c CONFIG --storage sqlite:${missing} ` +
        "--study sw` creates the storage and the study, then `anneal worker` joins it",
    ),
    out.stderr,
  );
  assert.deepEqual(await Array.fromAsync(Deno.readDir(runs.dir)), [], "nothing created");
  // nor is the study said to be joined
  assert.equal(out.stdout, "");
  // a file that is not a study database is left as it was
  await Deno.writeTextFile(missing, "");
  const empty = await anneal("worker", "--storage", missing, "--study", "sw");
  assertUserError(empty, 1, /Cannot join study 'sw': the database file .* has no anneal tables/);
  assert.equal((await Deno.stat(missing)).size, 0);
  // a study database without that study: named, with the command that creates it
  const config = `${runs.dir}/other.json`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      name: "other",
      backend: "cpu",
      runsDir: runs.dir,
      epochs: 1,
      sweep: { space: { "optimizer.lr": { type: "choice", values: [0.01] } }, trials: 1 },
    }),
  );
  const swept = await anneal("sweep", "-c", config, "--set", "sweep.metric=loss");
  assert.equal(swept.code, 0, swept.stderr);
  const storage = `sqlite:${runs.dir}/sweeps.db`;
  const other = await anneal("worker", "--storage", storage, "--study", "sw");
  assertUserError(
    other,
    1,
    new RegExp(`Cannot join study 'sw': ${storage} holds no study of that name`),
  );
  assert.equal(other.stdout, "");
  assert.match(
    other.stderr,
    /hint: create it first: `anneal sweep -c CONFIG --storage .* --study sw`/,
  );
  // ...which names the studies it holds, and the one meant where the name is a slip away
  assert.match(other.stderr, /holds no study of that name \(it holds 'other'\)/);
  const slip = await anneal("worker", "--storage", storage, "--study", "otehr");
  assertUserError(slip, 1, /Cannot join study 'otehr': .* holds no study of that name/);
  assert.ok(
    slip.stderr.includes(
      `hint: did you mean --study other? (\`anneal worker --storage ${storage} --study other\`)`,
    ),
    slip.stderr,
  );
});

Deno.test("anneal worker's command that creates the study quotes a storage path with a space for the shell", async () => {
  await using runs = await tempRunsDir();
  const missing = `${runs.dir}/my studies/missing.db`;
  const out = await anneal("worker", "--storage", `sqlite:${missing}`, "--study", "sw");
  assertUserError(out, 1, /Cannot join study 'sw': the database file .* does not exist/);
  assert.ok(
    out.stderr.includes(`\`anneal sweep -c CONFIG --storage 'sqlite:${missing}' --study sw\``),
    out.stderr,
  );
});

Deno.test("a study name that is not one is refused as a study name, not a run id", async () => {
  await using runs = await tempRunsDir();
  for (
    const args of [
      [
        "sweep",
        "--study",
        "my study",
        "--set",
        `runsDir=${runs.dir}`,
        "--set",
        'sweep={"space":{"optimizer.lr":{"type":"choice","values":[0.1]}},"metric":"loss"}',
      ],
      ["worker", "--storage", `${runs.dir}/sweeps.db`, "--study", "../x"],
    ]
  ) {
    const out = await anneal(...args);
    assertUserError(out, 2, /error\[usage\]: '(my study|\.\.\/x)' is not a valid study name/);
    assert.match(out.stderr, /hint: a study's name \(--study, else the config's name\) is letters/);
    assert.doesNotMatch(out.stderr, /run id|anneal runs/);
  }
});

Deno.test("a path under /dev (/dev/stdout, /dev/shm) is refused as one Deno grants only to --allow-all, naming it and the fix", async () => {
  await using runs = await tempRunsDir();
  const plot = await anneal(
    "schedule",
    "--scheduler",
    '{"name":"cosine","tMax":10}',
    "--base-lr",
    "0.1",
    "--steps",
    "10",
    "--plot",
    "/dev/stdout",
  );
  assertUserError(
    plot,
    1,
    /error\[file\]: Cannot write the --plot file '\/dev\/stdout': Deno lets a program use paths under \/dev, \/proc and \/sys only when it runs with --allow-all/,
  );
  assert.match(plot.stderr, /a file, then `cat` it, in place of \/dev\/stdout/);
  const shm = await Deno.stat("/dev/shm").catch(() => undefined);
  if (!shm?.isDirectory) return;
  // a CSV on a RAM disk: the data loader says so, not "check the path"
  const csv = `/dev/shm/anneal-test-${crypto.randomUUID()}.csv`;
  await Deno.writeTextFile(csv, "a,y\n1,2\n2,4\n3,6\n");
  try {
    const train = await anneal(
      "train",
      "--backend",
      "cpu",
      "--epochs",
      "1",
      "--runs-dir",
      runs.dir,
      "--set",
      `data={"kind":"csv","path":"${csv}","target":"y"}`,
    );
    assertUserError(
      train,
      1,
      new RegExp(`Cannot open the data file '${csv}': Deno lets a program use paths under /dev`),
    );
    // refused at the run's start as the file error it is: no actor named, no run of 0 steps left
    assert.match(train.stderr, /^error\[file\]: /m);
    assert.doesNotMatch(train.stdout + train.stderr, /actor 'dataLoader'|run record/);
    const left = [...Deno.readDirSync(runs.dir)].filter((entry) => entry.isDirectory);
    assert.deepEqual(left, []);
  } finally {
    await Deno.remove(csv);
  }
});

Deno.test("a flag's malformed number gets a hint with a value the command takes (lr-find --iterations, tune --budget)", async () => {
  for (
    const [args, example] of [
      [["lr-find", "--iterations", "abc"], "--iterations 100"],
      [["lr-find", "--end-lr", "-1"], "--end-lr 10"],
      [["tune", "--budget", "0"], "--budget 20"],
      [["schedule", "--scheduler", '{"name":"cosine","tMax":10}', "--steps", "x"], "--steps 5"],
    ] as const
  ) {
    const out = await anneal(...args);
    assertUserError(out, 2, /must be a positive (integer|number), current value is/);
    assert.match(out.stderr, new RegExp(`hint: give it like ${example}\\n`), args.join(" "));
  }
  // too few steps: the flag named as typed (it said "'iterations' must be an integer >= 10 ...
  // (at iterations)", the module's option)
  const few = await anneal("lr-find", "--iterations", "9");
  assertUserError(
    few,
    2,
    /^error\[usage\]: --iterations must be at least 10, current value is '9'$/m,
  );
  assert.match(few.stderr, /hint: .*--iterations 100 \(the default\), or at least 10\n/);
  assert.doesNotMatch(few.stderr, /\(at iterations\)/);
  // too many (80,000 ran, then their plot overflowed the stack, and nothing was recorded)
  const many = await anneal("lr-find", "--iterations", "80000");
  assertUserError(
    many,
    2,
    /^error\[usage\]: --iterations must be at most 20,000, current value is '80000'$/m,
  );
});

Deno.test("a first run refused at its start leaves no runs directory behind; one that was there stays", async () => {
  await using runs = await tempRunsDir();
  const fresh = `${runs.dir}/fresh-runs`;
  const missing = [
    "--set",
    "data.kind=csv",
    "--set",
    `data.path=${runs.dir}/none.csv`,
    "--set",
    "data.target=y",
  ];
  const refused = await anneal("train", "--backend", "cpu", "--runs-dir", fresh, ...missing);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /none\.csv/);
  // (it left an empty runs directory, made for the run it refused)
  assert.equal(await Deno.stat(fresh).then(() => true, () => false), false);
  const again = await anneal("train", "--backend", "cpu", "--runs-dir", runs.dir, ...missing);
  assert.equal(again.code, 1, again.stderr);
  assert.ok((await Deno.stat(runs.dir)).isDirectory, "a runs directory given is kept");
});
