/**
 * Numbers not finite in a run's records and its `--json`: written as the strings "Infinity" and
 * "NaN" (JSON has neither; `JSON.stringify` made them null, read back as NaN), and read back as
 * what they were.
 *
 * @module
 */
import assert from "node:assert/strict";
import { readRun } from "../report/records.ts";
import { diagnose } from "../report/diagnose.ts";
import { readNdjson, tempRunsDir, trainCollect } from "./_helpers.ts";

Deno.test("a validation loss of Infinity is recorded as Infinity, read back as such, and counted by early stopping", async () => {
  await using runs = await tempRunsDir();
  // the first row, a target of 1e25 (its squared error overflows float32), in the validation
  // split: valLoss Infinity at every epoch
  const rows = ["x,y", "0.5,1e25"];
  for (let i = 0; i < 39; i++) rows.push(`${(i / 39).toFixed(4)},${(2 * i / 39 + 0.1).toFixed(4)}`);
  const path = `${runs.dir}/d.csv`;
  await Deno.writeTextFile(path, rows.join("\n") + "\n");
  const { result } = await trainCollect({
    data: {
      kind: "csv",
      path,
      target: "y",
      task: "regression",
      validationSplit: 0.25,
      shuffle: false,
    },
    model: { kind: "linear" },
    optimizer: { name: "sgd", lr: 0.1 },
    batchSize: 8,
    epochs: 6,
    earlyStopping: { patience: 1 },
    backend: "cpu",
    runsDir: runs.dir,
  });
  // (it completed its 6 epochs: an Infinity was never counted)
  assert.equal(result.status, "stopped", result.reason);
  assert.match(result.reason, /valLoss did not improve for 2 epochs \(no finite value yet\)/);
  const epochs = await readNdjson(`${result.runDir}/epochs.ndjson`);
  assert.deepEqual(epochs.map((e) => e.valLoss), ["Infinity", "Infinity"]);
  const record = await readRun(result.runDir);
  assert.equal(record.epochs[0].valLoss, Infinity);
  // (it said "the validation loss became NaN")
  assert.match(
    diagnose(record).findings[0].evidence,
    /the validation loss became Infinity at epoch 0/,
  );
});
