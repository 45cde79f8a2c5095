/**
 * README.md's fenced code blocks, and the command lines of its shell blocks, as
 * `tests/readme_blocks_test.ts` checks them: each with the README line it starts on, so that a
 * failure names the line to fix.
 *
 * @module
 */

/** A fenced block: its language (the fence's info string), its text and where it is. */
export interface ReadmeBlock {
  lang: string;
  /** 1-based line of the opening fence: the block's first line is `line + 1`. */
  line: number;
  text: string;
  /**
   * The marker on the line before the fence, `<!-- readme_blocks_test: ... -->`: `check only:
   * REASON` (type-checked or parsed, not run, nor validated as a config) or `fragment of FILE`
   * (a JSON block checked in that config).
   */
  marker?: string;
}

const MARKER = /^<!--\s*readme_blocks_test:\s*(.*?)\s*-->$/;

/** The fenced blocks of `markdown` (fences at the start of a line, as README.md writes them). */
export function fencedBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split("\n");
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = lines[i].match(/^```(\S*)\s*$/);
    if (!open) continue;
    const close = lines.findIndex((line, j) => j > i && /^```\s*$/.test(line));
    if (close < 0) throw new Error(`README.md:${i + 1}: a code fence that never closes`);
    const before = lines.slice(0, i).findLast((line) => line.trim() !== "");
    blocks.push({
      lang: open[1],
      line: i + 1,
      text: lines.slice(i + 1, close).join("\n"),
      marker: before?.trim().match(MARKER)?.[1],
    });
    i = close;
  }
  return blocks;
}

/**
 * A simple command of a shell block: its words (none for a line of comment alone), its README line
 * and its comment.
 */
export interface ShellCommand {
  words: string[];
  line: number;
  /** The comment after it on its (last) line, `#` left out; "" when none. */
  comment: string;
}

/**
 * Splits a shell block into simple commands: lines joined at a trailing `\`, comments cut,
 * quotes taken off, and each line cut at `&&`, `||`, `;` and `|`; a redirection (`> file`) and
 * what follows it is left out. Enough shell for what a README shows; `$(...)` and `<(...)` stay
 * words.
 */
export function shellCommands(block: ReadmeBlock): ShellCommand[] {
  const lines = block.text.split("\n");
  const commands: ShellCommand[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = block.line + 1 + i;
    let text = lines[i];
    while (/\\\s*$/.test(text) && i + 1 < lines.length) {
      text = text.replace(/\\\s*$/, " ") + lines[++i];
    }
    const { words, comment } = shellWords(text);
    let current: string[] = [];
    let redirected = false;
    const flush = () => {
      if (current.length > 0) commands.push({ words: current, line, comment });
      current = [];
      redirected = false;
    };
    for (const word of words) {
      if (typeof word !== "string") flush();
      else if (/^\d?>>?$|^<$/.test(word)) redirected = true;
      else if (!redirected) current.push(word);
    }
    // (a line of comment alone is a command of no words: its comment may name files)
    if (words.length === 0 && comment !== "") commands.push({ words: [], line, comment });
    flush();
  }
  return commands;
}

/** An operator between commands (`&&`, `||`, `;`, `|`), as {@linkcode shellWords} returns it. */
interface Operator {
  operator: string;
}

/** The words of one shell line, quotes removed, operators apart, and its comment. */
export function shellWords(text: string): { words: (string | Operator)[]; comment: string } {
  const words: (string | Operator)[] = [];
  let word: string | undefined;
  for (let at = 0; at < text.length; at++) {
    const char = text[at];
    if (char === "'" || char === '"') {
      const end = text.indexOf(char, at + 1);
      if (end < 0) throw new Error(`an unclosed ${char} in: ${text}`);
      word = (word ?? "") + text.slice(at + 1, end);
      at = end;
    } else if (char === "\\" && at + 1 < text.length) {
      word = (word ?? "") + text[++at];
    } else if (/\s/.test(char)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (char === "#" && word === undefined) {
      return { words, comment: text.slice(at + 1).trim() };
    } else if (/[;&|]/.test(char) && !(char === "&" && text[at - 1] === ">")) {
      if (word !== undefined) words.push(word);
      word = undefined;
      const operator = text.slice(at).match(/^(&&|\|\||;|\|)/)?.[1] ?? char;
      words.push({ operator });
      at += operator.length - 1;
    } else {
      word = (word ?? "") + char;
    }
  }
  if (word !== undefined) words.push(word);
  return { words, comment: "" };
}

/** What a command line runs, when it is anneal's: a deno.json task, or the CLI with `args`. */
export type AnnealInvocation =
  | { kind: "cli"; args: string[] }
  | { kind: "task"; task: string; args: string[] }
  | { kind: "script"; file: string };

/**
 * How `words` runs anneal: `anneal ARGS`, `deno task anneal ARGS` (or through
 * `npx -y deno@VERSION`), `deno run FLAGS cli/main.ts ARGS` (the CLI); `deno task NAME` (another
 * task); `deno run FLAGS FILE` (a script of the repository). Undefined for any other command.
 */
export function annealInvocation(words: string[]): AnnealInvocation | undefined {
  const deno = words[0] === "npx" ? words.findIndex((word) => /^deno(@|$)/.test(word)) : 0;
  if (words[0] === "anneal") return { kind: "cli", args: words.slice(1) };
  if (deno < 0 || !/^deno(@.*)?$/.test(words[deno])) return undefined;
  const [sub, ...rest] = words.slice(deno + 1);
  if (sub === "task") {
    const [task, ...args] = rest;
    return task === "anneal" ? { kind: "cli", args } : { kind: "task", task, args };
  }
  if (sub !== "run") return undefined;
  const file = rest.findIndex((word) => !word.startsWith("-"));
  if (file < 0) return undefined;
  return rest[file] === "cli/main.ts"
    ? { kind: "cli", args: rest.slice(file + 1) }
    : { kind: "script", file: rest[file] };
}

/** An inline code span of the README's prose (outside fenced blocks) and its line. */
export interface InlineSpan {
  text: string;
  line: number;
}

/** The inline code spans of `markdown`'s prose and tables: a span may wrap onto the next line. */
export function inlineSpans(markdown: string): InlineSpan[] {
  // (the fenced blocks blanked, their lines kept, so that an offset's line is the README's)
  const prose = markdown.replace(
    /^```[^\n]*\n[\s\S]*?^```\s*$/gm,
    (block) => block.replace(/[^\n]/g, " "),
  );
  return [...prose.matchAll(/`([^`]+)`/g)].map((match) => ({
    text: match[1].replace(/\s+/g, " "),
    line: prose.slice(0, match.index).split("\n").length,
  }));
}
