/**
 * torch's LSTM and GRU layers, for tfjs-layers.
 *
 * tfjs-layers' cells differ from nn.LSTM's and nn.GRU's in two ways that change training:
 *
 * - one bias a layer, where torch has two (`bias_ih` and `bias_hh`). Their sum is the bias the
 *   gates see, but each is a parameter that the optimizer steps: under SGD the sum moves twice as
 *   far as one bias would, under Adam each moves by about the rate, and each is drawn from
 *   uniform(±1/sqrt(units)) at the start. Here the second one is `recurrent_bias`.
 * - tfjs's GRU applies the reset gate before the recurrent product, `tanh(W x + U (r * h))` (the
 *   first GRU paper's form; tfjs cannot do the other, `resetAfter`), torch's after it, with its
 *   bias: `tanh(W x + b_in + r * (U h + b_hn))`.
 *
 * The cells here are tfjs's with torch's biases and torch's GRU: weights `kernel` [in, gates x
 * units], `recurrent_kernel` [units, gates x units], `bias` and `recurrent_bias` [gates x units],
 * the gates in tfjs's order (LSTM i, f, c, o, torch's own; GRU z, r, h, where torch's is r, z, n).
 * Activations are torch's (tanh, and sigmoid for the gates).
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import * as tfl from "npm:@tensorflow/tfjs-layers@4.22.0";
import type { Initializer } from "./init.ts";
import { GRU_CELL, LSTM_CELL, registerRecurrentCells } from "../runtime/recurrent_cells.ts";

// tfjs's gradient of Unpack (tf.unstack, which an RNN layer applies to its input) stacks its
// outputs' gradients, which tfjs hands over as a lone tensor, not an array, where there is one
// output: a recurrent layer over sequences of one step, with an input that has a gradient (a
// layer above the first), failed with "Argument tensors passed to stack must be a Tensor[]".
tf.registerGradient({
  kernelName: tf.Unpack,
  gradFunc: (dy, _saved, attrs) => {
    const axis = (attrs as unknown as tf.UnpackAttrs).axis;
    return { value: () => tf.stack(Array.isArray(dy) ? dy : [dy], axis) };
  },
});

/** The settings of one recurrent layer. */
export interface RecurrentArgs {
  /** `lstm` or `gru`. */
  cell: "lstm" | "gru";
  units: number;
  /** The layer's name; its weights are `<name>/kernel`, `<name>/recurrent_bias`, .... */
  name: string;
  /** Every step's output (for a next recurrent layer), or the last step's only. */
  returnSequences: boolean;
  kernelInitializer: Initializer;
  recurrentInitializer: Initializer;
  biasInitializer: Initializer;
  recurrentBiasInitializer: Initializer;
}

type CellArgs = Parameters<typeof tfl.layers.lstmCell>[0] & {
  recurrentBiasInitializer: Initializer;
};
type Cell = tfl.layers.Layer & {
  units: number;
  kernel: tfl.LayerVariable;
  recurrentKernel: tfl.LayerVariable;
  bias: tfl.LayerVariable;
  build(inputShape: number[] | number[][]): void;
  addWeight(
    name: string,
    shape: number[],
    dtype: undefined,
    initializer: Initializer,
  ): tfl.LayerVariable;
};
// tfjs-layers exports the cells' factories, not their classes: take each class from an instance.
const LstmCellBase = Object.getPrototypeOf(tfl.layers.lstmCell({ units: 1 })).constructor as new (
  args: CellArgs,
) => Cell;
const GruCellBase = Object.getPrototypeOf(tfl.layers.gruCell({ units: 1 })).constructor as new (
  args: CellArgs,
) => Cell;

/** torch's second bias, `bias_hh`: built after tfjs's own weights, so it comes after `bias`. */
function recurrentBias(cell: Cell, gates: number, init: Initializer): tfl.LayerVariable {
  return cell.addWeight("recurrent_bias", [gates * cell.units], undefined, init);
}

/** nn.LSTM's cell: `i, f, g, o` from `(x W + b) + (h U + b_h)`, `c' = f c + i g`, `h' = o tanh(c')`. */
class TorchLstmCell extends LstmCellBase {
  recurrentBias?: tfl.LayerVariable;
  readonly #init: Initializer;
  constructor(args: CellArgs) {
    super(args);
    this.#init = args.recurrentBiasInitializer;
  }
  override build(inputShape: number[] | number[][]): void {
    super.build(inputShape);
    this.recurrentBias = recurrentBias(this, 4, this.#init);
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
    return tf.tidy(() => {
      const [x, h, c] = inputs as tf.Tensor2D[];
      // summed as torch's cell sums them (each product with its bias first)
      const z = tf.add(
        tf.add(tf.matMul(x, this.kernel.read() as tf.Tensor2D), this.bias.read()),
        tf.add(
          tf.matMul(h, this.recurrentKernel.read() as tf.Tensor2D),
          this.recurrentBias!.read(),
        ),
      );
      if (z.dtype === "float32" && tf.getKernel(LSTM_CELL, tf.getBackend())) {
        // the gates in one pass (wasm and cpu: anneal's kernels, runtime/recurrent_cells.ts)
        const [out, next] = tf.engine().runKernel(LSTM_CELL, { z, c }, {}) as tf.Tensor[];
        return [out, out, next];
      }
      const [i, f, g, o] = tf.split(z, 4, 1);
      const next = tf.add(tf.mul(tf.sigmoid(f), c), tf.mul(tf.sigmoid(i), tf.tanh(g)));
      const out = tf.mul(tf.sigmoid(o), tf.tanh(next));
      return [out, out, next];
    });
  }
}

/**
 * nn.GRU's cell: `z, r` from `(x W + b) + (h U + b_h)`, `n = tanh(x W_n + b_n + r (h U_n +
 * b_hn))`, `h' = n + z (h - n)` (torch's `(1 - z) n + z h`, as its kernel computes it).
 */
class TorchGruCell extends GruCellBase {
  recurrentBias?: tfl.LayerVariable;
  readonly #init: Initializer;
  constructor(args: CellArgs) {
    super(args);
    this.#init = args.recurrentBiasInitializer;
  }
  override build(inputShape: number[] | number[][]): void {
    super.build(inputShape);
    this.recurrentBias = recurrentBias(this, 3, this.#init);
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
    return tf.tidy(() => {
      const [x, h] = inputs as tf.Tensor2D[];
      const fromInput = tf.add(tf.matMul(x, this.kernel.read() as tf.Tensor2D), this.bias.read());
      const fromState = tf.add(
        tf.matMul(h, this.recurrentKernel.read() as tf.Tensor2D),
        this.recurrentBias!.read(),
      );
      if (fromInput.dtype === "float32" && tf.getKernel(GRU_CELL, tf.getBackend())) {
        // the gates in one pass (wasm and cpu: anneal's kernels, runtime/recurrent_cells.ts)
        const out = tf.engine().runKernel(GRU_CELL, { xp: fromInput, hp: fromState, h }, {});
        return [out as tf.Tensor, out as tf.Tensor];
      }
      const [xz, xr, xn] = tf.split(fromInput, 3, 1);
      const [hz, hr, hn] = tf.split(fromState, 3, 1);
      const z = tf.sigmoid(tf.add(xz, hz));
      const r = tf.sigmoid(tf.add(xr, hr));
      const n = tf.tanh(tf.add(xn, tf.mul(r, hn)));
      const out = tf.add(n, tf.mul(z, tf.sub(h, n)));
      return [out, out];
    });
  }
}

/**
 * An LSTM or GRU layer as torch's nn.LSTM / nn.GRU (one layer, batch first): inputs [batch,
 * steps, features], outputs [batch, units] (the last step's) or [batch, steps, units].
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
 * import { uniformInit } from "./init.ts";
 * import { recurrentLayer } from "./recurrent.ts";
 * await tf.setBackend("cpu");
 * const init = uniformInit(0.5, 1);
 * const layer = recurrentLayer({
 *   cell: "gru", units: 2, name: "gru0", returnSequences: false, kernelInitializer: init,
 *   recurrentInitializer: init, biasInitializer: init, recurrentBiasInitializer: init,
 * });
 * const y = layer.apply(tf.ones([3, 4, 5])) as tf.Tensor;
 * console.assert(y.shape.join() === "3,2" && layer.weights.length === 4);
 * ```
 */
export function recurrentLayer(args: RecurrentArgs): tfl.layers.Layer {
  registerRecurrentCells();
  const Cell = args.cell === "lstm" ? TorchLstmCell : TorchGruCell;
  const cell = new Cell({
    units: args.units,
    // (the cell builds its weights in the layer's name scope: `<name>/kernel`, ...)
    name: args.name,
    kernelInitializer: args.kernelInitializer,
    recurrentInitializer: args.recurrentInitializer,
    biasInitializer: args.biasInitializer,
    recurrentBiasInitializer: args.recurrentBiasInitializer,
  });
  return tfl.layers.rnn({
    cell: cell as unknown as Parameters<typeof tfl.layers.rnn>[0]["cell"],
    returnSequences: args.returnSequences,
    name: args.name,
  });
}
