/**
 * Inputs a user gets wrong, or gives in an unusual but valid form, through the CLI: each is
 * either taken as it is meant or refused saying what is wrong, where, and how to fix it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { anneal, annealCommand, tempRunsDir } from "./_helpers.ts";
import { idxBytes } from "../data/_test_helpers.ts";

/** Trains a run on cpu for `epochs` with `sets` (`path=value`) into an empty `runsDir`: its id. */
async function trainedRun(runsDir: string, epochs: number, ...sets: string[]): Promise<string> {
  const trained = await anneal(
    "train",
    "--backend",
    "cpu",
    "--epochs",
    String(epochs),
    "--runs-dir",
    runsDir,
    "--no-progress",
    ...sets.flatMap((set) => ["--set", set]),
  );
  assert.equal(trained.code, 0, trained.stderr);
  const [run] = [...Deno.readDirSync(runsDir)].map((entry) => entry.name);
  return run;
}

Deno.test("a subcommand's usage error (unknown option, missing argument) exits 2, as the top level's", async () => {
  for (
    const args of [
      ["train", "--no-such-option"],
      ["report"],
      ["runs", "show"],
      ["schedule", "--scheduler", '{"name":"cosine","tMax":10}'],
      ["train", "stray-argument"],
      ["--no-such-option"],
    ]
  ) {
    const out = await anneal(...args);
    assert.equal(out.code, 2, `anneal ${args.join(" ")}: ${out.stderr}`);
    // (anneal's usage error, with the way on: no "error: ... (run with --help for usage)")
    assert.match(out.stderr, /^error\[usage\]: anneal /, out.stderr);
    assert.match(out.stderr, /\n {2}hint: \S/, out.stderr);
  }
  const help = await anneal("train", "--help");
  assert.equal(help.code, 0, "--help is no error");
});

Deno.test("anneal train's shortcut flags given to a command without them name the --set that does it", async () => {
  for (
    const [args, set] of [
      [["sweep", "-c", "sweep.json", "--runs-dir", "my runs"], "--set 'runsDir=my runs'"],
      [["lr-find", "--epochs=3"], "--set epochs=3"],
      [["tune", "--lr", "0.1"], "--set optimizer.lr=0.1"],
      [["batch-size", "--backend"], "--set backend=NAME"],
    ] as const
  ) {
    const out = await anneal(...args);
    assert.equal(out.code, 2, out.stderr);
    assert.match(out.stderr, /^error\[usage\]: anneal \S+ has no option --/m);
    assert.ok(
      out.stderr.includes(
        `hint: ${args.find((a) => a.startsWith("--"))!.split("=")[0]} is a shortcut of anneal ` +
          `train only; with anneal ${args[0]}, set the field: ${set}\n`,
      ),
      out.stderr,
    );
  }
  // a command without --set, or an option no command has: the command's options, no shortcut
  for (const args of [["diagnose", "--epochs", "3", "last"], ["sweep", "--no-such-option"]]) {
    const out = await anneal(...args);
    assert.equal(out.code, 2, out.stderr);
    assert.match(out.stderr, new RegExp(`hint: .*anneal ${args[0]}'s options: --`), out.stderr);
    assert.doesNotMatch(out.stderr, /shortcut/);
  }
});

Deno.test("a config path that is missing or a directory is named with why; a config with a UTF-8 byte order mark is read", async () => {
  await using runs = await tempRunsDir();
  const missing = await anneal("train", "-c", `${runs.dir}/no-such.json`);
  assert.equal(missing.code, 1, missing.stderr);
  assert.match(
    missing.stderr,
    /Cannot read config file '.*no-such\.json': no such file or directory \(expected a JSON config file\)/,
  );
  assert.match(
    missing.stderr,
    /hint: check the path \(relative paths start at the working directory\)/,
  );
  await Deno.mkdir(`${runs.dir}/configs`);
  await Deno.writeTextFile(`${runs.dir}/configs/small.json`, "{}");
  for (const command of ["train", "lr-find", "batch-size"]) {
    const directory = await anneal(command, "-c", `${runs.dir}/configs`);
    assert.equal(directory.code, 1, directory.stderr);
    assert.match(directory.stderr, /'.*configs': it is a directory, not a file/);
    assert.match(
      directory.stderr,
      /hint: give the path of a JSON config file, e\.g\. .*configs\/small\.json/,
    );
    assert.doesNotMatch(directory.stderr, /report it if it looks like a bug/);
  }
  // Notepad and other Windows editors start a UTF-8 file with a byte order mark
  const bom = `${runs.dir}/bom.json`;
  await Deno.writeTextFile(
    bom,
    "\uFEFF" + JSON.stringify({ backend: "cpu", epochs: 1, runsDir: runs.dir }),
  );
  const trained = await anneal("train", "-c", bom, "--no-progress");
  assert.equal(trained.code, 0, trained.stderr);
  assert.match(trained.stdout, /completed: finished 1 epoch \(1 epoch, /);
});

Deno.test("a config or --scheduler file that is not UTF-8 is refused naming the byte, its line and column, and how to convert it", async () => {
  await using runs = await tempRunsDir();
  // a Latin-1 'é' (0xE9) in a name: it was read as U+FFFD, and refused as a name's characters
  const latin1 = `${runs.dir}/latin1.json`;
  await Deno.writeFile(latin1, new TextEncoder().encode('{\n  "name": "caf_"\n}\n'));
  const bytes = await Deno.readFile(latin1);
  bytes[bytes.indexOf(0x5f)] = 0xe9;
  await Deno.writeFile(latin1, bytes);
  const config = await anneal("train", "-c", latin1);
  assert.equal(config.code, 1, config.stderr);
  assert.match(
    config.stderr,
    /Config file '.*latin1\.json' is not UTF-8 text: byte 0xE9 at line 2, column 15 .*\(at .*latin1\.json:2:15\)/,
  );
  assert.match(config.stderr, /hint: save it as UTF-8.*iconv -f LATIN1 -t UTF-8/);
  // Notepad's "Unicode"
  const utf16 = `${runs.dir}/utf16.json`;
  await Deno.writeFile(utf16, new Uint8Array([0xff, 0xfe, 0x7b, 0, 0x7d, 0]));
  const wide = await anneal("train", "-c", utf16);
  assert.equal(wide.code, 1, wide.stderr);
  assert.match(wide.stderr, /Config file '.*utf16\.json' is UTF-16 text, not UTF-8/);
  // a flag's file is a usage error, as its other faults are
  const schedule = `${runs.dir}/schedule.json`;
  await Deno.writeFile(
    schedule,
    new Uint8Array([...new TextEncoder().encode('{"x":'), 0xff, 0x7d]),
  );
  const flag = await anneal("schedule", "--scheduler", `@${schedule}`, "--steps", "3");
  assert.equal(flag.code, 2, flag.stderr);
  assert.match(flag.stderr, /--scheduler file '.*schedule\.json' is not UTF-8 text: byte 0xFF/);
});

/** IDX files of `n` random grey `size`x`size` images in 3 classes (and 4 test ones) under `dir`. */
async function writeSmallIdx(dir: string, n: number, size: number): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const pixels = (count: number) => Array.from({ length: count * size * size }, (_, i) => i % 256);
  const labels = (count: number) => Array.from({ length: count }, (_, i) => i % 3);
  await Deno.writeFile(`${dir}/train-images-idx3-ubyte`, idxBytes([n, size, size], pixels(n)));
  await Deno.writeFile(`${dir}/train-labels-idx1-ubyte`, idxBytes([n], labels(n)));
  await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte`, idxBytes([4, size, size], pixels(4)));
  await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, idxBytes([4], labels(4)));
}

Deno.test("a cnn too deep for small images is refused naming the blocks that fit, not taken for a divergence", async () => {
  await using runs = await tempRunsDir();
  await writeSmallIdx(`${runs.dir}/idx`, 10, 8);
  const args = [
    "train",
    "--backend",
    "cpu",
    "--epochs",
    "1",
    "--runs-dir",
    runs.dir,
    "--no-progress",
    "--set",
    "data.kind=idx",
    "--set",
    `data.dir=${runs.dir}/idx`,
  ];
  // 8x8 pooled by 2 four times: 4, 2, 1, then 0x0 (its dense layer started NaN: "learning rate
  // too high", exit 3)
  const deep = await anneal(...args, "--set", 'model={"kind":"cnn","filters":[4,8,8,8]}');
  assert.equal(deep.code, 1, deep.stderr);
  assert.match(deep.stdout + deep.stderr, /conv block 3 gets 1x1 maps, which its pool 2 makes 0x0/);
  assert.match(deep.stderr, /hint: use at most 3 conv blocks for 8x8 images/);
  assert.doesNotMatch(deep.stdout + deep.stderr, /learning rate too high/);
  const fits = await anneal(...args, "--set", 'model={"kind":"cnn","filters":[4,8,8]}');
  assert.equal(fits.code, 0, fits.stderr);
});

Deno.test("a CSV target too large for float32's loss stops at step 0 naming the data, not the learning rate", async () => {
  await using runs = await tempRunsDir();
  const csv = `${runs.dir}/huge.csv`;
  const rows = Array.from({ length: 40 }, (_, i) => `${i},${i % 7},${i * 1e21}`);
  await Deno.writeTextFile(csv, ["a,b,y", ...rows].join("\n") + "\n");
  const out = await anneal(
    "train",
    "--backend",
    "cpu",
    "--epochs",
    "2",
    "--runs-dir",
    runs.dir,
    "--no-progress",
    "--set",
    "data.kind=csv",
    "--set",
    `data.path=${csv}`,
    "--set",
    "data.target=y",
  );
  assert.equal(out.code, 3, out.stderr);
  const printed = out.stdout + out.stderr;
  assert.match(printed, /the loss became Infinity on the initial weights, before any update/);
  assert.match(printed, /hint: no update had been made, so the learning rate is not the cause/);
  assert.match(printed, /Diagnosis: diverged at the first step: the data or the model/);
  assert.doesNotMatch(printed, /divide by 10/);
});

Deno.test("resuming from a damaged last.ckpt says how to go on from best.ckpt, and that way works", async () => {
  await using runs = await tempRunsDir();
  const run = await trainedRun(
    runs.dir,
    8,
    "data.n=100",
    "data.validationSplit=0.2",
    "optimizer.lr=0.3",
  );
  const dir = `${runs.dir}/${run}`;
  const last = `${dir}/checkpoints/last.ckpt`;
  await Deno.truncate(last, 100); // as a torn copy or a full disk leaves it
  const damaged = await anneal("train", "--resume", run, "--runs-dir", runs.dir, "--no-progress");
  assert.equal(damaged.code, 1, damaged.stderr);
  assert.match(damaged.stderr, /Checkpoint '.*last\.ckpt' is damaged: truncated header/);
  const hint = damaged.stderr.match(
    /hint: resume it from its best epoch's checkpoint \(epoch (\d+); the epochs after it are trained again\): cp (\S+) (\S+) && anneal train --resume (\S+) --runs-dir (\S+); or start a new run from its config: anneal train -c (\S+)/,
  );
  assert.ok(hint, damaged.stderr);
  assert.deepEqual(hint.slice(2), [
    `${dir}/checkpoints/best.ckpt`,
    last,
    run,
    runs.dir,
    `${dir}/config.json`,
  ]);
  // following the hint finishes the run
  await Deno.copyFile(`${dir}/checkpoints/best.ckpt`, last);
  const resumed = await anneal("train", "--resume", run, "--runs-dir", runs.dir, "--no-progress");
  assert.equal(resumed.code, 0, resumed.stderr);
  const epochs = (await Deno.readTextFile(`${dir}/epochs.ndjson`)).trim().split("\n");
  assert.equal(epochs.length, 8);
  // without a whole best.ckpt, a new run is the way
  await Deno.truncate(last, 100);
  await Deno.remove(`${dir}/checkpoints/best.ckpt`);
  const neither = await anneal("train", "--resume", run, "--runs-dir", runs.dir, "--no-progress");
  assert.equal(neither.code, 1);
  assert.match(
    neither.stderr,
    new RegExp(`hint: start a new run from its config: anneal train -c ${dir}/config.json\\n`),
  );
});

Deno.test("a resume with --epochs from a damaged last.ckpt: the commands of its hint train as long", async () => {
  await using runs = await tempRunsDir();
  const run = await trainedRun(runs.dir, 3, "data.n=64");
  const dir = `${runs.dir}/${run}`;
  await Deno.truncate(`${dir}/checkpoints/last.ckpt`, 100);
  const damaged = await anneal(
    "train",
    "--resume",
    run,
    "--runs-dir",
    runs.dir,
    "--epochs",
    "5",
    "--no-progress",
  );
  assert.equal(damaged.code, 1, damaged.stderr);
  // (without --epochs 5 they would finish its 3 epochs, or train 3 anew)
  const commands = `&& anneal train --resume ${run} --runs-dir ${runs.dir} --epochs 5; or ` +
    `start a new run from its config: anneal train -c ${dir}/config.json --epochs 5\n`;
  assert.ok(damaged.stderr.includes(commands), damaged.stderr);
  // and where last.ckpt is gone
  await Deno.remove(`${dir}/checkpoints/last.ckpt`);
  const missing = await anneal(
    "train",
    "--resume",
    run,
    "--runs-dir",
    runs.dir,
    "--epochs",
    "5",
    "--no-progress",
  );
  assert.equal(missing.code, 1, missing.stderr);
  assert.match(missing.stderr, /its last checkpoint .* is missing/);
  assert.ok(missing.stderr.includes(commands), missing.stderr);
});

Deno.test("resuming a run whose last.ckpt was removed says so, not that it never had one, and offers best.ckpt", async () => {
  await using runs = await tempRunsDir();
  const run = await trainedRun(runs.dir, 3, "data.n=64");
  const dir = `${runs.dir}/${run}`;
  const last = `${dir}/checkpoints/last.ckpt`;
  await Deno.remove(last);
  const missing = await anneal(
    "train",
    "--resume",
    run,
    "--runs-dir",
    runs.dir,
    "--epochs",
    "4",
    "--no-progress",
  );
  assert.equal(missing.code, 1, missing.stderr);
  assert.doesNotMatch(missing.stderr, /before its first epoch's end/);
  assert.match(
    missing.stderr,
    /its last checkpoint \S+last\.ckpt is missing, though the run recorded 3 epochs/,
  );
  const hint = missing.stderr.match(/cp (\S+) (\S+) && anneal train --resume (\S+) --runs-dir/);
  assert.ok(hint, missing.stderr);
  assert.deepEqual(hint.slice(1), [`${dir}/checkpoints/best.ckpt`, last, run]);
  await Deno.copyFile(hint[1], hint[2]);
  const resumed = await anneal(
    "train",
    "--resume",
    run,
    "--runs-dir",
    runs.dir,
    "--epochs",
    "4",
    "--no-progress",
  );
  assert.equal(resumed.code, 0, resumed.stderr);
  // without best.ckpt either, a new run from its config
  await Deno.remove(`${dir}/checkpoints`, { recursive: true });
  const none = await anneal("train", "--resume", run, "--runs-dir", runs.dir, "--no-progress");
  assert.equal(none.code, 1);
  assert.match(none.stderr, /is missing, though the run recorded 4 epochs/);
  assert.match(
    none.stderr,
    /hint: put it back, or start a new run from its config: anneal train -c /,
  );
});

Deno.test("the way on that anneal runs gives for a corrupt summary.json works", async () => {
  await using runs = await tempRunsDir();
  const run = await trainedRun(runs.dir, 3, "data.n=64");
  const summary = `${runs.dir}/${run}/summary.json`;
  await Deno.writeTextFile(summary, '{"status": "compl'); // as a torn write leaves it
  const listed = await anneal("runs", "--runs-dir", runs.dir);
  assert.equal(listed.code, 0, listed.stderr);
  const way = `${listed.stdout}\n${listed.stderr}`.match(
    /mv (\S+) (\S+) && anneal train --resume (\S+) --runs-dir (\S+)/,
  );
  assert.ok(way, `${listed.stdout}${listed.stderr}`);
  assert.deepEqual(way.slice(1), [summary, `${summary}.corrupt`, run, runs.dir]);
  await Deno.rename(way[1], way[2]);
  const resumed = await anneal("train", "--resume", run, "--runs-dir", runs.dir, "--no-progress");
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(JSON.parse(await Deno.readTextFile(summary)).status, "completed");
});

Deno.test("the commands a hint gives quote a runs directory with a space for the shell", async () => {
  await using runs = await tempRunsDir();
  const dir = `${runs.dir}/my runs`;
  const sets = ["--backend", "cpu", "--runs-dir", dir, "--no-progress", "--set", "data.n=64"];
  const trained = await anneal("train", "--epochs", "2", ...sets);
  assert.equal(trained.code, 0, trained.stderr);
  const [run] = [...Deno.readDirSync(dir)].map((entry) => entry.name);
  const last = `${dir}/${run}/checkpoints/last.ckpt`;
  await Deno.remove(last);
  const missing = await anneal("train", "--resume", run, "--runs-dir", dir, "--no-progress");
  assert.equal(missing.code, 1, missing.stderr);
  const copy = `cp '${dir}/${run}/checkpoints/best.ckpt' '${last}'`;
  assert.ok(
    missing.stderr.includes(`${copy} && anneal train --resume ${run} --runs-dir '${dir}';`),
    missing.stderr,
  );
  assert.ok(missing.stderr.includes(`anneal train -c '${dir}/${run}/config.json'`));
  // the words as printed are the shell's: the copy runs as written
  const shell = await new Deno.Command("bash", { args: ["-c", copy] }).output();
  assert.equal(shell.code, 0, new TextDecoder().decode(shell.stderr));
  const resumed = await anneal(
    "train",
    "--resume",
    run,
    "--runs-dir",
    dir,
    "--epochs",
    "3",
    "--no-progress",
  );
  assert.equal(resumed.code, 0, resumed.stderr);
});

Deno.test("--resume last resumes the newest run, as diagnose last reads it", async () => {
  await using runs = await tempRunsDir();
  const run = await trainedRun(runs.dir, 2, "data.n=64");
  const resumed = await anneal(
    "train",
    "--resume",
    "last",
    "--epochs",
    "3",
    "--runs-dir",
    runs.dir,
    "--no-progress",
  );
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, new RegExp(`anneal: --resume last: ${run}\n`));
  assert.match(resumed.stdout, /resuming at epoch 2/);
  const epochs = await Deno.readTextFile(`${runs.dir}/${run}/epochs.ndjson`);
  assert.equal(epochs.trim().split("\n").length, 3);
  // no run to resume: said so
  const none = await anneal("train", "--resume", "last", "--runs-dir", `${runs.dir}/none`);
  assert.equal(none.code, 2, none.stderr);
  assert.match(none.stderr, /error\[usage\]: No runs in '.*none'/);
});

Deno.test("lr-find's 'to use it' quotes a config path with a space for the shell", async () => {
  await using runs = await tempRunsDir();
  const file = `${runs.dir}/my config.json`;
  await Deno.writeTextFile(file, JSON.stringify({ backend: "cpu", runsDir: runs.dir }));
  const found = await anneal("lr-find", "-c", file, "--iterations", "20");
  assert.equal(found.code, 0, found.stderr);
  assert.ok(found.stdout.includes(`to use it: anneal train -c '${file}' --set `), found.stdout);
});

Deno.test("a config file's \"$schema\" (the editor's link to anneal schema's output) is read as no setting, and lr-find --apply keeps it", async () => {
  await using runs = await tempRunsDir();
  const file = `${runs.dir}/config.json`;
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      $schema: "./anneal.schema.json",
      backend: "cpu",
      runsDir: runs.dir,
      epochs: 1,
    }),
  );
  const schema = await anneal("schema");
  assert.equal(JSON.parse(schema.stdout).properties.$schema.type, "string");
  const trained = await anneal("train", "-c", file, "--no-progress");
  assert.equal(trained.code, 0, trained.stderr);
  const [run] = [...Deno.readDirSync(runs.dir)].filter((e) => e.isDirectory).map((e) => e.name);
  assert.ok(!("$schema" in JSON.parse(await Deno.readTextFile(`${runs.dir}/${run}/config.json`))));
  const applied = await anneal("lr-find", "-c", file, "--iterations", "20", "--apply", "--force");
  assert.equal(applied.code, 0, applied.stderr);
  const written = JSON.parse(await Deno.readTextFile(file));
  assert.equal(written.$schema, "./anneal.schema.json");
  assert.equal(typeof written.optimizer.lr, "number");
});

Deno.test("lr-find's 'to use it' keeps the --sets the test ran with (but those the suggestion replaces); --apply names them", async () => {
  await using runs = await tempRunsDir();
  const sets = ["--set", "backend=cpu", "--set", `runsDir=${runs.dir}`, "--set", "batchSize=8"];
  const found = await anneal("lr-find", ...sets, "--set", "optimizer.lr=0.5");
  assert.equal(found.code, 0, found.stderr);
  assert.match(
    found.stdout,
    new RegExp(
      `to use it: anneal train --set 'backend=cpu' --set 'runsDir=${runs.dir}' ` +
        `--set 'batchSize=8' --set 'optimizer\\.lr=[0-9.e-]+'\\n`,
    ),
  );
  assert.doesNotMatch(found.stdout, /optimizer\.lr=0\.5/, "the suggestion replaces the user's lr");
  const config = `${runs.dir}/config.json`;
  await Deno.writeTextFile(config, JSON.stringify({ epochs: 2 }));
  const applied = await anneal("lr-find", "-c", config, ...sets, "--apply", "--force");
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(
    applied.stdout,
    /; the test ran with --set 'backend=cpu' .* --set 'batchSize=8', which the file does not hold/,
  );
});

Deno.test("lr-find --apply leaves the file as it was where the suggestion would set a field of a --set's section the file does not hold", async () => {
  await using runs = await tempRunsDir();
  const config = `${runs.dir}/config.json`;
  const text = JSON.stringify({ backend: "cpu", runsDir: runs.dir, epochs: 2 });
  await Deno.writeTextFile(config, text);
  // the --set's onecycle sets the rates: the suggestion is its maxLr, which the file, without
  // the onecycle, held as a scheduler of a maxLr alone (train refused it: no name)
  const cycle = 'scheduler={"name":"onecycle","maxLr":0.1,"totalSteps":26}';
  const out = await anneal(
    ...["lr-find", "-c", config, "--set", cycle, "--iterations", "20", "--apply", "--force"],
  );
  assert.equal(out.code, 1, out.stderr);
  assert.equal(await Deno.readTextFile(config), text);
  assert.match(
    out.stderr,
    /not applied to \S+config\.json: written there, the suggestion \(scheduler\.maxLr=[0-9.e-]+\) would leave it invalid .* from --set 'scheduler=\{"name":"onecycle".*which the file does not hold; so the file is left as it was/,
  );
  assert.match(
    out.stdout,
    /to use it: anneal train -c \S+ --set 'scheduler=\{.*--set 'scheduler\.maxLr=/,
  );
});

Deno.test("a CSV column of strings is refused with the settings that take it; with them (and data.missing for an empty cell) the file trains", async () => {
  await using runs = await tempRunsDir();
  const csv = `${runs.dir}/f.csv`;
  await Deno.writeTextFile(
    csv,
    'id,"sepal length",sepal_width,color,species\n0,1.85,1.26,red,setosa\n' +
      "1,1.5,1.0,blue,versicolor\n2,2.5,,green,setosa\n3,1.0,1.3,blue,versicolor\n" +
      "4,1.9,1.0,red,setosa\n5,1.2,1.4,red,versicolor\n",
  );
  const data = ["--set", "data.kind=csv", "--set", `data.path=${csv}`];
  const common = ["--backend", "cpu", "--runs-dir", runs.dir, "--no-progress"];
  const refused = await anneal(
    ...["train", ...common, ...data, "--set", "data.target=species", "--set", "model.kind=mlp"],
  );
  assert.equal(refused.code, 1, refused.stderr);
  const printed = refused.stdout + refused.stderr;
  assert.match(
    printed,
    /^error\[data\]: Cannot read CSV: column 'color' has "red", which is not a number \(at .*f\.csv:2\)$/m,
  );
  assert.match(
    printed,
    /^ {2}hint: if the column holds categories \(strings\), one-hot encode it with data\.categorical \(--set 'data\.categorical=\["color"\]'\); to leave it out, data\.drop \(--set 'data\.drop=\["color"\]'\); if it is the label, set 'target' to it with data\.task 'classification'; else fix the value$/m,
  );
  const out = await anneal(
    ...["train", ...common, ...data, "--set", "data.target=species", "--set", "model.kind=mlp"],
    ...["--set", 'data.drop=["id"]', "--set", 'data.categorical=["color"]', "--epochs", "1"],
    ...["--set", "data.task=classification", "--set", "data.missing=mean", "--json"],
  );
  assert.equal(out.code, 0, out.stderr);
  const events = out.stdout.trim().split("\n").map((line) => JSON.parse(line));
  const plan = events.find((event) => event.type === "plan");
  assert.deepEqual(plan.dataset.inputShape, [5], "2 numbers and 3 colours");
  assert.ok(
    events.some((event) =>
      event.type === "warning" &&
      /1 missing cell was filled with its feature's mean .* \('sepal_width' 1\)/.test(event.message)
    ),
  );
});

Deno.test("a run refused before its first step for its data prints its cause, with no actor named, no diagnosis of curves it never had, and no run left", async () => {
  await using runs = await tempRunsDir();
  const csv = `${runs.dir}/gap.csv`;
  await Deno.writeTextFile(csv, "a,b,y\n1,2,3\n2,,4\n3,4,5\n");
  const out = await anneal(
    ...["train", "--backend", "cpu", "--runs-dir", runs.dir, "--no-progress"],
    ...["--set", "data.kind=csv", "--set", `data.path=${csv}`, "--set", "data.target=y"],
  );
  assert.equal(out.code, 1, out.stderr);
  const printed = out.stdout + out.stderr;
  assert.match(
    printed,
    /^error\[data\]: Cannot read CSV: column 'b' has an empty cell \(at .*gap\.csv:3\)$/m,
  );
  assert.match(
    printed,
    /hint: fill in the empty value or drop the row; or set data\.missing to "drop" \(rows with a missing cell are left out\) or "mean"/,
  );
  assert.doesNotMatch(
    printed,
    /actor 'dataLoader'|failed|Diagnosis|no data: the run recorded no steps/,
  );
  const left = [...Deno.readDirSync(runs.dir)].map((entry) => entry.name);
  assert.deepEqual(left, ["gap.csv"], "no run of 0 steps is left");
});

Deno.test("anneal sweep refuses a misspelled space path before any trial runs, naming the field meant, before it makes a directory or opens the storage", async () => {
  await using runs = await tempRunsDir();
  const sweep = (...args: string[]) =>
    anneal(
      "sweep",
      "--set",
      "backend=cpu",
      "--set",
      `runsDir=${runs.dir}/runs`,
      "--set",
      'model={"kind":"mlp","hidden":[4]}',
      "--set",
      'sweep={"space":{"model.dropuot":{"type":"uniform","low":0,"high":0.5}},"metric":"loss","trials":3}',
      ...args,
    );
  const refusal =
    /Cannot sweep 'model\.dropuot': unknown field \(did you mean 'model\.dropout'\?\); every trial would fail on it \(at sweep\.space\["model\.dropuot"\]\)/;
  const out = await sweep();
  assert.equal(out.code, 1, out.stderr);
  assert.match(out.stderr, refusal);
  assert.doesNotMatch(out.stdout, /trial +0/, "no trial ran");
  assert.deepEqual(await Array.fromAsync(Deno.readDir(runs.dir)), [], "no runs dir, no sweeps.db");
  // a database not reached: the space is refused first, not after the storage is set up
  const far = await sweep("--storage", "postgres://anneal@127.0.0.1:1/anneal");
  assert.equal(far.code, 1, far.stderr);
  assert.match(far.stderr, refusal);
  assert.doesNotMatch(far.stderr, /Cannot open study storage/);
});

Deno.test("resuming a run whose data file changed in place (same rows, other values) is refused; restored, it resumes", async () => {
  await using runs = await tempRunsDir();
  const csv = `${runs.dir}/data.csv`;
  const rows = Array.from({ length: 40 }, (_, i) => `${i % 5},${i % 3},${(i % 5) - (i % 3)}`);
  const original = ["a,b,y", ...rows].join("\n") + "\n";
  await Deno.writeTextFile(csv, original);
  const args = ["--runs-dir", runs.dir, "--no-progress"];
  const trained = await anneal(
    "train",
    ...args,
    ...["--backend", "cpu", "--epochs", "2"],
    ...["--set", "data.kind=csv", "--set", `data.path=${csv}`, "--set", "data.target=y"],
  );
  assert.equal(trained.code, 0, trained.stderr);
  const [run] = [...Deno.readDirSync(runs.dir)].filter((e) => e.isDirectory).map((e) => e.name);
  await Deno.writeTextFile(csv, original.replace("\n0,0,0\n", "\n0,0,7\n"));
  for (let attempt = 0; attempt < 2; attempt++) {
    const changed = await anneal("train", "--resume", run, "--epochs", "3", ...args);
    assert.equal(changed.code, 1, changed.stderr);
    assert.match(
      changed.stdout + changed.stderr,
      new RegExp(`Cannot resume run '${run}': its data is not the data it trained on`),
      `attempt ${attempt}: the refusal does not record the new data as the run's`,
    );
    assert.match(changed.stdout + changed.stderr, /hint: restore the data it trained on/);
  }
  await Deno.writeTextFile(csv, original);
  const restored = await anneal("train", "--resume", run, "--epochs", "3", ...args);
  assert.equal(restored.code, 0, restored.stderr);
  assert.match(restored.stdout + restored.stderr, /completed: finished 3 epochs/);
});

Deno.test("CSV data that reads but likely not as meant: a first line of numbers taken as the header is a warning with the fix; a classifier on a continuous target is refused with it", async () => {
  await using runs = await tempRunsDir();
  const bare = `${runs.dir}/bare.csv`;
  const lines = Array.from(
    { length: 24 },
    (_, i) => `${((i + 1) * 0.37 % 3).toFixed(2)},${i % 5},${((i + 1) * 0.61 % 2).toFixed(2)}`,
  );
  await Deno.writeTextFile(bare, lines.join("\n") + "\n");
  const train = (...sets: string[]) =>
    anneal(
      "train",
      "--backend",
      "cpu",
      "--epochs",
      "1",
      "--runs-dir",
      runs.dir,
      "--no-progress",
      ...sets.flatMap((set) => ["--set", set]),
    );
  const csv = ["data.kind=csv", `data.path=${bare}`, "data.target=-1", "data.validationSplit=0"];
  const header = await train(...csv);
  assert.equal(header.code, 0, header.stderr);
  assert.match(
    header.stdout,
    /warning \(dataLoader\): .*bare\.csv:1: data\.header is true, and the first line holds only numbers \(0\.37, 0, 0\.61\): it is read as the column names, and the run trains without it\n {2}hint: if the file has no header row, --set data\.header=false/,
  );
  assert.match(header.stdout, /23 training samples/);
  const fixed = await train(...csv, "data.header=false");
  assert.equal(fixed.code, 0, fixed.stderr);
  assert.doesNotMatch(fixed.stdout, /warning/);
  assert.match(fixed.stdout, /24 training samples/);
  const classes = await train(...csv, "data.header=false", "data.task=classification");
  assert.equal(classes.code, 1, classes.stdout);
  assert.match(
    classes.stdout + classes.stderr,
    /Cannot train a classifier on 'column2': it holds numbers with fractions .*\n {2}hint: to predict the number, --set data\.task=regression/,
  );
});

Deno.test("a model too large for wasm's memory is refused before it is built, saying what a step needs and what to change", async () => {
  // 400M parameters (the seed's two input features, a hidden layer of 1e8): wasm built the model
  // (~28 s, 4.8 GB) and then failed with V8's "Invalid typed array length: 1600000000"; ten times
  // that failed after ~50 s as "offset is out of bounds", naming nothing
  await using runs = await tempRunsDir();
  for (
    const [hidden, parameters] of [["100000000", "400,000,001"], ["1000000000", "4,000,000,001"]]
  ) {
    const failed = await anneal(
      "train",
      "--backend",
      "wasm",
      "--epochs",
      "1",
      "--runs-dir",
      runs.dir,
      "--no-progress",
      "--set",
      `model={"kind":"mlp","hidden":[${hidden}]}`,
    );
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(
      failed.stderr,
      /Out of memory on backend wasm: a training step of this model holds at least [\d.]+ GiB at once, and wasm addresses at most 4 GiB in all/,
    );
    assert.match(failed.stderr, new RegExp(`The model has ${parameters} parameters`));
    // the seed's 200 samples in batches of 16: the last batch of an epoch holds 8
    assert.match(failed.stderr, /layer dense0's values for a batch of 8 samples/);
    assert.match(
      failed.stderr,
      /hint: use a smaller model .* or a smaller batchSize, or backend cpu/,
    );
    // refused before the model was built: its parameter count was never announced
    assert.doesNotMatch(failed.stderr, /parameters; \d+ steps\/epoch/);
  }
});

Deno.test("a path in a config or a quoted flag that starts with '~' or holds a $VARIABLE is refused as not expanded, where it made a directory named '~'", async () => {
  await using runs = await tempRunsDir();
  const config = `${runs.dir}/home.json`;
  await Deno.writeTextFile(config, JSON.stringify({ backend: "cpu", runsDir: "~/anneal-runs" }));
  // (run in the runs directory: a '~' made is made there)
  const command = annealCommand(["train", "-c", config, "--epochs", "1"], undefined, runs.dir);
  const output = await command.output();
  const trained = { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
  assert.equal(trained.code, 1, trained.stderr);
  assert.match(
    trained.stderr,
    /'runsDir': a leading '~' is not expanded here .*write the home directory out.*current value is "~\/anneal-runs" \(at runsDir\)/,
  );
  assert.deepEqual([...Deno.readDirSync(runs.dir)].map((entry) => entry.name), ["home.json"]);
  const data = await anneal("train", "--set", 'data={"kind":"csv","path":"~/d.csv","target":0}');
  assert.equal(data.code, 1, data.stderr);
  assert.match(data.stderr, /'data\.path': a leading '~' is not expanded/);
  const quoted = annealCommand(
    ["train", "--set", 'runsDir="$HOME/anneal-runs"'],
    undefined,
    runs.dir,
  );
  const variable = await quoted.output();
  const stderr = new TextDecoder().decode(variable.stderr);
  assert.equal(variable.code, 1, stderr);
  assert.match(stderr, /'runsDir': '\$HOME' is not expanded here .*echo "\$HOME"/);
  assert.deepEqual([...Deno.readDirSync(runs.dir)].map((entry) => entry.name), ["home.json"]);
});
