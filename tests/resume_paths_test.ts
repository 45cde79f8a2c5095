/**
 * A run's data files named by relative paths: the run records them absolute, so `--resume` (and a
 * new run from its `config.json`) read the same files from any working directory. A run recorded
 * by an older anneal, with the paths as written, is refused before its record is touched when
 * they lead nowhere from here, saying how to go on.
 *
 * @module
 */
import assert from "node:assert/strict";
import { relative } from "node:path";
import { train } from "../mod.ts";
import { annealCommand, tempRunsDir } from "./_helpers.ts";

/** The CLI run in `cwd`, and what it printed. */
async function annealIn(cwd: string, ...args: string[]) {
  const output = await annealCommand([...args, "--no-progress"], undefined, cwd).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** Directory A holds the data and a config naming it relatively; B is elsewhere. */
async function twoDirectories(root: string) {
  const a = `${root}/a`, b = `${root}/b`, runsDir = `${root}/runs`;
  await Deno.mkdir(`${a}/data`, { recursive: true });
  await Deno.mkdir(b);
  const rows = (n: number, offset: number) =>
    "x,z,y\n" + Array.from({ length: n }, (_, i) => {
      const x = ((i + offset) * 37 % 101) / 50 - 1, z = ((i + offset) * 59 % 97) / 48 - 1;
      return `${x},${z},${(2 * x - z + 0.5).toFixed(4)}`;
    }).join("\n") + "\n";
  await Deno.writeTextFile(`${a}/data/train.csv`, rows(48, 0));
  await Deno.writeTextFile(`${a}/data/test.csv`, rows(16, 500));
  await Deno.writeTextFile(
    `${a}/config.json`,
    JSON.stringify({
      backend: "cpu",
      runsDir,
      epochs: 2,
      batchSize: 16,
      data: { kind: "csv", path: "data/train.csv", testPath: "data/test.csv", target: "y" },
    }),
  );
  return { a, b, runsDir };
}

Deno.test("a run started in one directory with relative data paths resumes from another", async () => {
  await using root = await tempRunsDir();
  const { a, b, runsDir } = await twoDirectories(root.dir);
  const first = await annealIn(a, "train", "-c", "config.json", "--name", "rel");
  assert.equal(first.code, 0, first.stderr);
  const runDir = first.stdout.match(/run record: (\S+)/)![1];
  const runId = runDir.split("/").pop()!;
  const saved = JSON.parse(await Deno.readTextFile(`${runDir}/config.json`));
  const data = await Deno.realPath(`${a}/data`);
  assert.equal(saved.data.path, `${data}/train.csv`, "recorded by its absolute path");
  assert.equal(saved.data.testPath, `${data}/test.csv`);

  const resumed = await annealIn(
    b,
    "train",
    "--resume",
    runId,
    "--runs-dir",
    runsDir,
    "--epochs",
    "3",
  );
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /resuming at epoch 2/);
  assert.match(resumed.stdout, /completed: finished 3 epochs \(3 epochs, 9 steps/);
  assert.match(resumed.stdout, /Test: loss = /);
  // a new run from the record, in yet another directory, reads the same files
  const again = await annealIn(b, "train", "-c", `${runDir}/config.json`);
  assert.equal(again.code, 0, again.stderr);
});

Deno.test("--resume of a run that recorded its data paths as written is refused from a directory they do not lead from, its record untouched", async () => {
  await using root = await tempRunsDir();
  const { a, b, runsDir } = await twoDirectories(root.dir);
  const first = await annealIn(a, "train", "-c", "config.json", "--name", "old");
  assert.equal(first.code, 0, first.stderr);
  const runDir = first.stdout.match(/run record: (\S+)/)![1];
  const runId = runDir.split("/").pop()!;
  // as an older anneal wrote it: the paths as the config had them
  const saved = JSON.parse(await Deno.readTextFile(`${runDir}/config.json`));
  saved.data.path = "data/train.csv";
  saved.data.testPath = "data/test.csv";
  await Deno.writeTextFile(`${runDir}/config.json`, JSON.stringify(saved, null, 2) + "\n");
  const summary = await Deno.readTextFile(`${runDir}/summary.json`);

  const refused = await annealIn(
    b,
    "train",
    "--resume",
    runId,
    "--runs-dir",
    runsDir,
    "--epochs",
    "3",
  );
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(
    refused.stderr,
    new RegExp(
      `error\\[file\\]: Cannot resume run '${runId}': its config.json names data.path ` +
        `'data/train.csv', a path relative to the directory the run was started in .* there ` +
        `is no 'data/train.csv' from this directory`,
    ),
  );
  assert.match(refused.stderr, /hint: resume it from the directory it was started in/);
  assert.equal(await Deno.readTextFile(`${runDir}/summary.json`), summary, "record untouched");
  // from the directory it was started in, it resumes
  const resumed = await annealIn(
    a,
    "train",
    "--resume",
    runId,
    "--runs-dir",
    runsDir,
    "--epochs",
    "3",
  );
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /completed: finished 3 epochs/);
});

Deno.test("train(config, { resume }) takes the config's relative data paths for the absolute ones recorded", async () => {
  await using root = await tempRunsDir();
  const { a, runsDir } = await twoDirectories(root.dir);
  const data = {
    kind: "csv" as const,
    path: relative(Deno.cwd(), `${a}/data/train.csv`),
    target: "y",
  };
  const config = { backend: "cpu" as const, runsDir, epochs: 2, batchSize: 16, data };
  const first = await train(config, { runId: "api" }).result;
  assert.equal(first.status, "completed", first.reason);
  const resumed = await train({ ...config, epochs: 3 }, { resume: "api" }).result;
  assert.equal(resumed.status, "completed", resumed.reason);
  assert.equal(resumed.epochs, 3);
  // another file is another config
  await Deno.copyFile(`${a}/data/train.csv`, `${a}/data/other.csv`);
  const other = { ...data, path: relative(Deno.cwd(), `${a}/data/other.csv`) };
  await assert.rejects(
    train({ ...config, data: other, epochs: 4 }, { resume: "api" }).result,
    /'data\.path' is ".*\/data\/train\.csv" in its config\.json, ".*\/data\/other\.csv" given/,
  );
});
