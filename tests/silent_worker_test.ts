/**
 * An actor's Worker that never sends its first message (its heartbeat, sent once its modules are
 * loaded): the supervisor starts another beside it and the first to load takes the run, instead
 * of waiting out the start's limit (300 s) for nothing. The `silent` fault makes the supervisor
 * drop every message of the actor's first Worker, as if it never loaded.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type RunEvent, train } from "../mod.ts";
import { closingEvent, tempRunsDir } from "./_helpers.ts";

const config = {
  backend: "cpu" as const,
  epochs: 3,
  data: { kind: "synthetic-linear" as const, n: 64 },
};

/**
 * A silent actor's run: without another Worker it would wait the start's 300 s, so the test
 * gives it `limitMs` and then stops it (the test then fails on its status).
 */
async function runSilent(
  actor: "trainer" | "dataLoader",
  dir: string,
  limitMs: number,
  stopAtOnce = false,
) {
  const run = train(
    { ...config, runsDir: dir },
    { faults: { [actor]: { kind: "silent", at: "worker", ms: 500 } } },
  );
  if (stopAtOnce) run.stop("test: stop before the trainer loaded");
  const events: RunEvent[] = [];
  const collected = (async () => {
    for await (const event of run.events()) events.push(event);
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = await Promise.race([
    run.result.then(() => false),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), limitMs))),
  ]);
  clearTimeout(timer);
  if (late) run.stop("test: the silent Worker was waited for");
  const result = await run.result;
  await collected;
  closingEvent(events);
  const warnings = events.flatMap((event) => event.type === "warning" ? [event.message] : []);
  return { result, events, warnings, late };
}

for (const actor of ["trainer", "dataLoader"] as const) {
  Deno.test(`a ${actor} Worker that never sends its first message is raced by another, which takes the run`, async () => {
    await using runs = await tempRunsDir();
    const { result, events, warnings, late } = await runSilent(actor, runs.dir, 45_000);
    assert.equal(late, false, `still waiting on the silent ${actor} after 45 s: ${result.reason}`);
    assert.equal(result.status, "completed", result.reason);
    // trained once, all of it: the silent Worker was never given the run
    assert.equal(result.epochs, config.epochs);
    const epochs = events.filter((event) => event.type === "epoch").map((event) => event.epoch);
    assert.deepEqual(epochs, [0, 1, 2]);
    assert.ok(
      warnings.some((message) =>
        message.startsWith(`actor '${actor}''s Worker sent nothing in `) &&
        message.includes("another was started beside it (1 of 2)")
      ),
      warnings.join("\n"),
    );
    assert.ok(
      warnings.includes(
        `actor '${actor}': a Worker started beside its silent one loaded first and takes the ` +
          "run; the silent one was terminated",
      ),
      warnings.join("\n"),
    );
  });
}

Deno.test("a stop asked for before the trainer's Worker loaded reaches the Worker that takes the run", async () => {
  await using runs = await tempRunsDir();
  const { result, late } = await runSilent("trainer", runs.dir, 45_000, true);
  assert.equal(late, false, result.reason);
  // (a Stop sent before the trainer's Init is ignored by it: lost, the run would complete)
  assert.equal(result.status, "stopped", result.reason);
  assert.match(result.reason, /test: stop before the trainer loaded/);
});
