import assert from "node:assert/strict";
import { trialWarningPrinter } from "./sweep.ts";

Deno.test("a trial warning is printed once for the study though its numbers differ between trials", () => {
  // (a onecycle cut short by each batch size's steps was printed 4 times, each "said once")
  const lines: string[] = [];
  const log = console.log;
  console.log = (text: string) => lines.push(text);
  try {
    const print = trialWarningPrinter();
    for (const [trial, steps] of [[1, 20], [2, 10], [3, 5]]) {
      print(trial, {
        type: "warning",
        actor: "trainer",
        message: `scheduler.totalSteps 1000 is longer than the run, which takes ${steps} steps`,
        hint: `set its length to the run's (--set scheduler.totalSteps=${steps})`,
      });
    }
    print(4, { type: "warning", actor: "trainer", message: "another warning" });
  } finally {
    console.log = log;
  }
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^warning \(trial 1's run\): .*which takes 20 steps/);
  assert.match(lines[1], /^warning \(trial 4's run\): another warning/);
});
