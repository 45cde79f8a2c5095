/**
 * The usage errors commander finds on a command line, said as anneal's own (`error[usage]`, exit
 * 2, a hint with the command line that does it right), on every command: a missing argument, an
 * option at the end of the line without its value, a missing required option, an unknown option,
 * a word too many, an unknown command.
 */
import assert from "node:assert/strict";
import { anneal, tempRunsDir } from "./_helpers.ts";

/** Runs anneal with `args` and checks its usage error: stderr is exactly `message` and `hint`. */
async function refused(args: string[], message: string, hint: string | RegExp): Promise<void> {
  const out = await anneal(...args);
  const label = `anneal ${args.join(" ")}`;
  assert.equal(out.code, 2, `${label}: ${out.stderr}`);
  const [first, second, ...rest] = out.stderr.split("\n");
  assert.equal(first, `error[usage]: ${message}`, label);
  if (typeof hint === "string") assert.equal(second, `  hint: ${hint}`, label);
  else assert.match(second, hint, label);
  assert.deepEqual(rest, [""], label);
  assert.equal(out.stdout, "", label);
}

Deno.test("a missing argument says what the command needs, with an example from its help", async () => {
  await refused(
    ["completions"],
    "anneal completions needs its <shell> (the shell: bash, zsh, fish)",
    "e.g. source <(anneal completions bash)",
  );
  // ("error: missing required argument 'run'\n(run with --help for usage)")
  for (const command of [["diagnose"], ["report"], ["runs", "show"]]) {
    await refused(
      [...command, "--runs-dir", "no-such-dir"],
      `anneal ${command.join(" ")} needs a run (run id, or 'last')`,
      "there are no runs in 'no-such-dir' (anneal train makes one; --runs-dir says where else " +
        "to look)",
    );
  }
});

Deno.test("a missing run names the newest runs, and 'last'; compare's, two of them", async () => {
  await using runs = await tempRunsDir();
  for (const name of ["first", "second"]) {
    const trained = await anneal(
      ...["train", "--backend", "cpu", "--epochs", "1", "--set", "data.n=20"],
      ...["--name", name, "--runs-dir", runs.dir],
    );
    assert.equal(trained.code, 0, trained.stderr);
  }
  const ids = (await Array.fromAsync(Deno.readDir(runs.dir))).map((entry) => entry.name).sort()
    .reverse();
  assert.match(ids.join(" "), /^second-\S+ first-\S+$/);
  const at = ` --runs-dir ${runs.dir}`;
  for (const command of ["diagnose", "runs show"]) {
    await refused(
      [...command.split(" "), "--runs-dir", runs.dir],
      `anneal ${command} needs a run (run id, or 'last')`,
      `e.g. anneal ${command} last${at}; the newest in '${runs.dir}': ${ids.join(", ")} ` +
        `('last' is the first); anneal runs${at} lists them all`,
    );
  }
  await refused(
    ["runs", "compare", "--runs-dir", runs.dir],
    "anneal runs compare needs two or more runs (two or more run ids)",
    `e.g. anneal runs compare ${ids.join(" ")}${at}; the newest in '${runs.dir}': ` +
      `${ids.join(", ")}; anneal runs${at} lists them all`,
  );
  // (one run given: "compare needs at least two run ids", and RUN_A RUN_B)
  await refused(
    ["runs", "compare", ids[1], "--runs-dir", runs.dir],
    `anneal runs compare needs two or more runs, and was given one: '${ids[1]}'`,
    `e.g. anneal runs compare ${ids[1]} ${ids[0]}${at}; the newest in '${runs.dir}': ` +
      `${ids[0]}; anneal runs${at} lists them all`,
  );
  // `runs`' own --runs-dir and --json, given before the subcommand, are the subcommand's (they
  // were left to `runs`, and show read its default runs/)
  await refused(
    ["runs", "--runs-dir", runs.dir, "show"],
    "anneal runs show needs a run (run id, or 'last')",
    `e.g. anneal runs show last${at}; the newest in '${runs.dir}': ${ids.join(", ")} ` +
      `('last' is the first); anneal runs${at} lists them all`,
  );
  const shown = await anneal("runs", "--runs-dir", runs.dir, "--json", "show", "last");
  assert.equal(shown.code, 0, shown.stderr);
  assert.equal(JSON.parse(shown.stdout).id, ids[0]);
  const compared = await anneal("runs", "--runs-dir", runs.dir, "compare", ...ids);
  assert.equal(compared.code, 0, compared.stderr);
  // --json: the same error as one line on stdout
  const json = await anneal("diagnose", "--runs-dir", runs.dir, "--json");
  assert.equal(json.code, 2, json.stderr);
  const line = JSON.parse(json.stdout);
  assert.equal(line.type, "error");
  assert.equal(line.error.code, "usage");
  assert.equal(line.error.message, "anneal diagnose needs a run (run id, or 'last')");
  assert.match(line.error.hint, /^e\.g\. anneal diagnose last --runs-dir /);
});

Deno.test("an option at the end of the line without its value names it, the value it takes, and an example", async () => {
  // ("error: option '-c, --config <file>' argument missing")
  await refused(
    ["train", "-c"],
    "-c of anneal train needs a value (<file>: JSON config file (see `anneal schema`)), and " +
      "the command line ends after it",
    "give it one, e.g. anneal train -c examples/fashion_mnist_mlp.json --backend wasm",
  );
  await refused(
    ["train", "--epochs"],
    "--epochs of anneal train needs a value (<n>: shortcut for --set epochs=N), and the " +
      "command line ends after it",
    "give it one, e.g. anneal train --epochs 20 --batch-size 8 --lr 0.02",
  );
  // (no example of the help uses it: its form)
  await refused(
    ["train", "--max-steps"],
    "--max-steps of anneal train needs a value (<n>: shortcut for --set maxSteps=N (a budget of " +
      "optimizer steps)), and the command line ends after it",
    "give it one, e.g. anneal train --max-steps <n>",
  );
  await refused(
    ["schedule", "--steps"],
    "--steps of anneal schedule needs a value (<n>: number of steps to show), and the command " +
      "line ends after it",
    "give it one, e.g. anneal schedule -c examples/fashion_mnist_cyclic.json --steps 200",
  );
  // (a value of a fixed set: the values)
  await refused(
    ["lr-find", "--mode"],
    "--mode of anneal lr-find needs a value (<mode>: LR ramp: exponential, linear), and the " +
      "command line ends after it",
    "give it one, e.g. anneal lr-find --mode exponential",
  );
  await refused(
    ["runs", "show", "last", "--runs-dir"],
    "--runs-dir of anneal runs show needs a value (<dir>: where run directories are), and the " +
      "command line ends after it",
    "give it one, e.g. anneal runs show --runs-dir <dir>",
  );
});

Deno.test("a missing required option names it, with an example of the command", async () => {
  // ("error: required option '--steps <n>' not specified")
  await refused(
    ["schedule"],
    "anneal schedule needs --steps <n> (number of steps to show)",
    "give it, e.g. anneal schedule -c examples/fashion_mnist_cyclic.json --steps 200",
  );
  await refused(
    ["worker", "--study", "s"],
    "anneal worker needs --storage <url> (the study's storage, e.g. " +
      "postgres://anneal@db.example/anneal)",
    "give it, e.g. anneal worker --storage postgres://anneal@db.example/anneal --study lr-search",
  );
});

Deno.test("an unknown option suggests the command's option meant, in the command line that uses it", async () => {
  // ("error: unknown option '--epoch'\n(Did you mean --epochs?)")
  await refused(
    ["train", "--epoch", "3", "--backend", "cpu"],
    "anneal train has no option --epoch (did you mean --epochs?)",
    "run anneal train --epochs 3 --backend cpu",
  );
  await refused(
    ["train", "--epoch=3"],
    "anneal train has no option --epoch (did you mean --epochs?)",
    "run anneal train --epochs=3",
  );
  // (commander suggested nothing for these)
  await refused(
    ["train", "--learning-rate", "0.1"],
    "anneal train has no option --learning-rate (did you mean --lr?)",
    "run anneal train --lr 0.1",
  );
  await refused(
    ["train", "--lr-find"],
    "anneal train has no option --lr-find",
    "lr-find is a command of its own, not an option: e.g. anneal lr-find -c " +
      "examples/fashion_mnist_mlp.json",
  );
  await refused(
    ["runs", "show", "last", "--jsn"],
    "anneal runs show has no option --jsn (did you mean --json?)",
    "run anneal runs show last --json",
  );
  await refused(
    ["diagnose", "last", "--plot", "loss"],
    "anneal diagnose has no option --plot",
    "--plot is an option of anneal schedule, anneal lr-find, anneal report; anneal diagnose's " +
      "options: --runs-dir, --json (anneal diagnose --help says what each takes)",
  );
  // a command with no options of its own says so (it listed none: "options:  (...)")
  await refused(
    ["schema", "--foo"],
    "anneal schema has no option --foo",
    "anneal schema takes no options but --help",
  );
  // --json: on stdout too
  const json = await anneal("schedule", "--steps", "2", "--bsae-lr", "0.1", "--json");
  assert.equal(json.code, 2, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout).error, {
    code: "usage",
    message: "anneal schedule has no option --bsae-lr (did you mean --base-lr?)",
    hint: "run anneal schedule --steps 2 --base-lr 0.1 --json",
  });
});

Deno.test("a word too many says what the command takes, and the option or -c it may have meant", async () => {
  // ("error: too many arguments for 'diagnose'. Expected 1 argument but got 2: a, b.")
  await refused(
    ["diagnose", "a", "b"],
    "anneal diagnose takes one argument (<run>: run id, or 'last'), and was given one more: 'b'",
    "e.g. anneal diagnose a (a word with spaces in it goes in quotes; anneal diagnose --help " +
      "says what it takes)",
  );
  // (showed run 'last' and said nothing of 'extra')
  await refused(
    ["runs", "show", "last", "extra"],
    "anneal runs show takes one argument (<run>: run id, or 'last'), and was given one more: " +
      "'extra'",
    /^ {2}hint: e\.g\. anneal runs show last \(/,
  );
  await refused(
    ["train", "epochs", "3"],
    "anneal train takes no arguments, and was given 2 more: 'epochs', '3'",
    "an option is given with its dashes: anneal train --epochs 3",
  );
  await refused(
    ["schema", "x"],
    "anneal schema takes no arguments, and was given one more: 'x'",
    "anneal schema --help says what it takes",
  );
});

Deno.test("an unknown command suggests the one meant, or lists them", async () => {
  await refused(
    ["trian", "--epochs", "3"],
    "anneal has no command 'trian' (did you mean 'train'?)",
    "run anneal train --epochs 3",
  );
  await refused(
    ["bogus"],
    "anneal has no command 'bogus'",
    /^ {2}hint: its commands: train, schedule, lr-find, .*, completions \(anneal --help says what each does\)$/,
  );
  await refused(
    ["config.json"],
    "anneal has no command 'config.json'",
    "a config file is given with -c: anneal train -c config.json",
  );
});

Deno.test("help asked of an unknown command names it (commander printed the whole help as an error); help of a known one still prints it", async () => {
  await refused(
    ["help", "trian"],
    "anneal has no command 'trian' (did you mean 'train'?)",
    "run anneal help train",
  );
  await refused(["help", "bogus"], "anneal has no command 'bogus'", /^ {2}hint: its commands: /);
  await refused(
    ["runs", "help", "shw"],
    "anneal runs has no command 'shw' (did you mean 'show'?)",
    "run anneal runs help show",
  );
  for (const args of [["help", "train"], ["runs", "help", "show"]]) {
    const out = await anneal(...args);
    assert.equal(out.code, 0, `anneal ${args.join(" ")}: ${out.stderr}`);
    assert.match(out.stdout, /^Usage: anneal /, args.join(" "));
  }
});

Deno.test("--help of every command still prints its usage and exits 0; anneal alone prints the help", async () => {
  const commands = [
    ...["train", "schedule", "lr-find", "sweep", "tune", "worker", "batch-size", "runs"],
    ...["runs show", "runs compare", "diagnose", "report", "schema", "completions"],
  ];
  for (const command of ["", ...commands]) {
    const words = command === "" ? [] : command.split(" ");
    const out = await anneal(...words, "--help");
    assert.equal(out.code, 0, `${command}: ${out.stderr}`);
    assert.ok(out.stdout.startsWith(`Usage: anneal ${command}`.trimEnd()), out.stdout);
    assert.equal(out.stderr, "");
  }
  const alone = await anneal();
  assert.equal(alone.code, 2);
  assert.match(alone.stderr, /^Usage: anneal \[options\] \[command\]\n/);
  assert.doesNotMatch(alone.stderr, /^error/m);
});

Deno.test("anneal help takes the whole command line: help runs show is runs show's help, help help the root's", async () => {
  // ("help runs show" printed runs' help; "help help" the root's on stderr, exit 2)
  const show = await anneal("help", "runs", "show");
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /^Usage: anneal runs show \[options\] <run>/);
  const help = await anneal("help", "help");
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^Usage: anneal \[options\] \[command\]/);
  assert.equal(help.stderr, "");
});
