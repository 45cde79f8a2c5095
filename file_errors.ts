/**
 * Deno's file-system errors (`NotFound`, `NotADirectory`, ...) as {@linkcode AnnealError}s that
 * say which path is wrong, what was expected there and how to fix it. Such an error means a path
 * given to anneal is missing or of the wrong kind, not that anneal is broken.
 *
 * @module
 */
import { AnnealError } from "./errors.ts";

/** What the caller knows about the path that failed; everything is optional. */
export interface FileErrorContext {
  /** What was being done, e.g. "write the report" (default: from Deno's message, e.g. "write"). */
  action?: string;
  /** The path (default: the one Deno's message names). */
  path?: string;
  /** What should be at the path, e.g. "a readable JSON file", "a directory". */
  expected?: string;
  /**
   * How to fix it (default: a hint for the kind of failure). Not used where the path is not at
   * fault but its file system is (read-only, full), or a symbolic link on it points to nothing:
   * that failure's own hint says what to do.
   */
  hint?: string;
  /**
   * The path was being written, whatever Deno's operation was (`open` of a file to write, which
   * names no mode): a missing directory is said as one, not as "no such file".
   */
  writing?: boolean;
}

const FILE_ERRORS = [
  Deno.errors.NotFound,
  Deno.errors.NotADirectory,
  Deno.errors.IsADirectory,
  Deno.errors.AlreadyExists,
  Deno.errors.PermissionDenied,
];

/**
 * Failures of the file system that holds the path, not of the path itself; Deno raises them as
 * plain `Error`s with the OS's code.
 */
const DEVICE_CODES: Record<string, { why: string; fix: (parent: string) => string }> = {
  EROFS: {
    why: "the file system is read-only",
    fix: (parent) =>
      `choose a path on a writable file system (the one that holds '${parent}' is mounted read-only)`,
  },
  ENOSPC: {
    why: "no space left on its disk",
    fix: (parent) =>
      `free space on the disk that holds '${parent}' (df -h '${parent}'), or choose a path on another disk`,
  },
  EDQUOT: {
    why: "the disk quota is exceeded",
    fix: (parent) =>
      `free space within your quota (quota -s), or choose a path outside '${parent}'`,
  },
};

/**
 * The path of Deno's refusal of a special path (under /dev, /proc, /sys), which it grants only to
 * `--allow-all` whatever `--allow-read` and `--allow-write` say: "Requires all access to "PATH",
 * run again with the --allow-all flag". Undefined for any other error.
 */
function specialPath(error: unknown): string | undefined {
  if (!(error instanceof Deno.errors.NotCapable)) return undefined;
  return error.message.match(/^Requires all access to "(.*)", run again/)?.[1];
}

/**
 * What of `path` only a shell expands, which anneal takes as written (a JSON config's path, a
 * quoted flag's): a leading `~`, a `${name}` or a `$NAME` segment; why that is, and the fix.
 * Undefined for a path with none.
 *
 * @example
 * ```ts
 * import { unexpanded } from "./file_errors.ts";
 * console.assert(unexpanded("~/runs")?.why.startsWith("a leading '~' is not expanded"));
 * console.assert(unexpanded("runs") === undefined);
 * console.assert(unexpanded("$HOME/runs")?.why.startsWith("'$HOME' is not expanded"));
 * console.assert(unexpanded("data/$raw.csv") === undefined);
 * ```
 */
export function unexpanded(path: string): { why: string; fix: string } | undefined {
  // (`${name}`, or an environment variable's `$NAME` as a whole segment: a file of its own named
  // `$raw.csv` or `$Data` is a name, not a variable)
  const variable = path.match(/\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Z_][A-Z0-9_]*(?=\/|$)/)?.[0];
  if (!path.startsWith("~") && variable === undefined) return undefined;
  const what = path.startsWith("~") ? "a leading '~'" : `'${variable}'`;
  return {
    why: `${what} is not expanded here (only a shell expands it, outside quotes)`,
    fix: path.startsWith("~")
      ? "write the home directory out (/home/me/x for ~/x)"
      : `write the variable's value out (echo "${variable}" prints it)`,
  };
}

/** Whether `error` is Deno's ENAMETOOLONG (a plain `Error` with the OS's code). */
function tooLong(error: unknown): boolean {
  return error instanceof Error && (error as { code?: unknown }).code === "ENAMETOOLONG";
}

/** Why a path is too long: the name of it over 255 bytes (Linux's NAME_MAX), or its length. */
function tooLongWhy(path: string): string {
  const bytes = (text: string) => new TextEncoder().encode(text).length;
  const name = path.split("/").find((part) => bytes(part) > 255);
  return name === undefined
    ? `the path is too long for the file system (${bytes(path)} bytes)`
    : `its name '${name.slice(0, 24)}...' is too long for the file system (${
      bytes(name)
    } bytes; 255 at most)`;
}

function deviceCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && typeof code === "string" && code in DEVICE_CODES
    ? code
    : undefined;
}

const VERBS: Record<string, string> = {
  readfile: "read",
  writefile: "write",
  mkdir: "create the directory",
  readdir: "list",
  stat: "read",
  lstat: "read",
  open: "open",
  rename: "move",
  remove: "remove",
  copyfile: "copy",
};

const READS = new Set(["readfile", "readdir", "stat", "lstat", "open", "realpath", "readlink"]);

function parentOf(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  const slash = trimmed.lastIndexOf("/");
  return slash > 0 ? trimmed.slice(0, slash) : slash === 0 ? "/" : ".";
}

function statOf(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.statSync(path);
  } catch {
    return undefined;
  }
}

/** The nearest ancestor of `path` that exists (itself excluded), or undefined. */
function existingAncestor(path: string): { path: string; info: Deno.FileInfo } | undefined {
  for (let at = parentOf(path);; at = parentOf(at)) {
    const info = statOf(at);
    if (info) return { path: at, info };
    if (at === "/" || at === ".") return undefined;
  }
}

/**
 * The nearest of `path` and its ancestors that is a symbolic link whose target is missing, and
 * that target (resolved against the link's directory): mkdir -p through it fails with EEXIST, a
 * write or read with ENOENT, neither of which names the link.
 */
function danglingLink(path: string): { link: string; target: string } | undefined {
  for (let at = path;; at = parentOf(at)) {
    try {
      if (Deno.lstatSync(at).isSymlink && !statOf(at)) {
        const target = Deno.readLinkSync(at);
        return { link: at, target: target.startsWith("/") ? target : `${parentOf(at)}/${target}` };
      }
    } catch { /* not there (or not to be read): look further up */ }
    if (at === "/" || at === ".") return undefined;
  }
}

/**
 * Why it failed and the default fix, for one kind of error at `path`; `own`: the fix is the only
 * one that applies (a caller's hint, written for a path of the wrong kind, does not).
 */
function explain(
  error: Error,
  op: string,
  path: string,
): { why: string; fix: string; own?: boolean } {
  const device = deviceCode(error);
  if (device) {
    // the nearest directory that exists: one a user can look at (df, mount)
    const held = existingAncestor(path)?.path ?? parentOf(path);
    return { why: DEVICE_CODES[device].why, fix: DEVICE_CODES[device].fix(held), own: true };
  }
  if (tooLong(error)) return { why: tooLongWhy(path), fix: "choose a shorter path", own: true };
  const link = error instanceof Deno.errors.AlreadyExists || error instanceof Deno.errors.NotFound
    ? danglingLink(path)
    : undefined;
  if (link) {
    return {
      why: `'${link.link}' is a symbolic link to '${link.target}', which does not exist`,
      // (a directory to write into can be made; a file to read, or the path itself, cannot)
      fix: READS.has(op) || link.link === path
        ? `point the link at what exists (ln -sfn TARGET '${link.link}'), or give another path`
        : `create what it points to (mkdir -p '${link.target}'), or remove the link ` +
          `(rm '${link.link}'), or choose another path`,
      own: true,
    };
  }
  const shellWord = error instanceof Deno.errors.NotFound ? unexpanded(path) : undefined;
  if (shellWord) {
    // (a quoted flag's: the shell left it as written; its fix is not to create a '~')
    return { why: `no such file or directory: ${shellWord.why}`, fix: shellWord.fix, own: true };
  }
  if (error instanceof Deno.errors.NotADirectory) {
    const ancestor = existingAncestor(path);
    const file = ancestor && !ancestor.info.isDirectory ? ancestor.path : path;
    return {
      why: `'${file}' is a file, not a directory`,
      fix: `a directory is expected at '${file}': choose another path, or move the file away`,
    };
  }
  if (error instanceof Deno.errors.IsADirectory) {
    return { why: "it is a directory, not a file", fix: "give the path of a file" };
  }
  if (error instanceof Deno.errors.AlreadyExists) {
    // mkdir of a path that is a file (recursive mkdir accepts an existing directory)
    if (op === "mkdir" && statOf(path)?.isDirectory === false) {
      return {
        why: "it is a file, not a directory",
        fix: "choose another path, or move the file away",
      };
    }
    return { why: "it already exists", fix: "remove it, or choose another path" };
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return {
      why: "permission denied",
      fix: `check its permissions (ls -ld '${path}'), or choose a path you may use`,
    };
  }
  const parent = parentOf(path);
  if (!READS.has(op) && !statOf(parent)?.isDirectory) {
    const ancestor = existingAncestor(parent);
    if (ancestor && !ancestor.info.isDirectory) {
      return {
        why: `'${ancestor.path}' is a file, not a directory`,
        fix: `choose a path whose directories exist, or move the file '${ancestor.path}' away`,
      };
    }
    return {
      why: `the directory '${parent}' does not exist`,
      fix: `create it (mkdir -p '${parent}'), or choose a path in an existing directory`,
    };
  }
  return { why: "no such file or directory", fix: "check the path" };
}

/**
 * The {@linkcode AnnealError} (code `file`) for a file-system error on a path anneal was given;
 * undefined when `error` is not one (anything else stays what it is).
 *
 * @example
 * ```ts
 * import { fileError } from "./file_errors.ts";
 * try {
 *   await Deno.readTextFile("/no/such/schedule.json");
 * } catch (error) {
 *   const described = fileError(error, { expected: "a readable JSON file" });
 *   console.assert(described?.message.includes("'/no/such/schedule.json'"));
 * }
 * ```
 */
export function fileError(error: unknown, context: FileErrorContext = {}): AnnealError | undefined {
  const special = specialPath(error);
  if (special !== undefined) {
    const path = context.path ?? special;
    const action = context.action ?? "use";
    return new AnnealError(
      "file",
      `Cannot ${action} '${path}': Deno lets a program use paths under /dev, /proc and /sys ` +
        "only when it runs with --allow-all, and `deno task anneal` grants read and write " +
        "access, not all",
      {
        where: path,
        hint: "use a path outside /dev, /proc and /sys (/tmp in place of /dev/shm; a file, then " +
          "`cat` it, in place of /dev/stdout), or run anneal with every permission: " +
          "deno run -A --unstable-worker-options cli/main.ts ...",
        cause: error,
      },
    );
  }
  const device = deviceCode(error);
  if (!device && !tooLong(error) && !FILE_ERRORS.some((kind) => error instanceof kind)) {
    return undefined;
  }
  const failure = error as Error;
  // Deno's messages end with the operation and its path: "...: readfile '/x.json'".
  const named = failure.message.match(/: (\w+) '([^']*)'(?: -> '[^']*')?$/);
  const op = context.writing ? "writefile" : named?.[1] ?? "";
  const path = context.path ?? named?.[2];
  // (under a listed --allow-read, Deno's permission check refuses a path too long before the
  // operation, without the operation and path at the end of its message)
  const { why, fix, own } = path ? explain(failure, op, path) : tooLong(failure)
    ? {
      why: "the path or a name in it is too long for the file system",
      fix: "choose a shorter path",
      own: true,
    }
    : { why: failure.message, fix: "check the path", own: device !== undefined };
  const action = context.action ?? VERBS[op] ?? "use";
  const expected = context.expected ? ` (expected ${context.expected})` : "";
  return new AnnealError(
    "file",
    `Cannot ${action}${path ? ` '${path}'` : ""}: ${why}${expected}`,
    { where: path, hint: (own ? undefined : context.hint) ?? fix, cause: error },
  );
}

/**
 * A write's file error (an {@linkcode AnnealError} of code `file`) said again, as `action`, once
 * the directory it was made for is removed: its fix then names a directory there is (`df -h` on
 * the disk that holds the runs directory, not on the run's directory that is gone). Any other
 * error is returned as it is.
 */
export function writeErrorAgain<T>(error: T, action: string): T | AnnealError {
  if (!(error instanceof AnnealError) || error.code !== "file") return error;
  return fileError(error.cause, { action, path: error.where, writing: true }) ?? error;
}
