/**
 * Malformed configs and `--set` overrides a user could plausibly write, each refused with what is
 * wrong, where, and the fix: wrong types, numbers written as strings, lists written without
 * brackets, counts out of range, names from PyTorch, misspelled sections, sections written as
 * their kind's name, and JSON syntax errors with their line and column.
 *
 * @module
 */
import assert from "node:assert/strict";
import { AnnealError, loadConfig, parseConfig } from "../mod.ts";
import { applyParams } from "../sweeps/space.ts";
import { anneal, tempRunsDir } from "./_helpers.ts";

interface Case {
  /** What the user wrote: a config file's text (JSON or not), and `--set` overrides. */
  file?: string;
  sets?: string[];
  /** The error's `where`, a pattern of its message and of its hint. */
  where?: string;
  message: RegExp;
  hint?: RegExp;
}

const CASES: Record<string, Case> = {
  "negative epochs": {
    file: '{"epochs": -5}',
    where: "epochs",
    message: /^Invalid config '.*': 'epochs': must be > 0, current value is -5$/,
  },
  "batch size 0 by --set": {
    sets: ["batchSize=0"],
    where: "batchSize",
    message: /^Invalid --set 'batchSize=0': 'batchSize': must be > 0, current value is 0$/,
    hint: /^change the --set value/,
  },
  "fractional epochs": {
    sets: ["epochs=2.5"],
    message: /'epochs': must be a whole number, current value is 2\.5/,
  },
  "a learning rate written as a string": {
    file: '{"optimizer": {"name": "adam", "lr": "1e-3"}}',
    where: "optimizer.lr",
    message: /must be a number, not the string "1e-3" \(write it without quotes\)/,
  },
  "a quoted number by --set": {
    sets: ['optimizer.lr="1e-3"'],
    message: /must be a number, not the string "1e-3" \(write it without quotes\)/,
  },
  "a number that is not JSON by --set": {
    sets: ["epochs=03"],
    message: /'epochs': must be a number, not the string "03" \(write 3\)/,
  },
  "a number in a list": {
    file: '{"epochs": [3]}',
    message: /'epochs': must be a number, not an array \(write 3\)/,
  },
  "a list without its brackets by --set": {
    sets: ["optimizer.name=adam", "optimizer.betas=0.9,0.99"],
    where: "optimizer.betas",
    message:
      /must be an array, like \[0\.9, 0\.99\] \(in JSON brackets\), current value is "0\.9,0\.99"/,
  },
  "a number where a list goes": {
    file: '{"model": {"kind": "mlp", "hidden": 64}}',
    message: /'model\.hidden': must be an array, like \[64\]/,
  },
  "too few betas": {
    file: '{"optimizer": {"name": "adam", "betas": [0.9]}}',
    message: /'optimizer\.betas': must have at least 2 entries, current value is \[0\.9\]/,
  },
  "a boolean written as a string": {
    file: '{"optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": "true"}}',
    message: /must be a boolean, not the string "true" \(write it without quotes\)/,
  },
  "yes for a boolean": {
    sets: ["optimizer.nesterov=yes"],
    message: /'optimizer\.nesterov': must be true or false/,
  },
  "a schedule by its torch name": {
    file: '{"scheduler": {"name": "CosineAnnealingLR", "tMax": 10}}',
    where: "scheduler.name",
    message: /must be one of "constant", .*"sequential" \(did you mean "cosine"\?\)/,
  },
  "ReduceLROnPlateau": {
    file: '{"scheduler": {"name": "ReduceLROnPlateau"}}',
    message: /\(did you mean "plateau"\?\)/,
  },
  "a misspelled schedule name by --set": {
    sets: ["scheduler.name=cosin", "scheduler.tMax=5"],
    message: /^Invalid --set 'scheduler\.name=cosin': .*\(did you mean "cosine"\?\)/,
  },
  "an optimizer name in capitals": {
    sets: ["optimizer.name=Adam"],
    message: /\(did you mean "adam"\?\)/,
  },
  "a loss by its torch name": {
    file: '{"loss": "CrossEntropyLoss"}',
    message: /'loss': must be one of .* \(did you mean "crossEntropy"\?\)/,
  },
  "gpu for a backend": {
    sets: ["backend=gpu"],
    // (web[g]pu: tools/test.sh runs a file that names the backend itself with the WebGPU ones)
    message: /\(did you mean "web[g]pu"\?\)/,
  },
  "an interval in the plural": {
    file: '{"scheduler": {"name": "cosine", "tMax": 10, "interval": "epochs"}}',
    message: /'scheduler\.interval': must be one of "step", "epoch" \(did you mean "epoch"\?\)/,
  },
  "a misspelled section": {
    file: '{"optimiser": {"name": "adam"}}',
    where: "optimiser",
    message: /'optimiser': unknown field \(did you mean 'optimizer'\?\)/,
    hint: /^rename 'optimiser' to 'optimizer'/,
  },
  "a field in capitals": {
    file: '{"Epochs": 3}',
    message: /'Epochs': unknown field \(did you mean 'epochs'\?\)/,
  },
  "a section written as its kind's name": {
    sets: ["optimizer=adam"],
    message:
      /'optimizer': must be an object \(to choose "adam": --set optimizer\.name=adam, or optimizer: \{"name": "adam", \.\.\.\}\)/,
  },
  "a section left null": {
    file: '{"scheduler": null}',
    message:
      /'scheduler': must be an object \(leave the field out for its default\), current value is null/,
  },
  "a required field left out": {
    file: '{"data": {"kind": "csv", "path": "x.csv"}}',
    where: "data.target",
    message: /'data\.target': is required \(a string or a number\)$/,
  },
  "a union's value of neither kind": {
    file: '{"clipping": {"normType": "infinity"}}',
    message: /'clipping\.normType': must be a number or "inf", current value is "infinity"/,
  },
  "clipping by a max norm of 0, which torch takes and zeroes every gradient with": {
    sets: ["clipping.maxNorm=0"],
    where: "clipping.maxNorm",
    message:
      /'clipping\.maxNorm': must be > 0: torch 1\.13 accepts it, but .*zeroes every .*null, for no clipping by norm\), current value is 0$/,
  },
  "clipping by a negative value": {
    sets: ["clipping.value=-1"],
    where: "clipping.value",
    message:
      /'clipping\.value': must be > 0: torch 1\.13 accepts it, .*leave value out for no clipping by value\), current value is -1$/,
  },
  "a norm type of 0, torch's count of nonzero elements": {
    sets: ["clipping.normType=0"],
    where: "clipping.normType",
    message:
      /'clipping\.normType': must be > 0 or "inf": torch 1\.13 takes 0, .*do not bound the gradient/,
  },
  "a sequential's schedule by its path": {
    file: JSON.stringify({
      scheduler: {
        name: "sequential",
        schedulers: [{ name: "cosine", tMax: -1 }, { name: "cosine" }],
        milestones: [3],
      },
    }),
    where: "scheduler.schedulers[1].tMax",
    message: /'scheduler\.schedulers\[1\]\.tMax': is required \(a number\)/,
  },
  "an empty --set value": {
    sets: ["optimizer.lr="],
    message: /^Cannot apply --set 'optimizer\.lr=': no value after '='$/,
    hint: /write --set optimizer\.lr=VALUE/,
  },
  "a --set list cut off": {
    sets: ["optimizer.name=adam", "optimizer.betas=[0.9"],
    where: "--set:1:5",
    message:
      /^The value of --set 'optimizer\.betas=\[0\.9' is not valid JSON at line 1, column 5 \(`\[0\.9`\): it ends before the JSON does$/,
    hint: /^close every '\{' and '\['/,
  },
  "a --set section the shell stripped of its quotes": {
    sets: ["optimizer={name:adam}"],
    where: "--set:1:2",
    message:
      /^The value of --set 'optimizer=\{name:adam\}' is not valid JSON .*: a name without double quotes$/,
    hint: /quote it for the shell, e\.g\. --set 'optimizer=\{"name":"adam","lr":0\.001\}'/,
  },
  "a kind switched by --set, beside the file's fields of the other kind": {
    file: '{"model": {"kind": "mlp", "hidden": [8], "activation": "tanh"}}',
    sets: ["model.kind=cnn"],
    where: "model.hidden",
    message: /'model\.hidden': unknown field/,
    hint:
      /^--set 'model\.kind=cnn' keeps the other fields of the file's 'model', and "cnn" has not 'hidden', 'activation': remove them \(--set model\.hidden=null --set model\.activation=null\), or give the whole section: --set 'model=\{"kind":"cnn", \.\.\.\}'/,
  },
  "a null for a misspelt field": {
    sets: ["optimizer.lrr=null"],
    where: "optimizer.lrr",
    message:
      /^Invalid --set 'optimizer\.lrr=null': 'optimizer\.lrr': unknown field \(did you mean 'optimizer\.lr'\?\)$/,
    hint: /^rename 'optimizer\.lrr' to 'optimizer\.lr' in the --set/,
  },
  "a null for a misspelt field of a section the file has": {
    file: '{"earlyStopping": {"patience": 3}}',
    sets: ["earlyStopping.patiance=null"],
    where: "earlyStopping.patiance",
    message:
      /'earlyStopping\.patiance': unknown field \(did you mean 'earlyStopping\.patience'\?\)/,
  },
  "a null for a field the section's kind has not": {
    sets: ["data.target=null"],
    where: "data.target",
    message: /'data\.target': unknown field \('csv' has it, not 'synthetic-linear'/,
  },
  "a null for a field far from any known name": {
    sets: ["optimizer.zzzzzz=null"],
    where: "optimizer.zzzzzz",
    message: /^Invalid --set 'optimizer\.zzzzzz=null': 'optimizer\.zzzzzz': unknown field$/,
  },
  "a null for a required field": {
    sets: ["data.kind=csv", "data.path=x.csv", "data.target=null"],
    where: "data.target",
    message:
      /^Invalid --set 'data\.target=null': 'data\.target': must be a string or a number, current value is null \(the field is required: null does not remove it, give it a value\)$/,
    hint: /^change the --set value/,
  },
  "infinity (JSON reads 1e400 so)": {
    sets: ["epochs=1e400"],
    message: /has the number 1e400 at 'epochs', which reads as Infinity: it is beyond float64's/,
  },
  "a trailing comma": {
    file: '{\n  "epochs": 3,\n  "optimizer": {"name": "adam",}\n}\n',
    where: "FILE:3:32",
    message:
      /is not valid JSON at line 3, column 32 \(`"optimizer": \{"name": "adam",\}`\): a trailing comma before '\}'$/,
    hint: /^remove the comma after the last entry/,
  },
  "a comment": {
    file: '{\n  // three epochs\n  "epochs": 3\n}\n',
    where: "FILE:2:3",
    message: /at line 2, column 3 .*: a comment$/,
    hint: /JSON has no comments/,
  },
  "a comment before the object (JSON.parse names no position)": {
    file: '// the seed run, longer\n{\n  "epochs": 3\n}\n',
    where: "FILE:1:1",
    message: /at line 1, column 1 \(`\/\/ the seed run, long\.\.\.`\): a comment$/,
    hint: /JSON has no comments/,
  },
  "a trailing comma in a list (JSON.parse names no position)": {
    file: '{\n  "scheduler": {"name": "multistep", "milestones": [3, 10,]}\n}\n',
    where: "FILE:2:59",
    message: /at line 2, column 59 .*: a trailing comma before '\]'$/,
    hint: /^remove the comma after the last entry/,
  },
  "NaN (JSON.parse names no position)": {
    file: '{\n  "epochs": 3,\n  "optimizer": {"lr": NaN}\n}\n',
    where: "FILE:3:23",
    message: /at line 3, column 23 .*: NaN, which JSON has no value for$/,
    hint: /^write a finite number/,
  },
  "lists nested deeper than a scanner's stack, then a fault": {
    file: `${"[".repeat(200000)}x`,
    where: "FILE",
    message: /is not valid JSON: not JSON here$/,
  },
  "a missing comma": {
    file: '{\n  "epochs": 3\n  "batchSize": 4\n}\n',
    where: "FILE:3:3",
    message: /at line 3, column 3 .*: a missing comma$/,
  },
  "single quotes": {
    file: "{'epochs': 3}",
    where: "FILE:1:2",
    message: /: a single-quoted string$/,
    hint: /double quotes/,
  },
  "a key twice": {
    file: '{\n  "epochs": 2,\n  "epochs": 3\n}\n',
    where: "FILE:3:3",
    message:
      /^Config file '.*' has the key 'epochs' twice, at line 2, column 3 and at line 3, column 3$/,
    hint: /^remove one of the two/,
  },
  "a key twice in a section": {
    file: '{\n  "epochs": 2,\n  "optimizer": {"name": "adam",\n    "lr": 0.1, "lr": 0.01}\n}\n',
    where: "FILE:4:16",
    message: /has the key 'optimizer\.lr' twice, at line 4, column 5 and at line 4, column 16$/,
  },
  "a key twice in a list's object (the same key in two objects is no duplicate)": {
    file: JSON.stringify({
      scheduler: {
        name: "sequential",
        schedulers: [{ name: "cosine", tMax: 3 }, { name: "cosine", tMax: 3 }],
        milestones: [3],
      },
    }).replace('"tMax":3}]', '"tMax":3,"tMax":4}]'),
    message:
      /has the key 'scheduler\.schedulers\[1\]\.tMax' twice, at line 1, column 93 and at line 1, column 102$/,
  },
  "a key twice in a --set value": {
    sets: ['optimizer={"name":"adam","lr":0.1,"lr":0.01}'],
    where: "--set:1:25",
    message:
      /^The value of --set 'optimizer=.*' has the key 'optimizer\.lr' twice, at line 1, column 16 and at line 1, column 25$/,
  },
  "a number below float64's smallest (JSON reads it as 0)": {
    file: '{"optimizer": {"name": "sgd", "lr": 0.1, "momentum": 1e-500}}',
    where: "FILE",
    message:
      /^Config file '.*' has the number 1e-500 at 'optimizer\.momentum', which reads as 0: it is below float64's smallest number/,
    hint: /^write a number float64 holds/,
  },
  "a number beyond float64's largest in a list": {
    file: '{"optimizer": {"name": "adam", "betas": [0.9, 9e999]}}',
    message:
      /has the number 9e999 at 'optimizer\.betas\[1\]', which reads as Infinity: it is beyond/,
  },
  "a number below float64's smallest in a --set": {
    sets: ["optimizer.lr=1e-400"],
    where: "--set",
    message:
      /^--set 'optimizer\.lr=1e-400' has the number 1e-400 at 'optimizer\.lr', which reads as 0/,
  },
  "a number beyond float64's largest in a --set value's object": {
    sets: ['optimizer={"name":"adam","lr":1e-3,"eps":-2e308}'],
    where: "--set",
    message:
      /^The value of --set 'optimizer=.*' has the number -2e308 at 'optimizer\.eps', which reads as -Infinity/,
  },
  "a cut-off file": {
    file: '{\n  "epochs": 3,\n',
    message: /: it ends before the JSON does$/,
  },
  "an empty file": {
    file: "",
    where: "FILE",
    message: /is not valid JSON: it is empty$/,
  },
};

Deno.test("malformed configs and --set overrides are refused saying what, where and how to fix it", async () => {
  await using runs = await tempRunsDir();
  const file = `${runs.dir}/config.json`;
  for (const [label, { file: text, sets = [], where, message, hint }] of Object.entries(CASES)) {
    if (text !== undefined) await Deno.writeTextFile(file, text);
    const error = await loadConfig(text === undefined ? undefined : file, sets).then(
      () => assert.fail(`${label}: accepted`),
      (error) => error,
    );
    assert.ok(error instanceof AnnealError, `${label}: ${error}`);
    assert.match(error.message, message, label);
    if (where !== undefined) assert.equal(error.where, where.replace("FILE", file), label);
    assert.ok(error.hint, `${label}: no hint`);
    if (hint) assert.match(error.hint, hint, label);
  }
});

Deno.test("the --sets the kind switch's hint names make the config load", async () => {
  await using runs = await tempRunsDir();
  const file = `${runs.dir}/config.json`;
  await Deno.writeTextFile(file, '{"model": {"kind": "mlp", "hidden": [8], "activation": "tanh"}}');
  const sets = ["model.kind=cnn", "model.hidden=null", "model.activation=null"];
  const config = await loadConfig(file, sets);
  assert.deepEqual(config.model, (await loadConfig(undefined, ["model.kind=cnn"])).model);
});

Deno.test("a --set null removes a field the file has, known or not, and one left to its default", async () => {
  await using runs = await tempRunsDir();
  const file = `${runs.dir}/config.json`;
  await Deno.writeTextFile(file, '{"earlyStopping": {"patience": 3}, "optimizer": {"lr": 0.5}}');
  const config = await loadConfig(file, ["earlyStopping.patience=null", "optimizer.lr=null"]);
  const defaults = parseConfig({ earlyStopping: {} });
  assert.equal(config.earlyStopping?.patience, defaults.earlyStopping?.patience);
  assert.equal(config.optimizer.lr, defaults.optimizer.lr);
  // (a field the section has, never given: nothing to remove, and nothing refused)
  assert.equal((await loadConfig(undefined, ["epochs=null"])).epochs, defaults.epochs);
});

Deno.test("anneal train --set with a null for a misspelt field is refused before the run starts", async () => {
  await using runs = await tempRunsDir();
  const out = await anneal(
    "train",
    "--backend",
    "cpu",
    "--epochs",
    "1",
    "--set",
    "optimizer.momentun=null",
    "--runs-dir",
    runs.dir,
  );
  assert.equal(out.code, 1, out.stderr);
  assert.match(
    out.stderr,
    /error\[config\]: Invalid --set 'optimizer\.momentun=null': 'optimizer\.momentun': unknown field \(did you mean 'optimizer\.momentum'\?\)/,
  );
  assert.match(out.stderr, /hint: rename 'optimizer\.momentun' to 'optimizer\.momentum'/);
  assert.deepEqual([...Deno.readDirSync(runs.dir)], [], "no run directory");
});

Deno.test("anneal train --lr 1e-400 names the flag and the number float64 cannot hold, not a learning rate of 0", async () => {
  await using runs = await tempRunsDir();
  const out = await anneal("train", "--lr", "1e-400", "--runs-dir", runs.dir);
  assert.equal(out.code, 2, out.stderr);
  assert.match(
    out.stderr,
    /error\[usage\]: --lr 1e-400 has the number 1e-400 at 'optimizer\.lr', which reads as 0: it is below float64's smallest number \(about 5e-324\) \(at --lr\)/,
  );
  assert.deepEqual([...Deno.readDirSync(runs.dir)], [], "no run directory");
});

Deno.test("numbers float64 holds are not refused: the smallest subnormal, zero with a large exponent, 300 digits", async () => {
  const config = await loadConfig(undefined, [
    "optimizer.lr=5e-324",
    "optimizer.momentum=0e-999",
    `optimizer.dampening=0.${"0".repeat(299)}1`,
  ]);
  assert.equal(config.optimizer.lr, 5e-324);
  assert.equal((config.optimizer as { momentum: number }).momentum, 0);
  assert.equal((config.optimizer as { dampening: number }).dampening, 1e-300);
});

Deno.test("a config file with a byte-order mark reads as the JSON after it", async () => {
  await using runs = await tempRunsDir();
  const file = `${runs.dir}/bom.json`;
  await Deno.writeTextFile(file, '\uFEFF{"epochs": 2}');
  assert.equal((await loadConfig(file)).epochs, 2);
});

Deno.test("a sweep over a path no config has says which it likely meant", () => {
  assert.throws(
    () =>
      applyParams({ optimizer: { name: "sgd", lr: 0.1, momentum: 0 } }, {
        "optimizer.momentm": 0.9,
      }),
    (error: unknown) => {
      assert.ok(error instanceof AnnealError);
      assert.match(error.message, /Cannot set 'optimizer\.momentm': 'optimizer\.momentm' does not/);
      assert.match(error.hint!, /^did you mean 'optimizer\.momentum'\? existing keys there: name/);
      return true;
    },
  );
});

Deno.test("anneal train and anneal schedule name a JSON error, or a key given twice, by its line and column", async () => {
  await using runs = await tempRunsDir();
  const file = `${runs.dir}/config.json`;
  await Deno.writeTextFile(file, '{\n  "epochs": 3,\n}\n');
  const out = await anneal("train", "--config", file, "--no-progress");
  assert.equal(out.code, 1, out.stderr);
  assert.match(
    out.stderr,
    /error\[config\]: Config file '.*' is not valid JSON at line 3, column 1 \(`\}`\): a trailing comma before '\}' \(at .*config\.json:3:1\)/,
  );
  assert.match(out.stderr, /hint: remove the comma after the last entry/);
  // a JSON flag the shell stripped of its quotes
  const flag = await anneal("schedule", "--scheduler", "{name:cosine}", "--steps", "3");
  assert.equal(flag.code, 2, flag.stderr);
  assert.match(
    flag.stderr,
    /error\[usage\]: --scheduler is not valid JSON at line 1, column 2 \(`\{name:cosine\}`\): a name without double quotes \(at --scheduler:1:2\)/,
  );
  assert.match(flag.stderr, /hint: quote every name: "epochs": 5; quote it for the shell, e\.g\./);
  // a JSON flag with a key twice: refused, not its last value taken
  const twice = await anneal(
    "schedule",
    "--scheduler",
    '{"name":"cosine","tMax":10,"tMax":3}',
    "--steps",
    "3",
  );
  assert.equal(twice.code, 2, twice.stderr);
  assert.match(
    twice.stderr,
    /error\[usage\]: --scheduler has the key 'tMax' twice, at line 1, column 18 and at line 1, column 28 \(at --scheduler:1:28\)/,
  );
});
