import assert from "node:assert/strict";
import { tempRunsDir, trainCollect } from "../tests/_helpers.ts";
import { unmatchedParamPatterns } from "./start_checks.ts";

const names = ["dense0/kernel", "dense0/bias", "bn0/gamma", "bn0/beta", "head/kernel", "head/bias"];

Deno.test("a parameter group or noDecay pattern that governs no parameter is named, with the model's parameter names", () => {
  // PyTorch's names, which match none of anneal's
  const torchNames = unmatchedParamPatterns(
    { paramGroups: [{ match: "weight" }], noDecay: ["\\.bias$"] },
    names,
  );
  assert.equal(
    torchNames?.message,
    "optimizer.paramGroups[0].match 'weight' matches no parameter; optimizer.noDecay pattern " +
      "'\\.bias$' matches no parameter: its settings apply to nothing",
  );
  assert.match(
    torchNames.hint,
    /^the model's parameters are named dense0\/kernel, dense0\/bias, bn0\/gamma, bn0\/beta, head\/kernel, head\/bias \(/,
  );
  // a group whose every match an earlier group took (the first that matches sets a parameter)
  const shadowed = unmatchedParamPatterns(
    { paramGroups: [{ match: "kernel" }, { match: "^head/kernel$" }, { match: "^head/" }] },
    names,
  );
  assert.equal(
    shadowed?.message,
    "optimizer.paramGroups[1].match '^head/kernel$' matches only parameters an earlier group " +
      "took (head/kernel; the first group that matches a parameter sets it): its settings apply " +
      "to nothing",
  );
  // a noDecay pattern whose every match a group's own weightDecay sets (the group's wins)
  const overridden = unmatchedParamPatterns(
    { paramGroups: [{ match: "bias", weightDecay: 0.1 }], noDecay: ["bias"] },
    names,
  );
  assert.equal(
    overridden?.message,
    "optimizer.noDecay pattern 'bias' matches only parameters whose paramGroups entry sets " +
      "weightDecay (dense0/bias, head/bias; a group's weightDecay wins over noDecay): its " +
      "settings apply to nothing",
  );
  // a group without its own weightDecay leaves noDecay to decide; one match of the pattern free
  const reached = [
    { paramGroups: [{ match: "bias", lrMultiplier: 2 }], noDecay: ["bias"] },
    { paramGroups: [{ match: "^head/bias", weightDecay: 0.1 }], noDecay: ["bias"] },
  ];
  for (const spec of reached) assert.equal(unmatchedParamPatterns(spec, names), undefined);
  // every pattern governing a parameter, or none given: nothing to say
  const governing = { paramGroups: [{ match: "^head/" }, { match: "kernel" }], noDecay: ["bn"] };
  assert.equal(unmatchedParamPatterns(governing, names), undefined);
  assert.equal(unmatchedParamPatterns({}, names), undefined);
  assert.equal(unmatchedParamPatterns({ paramGroups: [], noDecay: [] }, names), undefined);
});

Deno.test("a run whose parameter group matches no parameter says so at its start, and trains", async () => {
  await using runs = await tempRunsDir();
  const { result, events } = await trainCollect({
    backend: "cpu",
    runsDir: runs.dir,
    epochs: 1,
    model: { kind: "mlp", hidden: [4] },
    optimizer: { name: "adam", lr: 0.01, paramGroups: [{ match: "weight", lrMultiplier: 0 }] },
  });
  assert.equal(result.status, "completed", result.reason);
  const warnings = events.filter((e) => e.type === "warning");
  assert.ok(
    warnings.some((e) =>
      e.type === "warning" && e.actor === "trainer" &&
      e.message === "optimizer.paramGroups[0].match 'weight' matches no parameter: its " +
          "settings apply to nothing" &&
      /named dense0\/kernel, dense0\/bias, head\/kernel, head\/bias/.test(e.hint ?? "")
    ),
    JSON.stringify(warnings),
  );
});
