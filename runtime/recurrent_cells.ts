/**
 * A recurrent cell's gates as one kernel each way. tfjs's ops take an LSTM's step (after its
 * products) as a split, three sigmoids, two tanh, three products and a sum, a GRU's as two
 * splits, two sigmoids, a tanh and six more, each a pass with its own dispatch (~20-50 us on
 * tfjs-backend-wasm, against a few for the arithmetic), and as many again backward. Here:
 *
 * - `AnnealLstmCell`: inputs `z` [rows, 4 units] (a step's pre-activations, torch's gates i, f,
 *   g, o) and `c` [rows, units]; outputs h and the next cell state.
 * - `AnnealGruCell`: inputs `xp` and `hp` [rows, 3 units] (the input's and the state's
 *   projections with their biases, torch's gates r, z, n in tfjs's order z, r, n) and `h`
 *   [rows, units]; output the next state.
 *
 * On tfjs-backend-wasm each is one SIMD pass of anneal's (`lstmCell`, `gruCell` in kernels.wat,
 * whose sigmoid and tanh are within 2 ulp of the exact ones), on tfjs-backend-cpu one loop in
 * TypeScript (float64 arithmetic, each result rounded to float32 once); its gradient one more
 * (`AnnealLstmCellGrad`, `AnnealGruCellGrad`, the gates computed again from the inputs, so
 * nothing more is saved for them). `models/recurrent.ts` runs them where they are registered
 * (wasm, cpu; on WebGPU tfjs's ops, where the WGSL step does not run the model).
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { type SimdKernels, simdKernels } from "./wasm_simd/kernels.ts";
import {
  heapAddress,
  type KernelArgs,
  registerSimdKernel,
  type WasmBackendInternals,
  wasmInternals,
} from "./wasm_heap.ts";

/** The cpu backend's store of tensor values (tfjs-backend-cpu's `MathBackendCPU`). */
interface CpuBackend {
  data: { get(dataId: object): { values: tf.backend_util.BackendValues } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

/** The LSTM cell's kernel: inputs `z`, `c`; outputs h and the next cell state. */
export const LSTM_CELL = "AnnealLstmCell";
/** Its gradient's: inputs `z`, `c`, `dh`, `dcn`; outputs dz and dc. */
export const LSTM_CELL_GRAD = "AnnealLstmCellGrad";
/** The GRU cell's kernel: inputs `xp`, `hp`, `h`; output the next state. */
export const GRU_CELL = "AnnealGruCell";
/** Its gradient's: inputs `xp`, `hp`, `h`, `dy`; outputs dxp, dhp and dh. */
export const GRU_CELL_GRAD = "AnnealGruCellGrad";

/** The backend's heap, anneal's kernels on it, and a tensor's address there. */
function heap(backend: unknown, name: string) {
  const wasm: WasmBackendInternals = wasmInternals(backend);
  const simd: SimdKernels | undefined = simdKernels(wasm);
  if (!simd) throw new Error(`${name} needs anneal's SIMD kernels`);
  return { wasm, simd, at: (info: tf.TensorInfo) => heapAddress(wasm, info) };
}

function lstmCell({ inputs, backend }: KernelArgs): tf.TensorInfo[] {
  const { z, c } = inputs as Record<string, tf.TensorInfo>;
  const { wasm, simd, at } = heap(backend, LSTM_CELL);
  const [rows, units] = c.shape;
  const [h, cn] = [0, 1].map(() => wasm.makeOutput([rows, units], "float32"));
  simd.lstmCell(at(z), at(c), at(h), at(cn), rows, units);
  return [h, cn];
}

function lstmCellGrad({ inputs, backend }: KernelArgs): tf.TensorInfo[] {
  const { z, c, dh, dcn } = inputs as Record<string, tf.TensorInfo>;
  const { wasm, simd, at } = heap(backend, LSTM_CELL_GRAD);
  const [rows, units] = c.shape;
  const dz = wasm.makeOutput([rows, 4 * units], "float32");
  const dc = wasm.makeOutput([rows, units], "float32");
  simd.lstmCellGrad(at(z), at(c), at(dh), at(dcn), at(dz), at(dc), rows, units);
  return [dz, dc];
}

function gruCell({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const { xp, hp, h } = inputs as Record<string, tf.TensorInfo>;
  const { wasm, simd, at } = heap(backend, GRU_CELL);
  const [rows, units] = h.shape;
  const out = wasm.makeOutput([rows, units], "float32");
  simd.gruCell(at(xp), at(hp), at(h), at(out), rows, units);
  // (one tensor, not a list of one: tfjs's runKernel then gives the tensor itself)
  return out;
}

function gruCellGrad({ inputs, backend }: KernelArgs): tf.TensorInfo[] {
  const { xp, hp, h, dy } = inputs as Record<string, tf.TensorInfo>;
  const { wasm, simd, at } = heap(backend, GRU_CELL_GRAD);
  const [rows, units] = h.shape;
  const [dxp, dhp] = [0, 1].map(() => wasm.makeOutput([rows, 3 * units], "float32"));
  const dh = wasm.makeOutput([rows, units], "float32");
  simd.gruCellGrad(at(xp), at(hp), at(h), at(dy), at(dxp), at(dhp), at(dh), rows, units);
  return [dxp, dhp, dh];
}

// The cpu backend's: the same steps in TypeScript.

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

function cpuArgs({ inputs, backend }: KernelArgs) {
  const cpu = backend as unknown as CpuBackend;
  const named = inputs as Record<string, tf.TensorInfo>;
  const values = (name: string) => cpu.data.get(named[name].dataId).values as Float32Array;
  return { cpu, named, values };
}

function cpuLstmCell(args: KernelArgs): tf.TensorInfo[] {
  const { cpu, named, values } = cpuArgs(args);
  const [z, c] = [values("z"), values("c")];
  const [rows, units] = named.c.shape;
  const [h, cn] = [0, 1].map(() => new Float32Array(rows * units));
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < units; j++) {
      const at = r * 4 * units + j;
      const k = r * units + j;
      const i = sigmoid(z[at]), f = sigmoid(z[at + units]);
      const g = Math.tanh(z[at + 2 * units]), o = sigmoid(z[at + 3 * units]);
      cn[k] = f * c[k] + i * g;
      h[k] = o * Math.tanh(cn[k]);
    }
  }
  return [
    cpu.makeTensorInfo([rows, units], "float32", h),
    cpu.makeTensorInfo([rows, units], "float32", cn),
  ];
}

function cpuLstmCellGrad(args: KernelArgs): tf.TensorInfo[] {
  const { cpu, named, values } = cpuArgs(args);
  const [z, c, dh, dcn] = ["z", "c", "dh", "dcn"].map(values);
  const [rows, units] = named.c.shape;
  const dz = new Float32Array(rows * 4 * units);
  const dc = new Float32Array(rows * units);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < units; j++) {
      const at = r * 4 * units + j;
      const k = r * units + j;
      const i = sigmoid(z[at]), f = sigmoid(z[at + units]);
      const g = Math.tanh(z[at + 2 * units]), o = sigmoid(z[at + 3 * units]);
      // (the cell state as the forward stored it, rounded to float32)
      const tc = Math.tanh(Math.fround(f * c[k] + i * g));
      const dct = dcn[k] + dh[k] * o * (1 - tc * tc);
      dc[k] = dct * f;
      dz[at] = dct * g * i * (1 - i);
      dz[at + units] = dct * c[k] * f * (1 - f);
      dz[at + 2 * units] = dct * i * (1 - g * g);
      dz[at + 3 * units] = dh[k] * tc * o * (1 - o);
    }
  }
  return [
    cpu.makeTensorInfo([rows, 4 * units], "float32", dz),
    cpu.makeTensorInfo([rows, units], "float32", dc),
  ];
}

function cpuGruCell(args: KernelArgs): tf.TensorInfo {
  const { cpu, named, values } = cpuArgs(args);
  const [xp, hp, h] = ["xp", "hp", "h"].map(values);
  const [rows, units] = named.h.shape;
  const out = new Float32Array(rows * units);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < units; j++) {
      const at = r * 3 * units + j;
      const k = r * units + j;
      const z = sigmoid(xp[at] + hp[at]);
      const rr = sigmoid(xp[at + units] + hp[at + units]);
      const n = Math.tanh(xp[at + 2 * units] + rr * hp[at + 2 * units]);
      out[k] = n + z * (h[k] - n);
    }
  }
  return cpu.makeTensorInfo([rows, units], "float32", out);
}

function cpuGruCellGrad(args: KernelArgs): tf.TensorInfo[] {
  const { cpu, named, values } = cpuArgs(args);
  const [xp, hp, h, dy] = ["xp", "hp", "h", "dy"].map(values);
  const [rows, units] = named.h.shape;
  const [dxp, dhp] = [0, 1].map(() => new Float32Array(rows * 3 * units));
  const dh = new Float32Array(rows * units);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < units; j++) {
      const at = r * 3 * units + j;
      const k = r * units + j;
      const z = sigmoid(xp[at] + hp[at]);
      const rr = sigmoid(xp[at + units] + hp[at + units]);
      const hn = hp[at + 2 * units];
      const n = Math.tanh(xp[at + 2 * units] + rr * hn);
      dh[k] = dy[k] * z;
      const dzp = dy[k] * (h[k] - n) * z * (1 - z);
      const da = (dy[k] - dy[k] * z) * (1 - n * n);
      const drp = da * hn * rr * (1 - rr);
      dxp[at] = dhp[at] = dzp;
      dxp[at + units] = dhp[at + units] = drp;
      dxp[at + 2 * units] = da;
      dhp[at + 2 * units] = da * rr;
    }
  }
  return [
    cpu.makeTensorInfo([rows, 3 * units], "float32", dxp),
    cpu.makeTensorInfo([rows, 3 * units], "float32", dhp),
    cpu.makeTensorInfo([rows, units], "float32", dh),
  ];
}

let gradients = false;
let cpuKernels = false;

/**
 * Registers the two cells' kernels for cpu and their gradients (once); `models/recurrent.ts`
 * calls it as it makes a layer. (wasm's: {@linkcode registerWasmRecurrentCells}, once that
 * backend runs: asking tfjs for a backend not made yet starts making it.)
 */
export function registerRecurrentCells(): void {
  if (!cpuKernels) {
    cpuKernels = true;
    const cpu = [
      [LSTM_CELL, cpuLstmCell],
      [LSTM_CELL_GRAD, cpuLstmCellGrad],
      [GRU_CELL, cpuGruCell],
      [GRU_CELL_GRAD, cpuGruCellGrad],
    ] as unknown as [string, tf.KernelFunc][];
    for (const [kernelName, kernelFunc] of cpu) {
      tf.registerKernel({ kernelName, backendName: "cpu", kernelFunc });
    }
  }
  registerGradients();
}

/**
 * Registers the two cells' kernels and their gradients' for wasm (once) where anneal's SIMD
 * kernels run on the wasm backend made (`registerWasmTrainingKernels`), and the gradients;
 * returns whether wasm has them.
 */
export function registerWasmRecurrentCells(): boolean {
  registerGradients();
  if (!registerSimdKernel(LSTM_CELL, lstmCell)) return false;
  registerSimdKernel(LSTM_CELL_GRAD, lstmCellGrad);
  registerSimdKernel(GRU_CELL, gruCell);
  registerSimdKernel(GRU_CELL_GRAD, gruCellGrad);
  return true;
}

function registerGradients(): void {
  if (!gradients) {
    gradients = true;
    // (tfjs hands zeros for an output off the gradient's path, as a last step's cell state; each
    // gradient runs once, here: tfjs runs each returned thunk in its own tidy)
    tf.registerGradient({
      kernelName: LSTM_CELL,
      inputsToSave: ["z", "c"],
      gradFunc: (dys, saved) => {
        const [dh, dcn] = dys as tf.Tensor[];
        const [z, c] = saved;
        const [dz, dc] = tf.engine().runKernel(
          LSTM_CELL_GRAD,
          { z, c, dh, dcn },
          {},
        ) as tf.Tensor[];
        return { z: () => dz, c: () => dc };
      },
    });
    tf.registerGradient({
      kernelName: GRU_CELL,
      inputsToSave: ["xp", "hp", "h"],
      gradFunc: (dy, saved) => {
        const [xp, hp, h] = saved;
        const [dxp, dhp, dh] = tf.engine().runKernel(
          GRU_CELL_GRAD,
          { xp, hp, h, dy: dy as tf.Tensor },
          {},
        ) as tf.Tensor[];
        return { xp: () => dxp, hp: () => dhp, h: () => dh };
      },
    });
  }
}
