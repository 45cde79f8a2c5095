import assert from "node:assert/strict";
import { BACKEND_NAMES } from "../config.ts";
import { PLOTS } from "../report/plot_names.ts";
import { SAMPLER_NAMES } from "../sweeps/samplers/named.ts";
import { PRUNER_NAMES } from "../sweeps/pruners/types.ts";
import { completionScript } from "./completions.ts";
import { buildProgram, shapeOf } from "./main.ts";

const shape = () => shapeOf(buildProgram(() => Promise.resolve()));

/**
 * The candidates bash's completion of anneal offers for each line of words typed (the last one
 * being completed), run in `cwd`: `[a|b]`, a candidate with a space kept whole.
 */
async function bashCandidates(lines: string[][], cwd?: string): Promise<string[]> {
  const output = await new Deno.Command("bash", {
    args: [
      "-c",
      [
        // (as the README's test: an error in the function, under set -e, fails the run)
        "set -e",
        completionScript("bash", shape()),
        'c() { COMP_WORDS=(anneal "$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _anneal_complete; ' +
        '(IFS="|"; echo "[${COMPREPLY[*]}]"); }',
        ...lines.map((words) => `c ${words.map((word) => `'${word}'`).join(" ")}`),
      ].join("\n"),
    ],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return new TextDecoder().decode(output.stdout).trimEnd().split("\n");
}

/** `[a|b]` of bash's candidates, sorted (file names come in the directory's order). */
const sorted = (line: string) => `[${line.slice(1, -1).split("|").sort().join("|")}]`;

Deno.test("the command shape carries an option's choices, and whether its value is a file or a directory", () => {
  const root = shape();
  const command = (name: string) => root.subcommands.find((sub) => sub.name === name)!;
  const option = (name: string, flag: string) =>
    command(name).options.find((o) => o.flags.includes(flag));
  assert.deepEqual(option("train", "--backend"), {
    flags: ["-b", "--backend"],
    value: { kind: "choice", values: BACKEND_NAMES },
  });
  assert.deepEqual(option("train", "-c")?.value, { kind: "file" });
  assert.deepEqual(option("train", "--runs-dir")?.value, { kind: "directory" });
  assert.deepEqual(option("train", "--epochs")?.value, { kind: "any" });
  assert.deepEqual(option("train", "--resume")?.value, { kind: "run", training: true });
  assert.deepEqual(option("tune", "--budget")?.value, { kind: "any" });
  assert.deepEqual(command("diagnose").arguments, [{ kind: "run" }]);
  const runs = command("runs").subcommands;
  assert.deepEqual(runs.find((sub) => sub.name === "compare")?.arguments, [
    { kind: "run", many: true },
  ]);
  assert.equal(option("train", "--json")?.value, undefined);
  // (the same flag, a plot's name in report and a file's in lr-find)
  assert.deepEqual(option("report", "--plot")?.value, { kind: "choice", values: PLOTS });
  assert.deepEqual(option("lr-find", "--plot")?.value, { kind: "file" });
  assert.deepEqual(option("schema", "-h"), { flags: ["-h", "--help"] });
  assert.deepEqual(command("completions").arguments, [
    { kind: "choice", values: ["bash", "zsh", "fish"] },
  ]);
  assert.deepEqual(command("help").arguments, [
    { kind: "choice", values: root.subcommands.map((sub) => sub.name).filter((n) => n !== "help") },
  ]);
});

Deno.test("anneal's bash completion offers an option's choices, and the completions command's shells", async () => {
  assert.deepEqual(
    await bashCandidates([
      ["train", "--backend", ""],
      ["train", "-c", "x.json", "-b", "w"],
      ["sweep", "--sampler", ""],
      ["sweep", "--trials", "5", "--pruner", ""],
      ["report", "last", "--plot", ""],
      ["lr-find", "--mode", ""],
      ["lr-find", "--schedule", ""],
      ["completions", ""],
      ["completions", "z"],
      // (a shell given: its options; an option asked for: the options)
      ["completions", "bash", ""],
      ["completions", "-"],
    ]),
    [
      `[${BACKEND_NAMES.join("|")}]`,
      "[webgpu|wasm]",
      `[${SAMPLER_NAMES.join("|")}]`,
      `[${PRUNER_NAMES.join("|")}]`,
      `[${PLOTS.join("|")}]`,
      "[exponential|linear]",
      "[onecycle|warmupCosine]",
      "[bash|zsh|fish]",
      "[zsh]",
      "[-h|--help]",
      "[-h|--help]",
    ],
  );
});

Deno.test("anneal's bash completion offers file names for a file's option, directories for a directory's, even before a letter is typed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "anneal-completions-" });
  try {
    await Deno.writeTextFile(`${dir}/config.json`, "{}");
    await Deno.writeTextFile(`${dir}/cosine.svg`, "");
    await Deno.mkdir(`${dir}/sweep runs`);
    const lines = await bashCandidates([
      ["train", "-c", ""],
      ["train", "--config", "co"],
      ["lr-find", "--plot", ""],
      ["tune", "-o", ""],
      ["train", "--runs-dir", ""],
      ["runs", "show", "last", "--runs-dir", "s"],
      // (a value that is anything, a number: nothing offered, bash's own completion then)
      ["train", "--epochs", ""],
      // (`show` here is --runs-dir's value, not the command)
      ["runs", "--runs-dir", "show", ""],
    ], dir);
    assert.deepEqual(lines.map(sorted), [
      "[config.json|cosine.svg|sweep runs]",
      "[config.json|cosine.svg]",
      "[config.json|cosine.svg|sweep runs]",
      "[config.json|cosine.svg|sweep runs]",
      "[sweep runs]",
      "[sweep runs]",
      "[]",
      sorted("[show|compare|help|--runs-dir|--json|-h|--help]"),
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("anneal's bash completion offers last and the runs of the runs directory typed (else runs/) where a run's id goes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "anneal-completions-" });
  try {
    // two runs, a sweep's study directory (no config.json of its own), and a file
    for (const run of ["runs/20261206-a1", "runs/20261206-b2", "other runs/o1"]) {
      await Deno.mkdir(`${dir}/${run}`, { recursive: true });
      await Deno.writeTextFile(`${dir}/${run}/config.json`, "{}");
    }
    await Deno.mkdir(`${dir}/runs/fashion-sweep`);
    await Deno.writeTextFile(`${dir}/runs/sweeps.db`, "");
    // (an lr-find record: a run to diagnose or show, none to resume)
    await Deno.mkdir(`${dir}/runs/lr-find-20261206-c3`);
    await Deno.writeTextFile(`${dir}/runs/lr-find-20261206-c3/config.json`, "{}");
    await Deno.writeTextFile(`${dir}/runs/lr-find-20261206-c3/lr_find.json`, "{}");
    const lines = await bashCandidates([
      ["diagnose", ""],
      ["diagnose", "2026"],
      ["runs", "show", "l"],
      ["runs", "compare", "20261206-a1", ""],
      ["train", "--resume", ""],
      ["report", "--runs-dir", "other runs", ""],
      ["runs", "--runs-dir", "other runs", "show", "o"],
      ["runs", "show", "--runs-dir", "nowhere", ""],
      // (a run given: report's options, not another run)
      ["report", "last", "--pl"],
      // (tune's --budget is a count of runs, not one)
      ["tune", "--budget", ""],
      // (--runs-dir=DIR: bash splits it at the =; the options had been offered)
      ["diagnose", "--runs-dir", "=", "other runs", ""],
      // (an option without a value is no argument: the options had been offered)
      ["diagnose", "--json", ""],
      ["runs", "show", "--json", "--runs-dir", "other runs", ""],
      ["report", "-h", "--runs-dir", "other runs", "o"],
      // (--runs-dir=DIR as one word, as zsh hands it over through bashcompinit)
      ["diagnose", "--runs-dir=other runs", ""],
    ], dir);
    assert.deepEqual(lines.map(sorted), [
      "[20261206-a1|20261206-b2|last|lr-find-20261206-c3]",
      "[20261206-a1|20261206-b2]",
      "[last|lr-find-20261206-c3]",
      "[20261206-a1|20261206-b2|last|lr-find-20261206-c3]",
      "[20261206-a1|20261206-b2|last]",
      "[last|o1]",
      "[o1]",
      "[last]",
      "[--plot]",
      "[]",
      "[last|o1]",
      "[20261206-a1|20261206-b2|last|lr-find-20261206-c3]",
      "[last|o1]",
      "[o1]",
      "[last|o1]",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("anneal's bash completion offers help and -h, and help's commands", async () => {
  const [top, ...rest] = await bashCandidates([
    [""],
    ["help", "tr"],
    ["runs", "help", ""],
    ["runs", "show", "-"],
  ]);
  assert.match(top, /\|help\|.*\|-h\|--help\]$/);
  assert.deepEqual(rest, ["[train]", "[show|compare]", "[--runs-dir|--json|-h|--help]"]);
});

/** Whether `shell` runs here (tools/test.sh installs zsh and fish where they are missing). */
function hasShell(shell: string): boolean {
  try {
    return new Deno.Command(shell, { args: ["--version"], stdout: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

const hasFish = hasShell("fish");

Deno.test({
  name:
    "anneal's fish completion offers the runs where a run's id goes, after an option without a value too, and of a --runs-dir=DIR",
  ignore: !hasFish,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "anneal-completions-" });
    try {
      for (const run of ["runs/20261206-a1", "other runs/o1"]) {
        await Deno.mkdir(`${dir}/${run}`, { recursive: true });
        await Deno.writeTextFile(`${dir}/${run}/config.json`, "{}");
      }
      // (an lr-find record: a run to diagnose, none to resume)
      await Deno.mkdir(`${dir}/runs/lr-find-c3`);
      for (const file of ["config.json", "lr_find.json"]) {
        await Deno.writeTextFile(`${dir}/runs/lr-find-c3/${file}`, "{}");
      }
      await Deno.writeTextFile(`${dir}/anneal.fish`, completionScript("fish", shape()));
      const lines = [
        "anneal diagnose ",
        "anneal diagnose --json ",
        "anneal runs show --json --runs-dir 'other runs' ",
        "anneal report -h ",
        // (fish's words are not split at the =)
        "anneal diagnose '--runs-dir=other runs' ",
        "anneal train --resume ",
      ];
      const output = await new Deno.Command("fish", {
        args: [
          "--no-config",
          "-c",
          [
            "source anneal.fish",
            ...lines.map((line) =>
              `echo "[$(complete -C'${line.replaceAll("'", "\\'")}' | sort | string join '|')]"`
            ),
          ].join("\n"),
        ],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
      assert.deepEqual(new TextDecoder().decode(output.stdout).trimEnd().split("\n"), [
        "[20261206-a1|last|lr-find-c3]",
        "[20261206-a1|last|lr-find-c3]",
        "[last|o1]",
        "[20261206-a1|last|lr-find-c3]",
        "[last|o1]",
        "[20261206-a1|last]",
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const hasZsh = hasShell("zsh");

Deno.test({
  name: "anneal's zsh completion loads in a zsh whose ~/.zshrc did not run compinit",
  ignore: !hasZsh,
  async fn() {
    const home = await Deno.makeTempDir({ prefix: "anneal-completions-" });
    try {
      await Deno.writeTextFile(`${home}/anneal.zsh`, completionScript("zsh", shape()));
      // (-f: no startup files, as a ~/.zshrc without compinit; bashcompinit's complete then
      // needed compdef: "command not found: compdef")
      const output = await new Deno.Command("zsh", {
        args: ["-fc", 'source anneal.zsh && print -r -- "$_comps[anneal]"'],
        cwd: home,
        env: { HOME: home },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(output.stderr);
      assert.equal(output.code, 0, stderr);
      assert.equal(stderr, "");
      assert.equal(
        new TextDecoder().decode(output.stdout),
        "_bash_complete -o default -F _anneal_complete\n",
      );
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
});

Deno.test("anneal's zsh completion is bash's, loaded through bashcompinit", () => {
  const script = completionScript("zsh", shape());
  assert.match(script, /^#compdef anneal\n/);
  assert.match(script, /\nautoload -U \+X bashcompinit && bashcompinit\n/);
  assert.ok(script.endsWith(completionScript("bash", shape())));
});

Deno.test("anneal's fish completion has short options, choices and file names, each under its own command", () => {
  const script = completionScript("fish", shape()).split("\n");
  for (
    const line of [
      "complete -c anneal -n '__anneal_at train' -s c -l config -r -F",
      "complete -c anneal -n '__anneal_at train' -s b -l backend -x -a 'auto webgpu wasm cpu'",
      "complete -c anneal -n '__anneal_at train' -s s -l set -r",
      "complete -c anneal -n '__anneal_at train' -l runs-dir -x -a " +
      "'(__fish_complete_directories (commandline -ct))'",
      "complete -c anneal -n '__anneal_at tune' -s o -l out -r -F",
      "complete -c anneal -n '__anneal_at sweep' -l sampler -x -a " +
      `'${SAMPLER_NAMES.join(" ")}'`,
      "complete -c anneal -n '__anneal_at lr-find' -l plot -r -F",
      `complete -c anneal -n '__anneal_at report' -l plot -x -a '${PLOTS.join(" ")}'`,
      "complete -c anneal -n '__anneal_at --args 0 completions' -f -a 'bash zsh fish'",
      "complete -c anneal -n '__anneal_at' -a help -d 'display help for command'",
      "complete -c anneal -n '__anneal_at' -s h -l help",
      "complete -c anneal -n '__anneal_at runs show' -s h -l help",
      "complete -c anneal -n '__anneal_at train' -l resume -x -a '(__anneal_runs --training)'",
      "complete -c anneal -n '__anneal_at --args 0 diagnose' -f -a '(__anneal_runs)'",
      "complete -c anneal -n '__anneal_at runs compare' -f -a '(__anneal_runs)'",
      "function __anneal_runs --description 'last, and the ids of the runs in the --runs-dir " +
      "typed (else runs/; --training: the training runs alone)'",
    ]
  ) {
    assert.ok(script.includes(line), `${line}\nnot in\n${script.join("\n")}`);
  }
  // (runs' commands under runs alone: `runs show <TAB>` offered show and compare again)
  assert.deepEqual(
    script.filter((line) => / -a (show|compare) /.test(line)).map((line) => line.split(" -a ")[0]),
    ["complete -c anneal -n '__anneal_at runs'", "complete -c anneal -n '__anneal_at runs'"],
  );
  assert.ok(!script.some((line) => line.includes("__fish_seen_subcommand_from")));
  // (the words the condition reads: a command's path, each option's value skipped)
  const at = script.slice(
    script.findIndex((line) => line.startsWith("function __anneal_at ")),
    script.indexOf("end"),
  );
  assert.ok(at.some((line) => /'runs show'/.test(line)), at.join("\n"));
  assert.ok(at.some((line) => /'train:-c' 'train:--config'/.test(line)), at.join("\n"));
});
