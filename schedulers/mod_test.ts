import assert from "node:assert/strict";
import * as schedulers from "./mod.ts";

Deno.test("schedulers/mod.ts exports exactly the public API", () => {
  assert.deepEqual(Object.keys(schedulers).sort(), [
    "SchedulerSpecSchema",
    "createSchedule",
    "initPlateau",
    "parseSchedulerSpec",
    "previewSchedule",
    "stepPlateau",
  ]);
});
