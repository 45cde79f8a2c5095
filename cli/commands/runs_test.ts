import assert from "node:assert/strict";
import { runRow } from "../../report/records.ts";
import { syntheticRun } from "../../report/_synthetic.ts";
import { bestText, compareTable, runsCompareCommand, runsTable } from "./runs.ts";
import { compareRuns } from "../../report/records.ts";
import type { AnnealError } from "../../errors.ts";

Deno.test("anneal runs marks a onecycle run's lr as its maxLr, and says what the mark means", () => {
  const plain = { ...runRow(syntheticRun([1, 0.5], { lr: 0.03 })), id: "plain" };
  const scheduler = { name: "onecycle", maxLr: 0.4, totalSteps: 100 };
  const config = { optimizer: { name: "sgd", lr: 0 }, scheduler };
  const cycle = { ...runRow(syntheticRun([1, 0.5], { config })), id: "cycle" };
  const lines = runsTable([plain, cycle]).split("\n");
  const lrAt = lines[0].indexOf("lr ");
  assert.ok(lines[2].startsWith("plain") && lines[2].slice(lrAt).startsWith("0.03 "));
  assert.ok(lines[3].startsWith("cycle") && lines[3].slice(lrAt).startsWith("0.4 (max) "));
  assert.match(lines.at(-1)!, /^lr \(max\): onecycle's or cyclic's maxLr, the peak of its cycle/);
  // without a onecycle run the table is as ever: numbers, no legend
  const table = runsTable([plain]);
  assert.doesNotMatch(table, /\(max\)/);
  assert.equal(table.split("\n").length, 3);
});

Deno.test("anneal runs show names the best epoch with its metric, so far for a run not ended, and why there is none", () => {
  const run = syntheticRun([2, 1, 1.5]);
  assert.equal(
    bestText({ ...run, summary: { status: "completed", bestEpoch: 1 } }),
    "best loss 1 at epoch 1",
  );
  assert.equal(
    bestText({ ...run, summary: { status: "running" } }),
    "best loss 1 at epoch 1, so far",
  );
  // diverged in its first epoch: no epoch ended
  assert.equal(
    bestText(syntheticRun([], { status: "diverged" })),
    "no best epoch (no epoch ended)",
  );
  assert.equal(
    bestText(syntheticRun([NaN, NaN], { status: "diverged" })),
    "no best epoch (no epoch recorded a finite metric)",
  );
  // ended with no best epoch (every valLoss Infinity): the training loss stands in, not "so far"
  const unwatched = syntheticRun([3.9, 3.75, 3.8], {
    val: [Infinity, Infinity, Infinity],
    config: { earlyStopping: { monitor: "valLoss", patience: 2 } },
    status: "stopped",
  });
  assert.equal(
    bestText(unwatched),
    "best loss 3.75 at epoch 1 (the run kept no best epoch: no epoch's valLoss was finite)",
  );
});

Deno.test("anneal runs compare tells the epochs a run trained from its config's epochs, where they differ", () => {
  // one resumed with --epochs 4 after 3, the other planned for 10 and stopped early after 2
  const longer = { ...syntheticRun([2, 1.5, 1.2, 1], { config: { epochs: 4 } }), id: "longer" };
  const stopped = { ...syntheticRun([2, 1.6], { config: { epochs: 10 } }), id: "stopped" };
  const rows = compareTable(compareRuns([longer, stopped])).split("\n").map((line) =>
    line.split(/  +/)
  );
  const labels = rows.map((row) => row[0]);
  assert.equal(new Set(labels).size, labels.length, `a label twice: ${labels.join(", ")}`);
  assert.deepEqual(rows.find((row) => row[0] === "epochs run"), ["epochs run", "4", "2"]);
  assert.deepEqual(rows.find((row) => row[0] === "epochs"), ["epochs", "4", "10"]);
});

Deno.test("anneal runs compare prints a config's numbers as every command does, and as written where they differ beyond that", () => {
  const a = { ...syntheticRun([2, 1], { lr: 0.00020461952206579163 }), id: "a" };
  const b = { ...syntheticRun([2, 1], { lr: 0.0033768965571105863 }), id: "b" };
  const row = (table: string) =>
    table.split("\n").map((line) => line.split(/  +/)).find((r) => r[0] === "optimizer.lr");
  // (it printed 0.00020461952206579163 where `anneal runs` printed 2.046e-4)
  assert.deepEqual(row(compareTable(compareRuns([a, b]))), [
    "optimizer.lr",
    "2.046e-4",
    "0.003377",
  ]);
  // two rates alike to 4 digits are told apart
  const c = { ...syntheticRun([2, 1], { lr: 0.00100001 }), id: "c" };
  const d = { ...syntheticRun([2, 1], { lr: 0.001 }), id: "d" };
  assert.deepEqual(row(compareTable(compareRuns([c, d]))), ["optimizer.lr", "0.00100001", "0.001"]);
  // whole numbers exactly (a seed of 1234567 read 1.235e+6)
  const e = { ...syntheticRun([2, 1], { config: { seed: 1234567 } }), id: "e" };
  const g = { ...syntheticRun([2, 1], { config: { seed: 42 } }), id: "g" };
  const seedRow = compareTable(compareRuns([g, e])).split("\n").map((line) => line.split(/  +/))
    .find((r) => r[0] === "seed");
  assert.deepEqual(seedRow, ["seed", "42", "1234567"]);
});

Deno.test("anneal runs compare refuses a run given twice (its column would hide the other), before reading any run", async () => {
  await assert.rejects(
    runsCompareCommand(["a", "b", "a"], { runsDir: "/nonexistent/anneal-runs" }),
    (error: AnnealError) => {
      assert.equal(error.code, "usage");
      assert.equal(error.message, "compare names run 'a' more than once");
      return true;
    },
  );
});

Deno.test("anneal runs compare refuses the newest run given as 'last' and by its id", async () => {
  // (it compared one column with itself: "the configs are identical")
  const runsDir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${runsDir}/older`);
    await Deno.writeTextFile(`${runsDir}/older/meta.json`, '{"createdAt":"2026-01-01T00:00:00Z"}');
    await Deno.mkdir(`${runsDir}/newer`);
    await Deno.writeTextFile(`${runsDir}/newer/meta.json`, '{"createdAt":"2026-02-01T00:00:00Z"}');
    await assert.rejects(
      runsCompareCommand(["last", "newer"], { runsDir }),
      (error: AnnealError) => {
        assert.equal(error.code, "usage");
        assert.equal(
          error.message,
          "compare names run 'newer' more than once (as 'last' and 'newer')",
        );
        return true;
      },
    );
  } finally {
    await Deno.remove(runsDir, { recursive: true });
  }
});

Deno.test("anneal runs compare names the first run it cannot read in the order given, not the first failure to arrive", async () => {
  // (the runs are read at once: 'empty', a directory that is not a run, fails after more reads
  // than 'nope' does)
  const runsDir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${runsDir}/empty`);
    const cases: [string[], RegExp][] = [
      [["nope1", "nope2"], /'[^']*\/nope1'/],
      [["empty", "nope2"], /'[^']*\/empty'/],
      [["empty", "nope2", "nope3"], /'[^']*\/empty'/],
    ];
    for (const [ids, named] of cases) {
      await assert.rejects(runsCompareCommand(ids, { runsDir }), (error: AnnealError) => {
        assert.match(error.message, named);
        assert.doesNotMatch(error.message, /nope[23]/);
        return true;
      });
    }
  } finally {
    await Deno.remove(runsDir, { recursive: true });
  }
});

Deno.test("anneal runs compare shows the test split's metrics, as runs show and the report do", () => {
  const a = { ...syntheticRun([2, 1]), id: "a" };
  a.summary.test = { loss: 0.31, accuracy: 0.9 };
  const b = { ...syntheticRun([2, 1], { lr: 0.1 }), id: "b" };
  b.summary.test = { loss: 0.42, accuracy: 0.85 };
  const c = { ...syntheticRun([2, 1], { lr: 0.2 }), id: "c" };
  const comparison = compareRuns([a, b, c]);
  assert.deepEqual(
    comparison.metrics.filter((m) => m.name.startsWith("test ")),
    [
      { name: "test loss", values: [0.31, 0.42, undefined] },
      { name: "test accuracy", values: [0.9, 0.85, undefined] },
    ],
  );
  assert.match(compareTable(comparison), /^test accuracy +0\.9 +0\.85 +-$/m);
});
