import assert from "node:assert/strict";
import { loadCheckpoint, train } from "../mod.ts";
import { saveCheckpoint } from "../runtime/checkpoint.ts";
import { anneal, annealCommand, readNdjson, tempRunsDir, trainCollect } from "./_helpers.ts";

const config = {
  backend: "cpu" as const,
  // (epochs of ~5 ms: the run killed within its first 6 goes on for a while after the step the
  // kill is sent at, however late a loaded machine lets it arrive; with 8, it ended ~0.15 s after)
  epochs: 100,
  data: { kind: "synthetic-linear" as const, n: 96, validationSplit: 0.25 },
  model: { kind: "mlp" as const, hidden: [16] },
  optimizer: { name: "adam" as const, lr: 0.01 },
  scheduler: { name: "plateau" as const, patience: 1, factor: 0.5 },
};

/** The config `killAndResume` takes: `config`'s, with or without dropout. */
type KillConfig = typeof config & { model: { dropout?: number } };

const cli = (args: string[]) => annealCommand(args);

/**
 * Kills a run of `config` with SIGKILL mid-epoch, resumes it with `anneal train --resume`, and
 * checks that it ends with the weights and metrics of a run never killed.
 */
async function killAndResume(config: KillConfig) {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const configFile = `${dir}/config.json`;
  await Deno.writeTextFile(configFile, JSON.stringify({ ...config, runsDir: dir }));
  const straight = await trainCollect({ ...config, runsDir: dir });
  assert.equal(straight.result.status, "completed");

  // Kill somewhere inside epoch 2..5, at a step that is not an epoch boundary.
  const stepsPerEpoch = 5; // ceil(72 / 16)
  const killAt = stepsPerEpoch * (2 + Math.floor(Math.random() * 4)) + 1 +
    Math.floor(Math.random() * 3);
  const child = cli(["train", "-c", configFile, "--json"]).spawn();
  let runId = "";
  const decoder = new TextDecoder();
  let buffered = "";
  const reader = child.stdout.getReader();
  outer: for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += decoder.decode(value, { stream: true });
    let newline;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const event = JSON.parse(buffered.slice(0, newline));
      buffered = buffered.slice(newline + 1);
      if (event.type === "run.started") runId = event.runId;
      if (event.type === "steps" && event.fromStep + event.losses.length >= killAt) {
        child.kill("SIGKILL");
        break outer;
      }
    }
  }
  reader.releaseLock();
  await child.stdout.cancel();
  await child.stderr.cancel();
  const status = await child.status;
  assert.equal(status.signal, "SIGKILL", "the run was killed before it finished");
  const summary = JSON.parse(await Deno.readTextFile(`${dir}/${runId}/summary.json`));
  assert.equal(summary.status, "running", "a killed run leaves its record as it was");

  const resumed = await cli(["train", "--resume", runId, "--runs-dir", dir, "--no-progress"])
    .output();
  assert.equal(resumed.code, 0, decoder.decode(resumed.stderr));
  assert.match(decoder.decode(resumed.stdout), /resuming at epoch/);

  const a = await loadCheckpoint(`${straight.result.runDir}/checkpoints/last.ckpt`);
  const b = await loadCheckpoint(`${dir}/${runId}/checkpoints/last.ckpt`);
  for (const [name, weight] of Object.entries(a.weights)) {
    assert.deepEqual(
      Array.from(b.weights[name].values),
      Array.from(weight.values),
      `${name} differs`,
    );
  }
  const strip = (records: Record<string, number>[]) =>
    records.map(({ seconds: _, ...rest }) => rest);
  assert.deepEqual(
    strip(await readNdjson(`${dir}/${runId}/epochs.ndjson`)),
    strip(await readNdjson(`${straight.result.runDir}/epochs.ndjson`)),
  );
  const steps = await readNdjson(`${dir}/${runId}/steps.ndjson`);
  assert.deepEqual(
    steps.map((s) => s.step),
    [...Array(config.epochs * stepsPerEpoch).keys()],
    "each step recorded once",
  );
}

Deno.test("SIGKILL mid-epoch, then `anneal train --resume`, ends with the weights and metrics of an uninterrupted run", async () => {
  await killAndResume(config);
});

Deno.test("with dropout, SIGKILL mid-epoch and `--resume` end with the weights and metrics of an uninterrupted run: the masks are seeded by step", async () => {
  // (the host step, which draws tfjs's path's masks: each step's from the run's seed and the step)
  await killAndResume({ ...config, model: { ...config.model, dropout: 0.2 } });
});

Deno.test("--resume of a run that ended before its first checkpoint says so and how to go on", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  await Deno.mkdir(`${dir}/early/checkpoints`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/early/config.json`,
    JSON.stringify({ ...config, runsDir: dir }),
  );
  const out = await cli(["train", "--resume", "early", "--runs-dir", dir, "--no-progress"])
    .output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.notEqual(out.code, 0);
  assert.match(stderr, /Cannot resume run 'early': it has no checkpoint/);
  assert.match(stderr, /start the run again/);
});

Deno.test("--resume of a run that diverged in its first epoch says there is nothing to resume, why, and the lower rate to start it again with", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const configFile = `${dir}/config.json`;
  const diverging = { ...config, epochs: 3, optimizer: { name: "sgd" as const, lr: 1e20 } };
  await Deno.writeTextFile(configFile, JSON.stringify({ ...diverging, runsDir: dir }));
  const first = await anneal("train", "-c", configFile, "--name", "div", "--no-progress");
  assert.equal(first.code, 3, first.stderr);
  assert.match(first.stderr, /diverged: training diverged at step \d+/);
  const runDir = first.stderr.match(/run record: (\S+)/)![1];
  const runId = runDir.split("/").pop()!;
  const resume = () => anneal("train", "--resume", runId, "--runs-dir", dir, "--no-progress");
  const refused = await resume();
  assert.equal(refused.code, 1, refused.stderr);
  const said = new RegExp(
    `error\\[checkpoint\\]: Cannot resume run '${runId}': nothing to resume: it diverged ` +
      `\\(training diverged at step \\d+: the loss became (Infinity|NaN)\\) before its first ` +
      `checkpoint, which a run saves at its first epoch's end \\(a resume goes on from one\\) ` +
      `\\(at ${runDir}/checkpoints/last\\.ckpt\\)\n  hint: start the run again with `,
  );
  assert.match(refused.stderr, said);
  assert.ok(
    refused.stderr.includes(
      `the change its diagnosis gives (learning rate too high: divide it by 10 (--set ` +
        `optimizer.lr=10000000000000000000)`,
    ) &&
      refused.stderr.includes(
        `\`anneal train -c ${runDir}/config.json --set optimizer.lr=10000000000000000000\``,
      ),
    refused.stderr,
  );
  // a summary without its diagnosis (an older anneal's): the rate's setting is named
  const summaryPath = `${runDir}/summary.json`;
  const { diagnosis: _, ...summary } = JSON.parse(await Deno.readTextFile(summaryPath));
  await Deno.writeTextFile(summaryPath, JSON.stringify(summary));
  const older = await resume();
  assert.equal(older.code, 1, older.stderr);
  assert.match(older.stderr, said);
  assert.ok(
    older.stderr.includes(
      "a lower learning rate (optimizer.lr, 100000000000000000000 in it; scheduler.maxLr under " +
        "onecycle), or clipping (clipping.maxNorm): `anneal train -c " +
        `${runDir}/config.json --set optimizer.lr=10000000000000000000\``,
    ),
    older.stderr,
  );
  assert.equal(await Deno.readTextFile(summaryPath), JSON.stringify(summary), "left as it was");
});

Deno.test("--resume refuses a checkpoint from another model shape, naming the setting (or, an older anneal's, the weight) and the fix", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const small = {
    backend: "cpu" as const,
    runsDir: dir,
    epochs: 2,
    model: { kind: "mlp" as const, hidden: [8] },
  };
  await trainCollect(small, { runId: "small" });
  await trainCollect({ ...small, model: { kind: "mlp", hidden: [16] } }, { runId: "large" });
  await Deno.copyFile(`${dir}/large/checkpoints/last.ckpt`, `${dir}/small/checkpoints/last.ckpt`);
  const summary = await Deno.readTextFile(`${dir}/small/summary.json`);
  // (one epoch more: a run that completed has nothing to resume otherwise)
  await assert.rejects(
    trainCollect({ runsDir: dir, epochs: 3 }, { resume: "small" }),
    (error: Error & { hint?: string }) =>
      /'model\.hidden' is \[8\] in config\.json, \[16\] in the checkpoint/.test(error.message) &&
      /or the checkpoint copied from another run/.test(error.hint ?? ""),
  );
  // a checkpoint of an older anneal records no config: its weights say it
  const last = `${dir}/small/checkpoints/last.ckpt`;
  const { state, weights } = await loadCheckpoint(last);
  delete state.config;
  await saveCheckpoint(last, state, weights);
  await assert.rejects(
    trainCollect({ runsDir: dir, epochs: 3 }, { resume: "small" }),
    (error: Error & { hint?: string }) =>
      /has weight 'dense0\/kernel' of shape \[2,16\], where the model of .*\/small\/config\.json needs \[2,8\]/
        .test(error.message) && /another model/.test(error.hint ?? ""),
  );
  assert.equal(
    await Deno.readTextFile(`${dir}/small/summary.json`),
    summary,
    "refused before its first step: the run's summary as it was",
  );
});

Deno.test("--resume of a run whose config.json is corrupt says so, naming the file and the parse error", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  await Deno.mkdir(`${dir}/torn/checkpoints`, { recursive: true });
  await Deno.writeTextFile(`${dir}/torn/config.json`, '{"epochs": 3, "optimi');
  const out = await cli(["train", "--resume", "torn", "--runs-dir", dir, "--no-progress"])
    .output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 1, stderr);
  assert.match(stderr, new RegExp(`${dir}/torn/config.json is corrupt \\(not valid JSON: `));
  assert.doesNotMatch(stderr, /missing/);
  assert.match(
    stderr,
    new RegExp(
      `hint: write the config the run was started with into it \\(JSON\\), then \`anneal train --resume torn --runs-dir ${dir}\``,
    ),
  );
  // a run whose last checkpoint holds its config: removing the file is the fix (the resume
  // writes it again from there), said with the command and its --runs-dir (it said "write the
  // config ... then `anneal train --resume ID`; or start a new run", which needs the config)
  const run = train({ backend: "cpu", epochs: 3, runsDir: dir }, { runId: "kept" });
  for await (const event of run.events()) if (event.type === "epoch") run.interrupt("test");
  assert.equal((await run.result).status, "interrupted");
  await Deno.writeTextFile(`${dir}/kept/config.json`, '{"seed": 1');
  const kept = await cli(["train", "--resume", "kept", "--runs-dir", dir, "--no-progress"])
    .output();
  const keptErr = new TextDecoder().decode(kept.stderr);
  assert.equal(kept.code, 1, keptErr);
  assert.match(
    keptErr,
    new RegExp(
      `hint: remove it \\(rm ${dir}/kept/config\\.json\\): the resume writes it again from the run's last checkpoint, which holds the config; then \`anneal train --resume kept --runs-dir ${dir}\``,
    ),
  );
  await Deno.remove(`${dir}/kept/config.json`);
  const fixed = await cli(["train", "--resume", "kept", "--runs-dir", dir, "--no-progress"])
    .output();
  assert.equal(fixed.code, 0, new TextDecoder().decode(fixed.stderr));

  const gone = await cli(["train", "--resume", "nothing", "--runs-dir", dir, "--no-progress"])
    .output();
  assert.equal(gone.code, 2);
  assert.match(new TextDecoder().decode(gone.stderr), /nothing\/config.json is missing/);
});
