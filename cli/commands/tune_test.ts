import assert from "node:assert/strict";
import { stagesDone } from "./tune.ts";

Deno.test("an interrupted tune's last line calls a stage cut short so, not done", () => {
  const stage = { kept: {}, before: 0.9, after: 0.9 };
  const tried = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ change: { "optimizer.lr": i }, value: 0.9 }));
  assert.equal(stagesDone([]), "none");
  assert.equal(
    stagesDone([
      { ...stage, name: "learning rate", tried: tried(3) },
      { ...stage, name: "batch size", tried: tried(1), cutShort: { of: 2 } },
    ]),
    "learning rate, batch size (cut short: 1 of its 2 changes tried)",
  );
});
