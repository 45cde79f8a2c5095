import assert from "node:assert/strict";
import { AnnealError } from "../../errors.ts";
import { parseJsonFlag, plateauMetricsError, scheduleCommand } from "./schedule.ts";

Deno.test("a JSON flag that is not JSON is named with its fault's place, and its hint quotes a value of that flag", async () => {
  // --metrics holds a list of numbers: its example is one, not a scheduler's object
  await assert.rejects(parseJsonFlag("--metrics", "[1, NaN, 1]"), (error: AnnealError) => {
    assert.equal(error.code, "usage");
    assert.equal(error.where, "--metrics:1:5");
    assert.match(error.message, /at line 1, column 5 .*: NaN, which JSON has no value for$/);
    assert.match(
      error.hint ?? "",
      /quote it for the shell, e\.g\. --metrics '\[1\.2,1\.1,1\.1\]'$/,
    );
    return true;
  });
  await assert.rejects(
    parseJsonFlag("--scheduler", "{name:cosine}"),
    (error: AnnealError) =>
      error instanceof AnnealError &&
      /--scheduler '\{"name":"cosine","tMax":100\}'$/.test(error.hint ?? ""),
  );
});

Deno.test("a plateau schedule previewed without enough --metrics is refused naming the flag, with an example", async () => {
  await assert.rejects(
    scheduleCommand({ scheduler: '{"name":"plateau","patience":1}', steps: "4" }),
    (error: AnnealError) => {
      assert.equal(error.code, "usage");
      assert.equal(error.where, "--metrics");
      assert.match(error.message, /--steps 4 needs 3 values in --metrics, and none was given$/);
      assert.match(error.hint ?? "", /--metrics '\[1,1,1\]' with --steps 4/);
      return true;
    },
  );
  assert.match(
    plateauMetricsError(3, [1])?.message ?? "",
    /needs 2 values in --metrics, and it has 1$/,
  );
  // one step reads no metric; enough of them, or more, are no error
  assert.equal(plateauMetricsError(1, undefined), undefined);
  assert.equal(plateauMetricsError(3, [1, 1]), undefined);
  assert.equal(plateauMetricsError(3, [1, 1, 1]), undefined);
});
