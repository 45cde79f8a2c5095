/**
 * Time the supervisor's thread did not run is not counted against the actors: a process
 * suspended (Ctrl-Z, then `fg`) or a thread held up longer than the stall timeout goes on training
 * where it was, rather than failing its actors as stalled when it runs again.
 *
 * @module
 */
import assert from "node:assert/strict";
import { train } from "../mod.ts";
import { tempRunsDir } from "./_helpers.ts";

Deno.test("a run whose supervisor's thread was held up past the stall timeout goes on: no actor is taken for stalled", async () => {
  await using runs = await tempRunsDir();
  const run = train({
    backend: "cpu",
    runsDir: runs.dir,
    epochs: 3,
    data: { kind: "synthetic-linear", n: 1000 },
    model: { kind: "mlp", hidden: [256, 256] },
  }, { stallTimeoutMs: 1500 });
  let held = false;
  for await (const event of run.events()) {
    if (!held && event.type === "epoch") {
      held = true;
      // the thread the supervisor runs on does nothing for 4 s (the actors' answers wait)
      const until = performance.now() + 4000;
      while (performance.now() < until) { /* held */ }
    }
  }
  const result = await run.result;
  assert.ok(held, "the run had an epoch to hold at");
  assert.equal(result.status, "completed", result.reason);
  assert.equal(result.epochs, 3);
});
