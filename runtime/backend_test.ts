import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { AnnealError } from "../errors.ts";
import { buildModel } from "../models/build.ts";
import { forward } from "../models/forward.ts";
import { lossFunction } from "../models/losses.ts";
import { namedWeights } from "../models/names.ts";
import type { ModelSpec } from "../models/spec.ts";
import {
  oversizedWeight,
  probeWebGpu,
  registerWasmTrainingKernels,
  releaseWebGpu,
  selectBackend,
  trimWebGpuBuffers,
} from "./backend.ts";
import {
  adapterForTrainers,
  autoLooksForAdapter,
  autoSkipsAdapter,
  findAdapterBeforeWorkers,
  webGpuUnverified,
} from "./adapter.ts";
import { TrainingEngine } from "./engine.ts";
import { runKernel } from "./dense/_parity.ts";
import { parseConfig } from "../config.ts";
import { train } from "./supervisor.ts";

/** Runs `f` with `navigator.gpu` replaced by `gpu`, then restores it. */
async function withGpu<T>(gpu: unknown, f: () => Promise<T>): Promise<T> {
  const original = Object.getOwnPropertyDescriptor(navigator, "gpu");
  Object.defineProperty(navigator, "gpu", { value: gpu, configurable: true });
  try {
    return await f();
  } finally {
    if (original) Object.defineProperty(navigator, "gpu", original);
    else delete (navigator as { gpu?: unknown }).gpu;
  }
}

Deno.test("cpu is initialised and made current when requested", async () => {
  const selection = await selectBackend("cpu");
  assert.equal(selection.backend, "cpu");
  assert.equal(tf.getBackend(), "cpu");
});

Deno.test("wasm starts with its SIMD binary and the missing training kernels", async () => {
  const selection = await selectBackend("wasm", "cnn");
  assert.equal(selection.backend, "wasm");
  assert.equal(tf.getBackend(), "wasm");
  assert.equal(await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT"), true);
  assert.match(selection.reason, /SIMD/);
  assert.ok(registerWasmTrainingKernels().includes("Conv2DBackpropFilter"));
});

Deno.test("wasm's conv filter gradient equals the cpu kernel's", async () => {
  const configs = [
    { x: [2, 7, 6, 3], f: [3, 3, 3, 4], strides: 1, pad: "same" },
    { x: [2, 7, 6, 3], f: [3, 2, 3, 4], strides: 2, pad: "same" },
    { x: [1, 9, 8, 2], f: [3, 3, 2, 5], strides: [2, 1], pad: "valid" },
    { x: [3, 5, 5, 1], f: [1, 1, 1, 2], strides: 1, pad: 1 },
  ] as const;
  for (const c of configs) {
    const filterGrad = () =>
      tf.tidy(() => {
        const x = tf.randomNormal([...c.x], 0, 1, "float32", 1) as tf.Tensor4D;
        const w = tf.randomNormal([...c.f], 0, 1, "float32", 2) as tf.Tensor4D;
        const loss = (f: tf.Tensor) =>
          tf.sum(tf.square(tf.conv2d(x, f as tf.Tensor4D, c.strides as [number, number], c.pad)));
        return Array.from(tf.grad(loss)(w).dataSync());
      });
    await selectBackend("cpu");
    const expected = filterGrad();
    await selectBackend("wasm");
    const actual = filterGrad();
    assert.equal(actual.length, expected.length);
    actual.forEach((v, i) =>
      assert.ok(
        Math.abs(v - expected[i]) < 1e-3 * Math.max(1, Math.abs(expected[i])),
        JSON.stringify(c),
      )
    );
  }
});

/** Losses of `steps` plain SGD steps on a tiny convnet, on the current backend. */
function trainConvnet(steps: number, lr: number): { losses: number[]; leaked: number } {
  const model = buildModel({ kind: "cnn", filters: [4, 8], dense: [8] }, {
    inputShape: [8, 8, 1],
    outputUnits: 3,
  }, 1);
  const x = tf.randomNormal([6, 8, 8, 1], 0, 1, "float32", 4);
  const y = tf.tensor1d([0, 1, 2, 0, 1, 2]);
  const params = namedWeights(model).filter((w) => w.trainable).map((w) => w.variable);
  const step = () => {
    const { value, grads } = tf.variableGrads(
      () => lossFunction("crossEntropy")(forward(model, x, true), y),
      params,
    );
    tf.tidy(() => params.forEach((p) => p.assign(tf.sub(p, tf.mul(lr, grads[p.name])))));
    const loss = value.dataSync()[0];
    tf.dispose([value, ...Object.values(grads)]);
    return loss;
  };
  const losses = [step()];
  const tensors = tf.memory().numTensors;
  while (losses.length < steps) losses.push(step());
  const leaked = tf.memory().numTensors - tensors;
  tf.dispose([x, y]);
  model.dispose();
  return { losses, leaked };
}

Deno.test("a convnet trains on wasm as on cpu, without leaking tensors", async () => {
  await selectBackend("cpu");
  const cpu = trainConvnet(6, 0.1);
  await selectBackend("wasm", "cnn");
  const wasm = trainConvnet(6, 0.1);
  assert.equal(wasm.leaked, 0);
  wasm.losses.forEach((loss, i) =>
    assert.ok(Math.abs(loss - cpu.losses[i]) < 1e-3, `${wasm.losses} vs ${cpu.losses}`)
  );
  assert.ok(wasm.losses[5] < wasm.losses[0], `losses ${wasm.losses}`);
});

Deno.test("auto looks for no WebGPU adapter for a linear model, nor on macOS, where WebGPU (Metal) is not verified: each says why", () => {
  assert.equal(autoSkipsAdapter("mlp", "linux"), undefined);
  assert.equal(autoSkipsAdapter(undefined, "windows"), undefined);
  assert.equal(
    autoSkipsAdapter("linear", "linux"),
    "a linear model is too small to gain from a GPU",
  );
  for (const kind of ["mlp", "cnn", "rnn"]) {
    assert.match(
      autoSkipsAdapter(kind, "darwin") ?? "",
      /^WebGPU on macOS \(Metal\) is not verified/,
    );
  }
  assert.equal(webGpuUnverified("linux"), undefined);
  assert.equal(autoLooksForAdapter("mlp"), Deno.build.os !== "darwin");
});

Deno.test("auto skips a fallback WebGPU adapter", async () => {
  const fallback = {
    requestAdapter: () =>
      Promise.resolve({
        info: { description: "software", vendor: "mesa", isFallbackAdapter: true },
      }),
  };
  const selection = await withGpu(fallback, () => selectBackend("auto", "mlp"));
  assert.equal(selection.backend, "wasm");
  assert.match(selection.reason, /software fallback/);
});

Deno.test("auto told of another thread's adapter asks navigator.gpu itself only where that was a hardware one (or none was told)", async () => {
  let asked = 0;
  const gpu = {
    requestAdapter: () => {
      asked++;
      return Promise.resolve({
        info: { description: "asked here", vendor: "mesa", isFallbackAdapter: true },
      });
    },
  };
  const seen = (isFallbackAdapter: boolean) => ({
    description: "seen elsewhere",
    vendor: "test",
    isFallbackAdapter,
  });
  const cases = [
    [seen(true), 0, /the only WebGPU adapter \('seen elsewhere'\) is a software fallback/],
    [null, 0, /auto: no WebGPU adapter; wasm/],
    [seen(false), 1, /the only WebGPU adapter \('asked here'\) is a software fallback/],
    [undefined, 1, /the only WebGPU adapter \('asked here'\) is a software fallback/],
  ] as const;
  for (const [seenAdapter, asks, reason] of cases) {
    asked = 0;
    const selection = await withGpu(gpu, () => selectBackend("auto", "mlp", { seenAdapter }));
    assert.equal(selection.backend, "wasm");
    assert.equal(asked, asks, JSON.stringify(seenAdapter));
    assert.match(selection.reason, reason);
  }
});

Deno.test("a run waits for its thread's adapter search at most waitMs, then leaves its trainer to look", async () => {
  assert.equal(adapterForTrainers(), undefined, "not looked for unless asked");
  findAdapterBeforeWorkers();
  // (a driver that never answers: the search stays pending, the run goes on without it)
  const never = { requestAdapter: () => new Promise<never>(() => {}) };
  assert.equal(await withGpu(never, () => adapterForTrainers(50)!), undefined);
});

Deno.test("auto does not pick this machine's adapter when it is a fallback", async () => {
  const probe = await probeWebGpu();
  const selection = await selectBackend("auto");
  if (!probe || probe.info.isFallbackAdapter) assert.notEqual(selection.backend, "webgpu");
  else assert.equal(selection.backend, "webgpu");
});

Deno.test("forcing webgpu without an adapter fails with a backend error and a hint", async () => {
  for (const gpu of [{ requestAdapter: () => Promise.resolve(null) }, undefined]) {
    await assert.rejects(
      withGpu(gpu, () => selectBackend("webgpu")),
      // (lr-find, batch-size and sweep have no --backend: the hint gives --set's too; and Mesa's
      // GL, which gives llvmpipe on a machine without Vulkan)
      (e) =>
        e instanceof AnnealError && e.code === "backend" &&
        /--backend auto, or --set backend=auto where a command has no --backend/.test(
          e.hint ?? "",
        ) && /libegl-mesa0 and libgl1-mesa-dri/.test(e.hint ?? ""),
    );
  }
});

Deno.test("forcing webgpu where DENO_WEBGPU_BACKEND hid every adapter names the variable, not a driver to install", async () => {
  const before = Deno.env.get("DENO_WEBGPU_BACKEND");
  Deno.env.set("DENO_WEBGPU_BACKEND", "garbage");
  try {
    await assert.rejects(
      withGpu({ requestAdapter: () => Promise.resolve(null) }, () => selectBackend("webgpu")),
      (e) =>
        e instanceof AnnealError && e.code === "backend" &&
        /DENO_WEBGPU_BACKEND is 'garbage'/.test(e.message) &&
        /unset DENO_WEBGPU_BACKEND/.test(e.hint ?? "") && !/mesa-vulkan/.test(e.hint ?? ""),
    );
  } finally {
    if (before === undefined) Deno.env.delete("DENO_WEBGPU_BACKEND");
    else Deno.env.set("DENO_WEBGPU_BACKEND", before);
  }
});

Deno.test({
  name: "forcing webgpu runs a tiny op on whatever adapter exists, fallback included",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const probe = await probeWebGpu();
    if (!probe) {
      await assert.rejects(selectBackend("webgpu"), AnnealError);
      return;
    }
    const selection = await selectBackend("webgpu");
    assert.equal(selection.backend, "webgpu");
    assert.deepEqual(selection.adapter, probe.info);
    const sum = tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4]));
    assert.deepEqual(Array.from(await sum.data()), [4, 6]);
    sum.dispose();
    await selectBackend("cpu");
  },
});

Deno.test({
  name: "releaseWebGpu ends the backend and its device; webgpu starts again afterwards",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    if (!(await probeWebGpu())) return; // no adapter at all: nothing to release
    await selectBackend("webgpu");
    const device = (tf.backend() as unknown as { device: GPUDevice }).device;
    await releaseWebGpu();
    assert.equal(tf.getBackend(), "cpu");
    const lost = await device.lost; // destroy() resolves it
    assert.equal(lost.reason, "destroyed");
    await selectBackend("webgpu");
    const sum = tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4]));
    assert.deepEqual(Array.from(await sum.data()), [4, 6]);
    sum.dispose();
    await releaseWebGpu();
    await releaseWebGpu(); // twice: nothing left to do
  },
});

Deno.test({
  name:
    "trimWebGpuBuffers lets go of the buffers tfjs pooled, not a live tensor's, and pooling goes on; releaseWebGpu ends a WebGPU backend that another backend replaced as current",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    if (!(await probeWebGpu())) return; // no adapter at all: nothing to trim
    await selectBackend("webgpu");
    const allocated = () =>
      (tf.memory() as unknown as { numBytesAllocatedInGPU: number }).numBytesAllocatedInGPU;
    // (large enough to run on the GPU: tfjs-webgpu hands small ops to the CPU)
    const n = 8192;
    const kept = tf.range(0, n);
    const sum = tf.add(kept, tf.ones([n]));
    assert.equal((await sum.data())[n - 1], n);
    sum.dispose(); // its buffer pooled, not freed
    const pooled = allocated();
    await trimWebGpuBuffers();
    // the pooled buffers' bytes are gone; the live tensor's buffer stays and still reads
    assert.ok(allocated() < pooled, `${allocated()} of ${pooled} bytes still allocated`);
    assert.equal(allocated(), (tf.memory() as unknown as { numBytesInGPU: number }).numBytesInGPU);
    assert.equal((await kept.data())[n - 1], n - 1);
    const again = tf.mul(kept, 2);
    assert.equal((await again.data())[n - 1], 2 * (n - 1));
    again.dispose();
    assert.ok(allocated() > (tf.memory() as unknown as { numBytesInGPU: number }).numBytesInGPU);
    kept.dispose();
    // (a run that took wasm in a Worker that kept a device: the device is still let go)
    const device = (tf.backend() as unknown as { device: GPUDevice }).device;
    await selectBackend("cpu");
    await releaseWebGpu();
    assert.equal((await device.lost).reason, "destroyed");
    assert.equal(tf.getBackend(), "cpu");
  },
});

Deno.test({
  name:
    "a WebGPU backend whose device was lost since it started is replaced when webgpu is selected again, and trains on a new device",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    if (!(await probeWebGpu())) return; // no adapter at all: no device to lose
    await selectBackend("webgpu");
    const device = (tf.backend() as unknown as { device: GPUDevice }).device;
    // (as a Worker that kept its device for a next run would find it after a GPU reset)
    device.destroy();
    await device.lost;
    await selectBackend("webgpu");
    const now = (tf.backend() as unknown as { device: GPUDevice }).device;
    assert.notEqual(now, device);
    const n = 8192;
    const sum = tf.add(tf.range(0, n), tf.ones([n]));
    assert.equal((await sum.data())[n - 1], n);
    sum.dispose();
    // (selected again with its device alive, the same backend and device are kept)
    await selectBackend("webgpu");
    assert.equal((tf.backend() as unknown as { device: GPUDevice }).device, now);
    await releaseWebGpu();
  },
});

/** Runs a dispatch past WebGPU's 65535 workgroups an axis on `device`: a command it rejects. */
async function rejectedDispatch(device: GPUDevice): Promise<void> {
  const module = device.createShaderModule({
    code: `@group(0) @binding(0) var<storage, read_write> o: array<f32>;
      @compute @workgroup_size(1) fn main() { o[0] = 1.0; }`,
  });
  const pipeline = device.createComputePipeline({
    layout: "auto",
    compute: { module, entryPoint: "main" },
  });
  const buffer = device.createBuffer({
    size: 16,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
  });
  await runKernel(device, pipeline, [buffer], [70000], buffer, 16);
  buffer.destroy();
}

Deno.test({
  name:
    "a command WebGPU rejects, or memory it cannot give, fails the engine's next read with a backend error that names it, once: the values read are not the model's",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    if (!(await probeWebGpu())) return; // no adapter at all: no device to reject a command
    await selectBackend("webgpu", "mlp");
    const device = (tf.backend() as unknown as { device: GPUDevice }).device;
    const config = parseConfig({ backend: "webgpu", model: { kind: "mlp", hidden: [8] } });
    const engine = new TrainingEngine(config, {
      inputShape: [4],
      targetSize: 1,
      task: "regression",
    });
    try {
      const batch = {
        x: Float32Array.from({ length: 24 }, (_, i) => Math.sin(i)),
        y: Float32Array.from({ length: 6 }, (_, i) => i / 6),
        size: 6,
      };
      const step = () => {
        const pending = engine.computeGradients([batch]);
        engine.applyGradients(pending, 0.01);
        return engine.readStats([pending]);
      };
      const [clean] = await step();
      assert.ok(Number.isFinite(clean.loss));
      // a command past a limit of the GPU, among the step's
      const pending = engine.computeGradients([batch]);
      await rejectedDispatch(device);
      engine.applyGradients(pending, 0.01);
      await assert.rejects(
        engine.readStats([pending]),
        (error: AnnealError) =>
          error instanceof AnnealError && error.code === "backend" && error.where === "webgpu" &&
          /^WebGPU rejected a command, so the values read since are not the model's: .*65535/
            .test(error.message) &&
          /please report it/.test(error.hint ?? ""),
      );
      // taken: the next read is the next step's (an evaluation's too)
      assert.ok(Number.isFinite((await step())[0].loss));
      // memory the GPU could not give (an allocation of tfjs's or the step's own buffers)
      device.dispatchEvent(
        new GPUUncapturedErrorEvent("uncapturederror", {
          error: new GPUOutOfMemoryError("Not enough memory left"),
        }),
      );
      await assert.rejects(
        engine.readStats([engine.evaluate(batch)]),
        (error: AnnealError) =>
          error.code === "backend" &&
          error.message === "WebGPU ran out of the GPU's memory: Not enough memory left" &&
          /smaller batchSize/.test(error.hint ?? ""),
      );
      assert.ok(Number.isFinite((await engine.readStats([engine.evaluate(batch)]))[0].loss));
      // an error left unread by a run before is not the next run's (a sweep's next trial, on
      // the device the one before kept)
      await rejectedDispatch(device);
      await selectBackend("webgpu", "mlp");
      assert.equal((tf.backend() as unknown as { device: GPUDevice }).device, device);
      assert.ok(Number.isFinite((await step())[0].loss));
    } finally {
      engine.dispose();
      await releaseWebGpu();
    }
  },
});

Deno.test("an unknown backend name is a config error", async () => {
  await assert.rejects(
    selectBackend("tpu" as "cpu"),
    (e) => e instanceof AnnealError && e.code === "config",
  );
});

Deno.test("every model kind gets the same gradients on wasm as on cpu", async () => {
  const cases: [ModelSpec, number[]][] = [
    [{ kind: "linear" }, [3]],
    [{ kind: "mlp", hidden: [6], batchNorm: true, activation: "gelu" }, [4, 4, 1]],
    [{ kind: "cnn", filters: [2], dense: [4] }, [6, 6, 1]],
    [{ kind: "rnn", cell: "lstm", units: 4, layers: 2 }, [5, 2]],
    [{ kind: "rnn", cell: "gru", units: 4 }, [5, 2]],
  ];
  const gradients = (spec: ModelSpec, shape: number[]) => {
    const model = buildModel(spec, { inputShape: shape, outputUnits: 3 }, 1);
    const params = namedWeights(model).filter((w) => w.trainable).map((w) => w.variable);
    const result = tf.tidy(() => {
      const x = tf.randomNormal([3, ...shape], 0, 1, "float32", 9);
      const { grads } = tf.variableGrads(
        () => lossFunction("crossEntropy")(forward(model, x, true), tf.tensor1d([0, 1, 2])),
        params,
      );
      return params.map((p) => Array.from(grads[p.name].dataSync()));
    });
    model.dispose();
    return result;
  };
  for (const [spec, shape] of cases) {
    await selectBackend("cpu");
    const expected = gradients(spec, shape);
    await selectBackend("wasm", spec.kind);
    const actual = gradients(spec, shape);
    assert.equal(actual.length, expected.length);
    actual.forEach((grad, i) =>
      grad.forEach((g, j) =>
        assert.ok(Math.abs(g - expected[i][j]) < 1e-4, `${spec.kind} variable ${i}`)
      )
    );
  }
});

Deno.test("a weight larger than WebGPU binds in one buffer is refused at the run's start, naming it, not failed at a read-back with WebGPU's words", async () => {
  const limit = 128 * 2 ** 20;
  const weights = [
    { name: "dense0/kernel", shape: [784, 6000] },
    { name: "dense1/kernel", shape: [6000, 6000] },
  ];
  const error = oversizedWeight(weights, limit);
  assert.ok(error instanceof AnnealError);
  assert.equal(error.code, "config");
  assert.equal(
    error.message,
    "Cannot train on WebGPU: the weights dense1/kernel [6000, 6000] take 137.3 MiB, more than " +
      "this GPU binds in one buffer (its maxStorageBufferBindingSize, 128 MiB); their gradient " +
      "and optimizer state are as large",
  );
  assert.equal(oversizedWeight(weights.slice(0, 1), limit), undefined);
  assert.equal(
    oversizedWeight([{ name: "w", shape: [limit / 4] }], limit),
    undefined,
    "at the limit",
  );
  // through a run on this machine's adapter (llvmpipe binds 128 MiB)
  const runsDir = await Deno.makeTempDir();
  try {
    const run = train({
      backend: "webgpu",
      runsDir,
      epochs: 1,
      data: { kind: "synthetic-linear", n: 32 },
      model: { kind: "mlp", hidden: [6000, 6000] },
    });
    await assert.rejects(
      run.result,
      (e: AnnealError) =>
        e.code === "config" && /the weights dense1\/kernel \[6000, 6000\]/.test(e.message),
    );
  } finally {
    await Deno.remove(runsDir, { recursive: true });
  }
});
