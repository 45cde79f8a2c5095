import assert from "node:assert/strict";
import { checkClassLabels, labelEncoding } from "./labels.ts";

Deno.test("labels that are long whole numbers stay apart: ids a float64 cannot tell apart are classes of their own", () => {
  // 90000000000000000001 .. 03 are one float64: they were one class ("every row's label is ...")
  const ids = ["90000000000000000003", "90000000000000000001", "90000000000000000002"];
  const encoding = labelEncoding([...ids, ids[0]], "classification", "ids.csv");
  assert.deepEqual(encoding.classes, [
    "90000000000000000001",
    "90000000000000000002",
    "90000000000000000003",
  ]);
  assert.deepEqual([...encoding.encode(ids, "ids.csv")], [2, 0, 1]);
  // the same number written otherwise is the same class, long or short; order by value
  const mixed = labelEncoding(
    ["+0090000000000000000001", "5", "5.0", "-12345678901234567890"],
    "classification",
    "m.csv",
  );
  assert.deepEqual(mixed.classes, ["-12345678901234567890", "5", "90000000000000000001"]);
  assert.deepEqual([...mixed.encode(["90000000000000000001", "05"], "m.csv")], [2, 1]);
  assert.equal(checkClassLabels([...ids, ...ids], { file: "ids.csv", column: "y" }), undefined);
});

Deno.test("binary labels of one value are not sent to task 'classification', which refuses one class too", () => {
  const hint = (labels: string[]) => {
    try {
      labelEncoding(labels, "binary", "b.csv");
    } catch (e) {
      return (e as { hint?: string }).hint;
    }
    assert.fail("refused");
  };
  assert.match(hint(["yes", "yes", "yes"])!, /^check that 'target' is the label column/);
  assert.doesNotMatch(hint(["yes", "yes"])!, /task 'classification'/);
  assert.match(hint(["a", "b", "c"])!, /or task 'classification'$/);
});
