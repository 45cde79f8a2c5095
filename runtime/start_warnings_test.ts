import assert from "node:assert/strict";
import { StartWarnings } from "./start_warnings.ts";

const data = { actor: "dataLoader", message: "train.csv:1: a header of numbers", hint: "..." };
const reach = { actor: "trainer", message: "scheduler.totalSteps 40 is longer than the run" };

Deno.test("a resume holds back the warnings its run gave at an earlier start, word for word, and gives the others", () => {
  const first = new StartWarnings();
  assert.equal(first.earlier, 0);
  assert.ok(first.admit(data));
  assert.ok(first.admit(reach));
  // the same warning twice in one start is given twice (two files may say the same), kept once
  assert.ok(first.admit(reach));
  assert.deepEqual(first.recorded, [data, reach]);

  const resumed = new StartWarnings(JSON.parse(JSON.stringify(first.recorded)));
  assert.equal(resumed.earlier, 2);
  assert.equal(resumed.admit(data), false);
  assert.equal(resumed.admit(reach), false);
  // another hint, another actor or other words: not the warning the run gave
  assert.ok(resumed.admit({ ...data, hint: "another fix" }));
  assert.ok(resumed.admit({ ...reach, actor: "supervisor" }));
  assert.deepEqual(resumed.recorded.length, 4);
});

Deno.test("a meta.json whose warnings are not a list of warnings (another anneal's, or edited) holds back nothing", () => {
  for (const recorded of [undefined, null, "text", { 0: reach }, [null, 3, { actor: 1 }]]) {
    const warnings = new StartWarnings(recorded);
    assert.equal(warnings.earlier, 0, JSON.stringify(recorded));
    assert.ok(warnings.admit(reach));
  }
  // the whole ones of a list are kept
  const mixed = new StartWarnings([null, reach, { actor: "trainer", message: 3 }]);
  assert.equal(mixed.earlier, 1);
  assert.equal(mixed.admit(reach), false);
});

Deno.test("a resume's start that does not give an earlier warning again marks it as no longer applying, and it is not counted after", () => {
  const first = new StartWarnings();
  first.admit(data);
  first.admit(reach);
  assert.equal(first.lapse({ resumedAt: "a", step: 0 }), false, "a new run's start gave them all");
  // resumed with more epochs: the reach warning's cause is gone
  const resumed = new StartWarnings(JSON.parse(JSON.stringify(first.recorded)));
  assert.equal(resumed.admit(data), false);
  const at = { resumedAt: "2026-12-01T00:00:00.000Z", step: 16 };
  assert.equal(resumed.lapse(at), true);
  assert.deepEqual(resumed.recorded, [data, { ...reach, noLongerApplies: at }]);
  assert.equal(resumed.lapse({ ...at, step: 20 }), false, "marked once, at the resume it lapsed");
  const next = new StartWarnings(JSON.parse(JSON.stringify(resumed.recorded)));
  assert.equal(next.earlier, 1);
  assert.equal(next.admit(data), false);
  assert.equal(next.lapse({ ...at, step: 24 }), false);
  assert.deepEqual(next.recorded[1].noLongerApplies, at);
  // given again word for word (its cause back): printed, and it applies again
  const back = new StartWarnings(JSON.parse(JSON.stringify(next.recorded)));
  assert.equal(back.admit(reach), true);
  assert.equal(back.lapse({ ...at, step: 28 }), true, "the data's, not given by this start");
  assert.deepEqual(back.recorded, [{ ...data, noLongerApplies: { ...at, step: 28 } }, reach]);
});

Deno.test("a warning whose mark of a resume is not one is not read as a warning", () => {
  const marked = [{ ...reach, noLongerApplies: { resumedAt: 1, step: 2 } }, {
    ...data,
    noLongerApplies: "yes",
  }];
  assert.deepEqual(new StartWarnings(marked).recorded, []);
});
