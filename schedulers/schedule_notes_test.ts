import assert from "node:assert/strict";
import { parseSchedulerSpec } from "./parse.ts";
import { scheduleNotes } from "./schedule_notes.ts";

const notesOf = (spec: unknown, steps: number) =>
  scheduleNotes(parseSchedulerSpec(spec), { stepsPerEpoch: steps, epochs: 1 });

Deno.test("a sequential's schedules are judged over their part of the run, as the top-level ones over the run", () => {
  // (its warmupCosine or cosine said nothing inside a sequential, where at the top it warned)
  const [warmup] = notesOf({
    name: "sequential",
    schedulers: [{ name: "warmupCosine", warmupSteps: 50, totalSteps: 100 }],
    milestones: [],
  }, 10);
  assert.match(
    warmup.message,
    /^scheduler\.schedulers\[0\] \(warmupCosine\) runs the whole run: scheduler\.schedulers\[0\]\.warmupSteps 50 is as long as its part of the run or longer: its part of the run takes 10 optimizer steps, so its rate climbs to 18% of optimizer\.lr at most/,
  );
  assert.doesNotMatch(warmup.hint, /--set scheduler\.schedulers\[0\]/, "--set cannot reach it");
  const [cosine] = notesOf({
    name: "sequential",
    schedulers: [{ name: "linear", startFactor: 0.1, totalIters: 2 }, { name: "cosine", tMax: 2 }],
    milestones: [2],
  }, 10);
  assert.match(
    cosine.message,
    /^scheduler\.schedulers\[1\] \(cosine\) runs the run's last 8 optimizer steps, from milestone 2: scheduler\.schedulers\[1\]\.tMax 2 is shorter than its part of the run/,
  );
  assert.match(cosine.hint, /scheduler\.schedulers\[1\]\.tMax=8/);
});

Deno.test("torch's warmup idiom, a LinearLR up to the milestone where the next schedule takes over, is no note; a warmup the run cuts is", () => {
  const idiom = {
    name: "sequential",
    schedulers: [{ name: "linear", startFactor: 0.01, totalIters: 5 }, { name: "cosine", tMax: 5 }],
    milestones: [5],
  };
  assert.deepEqual(notesOf(idiom, 10), []);
  // a 100-step warmup in a run of 10: never past 10% of the rate, and the cosine never runs
  const cut = notesOf({
    ...idiom,
    schedulers: [{ name: "linear", startFactor: 0.01, totalIters: 100 }, {
      name: "cosine",
      tMax: 100,
    }],
    milestones: [100],
  }, 10);
  assert.equal(cut.length, 2);
  assert.match(
    cut[0].message,
    /the linear schedule is cut where its part of the run ends, at 9\.91% of optimizer\.lr, 9% of its way from startFactor 0\.01 to endFactor 1/,
  );
  assert.match(
    cut[1].message,
    /^scheduler\.schedulers\[1\] \(cosine\) starts at scheduler\.milestones\[0\] 100, past the run's last optimizer step \(it takes 10 optimizer steps\): it never runs/,
  );
});

Deno.test("a top-level linear schedule cut well short of its endFactor is noted, either way; one that gets there is not", () => {
  const [up] = notesOf({ name: "linear", startFactor: 0.01, totalIters: 100 }, 10);
  assert.match(
    up.message,
    /^scheduler\.totalIters 100 is longer than the run, which takes 10 optimizer steps/,
  );
  assert.match(up.hint, /--set scheduler\.totalIters=9\)/);
  const [down] = notesOf({ name: "linear", startFactor: 1, endFactor: 0, totalIters: 100 }, 10);
  assert.match(down.message, /9% of its way from startFactor 1 to endFactor 0/);
  assert.deepEqual(notesOf({ name: "linear", startFactor: 0.1, totalIters: 5 }, 10), []);
  assert.deepEqual(
    notesOf({ name: "linear", startFactor: 0.5, endFactor: 0.5, totalIters: 50 }, 10),
    [],
  );
});
