/**
 * Shell completions for bash, zsh and fish, generated from the command tree (subcommands, their
 * options and arguments, and the values those take), so they never drift from `--help`.
 *
 * @module
 */

/**
 * What a value on the command line completes to: one of a set of words (`--backend`'s, `anneal
 * completions`' shell), a file's name (`--config`), a directory's (`--runs-dir`), a run's id
 * (`last` and the runs in the `--runs-dir` typed, else `runs/`; `many`: every argument from this
 * one on, as `runs compare`'s; `training`: a training run's alone, not an `lr-find` record, as
 * `--resume` takes), or anything typed (`--epochs`' number), which completions leave to the shell's
 * own (file names).
 */
export type ValueShape =
  | { kind: "choice"; values: readonly string[] }
  | { kind: "file" }
  | { kind: "directory" }
  | { kind: "run"; many?: boolean; training?: boolean }
  | { kind: "any" };

/** The directory runs are in where no `--runs-dir` is typed (the CLI's default). */
const DEFAULT_RUNS_DIR = "runs";

/** An option as completions see it. */
export interface OptionShape {
  /** Its names: `-c`, `--config`. */
  flags: string[];
  /** What its value completes to; absent where it takes none (`--json`). */
  value?: ValueShape;
}

/** The part of a command tree completions need. */
export interface CommandShape {
  name: string;
  description: string;
  options: OptionShape[];
  /** What its arguments complete to, in order (`completions <shell>`: one of the shells). */
  arguments: ValueShape[];
  subcommands: CommandShape[];
}

function flatten(root: CommandShape): { path: string[]; command: CommandShape }[] {
  const out: { path: string[]; command: CommandShape }[] = [];
  const walk = (command: CommandShape, path: string[]) => {
    out.push({ path, command });
    for (const sub of command.subcommands) walk(sub, [...path, sub.name]);
  };
  walk(root, []);
  return out;
}

/** The options that take a value, each with the path of its command (`train`, `runs show`). */
function valuedOptions(root: CommandShape) {
  return flatten(root).flatMap(({ path, command }) =>
    command.options.flatMap((option) =>
      option.value ? [{ path: path.join(" "), flags: option.flags, value: option.value }] : []
    )
  );
}

/** `items` grouped by `key`, the groups in the order of their first items. */
function grouped<T>(items: T[], key: (item: T) => string): [string, T[]][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  return [...groups];
}

/** The bash line that fills COMPREPLY with the candidates for `value`, the current word being `$cur`. */
function bashValue(value: Exclude<ValueShape, { kind: "any" }>): string {
  switch (value.kind) {
    case "choice":
      return `COMPREPLY=($(compgen -W "${value.values.join(" ")}" -- "$cur"))`;
    case "file":
    case "directory":
      // (one name a line, spaces kept; -o filenames: a directory gets its slash, and no space
      // after it, as bash's own file names do; compopt is bash's alone, and fails outside a
      // completion)
      return `local IFS=$'\\n'; compopt -o filenames 2>/dev/null || :; ` +
        `COMPREPLY=($(compgen -${value.kind === "file" ? "f" : "d"} -- "$cur"))`;
    case "run":
      // (a run is a directory of the runs directory with a config.json: a training run's, an
      // lr-find's, which has an lr_find.json too; a sweep's study directory has none)
      return `local IFS=$'\\n' f ids=last; for f in "\${runs_dir:-${DEFAULT_RUNS_DIR}}"/*/config.json; do ` +
        `[[ -e "$f" ]] && f="\${f%/config.json}" ${
          value.training ? `&& [[ ! -e "$f/lr_find.json" ]] ` : ""
        }&& ids+=$'\\n'"\${f##*/}"; done; ` +
        `COMPREPLY=($(compgen -W "$ids" -- "$cur"))`;
  }
}

/** The `case` pattern of a command's argument at `at` (a run's, from there on where `many`). */
function argumentPattern(path: string[], at: number, value: ValueShape): string {
  return `"${path.join(" ")}:${at}"${
    value.kind === "run" && value.many ? "|" + `"${path.join(" ")}:"[${at + 1}-9]*` : ""
  }`;
}

/**
 * The `case` patterns `"path:flag"` of `options`, a line for each command (continued with `\`),
 * each further line indented by `indent`.
 */
function bashPatterns(options: { path: string; flags: string[] }[], indent: string): string {
  return grouped(options, ({ path }) => path).map(([, group]) =>
    group.flatMap(({ path, flags }) => flags.map((flag) => `"${path}:${flag}"`)).join("|")
  ).join(`|\\\n${indent}`);
}

function bash(root: CommandShape): string {
  const commands = flatten(root);
  const cases = commands.map(({ path, command }) => {
    const words = [
      ...command.subcommands.map((s) => s.name),
      ...command.options.flatMap((o) => o.flags),
    ].join(" ");
    return `    "${path.join(" ")}") candidates="${words}" ;;`;
  });
  // (a word extends the command's path only where it names a subcommand there: an option's value,
  // `-c config.json` or a run id, is none, and leaves the options of the command before it)
  const paths = commands.filter(({ path }) => path.length > 0)
    .map(({ path }) => `"${path.join(" ")}"`).join("|") || '""';
  const options = valuedOptions(root);
  // (with no such option, "": no "path:word" is empty, and `case` needs a pattern)
  const takesValue = bashPatterns(options, "      ") || '""';
  // (a value of anything, a number or a run id, has nothing to offer: bash's own completion, of
  // file names, as `complete -o default` says)
  const valueCases = grouped(
    options.flatMap((option) =>
      option.value.kind === "any" ? [] : [{ ...option, value: option.value }]
    ),
    ({ value }) => bashValue(value),
  ).map(([line, group]) => `      ${bashPatterns(group, "      ")})\n        ${line} ;;`);
  const argumentCases = commands.flatMap(({ path, command }) =>
    command.arguments.map((value, at) =>
      value.kind === "choice" || value.kind === "run"
        ? `      ${argumentPattern(path, at, value)})\n        ${bashValue(value)}; return 0 ;;`
        : ""
    ).filter((line) => line !== "")
  );
  return `# bash completion for ${root.name}; load with: source <(${root.name} completions bash)
_${root.name}_complete() {
  # (the commands typed, \`runs show\`, are \$cmd: zsh's \$path is its PATH)
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="" word="" option="" args=0 runs_dir="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    # (the value of an option, \`-c config.json\`, is neither a command nor an argument; the
    # runs directory typed is where run ids come from, \`~/\` as the shell reads it)
    if [[ -n "$option" ]]; then
      # (\`--runs-dir=DIR\`: bash splits the = off as a word of its own)
      [[ "$word" == "=" ]] && continue
      [[ "$option" == --runs-dir ]] && runs_dir="\${word/#\\~\\//$HOME/}"
      option=""; continue
    fi
    # (\`--runs-dir=DIR\` as one word: zsh's words, which bashcompinit hands over, are not split
    # at the =)
    [[ "$word" == --runs-dir=?* ]] && runs_dir="\${word#--runs-dir=}" && runs_dir="\${runs_dir/#\\~\\//$HOME/}"
    case "$cmd:$word" in
      ${takesValue}) option="$word"; continue ;;
    esac
    case "\${cmd:+$cmd }$word" in
      ${paths}) cmd="\${cmd:+$cmd }$word"; args=0 ;;
      # (an option without a value, \`diagnose --json\`, is no argument either)
      *) [[ "$word" == -* ]] || args=$((args + 1)) ;;
    esac
  done
  # (the word after an option that takes a value is that value: -b's backend, -c's file name;
  # right after \`--runs-dir=\`, the = is the word being completed)
  if [[ -n "$option" ]]; then
    [[ "$cur" == "=" ]] && cur=""
    COMPREPLY=()
    case "$cmd:$option" in
${valueCases.join("\n")}
    esac
    return 0
  fi
  # (an argument that is one of a set of words: \`completions <shell>\`, \`help <command>\`; a
  # run's id: \`diagnose <run>\`)
  if [[ "$cur" != -* ]]; then
    case "$cmd:$args" in
${argumentCases.join("\n")}
    esac
  fi
  local candidates=""
  case "$cmd" in
${cases.join("\n")}
  esac
  COMPREPLY=($(compgen -W "$candidates" -- "$cur"))
  return 0
}
complete -o default -F _${root.name}_complete ${root.name}
`;
}

function zsh(root: CommandShape): string {
  return `#compdef ${root.name}
# zsh completion for ${root.name}; load with: source <(${root.name} completions zsh)
# (bashcompinit's \`complete\` needs compinit's compdef: a ~/.zshrc without compinit lacks it)
(( $+functions[compdef] )) || { autoload -U +X compinit && compinit -i; }
autoload -U +X bashcompinit && bashcompinit
${bash(root)}`;
}

/** A string in fish's single quotes, where a quote is written \' and a backslash \\. */
function fishQuoted(text: string): string {
  return `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

function fish(root: CommandShape): string {
  const at = `__${root.name}_at`;
  const runs = `__${root.name}_runs`;
  const commands = flatten(root);
  const options = valuedOptions(root);
  // (fish's own conditions, __fish_seen_subcommand_from, see a command's name anywhere before:
  // `runs show` still offered show and compare, and `diagnose show` show's options; this reads
  // the words as bash's completion does)
  const lines = [
    `# fish completion for ${root.name}; load with: ${root.name} completions fish | source`,
    `function ${at} --description 'whether the words typed name the command $argv (--args N: ` +
    `and N of its arguments follow)'`,
    "    set -l args",
    '    if test "$argv[1]" = --args',
    "        set args $argv[2]",
    "        set -e argv[1..2]",
    "    end",
    "    set -l words (commandline -opc)",
    "    set -e words[1]",
    "    set -l path ''",
    "    set -l given 0",
    "    set -l option 0",
    "    for word in $words",
    "        if test $option = 1",
    "            set option 0",
    "            continue",
    "        end",
    '        switch "$path:$word"',
    // (a command without such options has '', which no word matches: `case` needs a pattern)
    `            case ${
      grouped(options, ({ path }) => path).map(([, group]) =>
        group.flatMap(({ path, flags }) => flags.map((f) => fishQuoted(`${path}:${f}`))).join(" ")
      ).join(" \\\n                ") || "''"
    }`,
    "                set option 1",
    "                continue",
    "        end",
    '        set -l next (string trim -- "$path $word")',
    '        switch "$next"',
    `            case ${
      commands.filter(({ path }) => path.length > 0).map(({ path }) => fishQuoted(path.join(" ")))
        .join(" ") || "''"
    }`,
    "                set path $next",
    "                set given 0",
    // (an option without a value, `diagnose --json`, is no argument either: $next, the path
    // and the word, never starts with - once a command is typed)
    "            case '*'",
    "                string match -q -- '-*' $word; or set given (math $given + 1)",
    "        end",
    "    end",
    '    test "$path" = "$argv"; and begin; test -z "$args"; or test $given = $args; end',
    "end",
    `function ${runs} --description 'last, and the ids of the runs in the --runs-dir typed ` +
    `(else ${DEFAULT_RUNS_DIR}/; --training: the training runs alone)'`,
    `    set -l dir ${DEFAULT_RUNS_DIR}`,
    "    set -l words (commandline -opc)",
    "    for i in (seq (count $words))",
    // (`--runs-dir=DIR`: fish's words are not split at the =)
    "        if string match -q -- '--runs-dir=?*' $words[$i]",
    "            set dir (string replace -r '^--runs-dir=(~/)?' '' -- $words[$i])",
    "            string match -q -- '--runs-dir=~/*' $words[$i]; and set dir \"$HOME/$dir\"",
    '        else if test "$words[$i]" = --runs-dir; and test $i -lt (count $words)',
    "            set dir (string replace -r '^~/' \"$HOME/\" -- $words[(math $i + 1)])",
    "        end",
    "    end",
    "    echo last",
    "    for f in $dir/*/config.json",
    "        set -l run (dirname $f)",
    // (an lr-find record has an lr_find.json beside its config.json, and is no run to resume)
    '        if test "$argv[1]" != --training; or not test -e $run/lr_find.json',
    "            basename $run",
    "        end",
    "    end",
    "end",
  ];
  for (const { path, command } of commands) {
    const condition = [at, ...path].join(" ");
    // (no file names where a command goes; after it, an option's value may be one: -c config.json)
    if (command.subcommands.length > 0) {
      lines.push(`complete -c ${root.name} -n ${fishQuoted(condition)} -f`);
    }
    for (const sub of command.subcommands) {
      lines.push(
        `complete -c ${root.name} -n ${fishQuoted(condition)} -a ${sub.name} -d ${
          fishQuoted(sub.description)
        }`,
      );
    }
    command.arguments.forEach((value, index) => {
      if (value.kind !== "choice" && value.kind !== "run") return;
      // (a run's ids from this argument on: under the command, whatever the arguments before)
      const given = value.kind === "run" && value.many ? [] : ["--args", String(index)];
      lines.push(
        `complete -c ${root.name} -n ${fishQuoted([at, ...given, ...path].join(" "))} -f -a ${
          fishQuoted(value.kind === "run" ? `(${runs})` : value.values.join(" "))
        }`,
      );
    });
    for (const option of command.options) {
      const names = option.flags.map((flag) =>
        flag.startsWith("--")
          ? `-l ${flag.slice(2)}`
          : flag.length === 2
          ? `-s ${flag.slice(1)}`
          : `-o ${flag.slice(1)}`
      );
      lines.push(
        `complete -c ${root.name} -n ${fishQuoted(condition)} ${names.join(" ")}${
          option.value ? ` ${fishValue(option.value, runs)}` : ""
        }`,
      );
    }
  }
  return lines.join("\n") + "\n";
}

/** fish's flags for an option whose value is `value` (`runs`: the function that lists runs). */
function fishValue(value: ValueShape, runs: string): string {
  switch (value.kind) {
    case "choice":
      return `-x -a ${fishQuoted(value.values.join(" "))}`;
    case "file":
      // (-F: file names even where another rule for the command says -f)
      return "-r -F";
    case "directory":
      return "-x -a '(__fish_complete_directories (commandline -ct))'";
    case "run":
      return `-x -a '(${runs}${value.training ? " --training" : ""})'`;
    case "any":
      return "-r";
  }
}

/** The completion script for a shell. */
export function completionScript(shell: "bash" | "zsh" | "fish", root: CommandShape): string {
  return shell === "bash" ? bash(root) : shell === "zsh" ? zsh(root) : fish(root);
}
