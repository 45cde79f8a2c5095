/**
 * The files and folders a data spec reads, and the spec with them made absolute: a run records
 * its data's absolute paths, so that it reads the same files when it is resumed (or trained again
 * from its `config.json`) from another working directory.
 *
 * @module
 */
import { isAbsolute, join, resolve } from "node:path";
import type { ResolvedDataSpec, ResolvedIdxSpec } from "./spec.ts";

/** A field of a data spec that names a file or folder, and its value. */
export interface DataPathField {
  /** The field's path in the run config, e.g. `data.path`. */
  field: string;
  /** The path as the spec has it. */
  path: string;
}

/**
 * The fields of `spec` that name files or folders: a CSV's `path` and `testPath`, an IDX set's
 * `dir` (its file names are inside it).
 *
 * @example
 * ```ts
 * import { dataPathFields } from "./paths.ts";
 * const fields = dataPathFields({ kind: "csv", path: "a.csv", testPath: "b.csv" } as never);
 * console.assert(fields.map((f) => f.field).join() === "data.path,data.testPath");
 * ```
 */
export function dataPathFields(spec: ResolvedDataSpec): DataPathField[] {
  if (spec.kind === "csv") {
    return [
      { field: "data.path", path: spec.path },
      ...(spec.testPath === undefined ? [] : [{ field: "data.testPath", path: spec.testPath }]),
    ];
  }
  if (spec.kind === "idx") return [{ field: "data.dir", path: spec.dir }];
  return [];
}

/**
 * Where an IDX file named in `data` is: a name (`trainImages`, ...) is a path relative to `dir`,
 * or an absolute path, which `dir` then does not change.
 *
 * @example
 * ```ts
 * import { idxFilePath } from "./paths.ts";
 * console.assert(idxFilePath("/data/mnist", "train.idx") === "/data/mnist/train.idx");
 * console.assert(idxFilePath("/data/mnist", "/elsewhere/train.idx") === "/elsewhere/train.idx");
 * ```
 */
export function idxFilePath(dir: string, name: string): string {
  return isAbsolute(name) ? name : join(dir, name);
}

/** An IDX spec's four files (two without a test split), as {@linkcode idxFilePath} finds them. */
function idxFiles(spec: ResolvedIdxSpec): string[] {
  return [spec.trainImages, spec.trainLabels, spec.testImages, spec.testLabels]
    .flatMap((name) => name === null ? [] : [idxFilePath(spec.dir, name)]);
}

/**
 * Every path loading `spec` may read, absolute (relative ones from the working directory): a
 * CSV's files; an IDX set's `dir` and its four files (and each one's name with `.gz` added or
 * removed, which the reader falls back to), which may lie outside `dir` (`../other/...`, an
 * absolute name). The data loader's Worker may read these and nothing else.
 *
 * @example
 * ```ts
 * import { dataReadPaths } from "./paths.ts";
 * const paths = dataReadPaths({ kind: "csv", path: "/d/a.csv" } as never);
 * console.assert(paths.join() === "/d/a.csv");
 * ```
 */
export function dataReadPaths(spec: ResolvedDataSpec): string[] {
  const fields = dataPathFields(spec).map(({ path }) => resolve(path));
  if (spec.kind !== "idx") return fields;
  const files = idxFiles(spec).flatMap((path) => {
    const file = resolve(path);
    return [file, file.endsWith(".gz") ? file.slice(0, -3) : `${file}.gz`];
  });
  return [...new Set([...fields, ...files])];
}

/**
 * `spec` with every file path absolute, a relative one resolved against `base` (the working
 * directory it was written for); other fields are left as they are.
 *
 * @example
 * ```ts
 * import { absoluteDataPaths } from "./paths.ts";
 * const spec = absoluteDataPaths({ kind: "csv", path: "data/a.csv" } as never, "/home/me");
 * console.assert((spec as { path: string }).path === "/home/me/data/a.csv");
 * ```
 */
export function absoluteDataPaths(spec: ResolvedDataSpec, base: string): ResolvedDataSpec {
  const absolute = (path: string) => isAbsolute(path) ? path : resolve(base, path);
  if (spec.kind === "csv") {
    return {
      ...spec,
      path: absolute(spec.path),
      ...(spec.testPath !== undefined && { testPath: absolute(spec.testPath) }),
    };
  }
  if (spec.kind === "idx") return { ...spec, dir: absolute(spec.dir) };
  return spec;
}
