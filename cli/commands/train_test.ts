import assert from "node:assert/strict";
import { applyOverrides, parseConfig } from "../../config.ts";
import {
  epochLine,
  lrOverride,
  planNotes,
  shortcutOverrides,
  type TrainCommandOptions,
} from "./train.ts";
import { AnnealError } from "../../errors.ts";

const options = (lr: string): TrainCommandOptions => ({ set: [], lr, progress: false });
const onecycle = { name: "onecycle", maxLr: 1, totalSteps: 100 };

Deno.test("--lr sets optimizer.lr, and under onecycle its maxLr, which sets the rates, with a note", () => {
  const plain = shortcutOverrides(options("0.1"), { scheduler: { name: "cosine", tMax: 10 } });
  assert.deepEqual([...plain], ["optimizer.lr=0.1"]);
  assert.deepEqual(plain.notes, []);
  assert.equal(plain.flags["optimizer.lr=0.1"], "--lr 0.1");
  const config = { optimizer: { name: "sgd", lr: 0 }, scheduler: onecycle };
  const cycle = shortcutOverrides(options("0.1"), config);
  assert.deepEqual([...cycle], ["scheduler.maxLr=0.1"]);
  assert.equal(cycle.flags["scheduler.maxLr=0.1"], "--lr 0.1", "an error names --lr 0.1");
  assert.match(cycle.notes[0], /--lr 0\.1 sets onecycle's maxLr \(scheduler\.maxLr\)/);
  assert.equal(parseConfig(applyOverrides(config, [...cycle])).scheduler?.name, "onecycle");
  assert.equal(
    (parseConfig(applyOverrides(config, [...cycle])).scheduler as { maxLr: number }).maxLr,
    0.1,
  );
});

Deno.test("--lr under a sequential's onecycle replaces the scheduler section with its maxLr changed", () => {
  const config = {
    optimizer: { name: "sgd", lr: 0 },
    scheduler: { name: "sequential", schedulers: [onecycle], milestones: [] },
  };
  const { override, note } = lrOverride("0.2", config);
  assert.equal(
    override,
    `scheduler=${
      JSON.stringify({ ...config.scheduler, schedulers: [{ ...onecycle, maxLr: 0.2 }] })
    }`,
  );
  assert.match(note!, /scheduler\.schedulers\.0\.maxLr/);
  const parsed = parseConfig(applyOverrides(config, [override]));
  const sequential = parsed.scheduler as { schedulers: { maxLr: number }[] };
  assert.equal(sequential.schedulers[0].maxLr, 0.2);
  // a value that is no number is left for the config to refuse, by the flag's name
  assert.equal(lrOverride("abc", config).override, "optimizer.lr=abc");
  // and a config that cannot be read is the optimizer's lr (loadConfig says why)
  assert.equal(lrOverride("0.1", undefined).override, "optimizer.lr=0.1");
});

Deno.test("the plan's notes say why WebGPU runs tfjs's ops, and which layers mixed precision keeps float32", () => {
  assert.deepEqual(planNotes({}, true), []);
  // (on the CPU backends a model past the host step's size is tfjs's by design: not said)
  assert.deepEqual(planNotes({ modelPathReason: "the gelu activation" }, false), []);
  assert.deepEqual(
    planNotes({
      modelPathReason: "the gelu activation",
      float32Layers: ["conv block 1 (3 filters)", "dense layer 0 (15 units)"],
    }, true),
    [
      "anneal: forward and backward run in tfjs's ops, not the WGSL step: the gelu activation",
      "anneal: mixedPrecision keeps float32 activations where a width is odd (a float16 pair " +
      "must not span two rows): conv block 1 (3 filters), dense layer 0 (15 units)",
    ],
  );
});

Deno.test("a shortcut flag and a --set of the same field are refused together, naming both", () => {
  const options = (extra: Partial<TrainCommandOptions>) =>
    ({ set: [], ...extra }) as unknown as TrainCommandOptions;
  for (
    const [extra, flag] of [
      [{ lr: "0.1", set: ["optimizer.lr=0.5"] }, "--lr 0.1"],
      [{ epochs: "3", set: ["epochs=5"] }, "--epochs 3"],
      [{ batchSize: "8", set: ["batchSize=16"] }, "--batch-size 8"],
      [{ maxSteps: "9", set: ["maxSteps=10"] }, "--max-steps 9"],
      [{ backend: "cpu", set: ["backend=wasm"] }, "--backend cpu"],
      // (a section --set that holds the field: its value was dropped without a word)
      [{ lr: "0.5", set: ['optimizer={"name":"adam","lr":0.1}'] }, "--lr 0.5"],
      [{ epochs: "3", set: ['scheduler={"name":"step","stepSize":2}', "epochs=5"] }, "--epochs 3"],
    ] as const
  ) {
    assert.throws(
      () => shortcutOverrides(options(extra as unknown as Partial<TrainCommandOptions>)),
      (e: unknown) =>
        e instanceof AnnealError && e.code === "usage" &&
        e.message.startsWith(`${flag} and --set ${extra.set.at(-1)} both set`),
      flag,
    );
  }
  assert.throws(
    () => shortcutOverrides(options({ lr: "0.5", set: ['optimizer={"lr":0.1}'] })),
    (e: unknown) =>
      e instanceof AnnealError &&
      e.hint === "drop --lr, or 'optimizer.lr' from --set optimizer=...",
  );
  // other fields beside a shortcut are fine
  const fine = shortcutOverrides(options({ lr: "0.1", set: ["optimizer.momentum=0.9"] }));
  assert.deepEqual([...fine], ["optimizer.momentum=0.9", "optimizer.lr=0.1"]);
  // and a section --set without the field: the shortcut sets it in the section
  const section = shortcutOverrides(options({ lr: "0.1", set: ['optimizer={"name":"adam"}'] }));
  assert.deepEqual([...section], ['optimizer={"name":"adam"}', "optimizer.lr=0.1"]);
});

Deno.test("an epoch a rollback on WebGPU undid is printed as such, not as a NaN loss the run never had", () => {
  const event = {
    type: "epoch" as const,
    epoch: 1,
    step: 30,
    // (null in the event stream's JSON: the metrics of steps none of which counted)
    metrics: { loss: NaN, accuracy: NaN, valLoss: 19.49, valAccuracy: 0.03922, lr: 50 },
    seconds: 0.2,
    stepSeconds: 0.1,
    isBest: false,
    waited: true,
    metricsLate: false,
    memory: { numTensors: 1, numBytes: 4 },
  };
  assert.equal(
    epochLine({ ...event, allUndone: true, discarded: true }),
    "valLoss = 19.49, valAccuracy = 0.03922 (every step of it undone by a rollback, so no " +
      "training metrics; its weights discarded by a rollback decided before its end)",
  );
  const kept = { ...event, metrics: { ...event.metrics, loss: 153.4, accuracy: 0.1563 } };
  assert.equal(
    epochLine({ ...kept, discarded: true }),
    "loss = 153.4, accuracy = 0.1563, valLoss = 19.49, valAccuracy = 0.03922 (its weights " +
      "discarded by a rollback decided before its end)",
  );
  // a NaN loss of a run's own (no flag) is printed as it is
  assert.match(epochLine(event), /^loss = NaN, accuracy = NaN, valLoss = 19\.49/);
});
