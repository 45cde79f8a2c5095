/**
 * torch's `CyclicLR` through the CLI: a run trains between the schedule's `baseLr` and `maxLr`
 * whatever `optimizer.lr` says, with SGD's momentum cycled the other way; what torch 1.13 raises
 * for is refused before a step; and every tool that changes the run's rate changes the cycle's.
 * (Step-by-step parity with torch: schedulers/conformance_test.ts and tests/torch_training_test.ts.)
 */
import assert from "node:assert/strict";
import { anneal, readNdjson, tempRunsDir } from "./_helpers.ts";

const cyclic = { name: "cyclic", baseLr: 0.001, maxLr: 0.02, stepSizeUp: 26 };
const set = (scheduler: unknown) => ["--set", `scheduler=${JSON.stringify(scheduler)}`];

function runDirOf(stdout: string): string {
  const dir = stdout.match(/run record: (\S+)/)?.[1];
  assert.ok(dir, stdout);
  return dir;
}

Deno.test("anneal train under cyclic trains at its rates, not optimizer.lr's, and cycles SGD's momentum the other way", async () => {
  await using runs = await tempRunsDir();
  const run = await anneal(
    "train",
    ...set(cyclic),
    "--set",
    "optimizer.lr=0.5",
    "--set",
    "epochs=5",
    "--runs-dir",
    runs.dir,
  );
  assert.equal(run.code, 0, run.stderr);
  const steps = await readNdjson(`${runDirOf(run.stdout)}/steps.ndjson`);
  assert.equal(steps.length, 65);
  const close = (got: number, want: number) => Math.abs(got - want) <= 1e-12;
  // up from baseLr over 26 steps, down over 26 more, up again (torch's triangular cycle)
  for (const [t, lr, momentum] of [[0, 0.001, 0.9], [13, 0.0105, 0.85], [26, 0.02, 0.8]]) {
    assert.ok(close(steps[t].lr, lr), `step ${t}: lr ${steps[t].lr}`);
    assert.ok(close(steps[t].momentum, momentum), `step ${t}: momentum ${steps[t].momentum}`);
  }
  assert.ok(close(steps[52].lr, 0.001) && close(steps[64].lr, 0.001 + 0.019 * 12 / 26));
  assert.ok(steps.every((s) => s.lr >= 0.001 - 1e-12 && s.lr <= 0.02 + 1e-12));
  assert.ok(steps.at(-1)!.loss < steps[0].loss, "the run learns");

  // anneal runs shows the rate the run trains at: the cycle's peak
  const table = await anneal("runs", "--runs-dir", runs.dir);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /0\.02 \(max\)/);
  assert.match(table.stdout, /lr \(max\): onecycle's or cyclic's maxLr/);
});

Deno.test("anneal train --lr under cyclic sets its maxLr and scales its baseLr alike, saying so", async () => {
  await using runs = await tempRunsDir();
  const run = await anneal(
    "train",
    ...set(cyclic),
    "--set",
    "epochs=1",
    "--lr",
    "0.05",
    "--runs-dir",
    runs.dir,
  );
  assert.equal(run.code, 0, run.stderr);
  assert.match(
    run.stderr,
    /--lr 0\.05 sets cyclic's maxLr \(scheduler\.maxLr\), the peak of its cycle, and scales its baseLr alike \(to 0\.0025\)/,
  );
  const config = JSON.parse(await Deno.readTextFile(`${runDirOf(run.stdout)}/config.json`));
  assert.equal(config.scheduler.maxLr, 0.05);
  assert.equal(config.scheduler.baseLr, 0.0025);
  const steps = await readNdjson(`${runDirOf(run.stdout)}/steps.ndjson`);
  assert.equal(steps[0].lr, 0.0025);
});

Deno.test("cyclic: what torch 1.13 raises for is refused before a step, saying why", async () => {
  await using runs = await tempRunsDir();
  const refused = async (...args: string[]) => {
    const run = await anneal("train", "--set", "epochs=1", "--runs-dir", runs.dir, ...args);
    assert.equal(run.code, 1, `${args.join(" ")}: ${run.stdout}${run.stderr}`);
    return run.stderr;
  };
  // Adam has betas, not momentum: torch's CyclicLR (cycleMomentum true, its default) raises
  assert.match(
    await refused(...set(cyclic), "--set", "optimizer.name=adam"),
    /'scheduler\.cycleMomentum': must be false with optimizer adam \(torch's default is true\): torch 1\.13's CyclicLR cycles an optimizer's momentum only/,
  );
  // RMSprop's momentum rising from 0 after a first step without (KeyError in torch)
  assert.match(
    await refused(...set({ ...cyclic, maxMomentum: 0 }), "--set", "optimizer.name=rmsprop"),
    /'scheduler\.maxMomentum': must not be 0 with optimizer rmsprop when the momentum rises from it later \(at step 1\)/,
  );
  // both rates 0: no step changes the weights (torch accepts it; anneal refuses it, as lr 0)
  assert.match(
    await refused(...set({ ...cyclic, baseLr: 0, maxLr: 0 })),
    /'scheduler\.maxLr': must not be 0 when baseLr is 0 too: torch 1\.13 accepts it/,
  );
  assert.match(
    await refused(...set({ ...cyclic, stepSizeUp: 0 })),
    /'scheduler\.stepSizeUp': must not be 0: torch's CyclicLR divides by the rising part/,
  );
  // triangular2 halves the height each cycle: 2 ** 1024 overflows in cycle 1025, at step 2048
  // of one-step halves; the seed's 13 steps an epoch get there in epoch 158
  assert.match(
    await refused(
      ...set({ ...cyclic, stepSizeUp: 1, mode: "triangular2" }),
      "--set",
      "epochs=160",
    ),
    /'scheduler\.mode': must not be triangular2 for more than 1024 cycles: .* at step 2048 \(OverflowError\).*the run gets there: it takes 2080 optimizer steps/s,
  );
  // torch's CyclicLR would hand its baseLr to the other schedules of a sequential
  assert.match(
    await refused(...set({ name: "sequential", schedulers: [cyclic], milestones: [] })),
    /'scheduler\.schedulers\[0\]\.name': must be one of .*current value is "cyclic"/,
  );
  // the refused runs left nothing behind
  assert.deepEqual([...Deno.readDirSync(runs.dir)], []);
});

Deno.test("cyclic: optimizer.baseBatch warns that it scales neither of the cycle's rates, and how to scale both", async () => {
  await using runs = await tempRunsDir();
  const run = await anneal(
    "train",
    ...set({ ...cyclic, cycleMomentum: false }),
    "--set",
    "optimizer.name=adam",
    "--set",
    "optimizer.baseBatch=8",
    "--set",
    "epochs=1",
    "--runs-dir",
    runs.dir,
  );
  assert.equal(run.code, 0, run.stderr);
  const output = run.stdout + run.stderr;
  assert.match(output, /but cyclic does not use optimizer\.lr/);
  // adam scales by the square-root rule: x sqrt(2)
  assert.match(
    output,
    /--set scheduler\.baseLr=0\.00141421 --set scheduler\.maxLr=0\.0282843 \(each x sqrt\(16 \/ 8\)\)/,
  );
});
