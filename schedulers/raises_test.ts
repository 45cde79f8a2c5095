import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import { parseSchedulerSpec } from "./parse.ts";
import { checkScheduleReach, firstRaise, type RunLength, scheduleSteps } from "./raises.ts";

/** The error of a run of `run`'s length with `spec`, or undefined when it trains. */
function refusal(spec: unknown, run: RunLength): AnnealError | undefined {
  try {
    checkScheduleReach(parseSchedulerSpec(spec), run);
    return undefined;
  } catch (error) {
    assert.ok(error instanceof AnnealError && error.code === "config");
    return error;
  }
}

const exponential = { name: "exponential", gamma: 0.5 };
const zero = { name: "constant", factor: 0, totalIters: 5 };
const sequential = (schedulers: unknown[], milestones: number[]) => ({
  name: "sequential",
  schedulers,
  milestones,
});

Deno.test("a run steps its schedule once after each optimizer step, or each epoch it trains in", () => {
  assert.equal(scheduleSteps("step", { stepsPerEpoch: 10, epochs: 3 }), 30);
  assert.equal(scheduleSteps("step", { stepsPerEpoch: 10, epochs: 3, maxSteps: 25 }), 25);
  assert.equal(scheduleSteps("epoch", { stepsPerEpoch: 10, epochs: 3 }), 3);
  // maxSteps ends it in its third epoch
  assert.equal(scheduleSteps("epoch", { stepsPerEpoch: 10, epochs: 5, maxSteps: 21 }), 3);
});

Deno.test("a schedule that raises past the run's end trains; one step longer, it is refused, saying where and how to fix it", () => {
  // ConstantLR with factor 0 divides by it at its step 5
  assert.equal(refusal(zero, { stepsPerEpoch: 2, epochs: 2 }), undefined);
  assert.equal(refusal(zero, { stepsPerEpoch: 4, epochs: 1 }), undefined);
  assert.equal(refusal(zero, { stepsPerEpoch: 10, epochs: 9, maxSteps: 4 }), undefined);
  const error = refusal(zero, { stepsPerEpoch: 5, epochs: 1 })!;
  assert.equal(error.where, "scheduler.factor");
  assert.equal(
    error.message,
    "Invalid config for this run: 'scheduler.factor': must be > 0 when 'totalIters' is > 0 " +
      "(it is 5): torch's ConstantLR divides by it at step 5 (ZeroDivisionError), current value " +
      "is 0; the run gets there: it takes 5 optimizer steps (1 epoch of 5), and torch steps the " +
      "schedule after each optimizer step",
  );
  assert.equal(
    error.hint,
    "change 'scheduler.factor' as the error says, or end the run before step 5 " +
      "(--set maxSteps=4)",
  );
  assert.match(
    refusal(zero, { stepsPerEpoch: 10, epochs: 9, maxSteps: 5 })!.message,
    /it takes 5 optimizer steps \(maxSteps 5\)/,
  );
  // PolynomialLR raises 0 to a negative power at its step totalIters
  const polynomial = { name: "polynomial", power: -1, totalIters: 3 };
  assert.equal(refusal(polynomial, { stepsPerEpoch: 2, epochs: 1 }), undefined);
  assert.match(
    refusal(polynomial, { stepsPerEpoch: 3, epochs: 1 })!.message,
    /'scheduler\.power': must be >= 0 .* raises 0 to it at step 3/,
  );
});

Deno.test("under interval epoch the run's epochs count, a maxSteps that ends one early included", () => {
  const spec = { ...zero, interval: "epoch" };
  assert.equal(refusal(spec, { stepsPerEpoch: 100, epochs: 4 }), undefined);
  assert.equal(refusal(spec, { stepsPerEpoch: 10, epochs: 9, maxSteps: 40 }), undefined);
  const error = refusal(spec, { stepsPerEpoch: 10, epochs: 9, maxSteps: 41 })!;
  assert.match(
    error.message,
    /at step 5 .*; the run gets there: it trains in 5 epochs \(maxSteps 41 ends it\), and torch steps the schedule after each epoch$/,
  );
  assert.match(error.hint!, /end the run before step 5 \(--epochs 4\)/);
});

Deno.test("in a sequential, a schedule raises only if it gets there before the next milestone hands over, and the run gets there", () => {
  // handed over at or before its step 5: never, however long the run
  const long = { stepsPerEpoch: 100, epochs: 100 };
  for (
    const spec of [
      sequential([zero, exponential], [5]),
      sequential([exponential, zero, exponential], [2, 7]),
      sequential([exponential, zero, exponential], [2, 2]), // skipped: never stepped
      sequential([{ name: "linear", startFactor: 0, totalIters: 3 }, exponential], [1]),
    ]
  ) assert.equal(firstRaise(parseSchedulerSpec(spec)), undefined, JSON.stringify(spec));
  // the middle one, from its milestone 2, at its step 5: step 7, before milestone 8
  const middle = sequential([exponential, zero, exponential], [2, 8]);
  assert.equal(refusal(middle, { stepsPerEpoch: 6, epochs: 1 }), undefined);
  const error = refusal(middle, long)!;
  assert.equal(error.where, "scheduler.schedulers[1].factor");
  assert.match(
    error.message,
    /divides by it at step 7 \(its own step 5, from its milestone 2\), before milestone 8 hands over to the next one/,
  );
  assert.equal(
    error.hint,
    "change 'scheduler.schedulers[1].factor' as the error says (in the config file: --set " +
      "cannot reach it), or end the run before step 7 (--set maxSteps=6), or hand over to the " +
      "next schedule by step 7 ('scheduler.milestones[1]' <= 7)",
  );
  // the last one runs to the end of training: a run that ends first trains
  const last = sequential([exponential, zero], [2]);
  assert.equal(refusal(last, { stepsPerEpoch: 3, epochs: 2 }), undefined);
  assert.match(
    refusal(last, { stepsPerEpoch: 7, epochs: 1 })!.message,
    /'scheduler\.schedulers\[1\]\.factor': .* at step 7 \(its own step 5, from its milestone 2\) \(ZeroDivisionError\)/,
  );
  // restarted at its milestone, StepLR's closed form divides by a stepSize 0 at once
  const restarted = sequential([exponential, { name: "step", stepSize: 0 }, zero], [3, 4]);
  assert.equal(refusal(restarted, { stepsPerEpoch: 2, epochs: 1 }), undefined);
  assert.match(
    refusal(restarted, { stepsPerEpoch: 3, epochs: 1 })!.message,
    /closed form, which divides the step count by it at step 3 \(its milestone\), before milestone 4/,
  );
  // of two, torch stops at the first
  const two = sequential([{ name: "polynomial", power: -1, totalIters: 6 }, zero], [9]);
  assert.equal(refusal(two, long)!.where, "scheduler.schedulers[0].power");
});

Deno.test("onecycle stepped past its totalSteps is refused, saying to set it to the run's steps", () => {
  const onecycle = { name: "onecycle", maxLr: 0.1, totalSteps: 20 };
  assert.equal(refusal(onecycle, { stepsPerEpoch: 4, epochs: 5 }), undefined);
  const error = refusal(onecycle, { stepsPerEpoch: 4, epochs: 6 })!;
  assert.equal(error.where, "scheduler.totalSteps");
  assert.match(
    error.message,
    /OneCycleLR raises at step 21, one past it \(ValueError: "Tried to step 22 times\. The specified number of total steps is 20"\), current value is 20; the run gets there: it takes 24 optimizer steps/,
  );
  assert.match(
    error.hint!,
    /set 'scheduler\.totalSteps' to the run's 24 \(--set scheduler\.totalSteps=24\)/,
  );
  // a last phase of no length divides by zero at step totalSteps
  const flat = { ...onecycle, pctStart: 1 };
  assert.equal(refusal(flat, { stepsPerEpoch: 19, epochs: 1 }), undefined);
  assert.match(
    refusal(flat, { stepsPerEpoch: 20, epochs: 1 })!.message,
    /'scheduler\.pctStart': must leave the last phase at least one step .* at step 20/,
  );
});

Deno.test("schedules torch never raises for train however long the run", () => {
  const long = { stepsPerEpoch: 1000, epochs: 1000 };
  for (
    const spec of [
      { name: "cosine", tMax: 10 },
      { name: "step", stepSize: -3 },
      { name: "constant", factor: 0 },
      { name: "plateau" },
      sequential([{ name: "linear", totalIters: 0 }, exponential], [3]),
    ]
  ) assert.equal(refusal(spec, long), undefined, JSON.stringify(spec));
  assert.doesNotThrow(() => checkScheduleReach(undefined, long));
});

Deno.test("a cyclic exp_range gamma within 8e-14 of 1 or -1 is read at once: torch overflows only after 2^53 steps, which no run takes", async () => {
  // (the search for the step where gamma ** t overflows went step by step past 2^53, where t + 1
  // is t: parsing the config hung for good; it runs in a Worker here, so that a hang fails)
  const source = `import { parseSchedulerSpec } from "${import.meta.resolve("./parse.ts")}";
    import { firstRaise } from "${import.meta.resolve("./raises.ts")}";
    self.onmessage = ({ data }) => {
      const spec = { name: "cyclic", baseLr: 0.001, maxLr: 0.1, stepSizeUp: 10, mode: "exp_range",
        gamma: data, cycleMomentum: false };
      self.postMessage(firstRaise(parseSchedulerSpec(spec))?.step ?? null);
    };`;
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  const raiseStep = async (gamma: number) => {
    const worker = new Worker(url, { type: "module" });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        new Promise((resolve, reject) => {
          worker.onmessage = ({ data }) => resolve(data);
          worker.onerror = (event) => {
            event.preventDefault();
            reject(new Error(event.message));
          };
          worker.postMessage(gamma);
        }),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`gamma ${gamma}: no answer in 20 s`)), 20_000);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      worker.terminate();
    }
  };
  try {
    for (const gamma of [1.000000000000001, -1.000000000000001, 1 + 2 ** -52]) {
      assert.equal(await raiseStep(gamma), null, `gamma ${gamma}`);
    }
    // a gamma that overflows within a run's reach is still found, at torch's step
    const step = await raiseStep(1.5) as number;
    assert.ok(Number.isFinite(1.5 ** (step - 1)) && !Number.isFinite(1.5 ** step), `step ${step}`);
  } finally {
    URL.revokeObjectURL(url);
  }
});

Deno.test("a fractional cosine tMax is refused where torch's recursive form divides by zero: at a step t with (t - 1) / tMax an odd whole number", () => {
  // torch 1.13 (tests/torch/schedules.py's loop): ZeroDivisionError at these steps
  const torchRaisesAt: [number, number][] = [[0.2, 4], [1 / 3, 2], [0.4, 7], [2 / 3, 3], [
    -1 / 3,
    4,
  ]];
  for (const [tMax, step] of torchRaisesAt) {
    assert.equal(firstRaise(parseSchedulerSpec({ name: "cosine", tMax }))?.step, step, `${tMax}`);
    assert.equal(
      refusal({ name: "cosine", tMax }, { stepsPerEpoch: step - 1, epochs: 1 }),
      undefined,
    );
    const error = refusal({ name: "cosine", tMax }, { stepsPerEpoch: step, epochs: 1 })!;
    assert.equal(error.where, "scheduler.tMax");
    assert.match(error.message, /odd whole number.*ZeroDivisionError/);
  }
  // its own branch for those steps takes a whole tMax, and 2.5 never gets there: they run
  for (const tMax of [10, 2.5, -7, 12.5]) {
    assert.equal(firstRaise(parseSchedulerSpec({ name: "cosine", tMax })), undefined, `${tMax}`);
  }
  // a sequential's later cosine counts from its milestone, as torch restarts it there
  const later = sequential([exponential, { name: "cosine", tMax: 0.2 }], [5]);
  assert.equal(firstRaise(parseSchedulerSpec(later))?.step, 9);
});
