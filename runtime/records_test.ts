import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import { parseConfig } from "../config.ts";
import { checkCheckpointConfig } from "./resume.ts";
import { checkRunId, newRunId, recordedConfig, RunWriter } from "./records.ts";

Deno.test("checkRunId refuses paths and non-strings (plain JavaScript: train(c, { resume: 5 }))", () => {
  assert.equal(checkRunId("20261201-162343-5e71"), "20261201-162343-5e71");
  for (
    const [id, message] of [
      ["../etc", "'../etc' is not a valid run id"],
      [5, "5 is not a valid run id: a run id is a string"],
      [undefined, "undefined is not a valid run id: a run id is a string"],
    ] as const
  ) {
    assert.throws(() => checkRunId(id as unknown as string), (error: unknown) => {
      assert.ok(error instanceof AnnealError && error.code === "usage");
      assert.equal(error.message, message);
      return true;
    });
  }
});

Deno.test("an rnn run whose clipping is off (maxNorm: null) records it so: its config.json read back clips nothing, as its checkpoint's config says", () => {
  const model = { kind: "rnn", cell: "lstm", units: 4 } as const;
  const readBack = (input: unknown) => {
    const config = parseConfig(input);
    const json = JSON.parse(JSON.stringify(recordedConfig(config, "/")));
    return { config, json, again: parseConfig(json) };
  };
  const off = readBack({ model, clipping: { maxNorm: null } });
  assert.equal(off.config.clipping.maxNorm, null);
  assert.equal(off.json.clipping.maxNorm, null);
  // (it read back as the rnn default, 1: a resume clipped what the run had not)
  assert.equal(off.again.clipping.maxNorm, null);
  checkCheckpointConfig(off.json, off.again, { runId: "r", dir: "runs/r" });
  // the default, and another model's, as they were
  assert.equal(readBack({ model }).again.clipping.maxNorm, 1);
  assert.equal(readBack({ model: { kind: "linear" } }).json.clipping.maxNorm, undefined);
  // a config.json edited to clip is a change
  assert.throws(
    () => checkCheckpointConfig(off.json, readBack({ model }).again, { runId: "r", dir: "runs/r" }),
    /'clipping\.maxNorm' is 1 in config\.json, null in the checkpoint/,
  );
});

Deno.test("RunWriter into a run directory removed meanwhile says which file, that its directory is gone, and how to fix it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const writer = new RunWriter(`${dir}/run`);
    await writer.create();
    await writer.append("steps.ndjson", [{ step: 0, loss: 1 }]);
    await writer.flush();
    await Deno.remove(`${dir}/run`, { recursive: true });
    // (Deno's NotFound of the append, or of writeFileAtomic's temporary file, before)
    for (
      const [write, name] of [
        [() => {
          writer.append("epochs.ndjson", [{ epoch: 0, loss: 1 }]);
          return writer.flush();
        }, "epochs.ndjson"],
        [() => {
          const other = new RunWriter(`${dir}/run`);
          other.writeJson("summary.json", {});
          return other.flush();
        }, "summary.json"],
      ] as const
    ) {
      await assert.rejects(
        write,
        (error: unknown) =>
          error instanceof AnnealError && error.code === "file" &&
          error.where === `${dir}/run/${name}` &&
          error.message.includes(`the directory '${dir}/run' does not exist`) &&
          /mkdir -p/.test(error.hint ?? ""),
        name,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RunWriter appending to a record file that is a directory says to move it away, not to give another path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const writer = new RunWriter(`${dir}/run`);
    await writer.create();
    await Deno.mkdir(`${dir}/run/epochs.ndjson`);
    writer.append("epochs.ndjson", [{ epoch: 0, loss: 1 }]);
    await assert.rejects(
      () => writer.flush(),
      (error: unknown) =>
        error instanceof AnnealError && error.code === "file" &&
        error.message ===
          `Cannot append to '${dir}/run/epochs.ndjson': it is a directory, not a file` &&
        error.hint ===
          `a directory is where the run records its epochs.ndjson: move it away (mv ${dir}/run/epochs.ndjson ${dir}/run/epochs.ndjson.moved)`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("newRunId puts a name before the stamp, and refuses one that is no part of a file name", () => {
  assert.match(newRunId(), /^\d{8}-\d{6}-[0-9a-f]{4}$/);
  assert.match(newRunId("mlp-adam.2"), /^mlp-adam\.2-\d{8}-\d{6}-[0-9a-f]{4}$/);
  // ("a/b" made the id "a/b-...": the run landed in a directory a/ of its own)
  for (const name of ["a/b", "..", "", "x\\y", " lead", 5 as unknown as string]) {
    assert.throws(
      () => newRunId(name),
      (error) =>
        error instanceof AnnealError && error.code === "config" && error.where === "name" &&
        error.message.startsWith("Cannot make a run id from the name"),
      String(name),
    );
  }
});
