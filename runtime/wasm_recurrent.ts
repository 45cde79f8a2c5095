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
 * whose sigmoid and tanh are within 2 ulp of the exact ones), and its gradient one more
 * (`AnnealLstmCellGrad`, `AnnealGruCellGrad`, the gates computed again from the inputs, so
 * nothing more is saved for them). `models/recurrent.ts` runs them where they are registered.
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

let gradients = false;

/**
 * Registers the two cells' kernels and their gradients' for wasm (once) where anneal's SIMD
 * kernels run, and the gradients (once); returns whether the kernels are registered.
 */
export function registerWasmRecurrentCells(): boolean {
  if (!registerSimdKernel(LSTM_CELL, lstmCell)) return false;
  registerSimdKernel(LSTM_CELL_GRAD, lstmCellGrad);
  registerSimdKernel(GRU_CELL, gruCell);
  registerSimdKernel(GRU_CELL_GRAD, gruCellGrad);
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
  return true;
}
