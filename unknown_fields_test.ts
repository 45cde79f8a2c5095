import assert from "node:assert/strict";
import { loadConfig, parseConfig } from "./config.ts";
import { AnnealError } from "./errors.ts";

/** The config error of `input` (with `--set` overrides, when given). */
async function configError(input: Record<string, unknown>, sets: string[] = []) {
  try {
    if (sets.length > 0) await loadConfig(undefined, sets);
    else parseConfig(input);
  } catch (error) {
    assert.ok(error instanceof AnnealError && error.code === "config", String(error));
    return error;
  }
  assert.fail(`expected ${JSON.stringify(input)} ${sets.join(" ")} to be refused`);
}

// [config, where, message, hint]: every section, and every kind of section chosen by a name
const CASES: [Record<string, unknown>, string, RegExp, RegExp][] = [
  [
    { optimizer: { lr: 0.1, beta: 0.9 } }, // no name: the default sgd
    "optimizer.beta",
    /'optimizer\.beta': unknown field \(did you mean 'optimizer\.betas'\? 'adam', 'adamw', 'lion', 'lamb', 'adamax', 'nadam' and 'radam' have it, not 'sgd': select one with --set optimizer\.name=adam\)/,
    /^rename 'optimizer\.beta' to 'optimizer\.betas' and select one that has it \(--set optimizer\.name=adam\), or remove 'optimizer\.beta'/,
  ],
  [
    { optimizer: { name: "sgd", betas: [0.9, 0.99] } },
    "optimizer.betas",
    /'optimizer\.betas': unknown field \('adam', 'adamw', 'lion', 'lamb', 'adamax', 'nadam' and 'radam' have it, not 'sgd': select one with --set optimizer\.name=adam\)/,
    /^select one that has it \(--set optimizer\.name=adam\), or remove 'optimizer\.betas'/,
  ],
  [
    { optimizer: { name: "adam", momentum: 0.9 } },
    "optimizer.momentum",
    /'sgd' and 'rmsprop' have it, not 'adam': select one with --set optimizer\.name=sgd/,
    /--set optimizer\.name=sgd/,
  ],
  [
    { optimizer: { name: "adamw", weight_decay: 0.1 } },
    "optimizer.weight_decay",
    /unknown field \(did you mean 'optimizer\.weightDecay'\?\)$/,
    /^rename 'optimizer\.weight_decay' to 'optimizer\.weightDecay'/,
  ],
  [
    { optimizer: { name: "rmsprop", nesterv: true } },
    "optimizer.nesterv",
    /did you mean 'optimizer\.nesterov'\? 'sgd' has it, not 'rmsprop': select it with --set optimizer\.name=sgd/,
    /--set optimizer\.name=sgd/,
  ],
  [
    { scheduler: { name: "step", stepSize: 3, tMax: 10 } },
    "scheduler.tMax",
    /'scheduler\.tMax': unknown field \('cosine' has it, not 'step': select it with --set scheduler\.name=cosine\)/,
    /--set scheduler\.name=cosine/,
  ],
  [
    { scheduler: { name: "cosine", tMax: 10, t0: 5 } },
    "scheduler.t0",
    /'cosineWarmRestarts' has it, not 'cosine'/,
    /--set scheduler\.name=cosineWarmRestarts/,
  ],
  [
    { scheduler: { name: "plateau", patients: 3 } },
    "scheduler.patients",
    /did you mean 'scheduler\.patience'\?\)$/,
    /^rename/,
  ],
  [
    {
      scheduler: {
        name: "sequential",
        schedulers: [{ name: "cosine", tMax: 4, gamma: 0.5 }],
        milestones: [],
      },
    },
    "scheduler.schedulers[0].gamma",
    /\('step', 'multistep' and 'exponential' have it, not 'cosine': select one with "name": "step" in 'scheduler\.schedulers\[0\]'\)/,
    /"name": "step" in 'scheduler\.schedulers\[0\]'/,
  ],
  [
    { clipping: { max_norm: 1 } },
    "clipping.max_norm",
    /did you mean 'clipping\.maxNorm'\?/,
    /^rename/,
  ],
  [
    { earlyStopping: { patience: 3, delta: 0.01 } },
    "earlyStopping.delta",
    /did you mean 'earlyStopping\.minDelta'\?/,
    /^rename/,
  ],
  [
    { data: { kind: "csv", path: "a.csv", target: "y", flaten: true } },
    "data.flaten",
    /did you mean 'data\.flatten'\? 'idx' has it, not 'csv': select it with --set data\.kind=idx/,
    /--set data\.kind=idx/,
  ],
  [
    { data: { kind: "csv", path: "a.csv", target: "y", targetColumn: "y" } },
    "data.targetColumn",
    /did you mean 'data\.target'\?/,
    /^rename/,
  ],
  [
    { model: { kind: "mlp", hidden: [8], filters: [4] } },
    "model.filters",
    /'cnn' has it, not 'mlp': select it with --set model\.kind=cnn/,
    /--set model\.kind=cnn/,
  ],
  [
    {
      sweep: { space: { "optimizer.lr": { type: "uniform", low: 0, high: 1 } }, metrc: "valLoss" },
    },
    "sweep.metrc",
    /did you mean 'sweep\.metric'\?/,
    /^rename/,
  ],
  [
    { sweep: { space: { "optimizer.lr": { type: "uniform", low: 0, high: 1, step: 0.1 } } } },
    'sweep.space["optimizer.lr"].step',
    /'int' has it, not 'uniform': select it with "type": "int" in 'sweep\.space\["optimizer\.lr"\]'/,
    /"type": "int"/,
  ],
  [
    { schedular: { name: "cosine", tMax: 3 } },
    "schedular",
    /did you mean 'scheduler'\?/,
    /^rename/,
  ],
  // nothing close: named, without a guess
  [
    { optimizer: { name: "adam", xyzzy: 1 } },
    "optimizer.xyzzy",
    /'optimizer\.xyzzy': unknown field$/,
    /^remove or rename the field/,
  ],
];

// Names of 3 letters or fewer: a letter typed twice, two neighbours swapped or one more letter at
// the end is a slip, and named; another letter in place of one of theirs is not (`lt` is no more
// `lr` than `f1` is), nor is one left out.
const SHORT: [Record<string, unknown>, string, string | undefined][] = [
  [{ optimizer: { name: "adam", lrr: 0.1 } }, "optimizer.lrr", "optimizer.lr"],
  [{ optimizer: { name: "adam", rl: 0.1 } }, "optimizer.rl", "optimizer.lr"],
  [{ optimizer: { name: "adam", lrs: 0.1 } }, "optimizer.lrs", "optimizer.lr"],
  [{ optimizer: { name: "adam", lr: 0.1, esp: 1e-6 } }, "optimizer.esp", "optimizer.eps"],
  [{ optimizer: { name: "adam", lr: 0.1, epps: 1e-6 } }, "optimizer.epps", "optimizer.eps"],
  [{ data: { kind: "synthetic-linear", nn: 100 } }, "data.nn", "data.n"],
  // longer names: two neighbours swapped are one edit
  [{ model: { kind: "mlp", hidden: [4], dropuot: 0.1 } }, "model.dropuot", "model.dropout"],
  [{ mdoel: { kind: "mlp" } }, "mdoel", "model"],
  // no guess
  [{ optimizer: { name: "adam", lt: 0.1 } }, "optimizer.lt", undefined],
  [{ optimizer: { name: "adam", l: 0.1 } }, "optimizer.l", undefined],
  [{ optimizer: { name: "adam", f1: 0.1 } }, "optimizer.f1", undefined],
  [{ optimizer: { name: "adam", lr: 0.1, ep: 1e-6 } }, "optimizer.ep", undefined],
  [{ optimizer: { name: "adam", lr: 0.1, epz: 1e-6 } }, "optimizer.epz", undefined],
  [{ data: { kind: "synthetic-linear", m: 100 } }, "data.m", undefined],
];

Deno.test("a short field's slips of the fingers are named as that field, and other short names get no guess", async () => {
  for (const [input, where, meant] of SHORT) {
    const error = await configError(input);
    const label = JSON.stringify(input);
    assert.equal(error.where, where, label);
    if (meant === undefined) {
      assert.doesNotMatch(error.message, /did you mean/, label);
    } else {
      assert.ok(error.message.includes(`unknown field (did you mean '${meant}'?)`), label);
      assert.ok(error.hint!.startsWith(`rename '${where}' to '${meant}'`), label);
    }
  }
});

Deno.test("a metric written as another of three letters gets no guess: 'mse' is not 'mae'", async () => {
  const error = await configError({ earlyStopping: { monitor: "mse", patience: 2 } });
  assert.equal(error.where, "earlyStopping.monitor");
  assert.doesNotMatch(`${error.message} ${error.hint}`, /'mae'|'valMae'/);
});

Deno.test("an unknown field in any section suggests the field it likely meant, and the kind that has it", async () => {
  for (const [input, where, message, hint] of CASES) {
    const error = await configError(input);
    const label = JSON.stringify(input);
    assert.equal(error.where, where, label);
    assert.match(error.message, message, label);
    assert.match(error.hint!, hint, label);
  }
});

Deno.test("an unknown field written by --set is blamed on it, with the same suggestion", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["optimizer.beta=0.9"],
      /^Invalid --set 'optimizer\.beta=0\.9': 'optimizer\.beta': unknown field \(did you mean 'optimizer\.betas'\? .* select one with --set optimizer\.name=adam\)/,
    ],
    [
      ["optimizer.name=adam", "optimizer.momentum=0.9"],
      /^Invalid --set 'optimizer\.momentum=0\.9': .*'sgd' and 'rmsprop' have it, not 'adam'/,
    ],
    [
      ["scheduler.name=step", "scheduler.stepSize=2", "scheduler.tMax=3"],
      /^Invalid --set 'scheduler\.tMax=3': .*'cosine' has it, not 'step'/,
    ],
    [["model.hidden=[8]"], /'mlp' has it, not 'linear': select it with --set model\.kind=mlp/],
    [["earlyStopping.patiance=3"], /did you mean 'earlyStopping\.patience'\?/],
  ];
  for (const [sets, message] of cases) {
    const error = await configError({}, sets);
    assert.match(error.message, message, sets.join(" "));
    assert.match(error.hint!, / in the --set;/, sets.join(" "));
  }
});
