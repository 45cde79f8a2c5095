import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import { checkRunId } from "./records.ts";

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
