/**
 * Chooses and initialises the TensorFlow.js backend a run trains on.
 *
 * - `auto` takes WebGPU when `navigator.gpu` offers a real (non-fallback) adapter, else wasm
 *   (XNNPACK, SIMD), else cpu. Software adapters such as Mesa's llvmpipe are fallback adapters:
 *   `auto` skips them, but `webgpu` may still be forced onto them.
 * - tfjs-backend-wasm 4.22 registers no `Conv2DBackpropFilter` (nor the depthwise backprops or
 *   `UnsortedSegmentSum`), so a convnet cannot be trained on it out of the box. We register those
 *   kernels for wasm by delegating to the cpu backend's kernel functions: the inputs are copied
 *   out of wasm memory, the cpu kernel runs, the result is copied back. The forward pass and all
 *   other gradients stay in wasm, so `auto` keeps wasm for convnets too.
 * - tfjs-backend-wasm multiplies transposed matrices (every dense layer's backward pass) in a
 *   plain single-threaded loop, 10-15x slower than its XNNPACK path: `wasm_matmul.ts` routes
 *   them to XNNPACK.
 * - A convnet's backward pass gets faster wasm kernels in front of those (each declines what it
 *   does not handle): `wasm_conv.ts` (both conv gradients on XNNPACK), `wasm_reduce.ts` (`Tile`,
 *   `Sum`, `Mean`), `wasm_pool.ts` (`MaxPoolGrad`), `wasm_identity.ts` (zero-copy `Identity`).
 * - wasm runs on one thread fewer than the machine has cores (so on 2 cores on one), recurrent
 *   models on one (`ANNEAL_WASM_THREADS` or `options.wasmThreads` overrides): tfjs itself turns threads off under Deno (`IS_NODE`), so
 *   `wasm_threads.ts` starts tfjs's threaded SIMD binary with Deno Workers as its pthreads. When
 *   that fails the reason is printed and the single-threaded SIMD binary (tfjs's Node build,
 *   read from its package folder with `fs`) is used.
 *
 * @module
 */

import { granted } from "./granted.ts";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { registerCpuTrainingKernels } from "./cpu_kernels.ts";
import { AnnealError } from "../errors.ts";
import {
  type AdapterInfo,
  autoLooksItself,
  autoSkipsAdapter,
  probeWebGpu,
  webGpuUnverified,
} from "./adapter.ts";
import { routeConvGradients } from "./wasm_conv.ts";
import { routeWinogradConv } from "./wasm_winograd.ts";
import { routeSimdTranspose } from "./wasm_transpose.ts";
import { registerWasmAdam } from "./wasm_adam.ts";
import { registerWasmSgd } from "./wasm_sgd.ts";
import { registerWasmRecurrentCells } from "./recurrent_cells.ts";
import { routeWebGpuFilterGradient, routeWebGpuSmallConv } from "./webgpu_conv.ts";
import { routeWebGpuMatMul } from "./webgpu_matmul.ts";
import { routeWebGpuMaxPool, routeWebGpuMaxPoolGrad } from "./webgpu_pool.ts";
import { routeWebGpuRelu } from "./webgpu_relu.ts";
import { routeReluGradient } from "./wasm_relu.ts";
import { routeSharedIdentity } from "./wasm_identity.ts";
import { routeTransposedMatMul } from "./wasm_matmul.ts";
import { routeGemmFusedMatMul } from "./wasm_gemm.ts";
import { relaxedSimd } from "./wasm_simd/pool_layout.ts";
import { kernelPool, startKernelPool } from "./wasm_simd/pool.ts";
import { routeMaxPool, routeMaxPoolGrad } from "./wasm_pool.ts";
import { routeBroadcastReductions } from "./wasm_reduce.ts";
import {
  pthreadsUnavailable,
  registerWasm,
  WASM_THREADS_ENV,
  wasmThreadsInUse,
  wasmThreadsWanted,
} from "./wasm_threads.ts";

export { type AdapterInfo, probeWebGpu, webGpuInstanceMade } from "./adapter.ts";

/** The backend a user may ask for. */
export type BackendRequest = "auto" | "webgpu" | "wasm" | "cpu";

/** Settings of the backends beyond which one to use. */
export interface BackendOptions {
  /**
   * Threads for the wasm backend (1 = the single-threaded binary). Default: the environment
   * variable `ANNEAL_WASM_THREADS`, else the number of cores less one (at least 1, at most 8; 1
   * for rnn models).
   */
  wasmThreads?: number;
  /**
   * Under `auto`: the adapter another thread of this process found (null: none), as the
   * supervisor passes it to the trainer (`adapterForTrainers` in `adapter.ts`). Where it is no
   * hardware adapter, `auto` takes wasm without asking `navigator.gpu` itself (which would leave
   * this thread a WebGPU instance to tear down as it ends); where it is one, or absent, `auto`
   * asks.
   */
  seenAdapter?: AdapterInfo | null;
}

/** The backend that was initialised, the adapter it runs on (WebGPU) and why it was chosen. */
export interface BackendSelection {
  /** tfjs backend name: `webgpu`, `wasm` or `cpu`. */
  backend: string;
  /** The WebGPU adapter, when `backend` is `webgpu`. */
  adapter?: AdapterInfo;
  /** Why this backend was chosen (or why a request fell back). */
  reason: string;
}

/**
 * Kernels missing from tfjs-backend-wasm 4.22 that training may need and that run on the cpu
 * kernels (`Conv2DBackpropFilter`, the one convnets need, gets a fast wasm implementation).
 */
export const WASM_DELEGATED_KERNELS: readonly string[] = [
  "DepthwiseConv2dNativeBackpropFilter",
  "DepthwiseConv2dNativeBackpropInput",
  "UnsortedSegmentSum",
];

/**
 * Initialises the requested backend and makes it current. `modelKind` only adds detail to the
 * reason (every model kind can train on every backend).
 *
 * @example
 * ```ts
 * import { selectBackend } from "./backend.ts";
 * const selection = await selectBackend("cpu");
 * console.assert(selection.backend === "cpu");
 * ```
 */
export async function selectBackend(
  requested: BackendRequest,
  modelKind?: string,
  options: BackendOptions = {},
): Promise<BackendSelection> {
  switch (requested) {
    case "cpu":
      await useCpu();
      return { backend: "cpu", reason: "requested cpu" };
    case "wasm":
      return { backend: "wasm", reason: `requested wasm; ${await useWasm(modelKind, options)}` };
    case "webgpu": {
      const unverified = webGpuUnverified();
      const reason = `requested webgpu${unverified ? ` (${unverified})` : ""}`;
      return await useWebGpu(await requireAdapter(), reason);
    }
    case "auto":
      return await selectAuto(modelKind, options);
    default:
      throw new AnnealError(
        "config",
        `Cannot select backend: '${requested}' is not one of auto, webgpu, wasm, cpu`,
        { where: "backend", hint: "use --backend auto (or webgpu, wasm, cpu)" },
      );
  }
}

async function selectAuto(
  modelKind: string | undefined,
  options: BackendOptions,
): Promise<BackendSelection> {
  const skipped = autoSkipsAdapter(modelKind);
  if (skipped) {
    return { backend: "wasm", reason: `auto: ${skipped}; ${await useWasm(modelKind, options)}` };
  }
  const seen = options.seenAdapter;
  const probe = autoLooksItself(seen) ? await probeWebGpu() : seen && { info: seen };
  if (probe && !probe.info.isFallbackAdapter) {
    try {
      return await useWebGpu(probe, `auto: WebGPU adapter '${probe.info.description}'`);
    } catch {
      // fall through to wasm: a broken driver should not stop a run
    }
  }
  const why = probe
    ? `the only WebGPU adapter ('${probe.info.description}') is a software fallback`
    : "no WebGPU adapter";
  try {
    return { backend: "wasm", reason: `auto: ${why}; ${await useWasm(modelKind, options)}` };
  } catch (error) {
    await useCpu();
    const detail = error instanceof Error ? error.message : String(error);
    return { backend: "cpu", reason: `auto: ${why}; wasm failed to start (${detail})` };
  }
}

/**
 * Deno's variable that names the graphics APIs its WebGPU looks for adapters on (wgpu's list:
 * vulkan, gl, metal, dx12); where it is set, every other API is left out, and a name wgpu does not
 * know is left out too (`garbage`: no API, no adapter).
 */
const WEBGPU_BACKEND_ENV = "DENO_WEBGPU_BACKEND";

/** The other backends, as a hint gives them (a command without --backend takes --set). */
const OTHER_BACKENDS = "train on auto, wasm or cpu (--backend auto, or --set backend=auto where " +
  "a command has no --backend; for anneal worker, the study's config)";

async function requireAdapter(): Promise<{ adapter: GPUAdapter; info: AdapterInfo }> {
  const probe = await probeWebGpu();
  if (probe) return probe;
  const hasApi = Boolean((globalThis.navigator as { gpu?: GPU } | undefined)?.gpu);
  // (a driver is no help where the variable hid it: the variable is the fix)
  const apis = hasApi && granted({ name: "env", variable: WEBGPU_BACKEND_ENV })
    ? Deno.env.get(WEBGPU_BACKEND_ENV)
    : undefined;
  throw new AnnealError(
    "backend",
    hasApi
      ? "Cannot use the webgpu backend: navigator.gpu.requestAdapter() found no adapter" + (
        apis === undefined
          ? ""
          : ` (${WEBGPU_BACKEND_ENV} is '${apis}': Deno looks only on the graphics APIs it names)`
      )
      : "Cannot use the webgpu backend: this runtime has no navigator.gpu",
    {
      where: "backend",
      // (lr-find, batch-size and sweep take no --backend: the config's field is set there)
      hint: apis !== undefined
        ? `unset ${WEBGPU_BACKEND_ENV}, or set it to APIs this machine has (vulkan, gl, metal ` +
          `or dx12, comma-separated); or ${OTHER_BACKENDS}`
        : `${OTHER_BACKENDS}; for WebGPU install a Vulkan, Metal or DX12 driver, or on Linux ` +
          "Mesa's (mesa-vulkan-drivers; or libegl-mesa0 and libgl1-mesa-dri, whose GL gives " +
          "llvmpipe, a software adapter)",
    },
  );
}

async function useWebGpu(
  probe: { info: AdapterInfo },
  reason: string,
): Promise<BackendSelection> {
  await import("npm:@tensorflow/tfjs-backend-webgpu@4.22.0");
  // A backend started before (a Worker that kept its device for the next run) whose device was
  // lost since (destroyed, or the GPU reset) is ended: a new one, with a new device, replaces it.
  const before = webGpuBackend()?.device;
  if (before && lostDevices.has(before)) await releaseWebGpu();
  if (!(await tf.setBackend("webgpu"))) {
    throw new AnnealError(
      "backend",
      `Cannot use the webgpu backend: initialising it on '${probe.info.description}' failed`,
      { where: "backend", hint: "use --backend wasm or cpu, or update the GPU driver" },
    );
  }
  await tf.ready();
  const device = webGpuBackend()?.device;
  if (device && !watchedDevices.has(device)) {
    watchedDevices.add(device);
    device.lost.then(() => lostDevices.add(device));
    device.addEventListener("uncapturederror", (event) => {
      if (!deviceErrors.has(device)) {
        deviceErrors.set(device, (event as GPUUncapturedErrorEvent).error);
      }
    });
  }
  // (a run on a device a run before kept, a sweep's next trial: none of that run's errors)
  if (device) deviceErrors.delete(device);
  routeWebGpuSmallConv();
  routeWebGpuFilterGradient();
  routeWebGpuMatMul();
  routeWebGpuMaxPoolGrad();
  routeWebGpuMaxPool();
  routeWebGpuRelu();
  softwareAdapter = probe.info.isFallbackAdapter;
  const fallback = probe.info.isFallbackAdapter ? " (software fallback adapter: slow)" : "";
  return { backend: "webgpu", adapter: probe.info, reason: reason + fallback };
}

/** Whether the webgpu backend last started runs on a software adapter (llvmpipe). */
let softwareAdapter = false;
/** The devices of tfjs's WebGPU backends whose loss is watched for, and those lost. */
const watchedDevices = new WeakSet<GPUDevice>();
const lostDevices = new WeakSet<GPUDevice>();
/**
 * The first error WebGPU raised on each of those devices outside an error scope, until
 * {@linkcode takeWebGpuError} takes it: a command it rejected (a limit of the GPU passed), or
 * memory it could not give. WebGPU says so only in an `uncapturederror` event, which nothing
 * hears by default; the commands do nothing, and what is read after them is whatever their
 * buffers held.
 */
const deviceErrors = new WeakMap<GPUDevice, GPUError>();

/**
 * The first error WebGPU raised on the webgpu backend's device since the last call, as an
 * {@linkcode AnnealError} (`backend`) that says what it was and what to do; undefined where none
 * was (or no WebGPU backend runs). The engine asks after each read-back: the values read are
 * then not the model's, and the run stops on them rather than train on.
 *
 * @example
 * ```ts
 * import { takeWebGpuError } from "./backend.ts";
 * console.assert(takeWebGpuError() === undefined); // (no WebGPU backend started here)
 * ```
 */
export function takeWebGpuError(): AnnealError | undefined {
  const device = tf.getBackend() === "webgpu" ? webGpuBackend()?.device : undefined;
  const error = device && deviceErrors.get(device);
  if (!device || !error) return undefined;
  deviceErrors.delete(device);
  if (error.constructor.name === "GPUOutOfMemoryError") {
    return new AnnealError("backend", `WebGPU ran out of the GPU's memory: ${error.message}`, {
      where: "webgpu",
      hint: "use a smaller batchSize or model (anneal batch-size -c CONFIG lists what fits), " +
        "or train with --backend wasm",
    });
  }
  return new AnnealError(
    "backend",
    `WebGPU rejected a command, so the values read since are not the model's: ${error.message}`,
    {
      where: "webgpu",
      hint: "a limit of this GPU that anneal does not check, or a bug: please report it with " +
        "this message; meanwhile train with --backend wasm, or, where the run took the WGSL " +
        "step (modelPath 'wgsl' in meta.json), with fusedModel: false (tfjs's kernels)",
    },
  );
}

/**
 * The refusal of a model one of whose weights is larger than `limit` bytes, what the WebGPU device
 * binds in one buffer (`maxStorageBufferBindingSize`: 128 MiB on llvmpipe and by WebGPU's
 * default); undefined where every weight fits. Such a weight (and its gradient, and the
 * optimizer's state of it) is bound whole by every kernel that reads it: each of those dispatches
 * would be rejected, and the run fail at its first read-back with WebGPU's own message.
 *
 * @example
 * ```ts
 * import { oversizedWeight } from "./backend.ts";
 * const weights = [{ name: "dense0/kernel", shape: [6000, 6000] }, { name: "dense0/bias", shape: [6000] }];
 * console.assert(oversizedWeight(weights, 128 * 2 ** 20)?.message.includes("dense0/kernel"));
 * console.assert(oversizedWeight(weights, 256 * 2 ** 20) === undefined);
 * ```
 */
export function oversizedWeight(
  weights: readonly { name: string; shape: readonly number[] }[],
  limit: number,
): AnnealError | undefined {
  const mib = (bytes: number) => `${Number((bytes / 2 ** 20).toPrecision(4))} MiB`;
  for (const { name, shape } of weights) {
    const bytes = 4 * shape.reduce((a, b) => a * b, 1);
    if (bytes <= limit) continue;
    return new AnnealError(
      "config",
      `Cannot train on WebGPU: the weights ${name} [${shape.join(", ")}] take ${mib(bytes)}, ` +
        `more than this GPU binds in one buffer (its maxStorageBufferBindingSize, ${
          mib(limit)
        }); ` +
        "their gradient and optimizer state are as large",
      {
        where: "model",
        hint: "make that layer smaller (model.hidden, model.filters, model.dense or " +
          "model.units), or train with --backend wasm, which has no such limit",
      },
    );
  }
  return undefined;
}

/** What this process's tfjs WebGPU device binds in one buffer; undefined off WebGPU. */
export function webGpuBindingLimit(): number | undefined {
  return tf.getBackend() === "webgpu"
    ? webGpuBackend()?.device?.limits.maxStorageBufferBindingSize
    : undefined;
}

/** What anneal reads of tfjs's WebGPU backend: its device, and the buffers it pools for reuse. */
interface WebGpuBackendParts {
  device?: GPUDevice;
  bufferManager?: {
    freeBuffers: Map<string, GPUBuffer[]>;
    numFreeBuffers: number;
    numBytesAllocated: number;
  };
}

/** tfjs's WebGPU backend, where one was started (current or not). */
function webGpuBackend(): WebGpuBackendParts | undefined {
  const engine = tf.engine() as unknown as { registry: Record<string, WebGpuBackendParts> };
  return engine.registry["webgpu"];
}

/**
 * Whether tfjs's webgpu backend runs on a software fallback adapter (Mesa's llvmpipe on CPU-only
 * machines), where GPU work is CPU work: what is cheap on a GPU may not be there.
 */
export function webGpuIsSoftware(): boolean {
  return tf.getBackend() === "webgpu" && softwareAdapter;
}

/**
 * Ends tfjs's WebGPU backend, if one was started: waits for the GPU's queued work, frees the
 * backend's buffers and destroys its device, then makes the cpu backend current. A later
 * `selectBackend("webgpu")` starts a new one. For a process that used WebGPU and goes on with
 * other work, or ends: native teardown with a device still alive has crashed processes at exit
 * (a real GPU, and at times llvmpipe with several devices left in one test process).
 *
 * @example
 * ```ts ignore
 * import { releaseWebGpu, selectBackend } from "./backend.ts";
 * await selectBackend("webgpu");
 * await releaseWebGpu();
 * ```
 */
export async function releaseWebGpu(): Promise<void> {
  const backend = webGpuBackend();
  if (!backend) return;
  const engine = tf.engine() as unknown as {
    registryFactory: Record<
      string,
      { factory: () => tf.KernelBackend | Promise<tf.KernelBackend>; priority: number }
    >;
  };
  const factory = engine.registryFactory["webgpu"];
  const device = backend.device;
  await device?.queue.onSubmittedWorkDone();
  if (tf.getBackend() === "webgpu") await useCpu();
  tf.removeBackend("webgpu"); // frees the backend's buffers (and forgets its factory)
  device?.destroy();
  if (factory) tf.registerBackend("webgpu", factory.factory, factory.priority);
}

/**
 * Frees the GPU buffers tfjs's WebGPU backend pools for reuse (those no tensor holds), once the
 * GPU's queued work is done, and keeps the backend and its device: a Worker that keeps its device
 * from run to run (a sweep's trials of other shapes) would pool every run's sizes.
 *
 * @example
 * ```ts
 * import { trimWebGpuBuffers } from "./backend.ts";
 * await trimWebGpuBuffers(); // (no WebGPU backend started here: nothing to do)
 * ```
 */
export async function trimWebGpuBuffers(): Promise<void> {
  const backend = webGpuBackend();
  const manager = backend?.bufferManager;
  if (!manager) return;
  await backend.device?.queue.onSubmittedWorkDone();
  // (each size's list is emptied, not removed: tfjs pools nothing once the map itself is empty)
  for (const buffers of manager.freeBuffers.values()) {
    for (const buffer of buffers.splice(0)) {
      manager.numBytesAllocated -= buffer.size;
      buffer.destroy();
    }
  }
  manager.numFreeBuffers = 0;
}

async function useCpu(): Promise<void> {
  await import("npm:@tensorflow/tfjs-backend-cpu@4.22.0");
  if (!(await tf.setBackend("cpu"))) {
    throw new AnnealError("backend", "Cannot use the cpu backend: it failed to initialise", {
      where: "backend",
      hint: "reinstall the npm dependencies (deno install) and retry",
    });
  }
  quietCpuBackend();
  registerCpuTrainingKernels();
}

/**
 * Starts wasm (threaded when more than one thread is wanted and that starts; else the
 * single-threaded binary, saying why), registers the delegated training kernels and says which
 * binary runs.
 */
async function useWasm(modelKind: string | undefined, options: BackendOptions): Promise<string> {
  await import("npm:@tensorflow/tfjs-backend-cpu@4.22.0");
  await import("npm:@tensorflow/tfjs-backend-wasm@4.22.0");
  let wanted = wasmThreadsWanted(options.wasmThreads, modelKind);
  let fallback = "";
  const unavailable = wanted > 1 ? pthreadsUnavailable() : undefined;
  if (unavailable) {
    // Expected in a Worker given narrow permissions: say so in the reason, not as a failure.
    fallback = ` (${unavailable})`;
    wanted = 1;
  }
  try {
    await registerWasm(wanted);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    console.error(
      `anneal: ${detail}; training on one thread (set ${WASM_THREADS_ENV}=1 to skip the attempt)`,
    );
    fallback = ` (threads unavailable: ${detail})`;
    await registerWasm(1);
  }
  if (!(await tf.setBackend("wasm"))) {
    // (a process without read access to the package's files, as a module user's imported by
    // URL, has them in Deno's npm cache; the wasm module's own error goes to stderr only)
    const readable = granted({ name: "read" });
    throw new AnnealError("backend", "Cannot use the wasm backend: its module failed to load", {
      where: "backend",
      hint: readable
        ? "check that node_modules/@tensorflow/tfjs-backend-wasm/dist holds the .wasm " +
          "files (deno install), or use the cpu backend (--backend cpu; config `backend`: " +
          '"cpu")'
        : "the process may lack read access to tfjs-backend-wasm's .wasm files (in " +
          "node_modules/@tensorflow/tfjs-backend-wasm/dist, or in Deno's npm cache, " +
          "$DENO_DIR/npm, ~/.cache/deno/npm by default): run it with --allow-read for that " +
          'directory, or use the cpu backend (config `backend`: "cpu")',
    });
  }
  quietCpuBackend();
  const delegated = registerWasmTrainingKernels();
  const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
  const threads = wasmThreadsInUse();
  if (threads > 1 && !kernelPool(tf.backend())) {
    try {
      await startKernelPool(tf.backend(), threads);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      console.error(`anneal: ${detail}; anneal's own kernels run on one thread`);
      fallback += ` (anneal's kernels on one thread: ${detail})`;
    }
  }
  const binary = `${simd ? "SIMD" : "no SIMD"}, ${
    threads > 1 ? `${threads} threads` : "single-threaded"
  }${fallback}`;
  const conv = modelKind === "cnn"
    ? `; conv, pooling and batch-norm gradients on anneal's wasm kernels (matrix products on anneal's gemm${
      relaxedSimd() ? " with fused multiply-adds" : ""
    }, XNNPACK for the rest; ${delegated.length} missing kernels added)`
    : "";
  return `wasm (${binary})${conv}`;
}

/**
 * Registers the training kernels tfjs-backend-wasm lacks (once): `Conv2DBackpropFilter` built
 * from wasm ops, and {@linkcode WASM_DELEGATED_KERNELS} run on the cpu kernels; and sends
 * transposed matrix products (the backward pass of every dense layer) to XNNPACK instead of
 * tfjs's single-threaded loop (`wasm_matmul.ts`). Returns the names of the kernels now available.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { registerWasmTrainingKernels, selectBackend } from "./backend.ts";
 * await selectBackend("wasm");
 * registerWasmTrainingKernels();
 * console.assert(tf.getKernel("Conv2DBackpropFilter", "wasm") !== undefined);
 * ```
 */
export function registerWasmTrainingKernels(): string[] {
  routeTransposedMatMul();
  routeGemmFusedMatMul();
  if (!tf.getKernel("Conv2DBackpropFilter", "wasm")) {
    tf.registerKernel({
      kernelName: "Conv2DBackpropFilter",
      backendName: "wasm",
      kernelFunc: conv2dFilterGrad,
    });
  }
  for (const name of WASM_DELEGATED_KERNELS) {
    if (tf.getKernel(name, "wasm") || !tf.getKernel(name, "cpu")) continue;
    tf.registerKernel({ kernelName: name, backendName: "wasm", kernelFunc: delegateToCpu(name) });
  }
  // In front of the kernels above (which still run the cases these decline): XNNPACK versions.
  routeConvGradients();
  routeWinogradConv();
  routeSimdTranspose();
  registerWasmAdam();
  registerWasmSgd();
  registerWasmRecurrentCells();
  routeBroadcastReductions();
  routeMaxPoolGrad();
  routeMaxPool();
  routeSharedIdentity();
  routeReluGradient();
  return ["Conv2DBackpropFilter", ...WASM_DELEGATED_KERNELS].filter((name) =>
    tf.getKernel(name, "wasm") !== undefined
  );
}

/**
 * dL/dfilter of an NHWC convolution as one matrix product per filter tap: for tap (i, j) the
 * strided window of the padded input, [batch*outH*outW, inC], transposed times dy
 * [batch*outH*outW, outC]. Runs on wasm's XNNPACK matmul instead of the cpu kernel's loops.
 */
const conv2dFilterGrad: tf.KernelFunc = ({ inputs, attrs, backend }) => {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (a.dataFormat === "NCHW") {
    return delegateToCpu("Conv2DBackpropFilter")({ inputs, attrs, backend });
  }
  const engine = tf.engine();
  const wasm = backend as unknown as DataBackend;
  // A tensor wrapping a kernel input owns one reference to its buffer; take it before wrapping.
  const wrap = (info: tf.TensorInfo) => {
    wasm.incRef(info.dataId);
    return engine.makeTensorFromTensorInfo(info);
  };
  const grad = tf.tidy(() => {
    const conv = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      a.filterShape,
      a.strides,
      1,
      a.pad,
      a.dimRoundingMode,
    );
    const { top, bottom, left, right } = conv.padInfo;
    const [kh, kw, inC, outC] = a.filterShape;
    const rows = conv.batchSize * conv.outHeight * conv.outWidth;
    const padded = tf.pad(wrap(x), [
      [0, 0],
      [top, bottom],
      [left, right],
      [
        0,
        0,
      ],
    ]);
    const dy2 = tf.reshape(wrap(dy), [rows, outC]);
    const taps: tf.Tensor[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const end = [
          conv.batchSize,
          i + (conv.outHeight - 1) * conv.strideHeight + 1,
          j + (conv.outWidth - 1) * conv.strideWidth + 1,
          inC,
        ];
        const window = tf.stridedSlice(padded, [0, i, j, 0], end, [
          1,
          conv.strideHeight,
          conv.strideWidth,
          1,
        ]);
        taps.push(tf.matMul(tf.reshape(window, [rows, inC]), dy2, true, false));
      }
    }
    return tf.reshape(tf.stack(taps), a.filterShape);
  });
  // Copy into a fresh buffer owned by this kernel's output (filter-sized, so cheap).
  const dataId = wasm.write(grad.dataSync(), grad.shape, grad.dtype);
  const output = { dataId, shape: grad.shape, dtype: grad.dtype };
  grad.dispose();
  return output;
};

interface DataBackend {
  readSync(dataId: object): tf.backend_util.BackendValues;
  write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): object;
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
}

/** A wasm kernel that copies its inputs to the cpu backend, runs the cpu kernel, copies back. */
function delegateToCpu(name: string): tf.KernelFunc {
  const cpuKernel = tf.getKernel(name, "cpu")!;
  return ({ inputs, attrs, backend }) => {
    const wasm = backend as unknown as DataBackend;
    const cpu = tf.findBackend("cpu") as unknown as DataBackend;
    const cpuInputs: Record<string, tf.TensorInfo> = {};
    for (const [key, info] of Object.entries(inputs)) {
      if (!info) continue;
      const dataId = cpu.write(wasm.readSync(info.dataId), info.shape, info.dtype);
      cpuInputs[key] = { dataId, shape: info.shape, dtype: info.dtype };
    }
    try {
      const out = cpuKernel.kernelFunc({
        inputs: cpuInputs,
        attrs,
        backend: cpu as unknown as tf.KernelBackend,
      });
      const back = (info: tf.TensorInfo): tf.TensorInfo => {
        const values = cpu.readSync(info.dataId);
        cpu.disposeData(info.dataId, true);
        return {
          dataId: wasm.write(values, info.shape, info.dtype),
          shape: info.shape,
          dtype: info.dtype,
        };
      };
      return Array.isArray(out) ? out.map(back) : back(out);
    } finally {
      for (const info of Object.values(cpuInputs)) cpu.disposeData(info.dataId, true);
    }
  };
}

/** tfjs-backend-cpu prints a "use tfjs-node" banner on first use under Deno; not useful here. */
function quietCpuBackend(): void {
  const cpu = tf.findBackend("cpu") as { firstUse?: boolean } | null;
  if (cpu) cpu.firstUse = false;
}
