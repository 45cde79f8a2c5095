import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { AnnealError } from "./errors.ts";
import {
  applyOverrides,
  baseLearningRate,
  configJsonSchema,
  configWarnings,
  loadConfig,
  parseConfig,
  type RunConfigInput,
} from "./config.ts";
import { recordedConfig } from "./runtime/records.ts";

Deno.test("the default config is the seed experiment", () => {
  const config = parseConfig({});
  assert.equal(config.batchSize, 16);
  assert.equal(config.epochs, 50);
  assert.deepEqual(config.optimizer.name, "sgd");
  assert.equal(config.optimizer.lr, 0.01);
  assert.equal(config.data.kind, "synthetic-linear");
  assert.equal(config.model.kind, "linear");
  assert.equal(config.seed, 42);
});

const bad: [string, unknown, RegExp][] = [
  ["negative batch size", { batchSize: -4 }, /'batchSize'.*current value is -4/],
  // refused on purpose, and the error says so
  [
    "zero learning rate",
    { optimizer: { name: "sgd", lr: 0 } },
    /'optimizer\.lr': must be > 0: torch 1\.13 accepts 0, but .* anneal refuses it/,
  ],
  // a negative rate is told at once that 0 will not do either (not ">= 0", then "> 0")
  [
    "negative learning rate",
    { optimizer: { name: "adam", lr: -1 } },
    /'optimizer\.lr': must be >= 0 \(and > 0 for a run, unless a onecycle or cyclic schedule sets the rates\), current value is -1/,
  ],
  ["NaN as a string", { optimizer: { name: "adam", lr: "NaN" } }, /'optimizer\.lr'/],
  ["huge epochs", { epochs: 1e300 }, /'epochs'/],
  ["fractional epochs", { epochs: 2.5 }, /'epochs'/],
  ["unknown key", { epoch: 3 }, /epoch/],
  ["unknown nested key", { optimizer: { name: "adam", lr: 0.1, beta1: 0.9 } }, /beta1/],
  ["wrong type", { data: "mnist" }, /'data'/],
  ["unknown optimizer", { optimizer: { name: "sgdw", lr: 0.1 } }, /'optimizer\.name'/],
  ["path in a run name", { name: "../../etc" }, /'name'/],
  ["unknown backend", { backend: "cuda" }, /'backend'/],
  // refused on purpose: torch 1.13 accepts 2.5 but decays at whole multiples of it
  [
    "a fractional step size",
    { scheduler: { name: "step", stepSize: 2.5 } },
    /'scheduler\.stepSize': must be a whole number: torch 1\.13 accepts .*current value is 2\.5/,
  ],
  // torch's OneCycleLR hands the momenta to Adam unchecked: at 1, its bias correction is 0
  [
    "onecycle cycling adam's beta1 up to 1",
    {
      optimizer: { name: "adam", lr: 0.01 },
      scheduler: { name: "onecycle", maxLr: 0.1, totalSteps: 100, maxMomentum: 1 },
    },
    /'scheduler\.maxMomentum': must be in \[0, 1\) with optimizer adam, whose beta1 it sets: torch 1\.13 accepts/,
  ],
  [
    "onecycle cycling radam's beta1 up to 1",
    {
      optimizer: { name: "radam", lr: 0.01 },
      scheduler: { name: "onecycle", maxLr: 0.1, totalSteps: 100, maxMomentum: 1 },
    },
    /'scheduler\.maxMomentum': must be in \[0, 1\) with optimizer radam, whose beta1 it sets: .*radam's bias correction 1 - beta1 \*\* t divides by zero/,
  ],
  [
    "onecycle cycling nadam's beta1 from a negative base",
    {
      optimizer: { name: "nadam", lr: 0.01 },
      scheduler: { name: "onecycle", maxLr: 0.1, totalSteps: 100, baseMomentum: -0.1 },
    },
    /'scheduler\.baseMomentum': must be in \[0, 1\) with optimizer nadam, whose beta1 it sets/,
  ],
  [
    "onecycle cycling rmsprop's momentum up from 0",
    {
      optimizer: { name: "rmsprop", lr: 0.01 },
      scheduler: { name: "onecycle", maxLr: 0.1, totalSteps: 100, maxMomentum: 0 },
    },
    /'scheduler\.maxMomentum': must not start the cycle at momentum 0 .* \(KeyError\)/,
  ],
  // torch 1.13 checks 0 <= alpha and nothing more
  [
    "a negative rmsprop alpha",
    { optimizer: { name: "rmsprop", alpha: -0.1 } },
    /'optimizer\.alpha': must be >= 0, current value is -0\.1/,
  ],
  // torch's OneCycleLR refuses an optimizer without momentum when cycle_momentum is on
  [
    "onecycle cycling the momentum adagrad lacks",
    {
      optimizer: { name: "adagrad", lr: 0.1 },
      scheduler: { name: "onecycle", maxLr: 0.1, totalSteps: 100 },
    },
    /'scheduler\.cycleMomentum': must be false with optimizer adagrad/,
  ],
  [
    "onecycle cycling the momentum adadelta lacks",
    {
      optimizer: { name: "adadelta" },
      scheduler: { name: "onecycle", maxLr: 1, totalSteps: 100 },
    },
    /'scheduler\.cycleMomentum': must be false with optimizer adadelta, which has no momentum or beta1/,
  ],
  [
    "a sequential's onecycle cycling the momentum adafactor lacks",
    {
      optimizer: { name: "adafactor" },
      scheduler: {
        name: "sequential",
        milestones: [],
        schedulers: [{ name: "onecycle", maxLr: 0.1, totalSteps: 100 }],
      },
    },
    /'scheduler\.schedulers\[0\]\.cycleMomentum': must be false with optimizer adafactor/,
  ],
];
for (const [what, input, message] of bad) {
  Deno.test(`a config with ${what} gets a config error naming the field`, () => {
    assert.throws(() => parseConfig(input), (error: unknown) => {
      assert.ok(error instanceof AnnealError);
      assert.equal(error.code, "config");
      assert.match(error.message, message);
      assert.ok(error.hint);
      return true;
    });
  });
}

// Values torch 1.13 accepts (its constructors check no more than anneal now does); each is stepped
// against torch in optimizers/conformance_test.ts or schedulers/conformance_test.ts.
const torchAccepts: [string, Record<string, Record<string, unknown>>][] = [
  ["sgd dampening above 1", { optimizer: { name: "sgd", lr: 0.1, momentum: 0.5, dampening: 1.2 } }],
  ["sgd negative dampening", {
    optimizer: { name: "sgd", lr: 0.1, momentum: 0.5, dampening: -0.5 },
  }],
  ["rmsprop alpha above 1", { optimizer: { name: "rmsprop", lr: 0.01, alpha: 1.5 } }],
  ["step gamma 0", { scheduler: { name: "step", stepSize: 10, gamma: 0 } }],
  ["multistep gamma 0", { scheduler: { name: "multistep", milestones: [5, 9], gamma: 0 } }],
  ["exponential gamma 0", { scheduler: { name: "exponential", gamma: 0 } }],
  // a negative gamma: the rate changes sign at every decay, and the optimizers take it
  ["a negative exponential gamma", { scheduler: { name: "exponential", gamma: -0.5 } }],
  ["a negative step gamma", { scheduler: { name: "step", stepSize: 3, gamma: -1 } }],
  ["a cosine dipping below 0", { scheduler: { name: "cosine", tMax: 10, etaMin: -0.001 } }],
  ["onecycle cycling sgd's momentum above 1", {
    scheduler: { name: "onecycle", maxLr: 0.1, totalSteps: 40, maxMomentum: 1.2 },
  }],
  ["onecycle pctStart * totalSteps below 1", {
    scheduler: { name: "onecycle", maxLr: 0.1, totalSteps: 40, pctStart: 0.02 },
  }],
  ["onecycle pctStart 0, three phases", {
    scheduler: { name: "onecycle", maxLr: 0.1, totalSteps: 40, pctStart: 0, threePhase: true },
  }],
];
for (const [what, input] of torchAccepts) {
  Deno.test(`a config with ${what} is accepted, as torch 1.13 accepts it`, () => {
    const config = parseConfig(input) as unknown as Record<string, Record<string, unknown>>;
    for (const [section, fields] of Object.entries(input)) {
      for (const [field, value] of Object.entries(fields)) {
        assert.deepEqual(config[section][field], value, `${section}.${field}`);
      }
    }
  });
}

Deno.test("a synthetic-linear set above 1e7 samples is accepted with a warning of its memory and time", () => {
  assert.deepEqual(configWarnings(parseConfig({ data: { n: 3e8 } })), [{
    field: "data.n",
    message: "300000000 synthetic-linear samples are generated before the first step: about " +
      "6 GB of memory (20 bytes a sample) and 50 s or more",
    hint: "a few thousand samples fit the two weights (the default is 200): --set data.n=10000",
  }]);
  assert.deepEqual(configWarnings(parseConfig({ data: { n: 1e7 } })), []);
});

Deno.test("a data.testLimit of data without a test set is a warning: it limits nothing", () => {
  const [synthetic] = configWarnings({ data: { kind: "synthetic-linear", testLimit: 5 } });
  assert.equal(synthetic.field, "data.testLimit");
  assert.match(synthetic.message, /testLimit is 5, and synthetic-linear data has no test set/);
  assert.match(synthetic.hint, /data\.limit/);
  const csv = { kind: "csv", path: "x.csv", target: "y", testLimit: 5 } as const;
  const [noTestFile] = configWarnings({ data: csv });
  assert.match(noTestFile.message, /no test file \(data\.testPath\)/);
  assert.match(noTestFile.hint, /data\.testPath/);
  // where there is a test set, it limits it
  assert.deepEqual(configWarnings({ data: { ...csv, testPath: "t.csv" } }), []);
  assert.deepEqual(configWarnings({ data: { kind: "idx", testLimit: 5 } }), []);
});

Deno.test("a model.dropout the model has no layer for is a warning: it drops nothing", () => {
  // an rnn of one layer: dropout acts between stacked layers (torch's nn.LSTM warns too)
  const [rnn] = configWarnings({ model: { kind: "rnn", dropout: 0.3 } });
  assert.equal(rnn.field, "model.dropout");
  assert.match(rnn.message, /dropout is 0\.3, and the rnn has one recurrent layer.*drops nothing/);
  assert.match(rnn.hint, /--set model\.layers=2/);
  const [cnn] = configWarnings({ model: { kind: "cnn", dense: [], dropout: 0.5 } });
  assert.match(cnn.message, /the cnn has no dense hidden layers/);
  assert.match(cnn.hint, /--set 'model\.dense=\[128\]'/);
  const [mlp] = configWarnings({ model: { kind: "mlp", hidden: [], dropout: 0.2 } });
  assert.match(mlp.message, /the mlp has no hidden layers/);
  // where a layer takes it, or no dropout is set, nothing to warn of
  const quiet: RunConfigInput["model"][] = [
    { kind: "rnn", layers: 2, dropout: 0.3 },
    { kind: "rnn" },
    { kind: "cnn", dropout: 0.5 },
    { kind: "cnn", dense: [] },
    { kind: "mlp", dropout: 0.2 },
    { kind: "mlp", hidden: [] },
    { kind: "linear" },
  ];
  for (const model of quiet) {
    assert.deepEqual(configWarnings({ model }), [], JSON.stringify(model));
  }
});

Deno.test("rmsprop alpha at or above 1 is accepted with a warning that names alpha and the fix", () => {
  const [above] = configWarnings(parseConfig({ optimizer: { name: "rmsprop", alpha: 1.5 } }));
  assert.equal(above.field, "optimizer.alpha");
  assert.match(above.message, /alpha 1\.5 is above 1: its square average .* turns negative/);
  assert.match(above.hint, /use alpha in \[0, 1\): --set optimizer\.alpha=0\.99/);
  const [one] = configWarnings(parseConfig({ optimizer: { name: "rmsprop", alpha: 1 } }));
  assert.match(one.message, /alpha 1 keeps its square average at 0/);
  assert.deepEqual(configWarnings(parseConfig({ optimizer: { name: "rmsprop" } })), []);
  assert.deepEqual(configWarnings(parseConfig({})), []);
});

Deno.test("centered rmsprop at alpha 0 is accepted with a warning that names alpha and both fixes", () => {
  const [warning] = configWarnings(
    parseConfig({ optimizer: { name: "rmsprop", alpha: 0, centered: true } }),
  );
  assert.equal(warning.field, "optimizer.alpha");
  assert.match(
    warning.message,
    /centered rmsprop's alpha 0 makes its variance .* 0 but for rounding/,
  );
  assert.match(warning.hint, /--set optimizer\.alpha=0\.99 .*, or --set optimizer\.centered=false/);
  // uncentered, alpha 0 divides by |gradient|: no variance to round away
  assert.deepEqual(configWarnings(parseConfig({ optimizer: { name: "rmsprop", alpha: 0 } })), []);
  assert.deepEqual(
    configWarnings(parseConfig({ optimizer: { name: "rmsprop", alpha: 0.5, centered: true } })),
    [],
  );
});

Deno.test("baseBatch under onecycle, whose rates ignore optimizer.lr, is a warning naming the maxLr to set", () => {
  const run = {
    batchSize: 64,
    optimizer: { name: "sgd" as const, lr: 0.1, baseBatch: 256 },
    scheduler: { name: "onecycle" as const, maxLr: 0.4, totalSteps: 100 },
  };
  const [warning] = configWarnings(parseConfig(run));
  assert.equal(warning.field, "optimizer.baseBatch");
  assert.equal(
    warning.message,
    "optimizer.baseBatch scales optimizer.lr to the effective batch (64 of 256), but onecycle " +
      "does not use optimizer.lr: its rates come from scheduler.maxLr, which is not scaled",
  );
  assert.equal(
    warning.hint,
    "scale the cycle's peak yourself and drop baseBatch: --set scheduler.maxLr=0.1 " +
      "(0.4 x 64 / 256)",
  );
  // a sequential's only schedule: the words say where
  const [inSequential] = configWarnings(parseConfig({
    ...run,
    scheduler: { name: "sequential", schedulers: [run.scheduler], milestones: [] },
  }));
  assert.match(inSequential.hint, /set schedulers\[0\]\.maxLr to 0\.1 in the scheduler section/);
  // baseBatch where the optimizer's lr is the rate: no warning
  assert.deepEqual(configWarnings(parseConfig({ ...run, scheduler: undefined })), []);
});

Deno.test("maximize: early stopping and plateau on the loss default to mode max; a min they set is kept, with a warning", () => {
  const ascent = { name: "adam", lr: 1e-3, maximize: true };
  const plateau = { name: "plateau" };
  const defaulted = parseConfig({ optimizer: ascent, scheduler: plateau });
  assert.equal(defaulted.earlyStopping.mode, "max", "valLoss is what maximize pushes up");
  assert.equal(defaulted.scheduler?.name === "plateau" && defaulted.scheduler.mode, "max");
  assert.deepEqual(configWarnings(defaulted), []);
  assert.equal(
    parseConfig({ optimizer: ascent, earlyStopping: { monitor: "loss" } })
      .earlyStopping.mode,
    "max",
  );
  // Other metrics, and minimizing runs, keep min.
  assert.equal(
    parseConfig({ optimizer: ascent, earlyStopping: { monitor: "mae" } }).earlyStopping.mode,
    "min",
  );
  assert.equal(parseConfig({ scheduler: plateau }).earlyStopping.mode, "min");
  const minimized = parseConfig({ scheduler: plateau });
  assert.equal(minimized.scheduler?.name === "plateau" && minimized.scheduler.mode, "min");
  // A mode the config sets is kept, and warned about.
  const explicit = parseConfig({
    optimizer: ascent,
    earlyStopping: { mode: "min" },
    scheduler: { ...plateau, mode: "min" },
  });
  assert.equal(explicit.earlyStopping.mode, "min");
  const warnings = configWarnings(explicit);
  assert.deepEqual(warnings.map((w) => w.field), ["earlyStopping.mode", "scheduler.mode"]);
  assert.match(warnings[0].message, /'min' while optimizer\.maximize pushes the loss up/);
  assert.match(warnings[0].hint, /--set earlyStopping\.mode=max/);
  // Through --set as through the file; the saved config keeps the mode it resolved to.
  const set = applyOverrides({}, ["optimizer.name=sgd", "optimizer.maximize=true"]);
  assert.equal(parseConfig(set).earlyStopping.mode, "max");
  assert.equal(parseConfig(JSON.parse(JSON.stringify(defaulted))).earlyStopping.mode, "max");
});

Deno.test("an accuracy watched by early stopping and plateau defaults to mode max (Keras' auto); a min set is kept, with a warning", () => {
  const data = { kind: "idx", validationSplit: 0.1 };
  const plateau = { name: "plateau" };
  for (const monitor of ["valAccuracy", "accuracy"]) {
    const config = parseConfig({
      data,
      earlyStopping: { monitor, patience: 2 },
      scheduler: plateau,
    });
    assert.equal(config.earlyStopping.mode, "max", `${monitor}: higher is better`);
    assert.equal(config.scheduler?.name === "plateau" && config.scheduler.mode, "max");
    assert.deepEqual(configWarnings(config), []);
  }
  // the loss and mae keep min
  assert.equal(
    parseConfig({ data, earlyStopping: { monitor: "valLoss" } }).earlyStopping.mode,
    "min",
  );
  assert.equal(parseConfig({ earlyStopping: { monitor: "mae" } }).earlyStopping.mode, "min");
  // through --set as through the file
  const set = applyOverrides({ data }, ["earlyStopping.monitor=valAccuracy"]);
  assert.equal(parseConfig(set).earlyStopping.mode, "max");
  // a min the config sets is kept, and warned about
  const explicit = parseConfig({
    data,
    earlyStopping: { monitor: "valAccuracy", mode: "min" },
    scheduler: { ...plateau, mode: "min" },
  });
  assert.equal(explicit.earlyStopping.mode, "min");
  const warnings = configWarnings(explicit);
  assert.deepEqual(warnings.map((w) => w.field), ["earlyStopping.mode", "scheduler.mode"]);
  assert.match(
    warnings[0].message,
    /'min' while valAccuracy is better higher: early stopping takes the epoch with the lowest valAccuracy as the best/,
  );
  assert.match(warnings[0].hint, /--set earlyStopping\.mode=max$/);
});

Deno.test("the loss or mae watched in mode max while the loss is minimized is a warning: the best epoch would be the worst", () => {
  const plateau = { name: "plateau" };
  for (const monitor of ["valLoss", "loss", "mae", "valMae"]) {
    const explicit = parseConfig({
      earlyStopping: { monitor, mode: "max" },
      scheduler: { ...plateau, mode: "max" },
    });
    const warnings = configWarnings(explicit);
    assert.deepEqual(
      warnings.map((w) => w.field),
      ["earlyStopping.mode", "scheduler.mode"],
      monitor,
    );
    assert.match(
      warnings[0].message,
      new RegExp(
        `'max' while ${monitor} is better lower .*: early stopping takes the epoch with the ` +
          `highest ${monitor} as the best`,
      ),
    );
    assert.match(warnings[0].hint, /--set earlyStopping\.mode=min$/);
  }
  // min, the default, and maximize's max on the loss are no mistake
  assert.deepEqual(configWarnings(parseConfig({ earlyStopping: { monitor: "loss" } })), []);
  assert.deepEqual(
    configWarnings(
      parseConfig({
        optimizer: { name: "adam", lr: 1e-3, maximize: true },
        earlyStopping: { monitor: "loss", mode: "max" },
      }),
    ),
    [],
  );
});

Deno.test("an interval that changes nothing is a warning naming it: a plateau's, 'step' in a sequential of epochs; a config holds one only where written", () => {
  const plateau = parseConfig({ scheduler: { name: "plateau", patience: 2 } });
  assert.equal(plateau.scheduler?.interval, undefined, "no default to save in config.json");
  assert.deepEqual(configWarnings(plateau), []);
  for (const interval of ["step", "epoch"] as const) {
    const config = parseConfig({ scheduler: { name: "plateau", interval } });
    assert.deepEqual(configWarnings(config), [{
      field: "scheduler.interval",
      message: `scheduler.interval is '${interval}', and a plateau schedule has none: it ` +
        "changes the rate at epoch ends only, on the metric it watches (torch's " +
        "ReduceLROnPlateau.step(metric) after each validation)",
      hint: "leave scheduler.interval out",
    }]);
  }
  const sequential = (interval: "step" | "epoch", first: Record<string, unknown>) =>
    parseConfig({
      scheduler: {
        name: "sequential",
        interval,
        milestones: [2],
        schedulers: [{ name: "linear", totalIters: 2, ...first }, { name: "cosine", tMax: 8 }],
      },
    });
  const counted = sequential("epoch", { interval: "step" });
  const [warning, ...more] = configWarnings(counted);
  assert.deepEqual(more, []);
  assert.equal(warning.field, "scheduler.schedulers[0].interval");
  assert.match(
    warning.message,
    /is 'step', and the sequential counts epochs \(scheduler\.interval is 'epoch'\): its schedules all count epochs, .* and so does this linear schedule/,
  );
  assert.match(
    warning.hint,
    /^leave the schedules' interval out; to count steps, set the sequential's/,
  );
  const children = (counted.scheduler as { schedulers: { interval?: string }[] }).schedulers;
  assert.deepEqual(children.map((child) => child.interval), ["step", undefined]);
  // what the schedules count anyway: no warning
  assert.deepEqual(configWarnings(sequential("epoch", {})), []);
  assert.deepEqual(configWarnings(sequential("step", { interval: "step" })), []);
  // and 'epoch' in a sequential of steps is refused, as before
  assert.throws(() => sequential("step", { interval: "epoch" }), /must not be 'epoch'/);
});

Deno.test("a zero optimizer lr is accepted under onecycle, whose rates ignore it (as torch's)", () => {
  const onecycle = { name: "onecycle", maxLr: 0.1, totalSteps: 100 };
  for (
    const scheduler of [onecycle, { name: "sequential", milestones: [], schedulers: [onecycle] }]
  ) {
    assert.equal(parseConfig({ optimizer: { name: "sgd", lr: 0 }, scheduler }).optimizer.lr, 0);
  }
});

Deno.test("early stopping's suggested monitor changes its mode only where the optimizer's direction needs it", () => {
  const hintOf = (input: Record<string, unknown>) => {
    try {
      parseConfig({ data: { kind: "synthetic-linear", validationSplit: 0.25 }, ...input });
    } catch (error) {
      return (error as AnnealError).hint;
    }
    assert.fail("the monitor was accepted");
  };
  assert.equal(
    hintOf({
      optimizer: { name: "adam", maximize: true },
      earlyStopping: { monitor: "val_los", mode: "max" },
    }),
    "did you mean 'valLoss'? (--set earlyStopping.monitor=valLoss)",
  );
  assert.equal(
    hintOf({ earlyStopping: { monitor: "val_los", mode: "max" } }),
    "did you mean 'valLoss'? (--set earlyStopping.monitor=valLoss --set earlyStopping.mode=min)",
  );
});

Deno.test("onecycle cycles the beta1 of adamax, nadam and radam, as torch 1.13's OneCycleLR does", () => {
  for (const name of ["adamax", "nadam", "radam"] as const) {
    const config = parseConfig({
      optimizer: { name, lr: 0.01 },
      scheduler: {
        name: "onecycle",
        maxLr: 0.1,
        totalSteps: 100,
        baseMomentum: 0,
        maxMomentum: 0.9,
      },
    });
    assert.equal(config.scheduler?.name, "onecycle", name);
  }
});

Deno.test("onecycle without momentum cycling is accepted with adagrad", () => {
  const config = parseConfig({
    optimizer: { name: "adagrad", lr: 0.1 },
    scheduler: { name: "onecycle", maxLr: 0.1, totalSteps: 100, cycleMomentum: false },
  });
  assert.equal(config.scheduler?.name, "onecycle");
});

Deno.test("property: any JSON value as a config either parses or throws a config AnnealError", () => {
  let tried = 0;
  const field = fc.constantFrom(
    "batchSize",
    "epochs",
    "seed",
    "backend",
    "optimizer",
    "scheduler",
    "data",
    "model",
    "clipping",
    "earlyStopping",
    "gradientAccumulation",
    "maxSteps",
    "bogus",
  );
  const config = fc.dictionary(field, fc.jsonValue(), { maxKeys: 6 });
  fc.assert(
    fc.property(fc.oneof(config, fc.jsonValue()), (input) => {
      tried++;
      try {
        parseConfig(input);
      } catch (error) {
        assert.ok(
          error instanceof AnnealError,
          `non-AnnealError for ${JSON.stringify(input)}: ${error}`,
        );
        assert.equal(error.code, "config");
      }
    }),
    { numRuns: 2000 },
  );
  assert.equal(tried, 2000);
});

Deno.test("--set overrides parse JSON values, reject bad paths, and start absent sections from defaults", () => {
  const out = applyOverrides({ epochs: 3 }, [
    "optimizer.lr=0.5",
    "model.hidden=[4,4]",
    "model.kind=mlp",
    "name=run1",
  ]);
  assert.deepEqual(out, {
    epochs: 3,
    optimizer: { name: "sgd", lr: 0.5 },
    model: { kind: "mlp", hidden: [4, 4] },
    name: "run1",
  });
  for (const override of ["nothing", "=3", "a..b=1", "__proto__.x=1", "epochs.x=1"]) {
    assert.throws(() => applyOverrides({ epochs: 3 }, [override]), AnnealError, override);
  }
});

Deno.test("--set path=null removes a field that may be left out, so its default applies; one that takes null keeps it", () => {
  const file = {
    scheduler: { name: "cosine", tMax: 10 },
    clipping: { maxNorm: 1 },
    earlyStopping: { patience: 3 },
  };
  const out = applyOverrides(file, [
    "scheduler=null",
    "clipping.maxNorm=null", // null turns clipping off for RNNs too: a value of its own
    "earlyStopping.patience=null",
  ]);
  assert.deepEqual(out, { clipping: { maxNorm: null }, earlyStopping: {} });
  const config = parseConfig(out);
  assert.equal(config.scheduler, undefined);
  assert.equal(config.clipping.maxNorm, null);
  assert.equal(
    config.earlyStopping?.patience,
    parseConfig({ earlyStopping: {} }).earlyStopping?.patience,
  );
  // a field that is required stays null, and is refused as such
  const csv = applyOverrides({ data: { kind: "csv", path: "x.csv", target: "y" } }, [
    "data.target=null",
  ]);
  assert.equal((csv.data as { target: unknown }).target, null);
  assert.throws(() => parseConfig(csv), AnnealError, "'data.target': must be a string or a number");
});

Deno.test("--set into a list is refused with the whole list to give, its element changed", () => {
  const config = {
    model: { kind: "mlp", hidden: [8, 8] },
    scheduler: { name: "sequential", schedulers: [{ name: "cosine", tMax: 5 }], milestones: [] },
    epochs: 3,
  };
  const refusal = (override: string) => {
    try {
      applyOverrides(config, [override]);
    } catch (error) {
      assert.ok(error instanceof AnnealError && error.code === "usage", String(error));
      return { message: error.message, hint: error.hint };
    }
    assert.fail(`${override}: accepted`);
  };
  assert.deepEqual(refusal("model.hidden.0=32"), {
    message: "Cannot apply --set 'model.hidden.0=32': 'model.hidden' is a list ([8,8]), and " +
      "--set does not reach into a list",
    hint: "give the whole list: --set 'model.hidden=[32,8]'",
  });
  assert.equal(
    refusal("scheduler.schedulers.0.tMax=10").hint,
    `give the whole list: --set 'scheduler.schedulers=[{"name":"cosine","tMax":10}]'`,
  );
  // an index the list has not: the list as it is
  assert.equal(refusal("model.hidden.5=1").hint, "give the whole list: --set 'model.hidden=[8,8]'");
  // through a value that is not an object
  assert.deepEqual(refusal("epochs.x=1"), {
    message: "Cannot apply --set 'epochs.x=1': 'epochs' is not an object (it is 3)",
    hint: "set it as a whole: --set epochs=VALUE",
  });
});

Deno.test("--set into a list left to its default is refused with the default list, its element changed", () => {
  const refusal = (config: Record<string, unknown>, overrides: string[]) => {
    try {
      applyOverrides(config, overrides);
    } catch (error) {
      assert.ok(error instanceof AnnealError && error.code === "usage", String(error));
      return { message: error.message, hint: error.hint };
    }
    assert.fail(`${overrides}: accepted`);
  };
  assert.deepEqual(refusal({ optimizer: { name: "adam" } }, ["optimizer.betas.1=0.99"]), {
    message: "Cannot apply --set 'optimizer.betas.1=0.99': 'optimizer.betas' is a list (by " +
      "default [0.9,0.999]), and --set does not reach into a list",
    hint: "give the whole list: --set 'optimizer.betas=[0.9,0.99]'",
  });
  // the section itself from a --set before it, and another list's default
  assert.equal(
    refusal({}, ["optimizer.name=adamw", "optimizer.betas.0=0.8"]).hint,
    "give the whole list: --set 'optimizer.betas=[0.8,0.999]'",
  );
  assert.equal(
    refusal({}, ["model.kind=mlp", "model.hidden.0=32"]).hint,
    "give the whole list: --set 'model.hidden=[32]'",
  );
});

Deno.test("--set under sweep.space reads the space's keys as dotted config paths", async () => {
  const space = {
    "optimizer.lr": { type: "logUniform", low: 1e-4, high: 0.1 },
    batchSize: { type: "choice", values: [8, 16] },
  };
  const out = applyOverrides({ sweep: { space } }, [
    "sweep.space.optimizer.lr.high=0.5", // the key the space has
    "sweep.space.batchSize.values=[4]",
    "sweep.space.optimizer.momentum.type=uniform", // a new key, before a distribution's field
    "sweep.space.optimizer.momentum.low=0",
    "sweep.space.optimizer.momentum.high=0.9",
    'sweep.space.model.dropout={"type": "uniform", "low": 0, "high": 0.5}', // a new one, whole
  ]);
  assert.deepEqual((out.sweep as { space: unknown }).space, {
    "optimizer.lr": { type: "logUniform", low: 1e-4, high: 0.5 },
    batchSize: { type: "choice", values: [4] },
    "optimizer.momentum": { type: "uniform", low: 0, high: 0.9 },
    "model.dropout": { type: "uniform", low: 0, high: 0.5 },
  });
  // a misspelt field of a space's key is blamed on the --set, named as the space has it
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/c.json`, JSON.stringify({ sweep: { space } }));
    await assert.rejects(
      () => loadConfig(`${dir}/c.json`, ["sweep.space.optimizer.lr.hig=0.5"]),
      (error: unknown) =>
        error instanceof AnnealError &&
        error.message.startsWith("Invalid --set 'sweep.space.optimizer.lr.hig=0.5': ") &&
        error.where === 'sweep.space["optimizer.lr"].hig',
    );
    // the path as that error prints it is a --set path too, as are indices in brackets (it
    // read 'sweep["space[\"optimizer"]': unknown field)
    const printed = await loadConfig(`${dir}/c.json`, [
      'sweep.space["optimizer.lr"].low=0.001',
      'optimizer["lr"]=0.5',
    ]);
    assert.deepEqual(printed.sweep!.space["optimizer.lr"], {
      type: "logUniform",
      low: 0.001,
      high: 0.1,
    });
    assert.equal(printed.optimizer.lr, 0.5);
    await assert.rejects(
      () => loadConfig(`${dir}/c.json`, ['sweep.space["batchSize"].values[0]=32']),
      (error: unknown) =>
        error instanceof AnnealError &&
        /'sweep\.space\.batchSize\.values' is a list \(\[8,16\]\)/.test(error.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadConfig names the file of a missing, non-JSON or non-object config", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/list.json`, "[1, 2]");
    await Deno.writeTextFile(`${dir}/broken.json`, "{");
    for (const name of ["missing.json", "list.json", "broken.json"]) {
      await assert.rejects(() => loadConfig(`${dir}/${name}`), (error: unknown) => {
        assert.ok(error instanceof AnnealError);
        // a syntax error, with its line and column
        assert.equal(error.where, `${dir}/${name}${name === "broken.json" ? ":1:2" : ""}`);
        return true;
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the JSON Schema is strict and describes every top-level field", () => {
  const schema = configJsonSchema() as {
    properties: Record<string, unknown>;
    additionalProperties: boolean;
  };
  assert.equal(schema.additionalProperties, false);
  assert.ok("gradientAccumulation" in schema.properties);
});

Deno.test("a data, model or optimizer section without its kind is the default one with the fields given, as through --set", async () => {
  const same = async (section: Record<string, unknown>, overrides: string[]) => {
    assert.deepEqual(parseConfig(section), await loadConfig(undefined, overrides));
  };
  await same({ data: { validationSplit: 0.2 } }, ["data.validationSplit=0.2"]);
  assert.deepEqual(
    parseConfig({ data: { validationSplit: 0.2, n: 64 } }).data,
    parseConfig({ data: { kind: "synthetic-linear", validationSplit: 0.2, n: 64 } }).data,
  );
  await same({ optimizer: { momentum: 0.9 } }, ["optimizer.momentum=0.9"]);
  assert.equal(parseConfig({ optimizer: { momentum: 0.9 } }).optimizer.lr, 0.01);
  await same({ optimizer: { lr: 0.1, maximize: true } }, [
    "optimizer.lr=0.1",
    "optimizer.maximize=true",
  ]);
  await same({ model: {} }, []);
  // a file's section without its kind, with a --set into it
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/c.json`, JSON.stringify({ data: { validationSplit: 0.2 } }));
    const config = await loadConfig(`${dir}/c.json`, ["data.n=64"]);
    assert.deepEqual([config.data.kind, config.data.validationSplit], ["synthetic-linear", 0.2]);
    assert.equal(config.data.kind === "synthetic-linear" && config.data.n, 64);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a section without its kind whose fields are another kind's is refused: the kind is missing, and which kinds have them", () => {
  const refused: [unknown, string, RegExp][] = [
    [
      { data: { path: "x.csv", target: "y" } },
      "data.kind",
      /'data\.kind': missing \(one of 'synthetic-linear', 'csv', 'idx'\); without it the section would be the default 'synthetic-linear', which has no field 'path' or 'target'; the fields given fit 'csv' \(add "kind": "csv"\)/,
    ],
    [
      { data: { path: "x.csv", n: 10 } },
      "data.kind",
      /'data\.kind': missing .*which has no field 'path'; 'path' belongs to 'csv'$/,
    ],
    [{ model: { hidden: [8] } }, "model.kind", /the fields given fit 'mlp' \(add "kind": "mlp"\)/],
    [
      { optimizer: { lr: 0.1, betas: [0.9, 0.99] } },
      "optimizer.name",
      /'optimizer\.name': missing .*no field 'betas'; the fields given fit 'adam' or 'adamw' or 'lion' or 'lamb' or 'adamax' or 'nadam' or 'radam' \(add "name": "adam"\)/,
    ],
    // a section without a default says which names have its fields
    [
      { scheduler: { tMax: 10 } },
      "scheduler.name",
      /'scheduler\.name': missing \(one of 'constant', .*\); the fields given fit 'cosine' \(add "name": "cosine"\)/,
    ],
    // a field no kind has is an unknown field of the default, with the one it likely meant
    [
      { data: { validatonSplit: 0.2 } },
      "data.validatonSplit",
      /'data\.validatonSplit': unknown field \(did you mean 'data\.validationSplit'\?\)/,
    ],
  ];
  for (const [input, where, message] of refused) {
    assert.throws(() => parseConfig(input), (error: unknown) => {
      assert.ok(error instanceof AnnealError && error.code === "config");
      assert.equal(error.where, where);
      assert.match(error.message, message);
      return true;
    }, JSON.stringify(input));
  }
});

Deno.test("the JSON Schema accepts a section without its kind where parseConfig does, and only there", () => {
  type Node = {
    properties?: Record<string, Node>;
    oneOf?: Node[];
    required?: string[];
    const?: unknown;
    default?: unknown;
  };
  const schema = configJsonSchema() as { properties: Record<string, Node> };
  // the variants of a section whose discriminator and field names accept the section
  const accepting = (section: string, value: Record<string, unknown>) =>
    schema.properties[section].oneOf!.filter((variant) =>
      Object.keys(value).every((key) =>
        variant.properties![key] !== undefined &&
        (variant.properties![key].const === undefined ||
          variant.properties![key].const === value[key])
      ) && (variant.required ?? []).every((key) => key in value)
    );
  const sections: [string, Record<string, unknown>, boolean][] = [
    ["data", { validationSplit: 0.2 }, true],
    ["data", {}, true],
    ["data", { kind: "csv", path: "x.csv", target: "y" }, true],
    ["data", { path: "x.csv", target: "y" }, false],
    ["data", { validatonSplit: 0.2 }, false],
    ["model", {}, true],
    ["model", { hidden: [8] }, false],
    ["optimizer", { momentum: 0.9 }, true],
    ["optimizer", { betas: [0.9, 0.99] }, false],
  ];
  for (const [section, value, accepted] of sections) {
    const parses = (() => {
      try {
        parseConfig({ [section]: value });
        return true;
      } catch {
        return false;
      }
    })();
    assert.equal(parses, accepted, `parseConfig of ${section} ${JSON.stringify(value)}`);
    assert.equal(
      accepting(section, value).length,
      accepted ? 1 : 0,
      `schema of ${section} ${JSON.stringify(value)}`,
    );
  }
  // without a name the optimizer is SGD at lr 0.01, not SGD's own default 0.001
  const nameless = accepting("optimizer", { momentum: 0.9 })[0];
  assert.equal(nameless.properties!.lr.default, 0.01);
  assert.equal(nameless.properties!.name, undefined);
});

Deno.test("RNNs clip gradients at 1.0 by default (the seeds' advice); null turns it off, parsed again too; others don't clip", () => {
  assert.equal(parseConfig({ model: { kind: "rnn" } }).clipping.maxNorm, 1);
  const off = parseConfig({ model: { kind: "rnn" }, clipping: { maxNorm: null } });
  assert.equal(off.clipping.maxNorm, null);
  // parsed again (train() and the tools that re-read a config do), it is still off, not 1
  assert.equal(parseConfig(off).clipping.maxNorm, null);
  assert.equal(parseConfig(JSON.parse(JSON.stringify(off))).clipping.maxNorm, null);
  assert.equal(
    parseConfig({ model: { kind: "rnn" }, clipping: { maxNorm: 5 } }).clipping.maxNorm,
    5,
  );
  assert.equal(parseConfig({ model: { kind: "cnn" } }).clipping.maxNorm, undefined);
});

Deno.test("an unknown field is named by its own path, with the field it likely meant", async () => {
  const unknown = async (input: Record<string, unknown>, overrides: string[] = []) => {
    try {
      if (overrides.length > 0) await loadConfig(undefined, overrides);
      else parseConfig(input);
    } catch (error) {
      assert.ok(error instanceof AnnealError && error.code === "config");
      assert.match(error.hint!, /remove or rename the field|^rename '/);
      // never the whole object it sits in as a "current value"
      assert.doesNotMatch(error.message, /current value/);
      return error;
    }
    assert.fail("expected a config error");
  };
  const typo = await unknown({ optimzer: { name: "adam" } });
  assert.match(typo.message, /'optimzer': unknown field \(did you mean 'optimizer'\?\)/);
  assert.equal(typo.where, "optimzer");
  // a field of a section written at the top, and one written in the wrong section
  const misplaced = await unknown({ validationSplit: 0.2 });
  assert.match(
    misplaced.message,
    /'validationSplit': unknown field \(did you mean 'data\.validationSplit'\?\)/,
  );
  assert.match(
    (await unknown({ optimizer: { name: "sgd", lr: 0.1, epochs: 3 } })).message,
    /'optimizer\.epochs': unknown field \(did you mean 'epochs'\?\)/,
  );
  assert.match(
    (await unknown({ patience: 3 })).message,
    /did you mean 'scheduler\.patience' or 'earlyStopping\.patience'\?/,
  );
  // a union's option is chosen by its kind: idx has 'flatten', csv has not
  assert.match(
    (await unknown({ data: { kind: "idx", flaten: true } })).message,
    /'data\.flaten': unknown field \(did you mean 'data\.flatten'\?\)/,
  );
  // and a field of another kind is named with the kind that has it
  assert.match(
    (await unknown({ data: { kind: "csv", path: "a.csv", target: "y", flaten: true } })).message,
    /'data\.flaten': unknown field \(did you mean 'data\.flatten'\? 'idx' has it, not 'csv': select it with --set data\.kind=idx\)$/,
  );
  // written by a --set at the top level, it is blamed on that --set
  const set = await unknown({}, ["validationSplit=0.2"]);
  assert.match(set.message, /^Invalid --set 'validationSplit=0.2': 'validationSplit': unknown/);
  assert.match(set.hint!, /in the --set/);
  // two unknown keys of one object are both named
  assert.match(
    (await unknown({ foo: 1, bar: 2 })).message,
    /'foo': unknown field; 'bar': unknown field/,
  );
});

Deno.test("a CSV delimiter written as a backslash and a t, or as the word tab, says how to write a tab; a tab is taken", () => {
  const csv = { kind: "csv", path: "a.tsv", target: "y" } as const;
  for (const [delimiter, what] of [["\\t", "a backslash and a t"], ["tab", "a word"]]) {
    assert.throws(() => parseConfig({ data: { ...csv, delimiter } }), (error: unknown) => {
      assert.ok(error instanceof AnnealError);
      assert.match(
        error.message,
        new RegExp(
          `'data\\.delimiter': must be one character, and "${
            delimiter.replace("\\", "\\\\")
          }" is ${what}: a tab is "\\\\t" in JSON \\(in bash: --set 'data\\.delimiter='\\$'\\\\t'\\)`,
        ),
      );
      return true;
    });
  }
  // --set with bash's $'\t' passes the one character
  const config = applyOverrides({ data: csv }, ["data.delimiter=\t"]);
  const { data } = parseConfig(config);
  assert.equal(data.kind === "csv" ? data.delimiter : undefined, "\t");
  // another string too long keeps its words
  assert.throws(() => parseConfig({ data: { ...csv, delimiter: ";;" } }), /at most 1 characters/);
});

Deno.test("configWarnings takes a config as written, as parsed, and refuses one that does not parse, naming the field", () => {
  const written = { optimizer: { name: "rmsprop" as const, alpha: 1.5 } };
  // (a config as written threw a TypeError from inside: "reading 'baseBatch'")
  assert.deepEqual(configWarnings(written), configWarnings(parseConfig(written)));
  assert.equal(configWarnings(written)[0].field, "optimizer.alpha");
  assert.deepEqual(configWarnings({}), []);
  assert.throws(
    () => configWarnings({ epochs: -1 }),
    (error: unknown) =>
      error instanceof AnnealError && error.code === "config" && error.where === "epochs",
  );
});

Deno.test("applyOverrides refuses overrides that are not an array of strings, not taking a string letter by letter", () => {
  for (const overrides of ["epochs=3", [3], undefined]) {
    assert.throws(
      () => applyOverrides({}, overrides as unknown as string[]),
      (error: unknown) =>
        error instanceof AnnealError && error.code === "usage" &&
        /must be an array of 'path=value' strings/.test(error.message) &&
        /\["epochs=3"/.test(error.hint ?? ""),
    );
  }
  assert.deepEqual(applyOverrides({}, ["epochs=3"]), { epochs: 3 });
});

Deno.test('a config file\'s object read as it is parses: its "$schema" (which configJsonSchema allows) is no setting', () => {
  const file = { $schema: "./anneal.schema.json", epochs: 2 };
  assert.ok("$schema" in (configJsonSchema().properties as Record<string, unknown>));
  // (parseConfig, and so train(), refused it as an unknown field; loadConfig left it out)
  assert.deepEqual(parseConfig(file), parseConfig({ epochs: 2 }));
  assert.throws(
    () => parseConfig({ $schema: 5 }),
    (error: unknown) => error instanceof AnnealError,
  );
});

Deno.test("a dotted path written as one key is named as that path, nested, not as the section to rename it to", () => {
  const error = (() => {
    try {
      parseConfig({ "optimizer.lr": 0.01 });
    } catch (error) {
      return error as AnnealError;
    }
    assert.fail("accepted");
  })();
  // (it said "did you mean 'optimizer'?" and to rename the key to it, dropping the setting)
  assert.match(error.message, /did you mean 'optimizer\.lr', nested\?/);
  assert.match(error.hint ?? "", /write it nested: "optimizer": \{ "lr": 0\.01 \}/);
  assert.doesNotMatch(error.hint ?? "", /rename/);
});

Deno.test("--set optimizer.name takes that optimizer's own defaults, as a config file naming it does; a field set beside it is kept", () => {
  const lr = (input: Record<string, unknown>, overrides: string[]) =>
    (parseConfig(applyOverrides(input, overrides)).optimizer as { lr: number }).lr;
  for (const name of ["adam", "sgd", "lion", "adadelta", "adamw"]) {
    const own = (parseConfig({ optimizer: { name } }).optimizer as { lr: number }).lr;
    assert.equal(lr({}, [`optimizer.name=${name}`]), own, name);
    // (into a config file's other sections alike)
    assert.equal(lr({ epochs: 3, model: { kind: "mlp" } }, [`optimizer.name=${name}`]), own, name);
  }
  assert.equal(lr({}, ["optimizer.name=lion"]), 1e-4);
  assert.equal(lr({}, ["optimizer.name=adadelta"]), 1);
  // a rate given, before or after the name, or in the file's section, is the run's
  assert.equal(lr({}, ["optimizer.lr=0.1", "optimizer.name=adam"]), 0.1);
  assert.equal(lr({}, ["optimizer.name=adam", "optimizer.lr=0.1"]), 0.1);
  assert.equal(lr({ optimizer: { name: "sgd", lr: 0.05 } }, ["optimizer.name=adam"]), 0.05);
  // another field alone: the default SGD (the seed's lr 0.01) with it changed, as in a file
  assert.equal(lr({}, ["optimizer.momentum=0.9"]), 0.01);
  assert.equal(lr({ optimizer: { momentum: 0.9 } }, []), 0.01);
  assert.equal(lr({}, []), 0.01);
  // the other sections' kinds as before: nothing of the default kind's left
  const model = parseConfig(applyOverrides({}, ["model.kind=mlp"])).model;
  assert.deepEqual(model, parseConfig({ model: { kind: "mlp" } }).model);
});

Deno.test("a config's batch-scaling rule follows its optimizer until a run records it: a trial that switches sgd for adam scales by sqrt", () => {
  const base = parseConfig({ batchSize: 64, optimizer: { name: "sgd", lr: 0.01, baseBatch: 16 } });
  assert.equal(base.optimizer.batchScaling, undefined);
  assert.equal(baseLearningRate(base).lr, 0.04);
  const adam = parseConfig(
    applyOverrides(base, ['optimizer={"name":"adam","lr":0.001,"baseBatch":16}']),
  );
  assert.equal(baseLearningRate(adam).lr, 0.002);
  // the run's record writes the rule out
  assert.equal(recordedConfig(adam).optimizer.batchScaling, "sqrt");
  assert.equal(recordedConfig(base).optimizer.batchScaling, "linear");
});

Deno.test("settings that act only with one the config leaves out are warned of: normType without a clip by norm, minDelta or baseline without a patience", () => {
  const fields = (input: Record<string, unknown>) => configWarnings(input).map((w) => w.field);
  const normType = configWarnings({ clipping: { normType: 1 } });
  assert.equal(normType[0].field, "clipping.normType");
  assert.match(normType[0].message, /^clipping\.normType is 1, and no clip by norm is set/);
  assert.deepEqual(fields({ clipping: { normType: 1, maxNorm: 1 } }), []);
  assert.deepEqual(fields({ clipping: { normType: "inf", autoPercentile: 10 } }), []);
  // (an rnn clips at 1 by default: its normType acts)
  assert.deepEqual(
    fields({ clipping: { normType: 1 }, model: { kind: "rnn", cell: "lstm", units: 4 } }),
    [],
  );
  const early = configWarnings({ earlyStopping: { minDelta: 0.01, baseline: 0.5 } });
  assert.equal(early[0].field, "earlyStopping.minDelta");
  assert.match(
    early[0].message,
    /^earlyStopping\.minDelta 0\.01 and earlyStopping\.baseline 0\.5 are set, and earlyStopping\.patience is not: the run stops on no metric/,
  );
  assert.deepEqual(fields({ earlyStopping: { minDelta: 0.01, patience: 2, monitor: "loss" } }), []);
});

Deno.test("torch's names for a clip by value and for a non-finite gradient point to anneal's", () => {
  assert.throws(
    () => parseConfig({ clipping: { clipValue: 1 } }),
    /'clipping\.clipValue': unknown field \(did you mean 'clipping\.value'\?\)/,
  );
  assert.throws(
    () => parseConfig({ clipping: { error_if_nonfinite: true } }),
    /did you mean 'clipping\.onNonFinite'\?/,
  );
});

Deno.test("an adaptive optimizer's eps far above its default is warned of: its steps shrink", () => {
  const [warning] = configWarnings({ optimizer: { name: "adam", eps: 1 } });
  assert.equal(warning.field, "optimizer.eps");
  assert.match(warning.message, /^optimizer\.eps 1 is far above adam's usual 1e-8/);
  assert.equal(warning.hint, "--set optimizer.eps=1e-8 (torch's default), or leave it out");
  assert.deepEqual(configWarnings({ optimizer: { name: "adam", eps: 1e-3 } }), []);
  assert.deepEqual(configWarnings({ optimizer: { name: "adadelta", eps: 1 } }), []);
});

Deno.test("an adaptive optimizer's eps of 0 is warned of: a gradient of 0 at every step divides 0 by 0", () => {
  const optimizers = [
    { name: "adam", eps: 0 },
    { name: "rmsprop", eps: 0 },
    { name: "adagrad", eps: 0 },
  ] as const;
  for (const optimizer of optimizers) {
    const { name } = optimizer;
    const [warning] = configWarnings({ optimizer });
    assert.equal(warning.field, "optimizer.eps", name);
    assert.match(warning.message, new RegExp(`^optimizer\\.eps is 0: ${name} divides .* 0 / 0`));
    assert.match(warning.hint, /^--set optimizer\.eps=1e-\d+ \(torch's default\)/);
  }
  assert.deepEqual(configWarnings({ optimizer: { name: "adam", eps: 1e-12 } }), []);
});

Deno.test("a weight decay that grows the weights by itself at the rate set is warned of, with a decay this rate takes", () => {
  // (torch's SGD on a weight with no gradient of its own: x999 a step at lr 0.01, wd 1e5; x2.78
  // with momentum 0.9 at lr 0.1, wd 50, as torch 1.13 gives it)
  const cases = [
    [{ name: "sgd", lr: 0.01, weightDecay: 1e5 }, /by 999 in size/, "100"],
    [{ name: "sgd", lr: 0.1, weightDecay: 50, momentum: 0.9 }, /by 2\.78 in size/, "20"],
    [{ name: "adamw", lr: 1, weightDecay: 3 }, /by 2 in size/, "1"],
  ] as const;
  for (const [optimizer, factor, usable] of cases) {
    const [warning] = configWarnings({ optimizer });
    assert.equal(warning?.field, "optimizer.weightDecay", optimizer.name);
    assert.match(warning.message, /grows the weights by itself/);
    assert.match(warning.message, factor);
    assert.match(warning.hint, new RegExp(`--set optimizer\\.weightDecay=${usable} `));
  }
  // the usual decays, and the momentum that keeps a large one from growing (x0.95), pass
  for (
    const optimizer of [
      { name: "sgd", lr: 0.01, weightDecay: 5e-4, momentum: 0.9 },
      { name: "sgd", lr: 0.01, weightDecay: 100, momentum: 0.9 },
      { name: "adamw", lr: 0.01, weightDecay: 50 },
      { name: "adam", lr: 1, weightDecay: 1e3 },
    ] as const
  ) {
    assert.deepEqual(configWarnings({ optimizer }), [], JSON.stringify(optimizer));
  }
  // at the rate the run applies: optimizer.baseBatch scales lr 0.1 x8 to 0.8 (x11 at wd 15), and
  // lr 0.8 /8 to 0.1 (x0.5): the first was not warned of, the second was, at a rate never applied
  const grows = configWarnings({
    batchSize: 256,
    optimizer: { name: "sgd", lr: 0.1, weightDecay: 15, baseBatch: 32 },
  }).find((w) => w.field === "optimizer.weightDecay");
  assert.match(
    grows?.message ?? "",
    /at lr 0\.8 \(optimizer\.lr 0\.1 scaled by optimizer\.baseBatch\)/,
  );
  assert.match(grows!.message, /by 11 in size/);
  const shrinks = configWarnings({
    batchSize: 32,
    optimizer: { name: "sgd", lr: 0.8, weightDecay: 15, baseBatch: 256 },
  });
  assert.ok(!shrinks.some((w) => w.field === "optimizer.weightDecay"), JSON.stringify(shrinks));
});

Deno.test("onecycle given torch's epochs and steps_per_epoch is told they stand for totalSteps", () => {
  // (it said "did you mean 'epochs'?", the run's own field)
  assert.throws(
    () =>
      parseConfig({ scheduler: { name: "onecycle", maxLr: 0.1, epochs: 3, stepsPerEpoch: 10 } }),
    /'scheduler\.epochs': unknown field \(did you mean 'scheduler\.totalSteps'\? torch's epochs and steps_per_epoch stand for their product, which onecycle takes as totalSteps\)/,
  );
});

Deno.test("a parameter group given torch's lr is told of lrMultiplier, not the optimizer's lr", () => {
  // (it said "did you mean 'optimizer.lr'?", the rate of every group)
  assert.throws(
    () =>
      parseConfig({
        optimizer: { name: "sgd", lr: 0.1, paramGroups: [{ match: "^head/", lr: 0.01 }] },
      }),
    /'optimizer\.paramGroups\[0\]\.lr': unknown field \(did you mean 'optimizer\.paramGroups\[0\]\.lrMultiplier'\? a group's rate is the run's times it/,
  );
});
