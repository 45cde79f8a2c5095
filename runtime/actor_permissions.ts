/**
 * Least privilege for the actors: the Deno permissions each actor's Worker gets, narrower than
 * the process's. Deno accepts per-Worker permissions only when the process was started with
 * `--unstable-worker-options` (or a config with `"unstable": ["worker-options"]`); without it,
 * passing them ends the process (exit code 70), and no API tells a program which flags it got
 * (`/proc/self/cmdline` needs `--allow-all`). So narrowing is asked for explicitly: by
 * `TrainOptions.actorPermissions`, or by the environment variable {@linkcode PERMISSIONS_ENV}
 * that `deno task anneal` sets together with the flag. Otherwise the Workers inherit the
 * process's permissions, as they must for a module imported by URL.
 *
 * @module
 */
import { granted } from "./granted.ts";
import { resolve } from "node:path";
import type { ActorName } from "../actors/protocol.ts";
import type { RunConfig } from "../config.ts";
import { dataReadPaths } from "../data/paths.ts";
import { WASM_THREADS_ENV, wasmThreadsReadPaths } from "./wasm_threads_paths.ts";

/** Set to `narrow` (with `--unstable-worker-options`) to give each actor only what it needs. */
export const PERMISSIONS_ENV = "ANNEAL_ACTOR_PERMISSIONS";

/** Nothing at all: the default of every permission an actor is not given. */
const NONE = {
  read: false,
  write: false,
  net: false,
  env: false,
  sys: false,
  run: false,
  ffi: false,
  import: false,
} as const;

/**
 * Whether to narrow the actors' permissions: `requested` when given, else the environment
 * variable {@linkcode PERMISSIONS_ENV} is `narrow` (read only where env access to it is
 * already granted, so nobody is prompted).
 *
 * @example
 * ```ts
 * import { narrowActorPermissions } from "./actor_permissions.ts";
 * console.assert(narrowActorPermissions("inherit") === false);
 * ```
 */
export function narrowActorPermissions(requested?: "narrow" | "inherit"): boolean {
  if (requested !== undefined) return requested === "narrow";
  if (!granted({ name: "env", variable: PERMISSIONS_ENV })) return false;
  return Deno.env.get(PERMISSIONS_ENV) === "narrow";
}

/** Whether this process may read the machine's memory (`--allow-sys`, or its systemMemoryInfo). */
function memoryReadable(): boolean {
  return granted({ name: "sys", kind: "systemMemoryInfo" });
}

/**
 * The permissions of one actor's Worker: the data loader reads the data files; the trainer reads
 * tfjs's wasm binaries and the modules of its wasm threads ({@linkcode wasmThreadsReadPaths}) and
 * the thread-count variable, and writes nothing (the supervisor writes its checkpoints); on a
 * resume (`resumeDir`, the run's directory) it also reads the run's directory, for the checkpoint
 * it resumes from and the best epoch's from before the resume. A new run's trainer reads nothing
 * there, so that a run's Workers can be started before its directory is named (a sweep starts its
 * next trial's ahead). The scheduler, early stopper and clip monitor get nothing.
 *
 * @example
 * ```ts
 * import { actorPermissions } from "./actor_permissions.ts";
 * import { parseConfig } from "../config.ts";
 * const config = parseConfig({ data: { kind: "csv", path: "data.csv", target: "y" } });
 * const loader = actorPermissions("dataLoader", config);
 * console.assert(Array.isArray(loader.read) && loader.write === false && loader.net === false);
 * console.assert(actorPermissions("scheduler", config).read === false);
 * const resumed = actorPermissions("trainer", config, "runs/a").read as string[];
 * const fresh = actorPermissions("trainer", config).read as string[];
 * console.assert(resumed.length === fresh.length + 1);
 * ```
 */
export function actorPermissions(
  actor: ActorName,
  config: RunConfig,
  resumeDir?: string,
): Deno.PermissionOptionsObject {
  switch (actor) {
    case "dataLoader": {
      const paths = dataReadPaths(config.data);
      return { ...NONE, read: paths.length > 0 ? paths : false };
    }
    case "trainer":
      // Env: the one variable it reads, the wasm thread count override. Sys: the machine's
      // memory, against which a model too large for the cpu backend is refused before it is
      // built (where this process may read it: a Worker gets no more than its parent)
      return {
        ...NONE,
        read: [...(resumeDir === undefined ? [] : [resolve(resumeDir)]), ...wasmThreadsReadPaths()],
        env: [WASM_THREADS_ENV],
        sys: memoryReadable() ? ["systemMemoryInfo"] : false,
      };
    default:
      return NONE;
  }
}
