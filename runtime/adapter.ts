/**
 * The WebGPU adapter a thread finds, without tfjs: the trainer's backend choice asks it
 * (`backend.ts`); so does a run's supervisor under `auto`, once a process, where its thread was
 * chosen for it ({@linkcode findAdapterBeforeWorkers}: the CLI's main thread), and its trainer then
 * asks again only where the answer was a hardware adapter.
 *
 * @module
 */

/** What a WebGPU adapter says about itself. */
export interface AdapterInfo {
  /** The adapter's description string (may be empty). */
  description: string;
  /** GPU vendor, e.g. `nvidia`. */
  vendor: string;
  /** True for a software (fallback) adapter. */
  isFallbackAdapter: boolean;
}

/**
 * The first WebGPU adapter and its description, or undefined when there is none.
 *
 * @example
 * ```ts
 * import { probeWebGpu } from "./adapter.ts";
 * const probe = await probeWebGpu();
 * console.log(probe ? probe.info.description : "no WebGPU adapter");
 * ```
 */
export async function probeWebGpu(): Promise<
  { adapter: GPUAdapter; info: AdapterInfo } | undefined
> {
  const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
  if (!gpu) return undefined;
  adapterRequested = true;
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" })
    .catch(() => null);
  if (!adapter) return undefined;
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const legacy = (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return {
    adapter,
    info: {
      description: info.description || info.device || "unknown adapter",
      vendor: info.vendor || "unknown",
      isFallbackAdapter: Boolean(info.isFallbackAdapter ?? legacy),
    },
  };
}

/** Whether this thread asked `navigator.gpu` for an adapter ({@linkcode webGpuInstanceMade}). */
let adapterRequested = false;

/**
 * Whether this thread has asked `navigator.gpu` for an adapter, and so holds a WebGPU instance
 * (Vulkan's, on Linux) until it ends. Deno 2.9.6 tears that instance down as the thread ends: a
 * process that exited right after terminating such a Worker crashed now and then (a segfault or
 * glibc's "double free": 11 to 18 in 100 such processes with llvmpipe, `bench/webgpu_exit.ts`), so
 * whoever terminates it lets that finish first (`webGpuTeardowns` in `actor_workers.ts`).
 *
 * @example
 * ```ts
 * import { probeWebGpu, webGpuInstanceMade } from "./adapter.ts";
 * await probeWebGpu();
 * console.assert(webGpuInstanceMade() === ("gpu" in navigator));
 * ```
 */
export function webGpuInstanceMade(): boolean {
  return adapterRequested;
}

/**
 * Why WebGPU on this operating system is not verified (`os`: `Deno.build.os`), or undefined where
 * it is: on macOS Deno's WebGPU runs on Metal, and anneal's WGSL matrix products stage their tiles
 * in workgroup memory a vector component a thread, which WGSL lets an implementation store as a
 * read and write of the whole vector, so that threads storing components of one vector race;
 * Apple's compiler is reported to (tiles that came out mostly zeros). No Mac was at hand to
 * check: `auto` does not pick WebGPU there, and `--backend webgpu` says so.
 *
 * @example
 * ```ts
 * import { webGpuUnverified } from "./adapter.ts";
 * console.assert(webGpuUnverified("linux") === undefined);
 * console.assert(webGpuUnverified("darwin")?.includes("Metal"));
 * ```
 */
export function webGpuUnverified(os: string = Deno.build.os): string | undefined {
  return os === "darwin"
    ? "WebGPU on macOS (Metal) is not verified: its compiler may turn the WGSL kernels' stores " +
      "of single vector components into races (README, Backends)"
    : undefined;
}

/**
 * Why `auto` does not look for a WebGPU adapter for a model of this kind on this operating system
 * (`os`: `Deno.build.os`), or undefined where it does: not for a linear model, whose step is a
 * handful of tiny ops (WebGPU's fixed cost per dispatch and per read-back dominates it: on an
 * H100 9 ms a step against wasm's 1 ms), nor where {@linkcode webGpuUnverified} says WebGPU is
 * not verified.
 *
 * @example
 * ```ts
 * import { autoSkipsAdapter } from "./adapter.ts";
 * console.assert(autoSkipsAdapter("mlp", "linux") === undefined);
 * console.assert(autoSkipsAdapter("linear", "linux")?.includes("linear model"));
 * console.assert(autoSkipsAdapter("cnn", "darwin")?.includes("macOS"));
 * ```
 */
export function autoSkipsAdapter(
  modelKind: string | undefined,
  os: string = Deno.build.os,
): string | undefined {
  if (modelKind === "linear") return "a linear model is too small to gain from a GPU";
  return webGpuUnverified(os);
}

/** Whether `auto` looks for a WebGPU adapter for a model of this kind ({@linkcode autoSkipsAdapter}). */
export function autoLooksForAdapter(modelKind: string | undefined): boolean {
  return autoSkipsAdapter(modelKind) === undefined;
}

/**
 * Whether `auto`, told of the adapter another thread found (`seen`: null for none, undefined
 * where it was told nothing), looks for one itself: unless told of a software adapter or of none.
 * The trainer's choice (`backend.ts`) and the supervisor's count of its WebGPU instance both ask it.
 */
export function autoLooksItself(seen: AdapterInfo | null | undefined): boolean {
  return seen !== null && !seen?.isFallbackAdapter;
}

/** This thread's one search for an adapter ({@linkcode adapterForTrainers}). */
let searched: Promise<AdapterInfo | null | undefined> | undefined;
/** Whether runs started from this thread look for the adapter here first. */
let searchHere = false;

/**
 * Has the runs started from this thread look for the WebGPU adapter here, once, before their
 * trainers' Workers would (`auto`): a trainer told of no hardware adapter then takes wasm without
 * looking. Looking leaves a thread a WebGPU instance, which made a trainer's Worker ~60 ms slower
 * to start and must be torn down as the thread ends (the run waits 100 ms for it, see
 * `webGpuTeardowns`). For a thread that lives as long as its process, such as the CLI's main
 * thread (asking there crashed no exit: 0 of 90), not for one that may end before it: a Worker,
 * or a test file's thread under `deno test --parallel`, would then hold that teardown itself.
 *
 * @example
 * ```ts
 * import { adapterForTrainers, findAdapterBeforeWorkers } from "./adapter.ts";
 * console.assert(adapterForTrainers() === undefined, "not looked for by default");
 * findAdapterBeforeWorkers();
 * const found = await adapterForTrainers();
 * console.assert(found === await adapterForTrainers(), "looked for once");
 * ```
 */
export function findAdapterBeforeWorkers(): void {
  searchHere = true;
}

/**
 * How long a run waits for this thread's search before its trainer is left to look itself: a
 * driver that takes longer (or never answers) holds no run up.
 */
export const ADAPTER_WAIT_MS = 5_000;

/**
 * The adapter this thread found (null: none; undefined: the search failed, or took longer than
 * `waitMs`), looked for once and kept, where {@linkcode findAdapterBeforeWorkers} asked for it;
 * undefined otherwise (the trainer looks itself).
 */
export function adapterForTrainers(
  waitMs = ADAPTER_WAIT_MS,
): Promise<AdapterInfo | null | undefined> | undefined {
  if (!searchHere) return undefined;
  searched ??= probeWebGpu().then((probe) => probe?.info ?? null, () => undefined);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), waitMs);
  });
  return Promise.race([searched, late]).finally(() => clearTimeout(timer));
}
