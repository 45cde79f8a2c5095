/**
 * The part of `cli-progress` 3.12's API that `progress.ts` uses, declared here rather than taken
 * from `@types/cli-progress`: that package depends on `@types/node` (any version: the newest),
 * and a graph holding it types every `node:` import with that version instead of Deno's own, so
 * that a file checked alone and checked with the CLI was held to two different `node:assert`s.
 *
 * @module
 */

declare namespace cliProgress {
  /** Options of a bar (those used). */
  interface Options {
    /** The line drawn: `{bar}`, `{percentage}`, `{value}`, `{total}`, `{eta_formatted}`, payload. */
    format?: string;
    hideCursor?: boolean;
    clearOnComplete?: boolean;
    /** Where it is drawn (default: process.stderr). */
    stream?: { write(chunk: string): boolean };
  }
  /** A preset of the characters a bar is drawn with. */
  interface Preset {
    format: string;
    barCompleteChar: string;
    barIncompleteChar: string;
  }
  /** One bar of a {@linkcode MultiBar}. */
  class SingleBar {
    update(value: number, payload?: Record<string, unknown>): void;
  }
  /** Bars drawn together, with lines logged above them. */
  class MultiBar {
    constructor(options: Options, preset?: Preset);
    create(total: number, startValue: number, payload?: Record<string, unknown>): SingleBar;
    log(data: string): void;
    stop(): void;
  }
  const Presets: { shades_classic: Preset };
}

export default cliProgress;
