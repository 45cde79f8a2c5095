import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import { previewSchedule } from "./preview.ts";
import { createSchedule } from "./schedule.ts";

Deno.test("preview lists lrAt(0 .. steps - 1)", () => {
  const spec = { name: "warmupCosine", warmupSteps: 3, totalSteps: 12 } as const;
  const schedule = createSchedule(spec, 0.2);
  const { lr, momentum } = previewSchedule(spec, 0.2, 15);
  assert.deepEqual(lr, Array.from({ length: 15 }, (_, t) => schedule.lrAt(t)));
  assert.equal(momentum, undefined);
  assert.deepEqual(previewSchedule(spec, 0.2, 0).lr, []);
});

Deno.test("preview of onecycle includes the momentum curve", () => {
  const { lr, momentum } = previewSchedule({ name: "onecycle", maxLr: 1, totalSteps: 20 }, 1, 21);
  assert.equal(momentum?.length, lr.length);
  assert.equal(momentum?.[0], 0.95);
});

Deno.test("plateau preview uses one metric per step after the first", () => {
  const spec = { name: "plateau", patience: 0, factor: 0.5 } as const;
  const { lr } = previewSchedule(spec, 1, 4, [1, 1, 1, 99]);
  assert.deepEqual(lr, [1, 1, 0.5, 0.25]);
});

Deno.test("plateau preview with too few metrics is an error that says how many", () => {
  assert.throws(
    () => previewSchedule({ name: "plateau" }, 1, 5, [1, 2]),
    /'metrics' must have at least 4 values .* current length is 2/,
  );
  assert.throws(() => previewSchedule({ name: "plateau" }, 1, 2), /current length is 0/);
});

Deno.test("plateau preview refuses metrics that are not an array of numbers, naming the one", () => {
  const spec = { name: "plateau", patience: 1 } as const;
  // (an object has no length, and "x" compares as no metric does: both previewed a decay)
  assert.throws(
    () => previewSchedule(spec, 0.1, 4, { a: 1 } as unknown as number[]),
    /'metrics' must be an array of numbers, current value is \{"a":1\}/,
  );
  assert.throws(
    () => previewSchedule(spec, 0.1, 4, [1, "x", 1] as unknown as number[]),
    /'metrics\[1\]' must be a finite number, current value is "x"/,
  );
  assert.throws(
    () => previewSchedule(spec, 0.1, 3, [1, null] as unknown as number[]),
    /'metrics\[1\]' must be a finite number, current value is null/,
  );
  // 1e400 in --metrics' JSON reads as Infinity: named so, not as JSON.stringify's null
  assert.throws(
    () => previewSchedule(spec, 0.1, 3, JSON.parse("[1e400, 1]")),
    /'metrics\[0\]' must be a finite number, current value is Infinity$/,
  );
  // those past the last step are not read
  assert.deepEqual(previewSchedule(spec, 0.1, 2, [1, "x"] as unknown as number[]).lr, [0.1, 0.1]);
});

Deno.test("preview rejects a negative or fractional step count", () => {
  assert.throws(
    () => previewSchedule({ name: "constant" }, 1, -1),
    /'steps' must be an integer >= 0/,
  );
  assert.throws(() => previewSchedule({ name: "constant" }, 1, 2.5), /current value is 2.5/);
});

Deno.test("previewSchedule past its most steps is refused as a usage error, not JavaScript's 'Invalid array length'", () => {
  assert.throws(
    () => previewSchedule({ name: "constant" } as never, 0.1, 1e9),
    (error: unknown) => {
      assert.ok(error instanceof AnnealError, String(error));
      assert.equal(error.code, "usage");
      assert.match(
        error.message,
        /'steps' is 1000000000, more than it lists \(at most 10,000,000\)/,
      );
      return true;
    },
  );
});
