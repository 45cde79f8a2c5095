/**
 * `anneal runs show` and `anneal diagnose` on a run as a user finds it: ended, still running,
 * killed before its end; and the paths and directories a user gives them by mistake.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../config.ts";
import { loadData } from "../data/mod.ts";
import { currentProcess, hostname } from "../runtime/liveness.ts";
import { anneal, tempRunsDir } from "./_helpers.ts";

Deno.test("anneal runs show names the best epoch as anneal runs does, with its metric, so far for a run not ended; diagnose reads a run not ended as far as it got", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const run = await anneal("train", "--epochs", "3", "--runs-dir", dir, "--no-progress");
  assert.equal(run.code, 0, run.stderr);
  const runDir = run.stdout.match(/run record: (\S+)/)![1];
  const id = runDir.split("/").at(-1)!;
  const table = await anneal("runs", "--runs-dir", dir);
  const [, metric, value, epoch] = table.stdout.match(/ (\w+)=(\S+)@(\d+) +completed/)!;
  const show = await anneal("runs", "show", id, "--runs-dir", dir);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, new RegExp(`; best ${metric} ${value} at epoch ${epoch}\\n`));

  // test metrics are printed as train prints them (Test: loss = 1.98, ...), not as JSON
  const summaryFile = `${runDir}/summary.json`;
  const summary = JSON.parse(await Deno.readTextFile(summaryFile));
  await Deno.writeTextFile(
    summaryFile,
    JSON.stringify({ ...summary, test: { loss: 1.979696413040161, accuracy: 0.3164 } }),
  );
  const tested = await anneal("runs", "show", id, "--runs-dir", dir);
  assert.match(tested.stdout, /\n {2}test: loss = 1\.98, accuracy = 0\.3164\n/);

  // the same curves, of a run planned for 30 epochs and still running (this process)
  const config = JSON.parse(await Deno.readTextFile(`${runDir}/config.json`));
  await Deno.writeTextFile(`${runDir}/config.json`, JSON.stringify({ ...config, epochs: 30 }));
  const { startedAt } = summary;
  await Deno.writeTextFile(
    summaryFile,
    JSON.stringify({ status: "running", startedAt, process: await currentProcess() }),
  );
  const live = await anneal("runs", "show", id, "--runs-dir", dir);
  assert.equal(live.code, 0, live.stderr);
  assert.match(live.stdout, new RegExp(`; best ${metric} ${value} at epoch ${epoch}, so far\\n`));
  const reading = await anneal("diagnose", id, "--runs-dir", dir);
  assert.match(reading.stdout, /^Diagnosis: .* \(still running: read after 3 of its 30 epochs\)$/m);
  assert.match(reading.stdout, /next: +it is still training: diagnose it again once it ends/);
  assert.doesNotMatch(reading.stdout, /train longer|--set epochs=/);

  // ...and killed (its process gone): resume it, not train a longer one
  await Deno.writeTextFile(
    summaryFile,
    JSON.stringify({
      status: "running",
      startedAt,
      process: { pid: Deno.pid, host: hostname(), startTime: "1" },
    }),
  );
  const killed = await anneal("diagnose", id, "--runs-dir", dir);
  assert.match(killed.stdout, /^Diagnosis: .* \(crashed after 3 of its 30 epochs\)$/m);
  assert.match(
    killed.stdout,
    new RegExp(
      `next: +it ended before its last epoch \\(crashed\\): resume it .*anneal train --resume ${id}`,
    ),
  );
  assert.doesNotMatch(killed.stdout, /--set epochs=/);
  // with its meta.json damaged, which the resume refuses: the way on removes it first (the
  // hint gave the resume alone)
  const shown = await anneal("runs", "show", id, "--runs-dir", dir);
  assert.match(
    shown.stdout,
    new RegExp(`\n {2}hint: resume it from its last checkpoint: anneal train --resume ${id} `),
  );
  const metaFile = `${runDir}/meta.json`;
  await Deno.writeTextFile(metaFile, (await Deno.readTextFile(metaFile)).slice(0, 40));
  const damaged = await anneal("runs", "show", id, "--runs-dir", dir);
  assert.match(
    damaged.stdout,
    new RegExp(
      `\\n {2}hint: its meta\\.json is damaged, which the resume refuses: remove it \\(rm ` +
        `${runDir}/meta\\.json; the resume writes it anew, without the data check it held\\), ` +
        `then resume the run: anneal train --resume ${id} --runs-dir ${dir}\\n`,
    ),
  );
  await Deno.remove(metaFile);
  const resumed = await anneal("train", "--resume", id, "--runs-dir", dir, "--no-progress");
  assert.equal(resumed.code, 0, resumed.stderr);
});

Deno.test("anneal diagnose sizes the fixes of a run not ended by the run its config plans, not the epochs it reached, and reads its curves so far", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const run = await anneal("train", "--epochs", "3", "--runs-dir", dir, "--no-progress");
  assert.equal(run.code, 0, run.stderr);
  const runDir = run.stdout.match(/run record: (\S+)/)![1];
  const id = runDir.split("/").at(-1)!;
  const [first] = (await Deno.readTextFile(`${runDir}/epochs.ndjson`)).split("\n");
  const perEpoch = JSON.parse(first).step;
  // 8 epochs that level off high, of a run planned for 30 and still running (this process)
  const losses = [20, 8, 5, 4.6, 4.5, 4.45, 4.42, 4.4];
  await Deno.writeTextFile(
    `${runDir}/epochs.ndjson`,
    losses.map((loss, epoch) =>
      JSON.stringify({ epoch, step: perEpoch * (epoch + 1), loss, lr: 0.01 })
    ).join("\n") + "\n",
  );
  const config = JSON.parse(await Deno.readTextFile(`${runDir}/config.json`));
  await Deno.writeTextFile(`${runDir}/config.json`, JSON.stringify({ ...config, epochs: 30 }));
  await Deno.writeTextFile(
    `${runDir}/summary.json`,
    JSON.stringify({ status: "running", process: await currentProcess() }),
  );
  const out = await anneal("diagnose", id, "--runs-dir", dir);
  assert.equal(out.code, 0, out.stderr);
  assert.match(
    out.stdout,
    /^Diagnosis: plateaued early so far \(still running: read after 8 of its 30 epochs\)$/m,
  );
  // a cosine over the 30 epochs' steps, not over the steps taken so far
  const tMax = perEpoch * 30;
  assert.ok(
    out.stdout.includes(`--set 'scheduler={"name":"cosine","tMax":${tMax}}'`),
    out.stdout,
  );
});

Deno.test("a run's path, as anneal train prints it, is refused with its id and directory to give instead; a missing runs directory is named as missing", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const run = await anneal("train", "--epochs", "1", "--runs-dir", dir, "--no-progress");
  assert.equal(run.code, 0, run.stderr);
  const runDir = run.stdout.match(/run record: (\S+)/)![1];
  const id = runDir.split("/").at(-1)!;
  for (const command of [["diagnose"], ["runs", "show"], ["report"]]) {
    const out = await anneal(...command, runDir);
    assert.equal(out.code, 2, out.stdout);
    assert.match(out.stderr, new RegExp(`'${runDir}' is the path of a run, not its id`));
    assert.match(
      out.stderr,
      new RegExp(`hint: give its id and the directory it is in: ${id} --runs-dir ${dir}\\n`),
    );
  }
  // a path that is not a run's is refused as before
  const other = await anneal("diagnose", `${dir}/no-such-run`);
  assert.match(other.stderr, /is not a valid run id/);

  const listed = await anneal("runs", "--runs-dir", `${dir}/no-such-dir`);
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(
    listed.stdout,
    `no runs in ${dir}/no-such-dir: it does not exist (train one: anneal train --runs-dir ` +
      `${dir}/no-such-dir; or check --runs-dir)\n`,
  );
  const last = await anneal("runs", "show", "last", "--runs-dir", `${dir}/no-such-dir`);
  assert.match(
    last.stderr,
    new RegExp(`hint: train one first: anneal train --runs-dir ${dir}/no-such-dir`),
  );
});

Deno.test("an LR range test's record is dated in anneal runs, and diagnose and runs show say what it is, not 'no data'", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const test = await anneal(
    "lr-find",
    "--set",
    `runsDir="${dir}"`,
    "--set",
    'backend="cpu"',
    "--iterations",
    "20",
  );
  assert.equal(test.code, 0, test.stderr);
  const id = test.stdout.match(/record in \S+\/(\S+)\n/)![1];
  const suggested = test.stdout.match(/suggested lr = (\S+) \((\w+)\).*: (reliable|unreliable)/)!;
  // (the reasons lr-find printed for an unreliable suggestion, which diagnose quotes)
  const reasons = [...test.stdout.matchAll(/^ {2}unreliable: (.*)$/gm)].map((m) => m[1]);
  const table = await anneal("runs", "--runs-dir", dir);
  assert.match(table.stdout, new RegExp(`^${id} +\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z +linear `, "m"));
  for (const command of [["diagnose"], ["runs", "show"]]) {
    const out = await anneal(...command, id, "--runs-dir", dir);
    assert.equal(out.code, 0, out.stderr);
    const said = out.stdout.match(
      /Diagnosis: an LR range test of 20 steps, not a training run: it suggested lr (\S+) \((\w+)\)(, which it called unreliable \((.*)\))?; its loss against the rate: anneal report (\S+) --plot lrFind --runs-dir (\S+)\n/,
    );
    assert.ok(said, out.stdout);
    // the rate as lr-find printed it, and its verdict; the runs directory the command reads
    assert.deepEqual([said[1], said[2], said[5], said[6]], [suggested[1], suggested[2], id, dir]);
    assert.equal(said[3] !== undefined, suggested[3] === "unreliable", out.stdout);
    if (said[4] !== undefined) assert.equal(said[4], reasons.join("; "));
    assert.doesNotMatch(out.stdout, /no data/);
  }
  // The verdict as the record holds it (lr_find.json): an unreliable suggestion is quoted with
  // its reasons, a reliable one bare (an older record without a verdict too)
  const lrFindFile = `${dir}/${id}/lr_find.json`;
  const lrFindJson = JSON.parse(await Deno.readTextFile(lrFindFile));
  for (
    const [agreement, expected] of [
      [
        {
          ...lrFindJson.agreement,
          verdict: "unreliable",
          reasons: ["the loss fell 1.2x its noise"],
        },
        /\), which it called unreliable \(the loss fell 1\.2x its noise\); its loss/,
      ],
      [{ ...lrFindJson.agreement, verdict: "reliable", reasons: [] }, /\((\w+)\); its loss/],
      [undefined, /\((\w+)\); its loss/],
    ] as const
  ) {
    await Deno.writeTextFile(lrFindFile, JSON.stringify({ ...lrFindJson, agreement }));
    const out = await anneal("diagnose", id, "--runs-dir", dir);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, expected);
  }
  await Deno.writeTextFile(lrFindFile, JSON.stringify(lrFindJson));
  // runs show names the backend it ran on, its seed (from its config) and its data's
  // fingerprint, as a training run's on that data, and its steps
  const saved = JSON.parse(await Deno.readTextFile(`${dir}/${id}/config.json`));
  const { fingerprint } = await loadData(parseConfig(saved).data, saved.seed);
  const show = await anneal("runs", "show", id, "--runs-dir", dir);
  assert.match(
    show.stdout,
    new RegExp(`\n {2}backend cpu, seed ${saved.seed}, dataset ${fingerprint}\n`),
  );
  assert.match(show.stdout, /\n {2}an LR range test of 20 steps \(no training epochs\)\n/);
  // a record of an older anneal, which did not store the backend or the fingerprint, says so
  const summaryFile = `${dir}/${id}/summary.json`;
  const { backend: _, fingerprint: __, ...older } = JSON.parse(
    await Deno.readTextFile(summaryFile),
  );
  await Deno.writeTextFile(summaryFile, JSON.stringify(older));
  const old = await anneal("runs", "show", id, "--runs-dir", dir);
  assert.equal(old.code, 0, old.stderr);
  assert.match(old.stdout, /\n {2}backend not recorded, seed \d+, dataset not recorded\n/);
});

Deno.test("a run of one epoch is counted in the singular by train, runs show, its charts and diagnose ('1 epoch', not '1 epochs')", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const run = await anneal("train", "--epochs", "1", "--runs-dir", dir, "--no-progress");
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout + run.stderr, /\(1 epoch, \d+ steps, /);
  const id = run.stdout.match(/run record: (\S+)/)![1].split("/").at(-1)!;
  const show = await anneal("runs", "show", id, "--runs-dir", dir);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /\n {2}1 epoch, \d+ steps; /);
  const diagnosed = await anneal("diagnose", id, "--runs-dir", dir);
  assert.equal(diagnosed.code, 0, diagnosed.stderr);
  assert.match(diagnosed.stdout, /too short to judge the curves \(1 epoch; trends need 3\)/);
  for (const output of [run.stdout, show.stdout, diagnosed.stdout]) {
    assert.doesNotMatch(output, /\b1 epochs\b|epoch\(s\)/, output);
  }
});

Deno.test("runs show counts a run's steps as its summary does, saying how many its records hold where lines were lost", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const trained = await anneal(
    "train",
    "--epochs",
    "2",
    "--runs-dir",
    dir,
    "--set",
    'backend="cpu"',
  );
  assert.equal(trained.code, 0, trained.stderr);
  const [id] = [...Deno.readDirSync(dir)].map((entry) => entry.name);
  const whole = await anneal("runs", "show", id, "--runs-dir", dir);
  assert.match(whole.stdout, /\n {2}2 epochs, 26 steps; /);
  // steps.ndjson cut short (a crash, its lines lost): the run still took 26 steps
  const file = `${dir}/${id}/steps.ndjson`;
  const lines = (await Deno.readTextFile(file)).split("\n").filter(Boolean);
  await Deno.writeTextFile(file, lines.slice(0, 10).join("\n") + "\n");
  const cut = await anneal("runs", "show", id, "--runs-dir", dir);
  assert.equal(cut.code, 0, cut.stderr);
  assert.match(cut.stdout, /\n {2}2 epochs, 26 steps \(10 of them in steps\.ndjson\); /);
});
