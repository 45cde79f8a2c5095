/**
 * A loss, a metric or a learning rate reads the same in every command that prints it: the value
 * `anneal train` printed for an epoch is the one `runs`, `runs show`, `runs compare`, `diagnose`
 * and the HTML report quote for it, and the rate `lr-find` suggested the one `diagnose` names.
 */
import assert from "node:assert/strict";
import { anneal, tempRunsDir } from "./_helpers.ts";

Deno.test("a run's losses and metrics read as anneal train printed them in runs, runs show, runs compare, diagnose and report", async () => {
  await using runs = await tempRunsDir();
  const { dir } = runs;
  const train = (...args: string[]) =>
    anneal(
      "train",
      "--backend",
      "cpu",
      "--epochs",
      "3",
      "--runs-dir",
      dir,
      "--no-progress",
      ...args,
    );
  const [run, other] = [await train(), await train("--lr", "0.02")];
  assert.equal(run.code, 0, run.stderr);
  assert.equal(other.code, 0, other.stderr);
  const idOf = (stdout: string) => stdout.match(/run record: \S+\/(\S+)/)![1];
  const id = idOf(run.stdout);
  // the seed experiment (a regression) logs loss and mae; its loss falls to its last epoch
  const last = (stdout: string) => stdout.match(/^Epoch 2: loss = (\S+), mae = (\S+)$/m)!;
  const [, loss, mae] = last(run.stdout);
  const [, otherLoss, otherMae] = last(other.stdout);
  // (four significant digits: not a loss printed to four decimals)
  assert.match(loss, /^\d\.\d{3}$/, run.stdout);

  const table = await anneal("runs", "--runs-dir", dir);
  assert.match(table.stdout, new RegExp(` loss=${loss}@2 `), table.stdout);
  const show = await anneal("runs", "show", id, "--runs-dir", dir);
  assert.ok(show.stdout.includes(`; best loss ${loss} at epoch 2\n`), show.stdout);
  const compare = await anneal("runs", "compare", id, idOf(other.stdout), "--runs-dir", dir);
  assert.equal(compare.code, 0, compare.stderr);
  for (const [name, values] of [["loss", [loss, otherLoss]], ["mae", [mae, otherMae]]]) {
    const row = new RegExp(`^final ${name} +${values[0]} +${values[1]}$`, "m");
    assert.match(compare.stdout, row, compare.stdout);
  }
  const diagnosis = await anneal("diagnose", id, "--runs-dir", dir);
  assert.ok(diagnosis.stdout.includes(` to ${loss} at epoch 2 `), diagnosis.stdout);
  // train's own diagnosis, below its epoch lines, quotes them alike
  assert.ok(run.stdout.includes(` to ${loss} at epoch 2 `), run.stdout);
  const report = await anneal("report", id, "--runs-dir", dir);
  assert.equal(report.code, 0, report.stderr);
  const html = await Deno.readTextFile(report.stdout.match(/written to (\S+)/)![1]);
  assert.ok(html.includes(`<td>${loss}</td><td>${mae}</td>`), "the epochs table");
});
