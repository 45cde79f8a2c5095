/**
 * The run directory: config, meta, per-step and per-epoch metrics (NDJSON, appended one line
 * per write so a killed run leaves a readable record up to its last step), and the summary
 * (replaced atomically).
 *
 * @module
 */
import { writeFileAtomic } from "./checkpoint.ts";
import { AnnealError } from "../errors.ts";
import { fileError } from "../file_errors.ts";
import { showValue } from "../zod_paths.ts";
import { shellWord } from "../shell_word.ts";
import type { RunConfig } from "../config.ts";
import { absoluteDataPaths } from "../data/paths.ts";
import { batchScalingOf } from "../optimizers/scaling.ts";

/** Run ids are plain names: no separators, no `..`, so a run can never escape its runs directory. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Checks a run id taken from a user. */
export function checkRunId(id: string, what: "run id" | "study name" = "run id"): string {
  // a caller in plain JavaScript may pass anything (train(config, { resume: 5 }))
  if (typeof id !== "string" || !RUN_ID_PATTERN.test(id) || id.includes("..")) {
    const message = typeof id === "string"
      ? `'${id}' is not a valid ${what}`
      : `${showValue(id)} is not a valid ${what}: a ${what} is a string`;
    throw new AnnealError("usage", message, {
      hint: what === "run id"
        ? "run ids are letters, digits, '.', '_' and '-' (see `anneal runs`); paths are not allowed"
        : "a study's name (--study, else the config's name) is letters, digits, '.', '_' and " +
          "'-', as it names the study's directory of runs; paths are not allowed",
    });
  }
  return id;
}

/**
 * The config as a run records it in its `config.json`: its data files' paths absolute, resolved
 * against the working directory it starts in, so that a resume (`--resume`, from any directory)
 * and a new run from that file read the files it trained on. (An rnn's clipping turned off is
 * `maxNorm: null` in the parsed config, and so in the file: read back, it is still off.) With
 * `optimizer.baseBatch`, the rule it scales by is written out (`batchScaling`: linear for sgd,
 * sqrt else), so that the run's record says it; one recorded without it is an older anneal's,
 * which scaled linearly (`withOlderScaling`, runtime/resume.ts). (Written here, not at parse: a
 * sweep's trial that switches the base config's optimizer takes the rule of its own.)
 */
export function recordedConfig(config: RunConfig, cwd: string = Deno.cwd()): RunConfig {
  const optimizer = config.optimizer.baseBatch !== undefined &&
      config.optimizer.batchScaling === undefined
    ? { ...config.optimizer, batchScaling: batchScalingOf(config.optimizer) }
    : config.optimizer;
  return { ...config, optimizer, data: absoluteDataPaths(config.data, cwd) };
}

/**
 * A config written for `anneal train -c` (a sweep's `best_config.json`): as a run records it
 * ({@linkcode recordedConfig}: it trains from any directory), without its `sweep` section. (A
 * tune's tuned config keeps its `sweep` section: the tune read its metric and direction there.)
 */
export function trainableConfig(config: RunConfig): Omit<RunConfig, "sweep"> {
  const { sweep: _, ...trainable } = recordedConfig(config);
  return trainable;
}

/**
 * A fresh run id: UTC date and time plus a short random suffix, after `name` when given. The id
 * names the run's directory, so `name` is a file name's part: letters, digits, `.`, `_` and `-`,
 * starting with a letter or digit, as a config's `name` (anything else, a `/` above all, which
 * would nest the run in a directory of its own, is an `AnnealError`, `config`).
 */
export function newRunId(name?: string): string {
  if (
    name !== undefined && (typeof name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name))
  ) {
    throw new AnnealError(
      "config",
      `Cannot make a run id from the name ${showValue(name)}: a run's id names its directory`,
      {
        where: "name",
        hint: "use letters, digits, '.', '_' or '-', starting with a letter or digit " +
          "(e.g. 'mlp-adam')",
      },
    );
  }
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  const suffix = crypto.randomUUID().slice(0, 4);
  return name ? `${name}-${stamp}-${suffix}` : `${stamp}-${suffix}`;
}

/**
 * Creates a directory of the runs directory (a run's, a study's, the runs directory itself) with
 * its parents; when that fails (runsDir names a file, say), the error names the path and runsDir.
 */
export async function makeRunDirectory(dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (error) {
    throw fileError(error, {
      action: "create the directory",
      path: dir,
      expected: "a directory",
      // (anneal train has --runs-dir; sweep, tune, lr-find and batch-size take the config's)
      hint: "point runsDir at a directory (anneal train's --runs-dir, --set runsDir=DIR with " +
        "the other commands), or move the file in the way",
    }) ?? error;
  }
}

/** Appends NDJSON lines and JSON files under a run directory, in order. */
export class RunWriter {
  #chain: Promise<void> = Promise.resolve();
  #error: unknown;
  #failed = false;
  readonly #onError?: (error: unknown) => void;

  /** `onError` is told of the first failed write as soon as it fails (`flush` throws it too). */
  constructor(readonly dir: string, options: { onError?: (error: unknown) => void } = {}) {
    this.#onError = options.onError;
  }

  /** Creates the directory tree. */
  async create(): Promise<void> {
    await makeRunDirectory(`${this.dir}/checkpoints`);
  }

  #enqueue(work: () => Promise<void>): Promise<void> {
    this.#chain = this.#chain.then(work).catch((error) => {
      if (this.#failed) return;
      this.#failed = true;
      this.#error = error;
      this.#onError?.(error);
    });
    return this.#chain;
  }

  /** Writes a JSON file atomically. */
  writeJson(name: string, value: unknown): Promise<void> {
    return this.#enqueue(() =>
      writeFileAtomic(
        `${this.dir}/${name}`,
        new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n"),
      )
    );
  }

  /** Appends records as NDJSON lines, in one write. */
  append(name: string, records: unknown[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    const text = records.map((r) => JSON.stringify(r)).join("\n") + "\n";
    const path = `${this.dir}/${name}`;
    // (the run's directory removed while it ran: said as writeFileAtomic says it)
    return this.#enqueue(() =>
      Deno.writeTextFile(path, text, { append: true }).catch((error) => {
        throw fileError(error, {
          action: "append to",
          path,
          writing: true,
          // (a directory where the run's record goes, which no path the user gave names: it
          // said "give the path of a file")
          ...(error instanceof Deno.errors.IsADirectory && {
            hint: `a directory is where the run records its ${name}: move it away (mv ` +
              `${shellWord(path)} ${shellWord(`${path}.moved`)})`,
          }),
        }) ?? error;
      })
    );
  }

  /** Keeps only the lines of an NDJSON file whose record passes `keep` (resume drops replayed steps). */
  truncate(name: string, keep: (record: Record<string, number>) => boolean): Promise<void> {
    return this.#enqueue(async () => {
      let text: string;
      try {
        text = await Deno.readTextFile(`${this.dir}/${name}`);
      } catch {
        return;
      }
      const kept = text.split("\n").filter((line) => {
        if (!line.trim()) return false;
        try {
          return keep(JSON.parse(line));
        } catch {
          return false; // a torn last line from a killed run
        }
      });
      await writeFileAtomic(
        `${this.dir}/${name}`,
        new TextEncoder().encode(kept.map((l) => l + "\n").join("")),
      );
    });
  }

  /** Waits for every queued write; throws the first write error. */
  async flush(): Promise<void> {
    await this.#chain;
    if (this.#failed) throw this.#error;
  }
}
