/**
 * The one error type anneal throws. Every error says what went wrong, where, and how to fix it.
 *
 * @module
 */

/** Machine-readable category of an {@linkcode AnnealError}. */
export type ErrorCode =
  | "config"
  | "data"
  | "checkpoint"
  | "actor"
  | "backend"
  | "diverged"
  | "storage"
  /** A path anneal was given is missing, of the wrong kind (a file for a directory) or not permitted. */
  | "file"
  | "usage"
  /** The caller stopped the work before its end (an `interrupt` signal it passed): nothing is kept. */
  | "interrupted"
  | "internal";

/** Options of an {@linkcode AnnealError}. */
export interface AnnealErrorOptions {
  /** Where: a config field path, `file:line`, a byte offset, or an actor name. */
  where?: string;
  /** How to fix it, phrased as an action. */
  hint?: string;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * An error with a `code`, a location (`where`) and a `hint` that tells the user what to do.
 *
 * @example
 * ```ts
 * import { AnnealError } from "./errors.ts";
 * const error = new AnnealError("config", "'batchSize' must be > 0, current value is 0", {
 *   where: "batchSize",
 *   hint: "set a positive batch size, e.g. --set batchSize=32",
 * });
 * console.assert(error.code === "config");
 * ```
 */
export class AnnealError extends Error {
  /** Always `"AnnealError"`. */
  override name = "AnnealError";
  /** What kind of failure this is (config, data, usage, ...), for handling by category. */
  readonly code: ErrorCode;
  /** Where the problem is, e.g. a config path such as `optimizer.lr`. */
  readonly where?: string;
  /** What the user can do about it. */
  readonly hint?: string;

  /** Creates an error with a `code`, a message and optional `where`, `hint` and `cause`. */
  constructor(code: ErrorCode, message: string, options: AnnealErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.where = options.where;
    this.hint = options.hint;
  }

  /** The message, its location and its hint as the CLI prints them. */
  describe(): string {
    const where = this.where ? ` (at ${this.where})` : "";
    const hint = this.hint ? `\n  hint: ${this.hint}` : "";
    return `error[${this.code}]: ${this.message}${where}${hint}`;
  }
}

/** A plain, structured-clone-safe form of any thrown value, for crossing worker boundaries. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  where?: string;
  hint?: string;
}

/** Turns anything thrown into a {@linkcode SerializedError}. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof AnnealError) {
    return {
      name: error.name,
      message: error.message,
      stack: error.stack,
      code: error.code,
      where: error.where,
      hint: error.hint,
    };
  }
  if (error instanceof Error) {
    return { name: error.name, message: error.message, stack: error.stack };
  }
  return { name: "Error", message: String(error) };
}

/** Rebuilds an {@linkcode AnnealError} from its serialized form. */
export function deserializeError(error: SerializedError): AnnealError {
  const code = (error.code ?? "internal") as ErrorCode;
  const rebuilt = new AnnealError(code, error.message, { where: error.where, hint: error.hint });
  if (error.stack) rebuilt.stack = error.stack;
  return rebuilt;
}
