/**
 * Under onecycle torch's OneCycleLR ignores the optimizer's `lr`: a run trains at the rates of
 * its `maxLr`. Every table that shows a run's learning rate shows that one, marked `(max)` as
 * `anneal runs` marks it: `anneal runs compare` (and its `--json`), the trials of `anneal sweep`
 * (its lines, its best and its sweep.html), and the runs of `anneal tune`.
 */
import assert from "node:assert/strict";
import { anneal, tempRunsDir } from "./_helpers.ts";

const LEGEND = "lr (max): onecycle's or cyclic's maxLr, the peak of its cycle " +
  "(its rates come from it, not optimizer.lr)";

/** A completed run's records, written as a run writes them, under `config`. */
async function writeRun(runsDir: string, id: string, config: Record<string, unknown>) {
  const dir = `${runsDir}/${id}`;
  await Deno.mkdir(dir, { recursive: true });
  const full = { model: { kind: "linear" }, batchSize: 16, epochs: 2, ...config };
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(full));
  await Deno.writeTextFile(`${dir}/meta.json`, JSON.stringify({ id, createdAt: "2026-01-01" }));
  await Deno.writeTextFile(`${dir}/summary.json`, JSON.stringify({ status: "completed" }));
  const epochs = [{ epoch: 0, loss: 1, lr: 0.1 }, { epoch: 1, loss: 0.5, lr: 0.1 }];
  await Deno.writeTextFile(`${dir}/epochs.ndjson`, epochs.map((e) => JSON.stringify(e)).join("\n"));
}

const onecycle = (maxLr: number) => ({ name: "onecycle", maxLr, totalSteps: 100 });

/** The cells of the table row that starts with `field`, split on runs of 2+ spaces. */
function row(stdout: string, field: string): string[] | undefined {
  const line = stdout.split("\n").find((l) => l.startsWith(`${field} `));
  return line?.split(/ {2,}/).map((cell) => cell.trim());
}

Deno.test("anneal runs compare shows the rate each run trains at: under onecycle its maxLr, marked (max); a onecycle run's optimizer.lr is unused", async () => {
  await using runs = await tempRunsDir();
  await writeRun(runs.dir, "plain", { optimizer: { name: "sgd", lr: 0.01 } });
  await writeRun(runs.dir, "cycle", {
    optimizer: { name: "sgd", lr: 0.01 },
    scheduler: onecycle(0.4),
  });
  await writeRun(runs.dir, "cycle-b", {
    optimizer: { name: "sgd", lr: 0.1 },
    scheduler: onecycle(0.4),
  });
  await writeRun(runs.dir, "nested", {
    optimizer: { name: "sgd", lr: 0.01 },
    scheduler: { name: "sequential", schedulers: [onecycle(0.2)], milestones: [] },
  });

  // two onecycle runs whose optimizer.lr differs train at the same rate: the table says so
  const same = await anneal("runs", "compare", "cycle", "cycle-b", "--runs-dir", runs.dir);
  assert.equal(same.code, 0, same.stderr);
  assert.deepEqual(row(same.stdout, "lr"), ["lr", "0.4 (max)", "0.4 (max)"]);
  assert.deepEqual(row(same.stdout, "optimizer.lr"), [
    "optimizer.lr",
    "0.01 (unused)",
    "0.1 (unused)",
  ]);
  assert.ok(same.stdout.includes(LEGEND), same.stdout);
  assert.match(
    same.stdout,
    /^optimizer\.lr \(unused\): a onecycle or cyclic run's rates ignore it$/m,
  );

  // beside a plain run, and a sequential's onecycle
  const mixed = await anneal("runs", "compare", "plain", "cycle", "nested", "--runs-dir", runs.dir);
  assert.equal(mixed.code, 0, mixed.stderr);
  assert.deepEqual(row(mixed.stdout, "lr"), ["lr", "0.01", "0.4 (max)", "0.2 (max)"]);
  assert.equal(row(mixed.stdout, "optimizer.lr"), undefined, "optimizer.lr is the same");

  const json = await anneal(
    "runs",
    "compare",
    "plain",
    "cycle",
    "nested",
    "--runs-dir",
    runs.dir,
    "--json",
  );
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout).lr, {
    values: [0.01, 0.4, 0.2],
    settings: ["optimizer.lr", "scheduler.maxLr", "scheduler.schedulers.0.maxLr"],
  });

  // without onecycle, no lr row and no legend: optimizer.lr is the rate, and its row says it
  await writeRun(runs.dir, "plain-b", { optimizer: { name: "sgd", lr: 0.05 } });
  const plain = await anneal("runs", "compare", "plain", "plain-b", "--runs-dir", runs.dir);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(row(plain.stdout, "lr"), undefined);
  assert.deepEqual(row(plain.stdout, "optimizer.lr"), ["optimizer.lr", "0.01", "0.05"]);
  assert.doesNotMatch(plain.stdout, /\(max\)|\(unused\)/);
});

/** A sweep config of one-epoch trials on 64 samples under `scheduler`, over `space`. */
async function sweepConfig(
  dir: string,
  scheduler: unknown,
  space: Record<string, unknown>,
): Promise<string> {
  const file = `${dir}/sw.json`;
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      name: "sw",
      backend: "cpu",
      runsDir: dir,
      epochs: 1,
      data: { kind: "synthetic-linear", n: 64, validationSplit: 0.25 },
      optimizer: { name: "sgd", lr: 0.01 },
      scheduler,
      sweep: { space, trials: 2, sampler: "grid", pruner: "none" },
    }),
  );
  return file;
}

Deno.test("anneal sweep under onecycle shows the rate each trial trains at, its maxLr, and warns that a space over optimizer.lr does nothing", async () => {
  await using runs = await tempRunsDir();
  const file = await sweepConfig(runs.dir, onecycle(0.05), {
    "optimizer.lr": { type: "grid", values: [0.001, 0.1] },
  });
  const swept = await anneal("sweep", "-c", file);
  assert.equal(swept.code, 0, swept.stderr);
  // before any trial: the space samples a setting onecycle ignores
  assert.match(
    swept.stdout,
    /warning: sweep\.space samples optimizer\.lr, which the trials' onecycle ignores: torch's OneCycleLR takes its rates from its maxLr \(0\.05\), so every trial trains at the same rates whatever optimizer\.lr it samples\n {2}hint: sample the onecycle's maxLr instead: "space": \{"scheduler\.maxLr":\{"type":"grid","values":\[0\.001,0\.1\]\}\}\n(?:(?:warning| {2}).*\n)*trial +0/,
  );
  const trials = swept.stdout.split("\n").filter((line) => line.startsWith("trial "));
  assert.equal(trials.length, 2);
  for (const line of trials) assert.match(line, /optimizer\.lr=\S+; trains at lr 0\.05 \(max\)$/);
  assert.ok(swept.stdout.includes(LEGEND), swept.stdout);
  assert.match(
    swept.stdout,
    /^best: trial \d, valLoss = \S+ with optimizer\.lr=\S+; trains at lr 0\.05 \(max\)$/m,
  );
  const html = await Deno.readTextFile(`${runs.dir}/sw/sweep.html`);
  assert.match(html, /<th>optimizer\.lr<\/th><th>lr<\/th><th>note<\/th>/);
  assert.equal(html.match(/<td>0\.05 \(max\)<\/td>/g)?.length, 2);
  assert.ok(
    html.includes("onecycle&#39;s or cyclic&#39;s maxLr") ||
      html.includes("onecycle's or cyclic's maxLr"),
    "legend",
  );

  // a space over maxLr itself shows the rate in its parameters: nothing added, no warning
  const own = await sweepConfig(runs.dir, onecycle(0.05), {
    "scheduler.maxLr": { type: "grid", values: [0.01, 0.02] },
  });
  const direct = await anneal("sweep", "-c", own, "--study", "sw-max");
  assert.equal(direct.code, 0, direct.stderr);
  // (the sweep's own warnings: its trials' runs still warn that the run cuts their onecycle)
  assert.doesNotMatch(direct.stdout, /^warning: |trains at|\(max\)/m);
  assert.doesNotMatch(await Deno.readTextFile(`${runs.dir}/sw-max/sweep.html`), /<th>lr<\/th>/);
});

Deno.test("anneal tune under a sequential's onecycle shows the rate each run trains at, its maxLr", async () => {
  await using runs = await tempRunsDir();
  const file = `${runs.dir}/t.json`;
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      backend: "cpu",
      runsDir: runs.dir,
      epochs: 1,
      data: { kind: "synthetic-linear", validationSplit: 0.2 },
      optimizer: { name: "sgd", lr: 0 },
      scheduler: { name: "sequential", schedulers: [onecycle(0.05)], milestones: [] },
    }),
  );
  const tuned = await anneal("tune", "-c", file, "--budget", "2");
  assert.equal(tuned.code, 0, tuned.stderr);
  assert.match(
    tuned.stdout,
    /^ {2}\[baseline\] \(unchanged\) -> \S+; trains at lr 0\.05 \(max\)$/m,
  );
  // the next run (learning rate, or batch size if the range test found none) changes the whole
  // scheduler section: the line says the rate it set
  const stage = tuned.stdout.split("\n").find((line) =>
    line.startsWith("  [") && !line.startsWith("  [baseline]")
  );
  assert.ok(stage, tuned.stdout);
  const maxLr = JSON.parse(stage.match(/scheduler=(\{.*\}) -> /)![1]).schedulers[0].maxLr;
  const shown = stage.match(/; trains at lr (\S+) \(max\)$/);
  assert.ok(shown, stage);
  assert.equal(Number(shown[1]), Number(maxLr.toPrecision(4)), stage);
  assert.ok(tuned.stdout.includes(LEGEND), tuned.stdout);
});
