/**
 * Shell completions for bash, zsh and fish, generated from the command tree (subcommands and
 * their long options), so they never drift from `--help`.
 *
 * @module
 */

/** The part of a command tree completions need. */
export interface CommandShape {
  name: string;
  description: string;
  options: string[];
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

function bash(root: CommandShape): string {
  const commands = flatten(root);
  const cases = commands.map(({ path, command }) => {
    const words = [...command.subcommands.map((s) => s.name), ...command.options].join(" ");
    return `    "${path.join(" ")}") words="${words}" ;;`;
  });
  // (a word extends the command's path only where it names a subcommand there: an option's value,
  // `-c config.json` or a run id, is none, and leaves the options of the command before it)
  const paths = commands.filter(({ path }) => path.length > 0)
    .map(({ path }) => `"${path.join(" ")}"`).join("|");
  return `# bash completion for ${root.name}; load with: source <(${root.name} completions bash)
_${root.name}_complete() {
  local cur path="" i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${path:+$path }\${COMP_WORDS[i]}" in
      ${paths}) path="\${path:+$path }\${COMP_WORDS[i]}" ;;
    esac
  done
  local words=""
  case "$path" in
${cases.join("\n")}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _${root.name}_complete ${root.name}
`;
}

function zsh(root: CommandShape): string {
  return `#compdef ${root.name}
# zsh completion for ${root.name}; load with: source <(${root.name} completions zsh)
autoload -U +X bashcompinit && bashcompinit
${bash(root)}`;
}

function fish(root: CommandShape): string {
  const lines = [
    `# fish completion for ${root.name}; load with: ${root.name} completions fish | source`,
  ];
  // (no file names where a command goes; after it, an option's value may be one: -c config.json)
  lines.push(`complete -c ${root.name} -n '__fish_use_subcommand' -f`);
  for (const { path, command } of flatten(root)) {
    const condition = path.length === 0
      ? "__fish_use_subcommand"
      : `__fish_seen_subcommand_from ${path[path.length - 1]}`;
    for (const sub of command.subcommands) {
      lines.push(
        // (in fish's single quotes a quote is written \' and a backslash \\)
        `complete -c ${root.name} -n '${condition}' -a ${sub.name} -d '${
          sub.description.replaceAll("\\", "\\\\").replaceAll("'", "\\'")
        }'`,
      );
    }
    for (const option of command.options.filter((o) => o.startsWith("--"))) {
      lines.push(`complete -c ${root.name} -n '${condition}' -l ${option.slice(2)}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** The completion script for a shell. */
export function completionScript(shell: "bash" | "zsh" | "fish", root: CommandShape): string {
  return shell === "bash" ? bash(root) : shell === "zsh" ? zsh(root) : fish(root);
}
