import assert from "node:assert/strict";
import { AnnealError } from "../../errors.ts";
import { parseJsonFlag } from "./schedule.ts";

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
