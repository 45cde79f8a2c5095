import assert from "node:assert/strict";
import type { RunEvent } from "../runtime/events.ts";
import { tempRunsDir, trainCollect } from "./_helpers.ts";

// A CSV as users have it (an id, a string feature, empty cells) trains through the actors once
// data.drop, data.categorical and data.missing say what to make of it, and resumes.

/**
 * 60 rows of a two-class problem: class `b` where x + (color's offset) > 0; an `id` of strings,
 * a `color` of three categories, and empty cells in `x` and `color`; the test file has a colour
 * the training file lacks.
 */
function rows(n: number, offset: number, colors: string[]): string {
  const offsets: Record<string, number> = { red: 1, green: 0, blue: -1, purple: 0 };
  return "id,x,color,label\n" + Array.from({ length: n }, (_, k) => {
    const i = k + offset;
    const x = ((i * 37) % 41) / 20 - 1;
    const color = colors[i % colors.length];
    const label = x + offsets[color] > 0 ? "b" : "a";
    const xText = i % 11 === 5 ? "" : x.toFixed(3);
    const colorText = i % 13 === 7 ? "" : color;
    return `row-${i},${xText},${colorText},${label}`;
  }).join("\n") + "\n";
}

async function tabular(dir: string, missing: "drop" | "mean") {
  await Deno.writeTextFile(`${dir}/train.csv`, rows(60, 0, ["red", "green", "blue"]));
  await Deno.writeTextFile(`${dir}/test.csv`, rows(12, 100, ["blue", "purple", "red"]));
  return {
    backend: "cpu" as const,
    runsDir: dir,
    epochs: 2,
    batchSize: 8,
    model: { kind: "mlp" as const, hidden: [8] },
    optimizer: { name: "adam" as const, lr: 0.01 },
    data: {
      kind: "csv" as const,
      path: `${dir}/train.csv`,
      testPath: `${dir}/test.csv`,
      target: "label",
      task: "classification" as const,
      drop: ["id"],
      categorical: ["color"],
      missing,
      validationSplit: 0.2,
    },
  };
}

const plan = (events: RunEvent[]) => events.find((event) => event.type === "plan");
const warnings = (events: RunEvent[]) =>
  events.flatMap((event) => event.type === "warning" ? [event.message] : []);

Deno.test("a CSV with an id, a categorical column and empty cells trains on the cpu: 4 features (x and 3 colours)", async () => {
  await using runs = await tempRunsDir();
  for (const missing of ["drop", "mean"] as const) {
    const config = await tabular(runs.dir, missing);
    const { result, events } = await trainCollect(config, { runId: missing });
    assert.equal(result.status, "completed", result.reason);
    const planned = plan(events);
    assert.ok(planned?.type === "plan");
    assert.deepEqual(planned.dataset.inputShape, [4], "x, color=blue, color=green, color=red");
    // 60 rows, of which 10 have an empty cell: dropped, or kept and filled
    const rows = missing === "drop" ? 50 : 60;
    const { trainSize, validationSize, testSize } = planned.dataset;
    assert.equal(trainSize + validationSize, rows, missing);
    assert.equal(testSize, missing === "drop" ? 10 : 12);
    const said = warnings(events);
    assert.ok(
      said.some((message) =>
        /the categorical column 'color' of .*test\.csv' has a category/.test(message)
      ),
      said.join("\n"),
    );
    assert.ok(
      said.some((message) =>
        missing === "drop"
          ? /data\.missing is "drop": 10 of the 60 rows of .*train\.csv' have a missing cell/.test(
            message,
          )
          : /data\.missing is "mean": \d+ missing cells were filled/.test(message)
      ),
      said.join("\n"),
    );
    const meta = JSON.parse(await Deno.readTextFile(`${runs.dir}/${missing}/meta.json`));
    assert.equal(meta.fingerprint, planned.dataset.fingerprint);
    assert.deepEqual(meta.dataset.inputShape, [4], "meta.json records the encoded features");
  }
});

Deno.test("a run on categorical data with missing values resumes on the same encoding; a file whose categories changed is refused as other data", async () => {
  await using runs = await tempRunsDir();
  const config = await tabular(runs.dir, "mean");
  const first = await trainCollect(config, { runId: "tab" });
  assert.equal(first.result.status, "completed", first.result.reason);
  const resumed = await trainCollect({ ...config, epochs: 4 }, { resume: "tab" });
  assert.equal(resumed.result.status, "completed", resumed.result.reason);
  const planned = plan(resumed.events);
  assert.ok(planned?.type === "plan");
  assert.equal(planned.startEpoch, 2);
  const before = plan(first.events);
  assert.ok(before?.type === "plan");
  assert.equal(planned.dataset.fingerprint, before.dataset.fingerprint);
  // a colour renamed in the training file: other features, another fingerprint
  const text = await Deno.readTextFile(`${runs.dir}/train.csv`);
  await Deno.writeTextFile(`${runs.dir}/train.csv`, text.replaceAll(",green,", ",teal,"));
  await assert.rejects(
    trainCollect({ ...config, epochs: 6 }, { resume: "tab" }),
    /Cannot resume run 'tab': its data is not the data it trained on/,
  );
});
