import assert from "node:assert/strict";
import { annealBeyondRun, LEFT_UNANNEALED } from "./anneal_reach.ts";
import { parseSchedulerSpec } from "./parse.ts";
import { createSchedule } from "./schedule.ts";

const run = (steps: number) => ({ stepsPerEpoch: steps, epochs: 1 });

Deno.test("a schedule cut with more than a tenth of its way down left is named, with the fix", () => {
  // (the fix's value ends the schedule at the run's last step, 49: a onecycle's totalSteps - 1
  // is its end, the others' own value)
  const cases = [
    { spec: { name: "cosine", tMax: 100 }, field: "tMax", fits: 49 },
    { spec: { name: "onecycle", maxLr: 1, totalSteps: 100 }, field: "totalSteps", fits: 50 },
    {
      spec: { name: "warmupCosine", warmupSteps: 5, totalSteps: 100 },
      field: "totalSteps",
      fits: 49,
    },
    {
      spec: { name: "warmupLinear", warmupSteps: 5, totalSteps: 100 },
      field: "totalSteps",
      fits: 49,
    },
    { spec: { name: "polynomial", totalIters: 100 }, field: "totalIters", fits: 49 },
  ];
  for (const { spec, field, fits } of cases) {
    const parsed = parseSchedulerSpec(spec);
    const note = annealBeyondRun(parsed, run(50));
    assert.ok(note, spec.name);
    assert.ok(
      note.message.startsWith(`scheduler.${field} 100 is longer than the run`),
      note.message,
    );
    assert.ok(note.hint.includes(`--set scheduler.${field}=${fits})`), note.hint);
    // the fix ends it at the run's last step: nothing more to say
    assert.equal(
      annealBeyondRun(parseSchedulerSpec({ ...spec, [field]: fits }), run(50)),
      undefined,
    );
    // run to its end, nothing to say
    assert.equal(annealBeyondRun(parsed, run(100)), undefined, spec.name);
  }
});

Deno.test("a cosine whose tMax is the run's length ends one step past it: its fix is the run's length less one, not the value it has", () => {
  // (epochs 2, tMax 2 by epoch: "tMax 2 is longer than the run, which takes 2 epochs", and the
  // hint --set scheduler.tMax=2)
  const note = annealBeyondRun(
    parseSchedulerSpec({ name: "cosine", tMax: 2, interval: "epoch" }),
    { stepsPerEpoch: 5, epochs: 2 },
  );
  assert.ok(note);
  assert.match(
    note.message,
    /^scheduler\.tMax 2 ends the schedule one step past the run, which takes 2 epochs \(0 to 1\)/,
  );
  assert.match(note.hint, /--set scheduler\.tMax=1\)/);
});

Deno.test("the tenth is measured on the schedule's own rates: just inside it is quiet, just outside it is named", () => {
  const spec = parseSchedulerSpec({ name: "cosine", tMax: 100, etaMin: 0.1 });
  const schedule = createSchedule(spec, 1);
  // the first step whose rate has less than a tenth of the way down (1 -> 0.1) left
  let t = 0;
  while ((schedule.lrAt(t) - 0.1) / 0.9 > LEFT_UNANNEALED) t++;
  // a run of t + 1 steps ends at step t: quiet; one step shorter: named
  assert.equal(annealBeyondRun(spec, run(t + 1)), undefined);
  assert.ok(annealBeyondRun(spec, run(t)));
});

Deno.test("under interval epoch the run's epochs count; schedules without an end, and a warmup never finished, are not its", () => {
  const cosine = parseSchedulerSpec({ name: "cosine", tMax: 50, interval: "epoch" });
  // 10 epochs of 400 steps: 10 of its 50 epochs
  assert.match(
    annealBeyondRun(cosine, { stepsPerEpoch: 400, epochs: 10 })!.message,
    /which takes 10 epochs/,
  );
  assert.equal(annealBeyondRun(cosine, { stepsPerEpoch: 400, epochs: 50 }), undefined);
  for (
    const spec of [
      { name: "step", stepSize: 1000 },
      { name: "exponential", gamma: 0.999 },
      { name: "constant", factor: 0.5, totalIters: 1000 },
      { name: "cosineWarmRestarts", t0: 1000 },
      // warmupBeyondRun's case: the rate never reaches its top
      { name: "warmupCosine", warmupSteps: 100, totalSteps: 1000 },
    ]
  ) {
    assert.equal(annealBeyondRun(parseSchedulerSpec(spec), run(50)), undefined, spec.name);
  }
  assert.equal(annealBeyondRun(undefined, run(50)), undefined);
});

Deno.test("a polynomial of a negative power cut before totalIters trains without a note: its rate rises, and torch raises only at totalIters", () => {
  // (the note computed the final rate at totalIters, 0 to a negative power, and its refusal
  // ended a run torch trains: ANNEAL_TORCH_TRAINING's seed 5's case 72, 2 epochs of 4)
  for (const power of [-1, -0.5]) {
    const spec = parseSchedulerSpec({
      name: "polynomial",
      totalIters: 4,
      power,
      interval: "epoch",
    });
    assert.equal(annealBeyondRun(spec, { stepsPerEpoch: 4, epochs: 2 }), undefined);
    assert.equal(annealBeyondRun(spec, { stepsPerEpoch: 4, epochs: 2, maxSteps: 4 }), undefined);
  }
  // a power of 0 keeps the rate where it is: nothing left to anneal either
  const flat = parseSchedulerSpec({ name: "polynomial", totalIters: 100, power: 0 });
  assert.equal(annealBeyondRun(flat, run(50)), undefined);
});

Deno.test("a onecycle cut in its warm-up is named though its rate there is low: the run never reaches maxLr", () => {
  // lr-find --apply's cycle for 5 epochs of 422 steps, run for 2 epochs of 22 (data.limit)
  const spec = parseSchedulerSpec({ name: "onecycle", maxLr: 0.01, totalSteps: 2110 });
  const schedule = createSchedule(spec, 1);
  // where the run ends, the rate has less than a tenth of the way down (maxLr to its final) left
  assert.ok(schedule.lrAt(43) / 0.01 < LEFT_UNANNEALED);
  const note = annealBeyondRun(spec, { stepsPerEpoch: 22, epochs: 2 });
  assert.ok(note);
  assert.equal(
    note.message,
    "scheduler.totalSteps 2110 is longer than the run, which takes 44 optimizer steps: the " +
      "onecycle schedule is cut in its warm-up, at 5.09% of maxLr, which it reaches only at " +
      "step 632",
  );
  assert.ok(note.hint.includes("--set scheduler.totalSteps=44"), note.hint);
  // past the peak, the share of the way down left is what is named, as for the other schedules
  assert.match(annealBeyondRun(spec, run(700))!.message, /with [\d.]+% of its way down still/);
  // a warm-up shorter than a step: step 0 is past the peak
  const short = parseSchedulerSpec({ name: "onecycle", maxLr: 1, totalSteps: 3, pctStart: 0.2 });
  assert.doesNotMatch(annealBeyondRun(short, run(1))?.message ?? "", /warm-up/);
});
