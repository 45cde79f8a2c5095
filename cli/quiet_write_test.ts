import assert from "node:assert/strict";
import { outputGone, survivingConsole } from "./quiet_write.ts";

Deno.test("console writes to an output that has gone (a hung-up terminal, a closed pipe) mute that stream, and the work goes on; other errors still throw", () => {
  const saved = {
    log: console.log,
    info: console.info,
    debug: console.debug,
    error: console.error,
    warn: console.warn,
  };
  try {
    let failures = 0;
    console.log = () => {
      failures++;
      throw new Error("Input/output error (os error 5)");
    };
    console.error = () => {
      throw new TypeError("not an output's failure");
    };
    survivingConsole();
    console.log("Epoch 20: loss = 0.2687");
    console.info("and the next line");
    assert.equal(failures, 1, "muted after its first failure");
    assert.throws(() => console.error("x"), /not an output's failure/);
  } finally {
    Object.assign(console, saved);
  }
  assert.ok(outputGone(new Deno.errors.BrokenPipe("Broken pipe (os error 32)")));
  assert.ok(!outputGone(new Error("Permission denied (os error 13)")));
});
