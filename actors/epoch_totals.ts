/**
 * The trainer's running sums over an epoch (loss and metrics, weighted by samples). When every
 * step is read back anyway (CPU backends) they are summed on the host, costing no tensor ops;
 * on WebGPU they are summed on the device and read once at the epoch's end.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";

/** Loss and metric sums of one epoch. */
export class EpochTotals {
  #host: number[];
  #device: tf.Scalar[] | undefined;
  samples = 0;

  /** `metrics` are the engine's metric names, in the order sums are given. */
  constructor(readonly metrics: string[]) {
    this.#host = new Array(metrics.length + 1).fill(0);
  }

  /** Adds a step read back already: its mean loss and its metric sums. */
  addHost(meanLoss: number, metricSums: number[], samples: number): void {
    this.#host[0] += meanLoss * samples;
    metricSums.forEach((sum, i) => (this.#host[i + 1] += sum));
    this.samples += samples;
  }

  /** Adds a step still on the device; takes ownership of the tensors. */
  addDevice(meanLoss: tf.Scalar, metricSums: tf.Scalar[], samples: number): void {
    const next = tf.tidy(() => {
      const values = [tf.mul(meanLoss, samples), ...metricSums] as tf.Scalar[];
      return this.#device
        ? values.map((v, i) => tf.add(this.#device![i], v) as tf.Scalar)
        : values.map((v) => tf.clone(v));
    });
    tf.dispose([meanLoss, ...metricSums, ...(this.#device ?? [])]);
    this.#device = next;
    this.samples += samples;
  }

  /** Means over the epoch's samples: `{ loss, accuracy | mae }`; NaN loss when no step counted. */
  async read(): Promise<Record<string, number>> {
    const sums = [...this.#host];
    if (this.#device) {
      const stacked = tf.stack(this.#device);
      const values = await stacked.data();
      stacked.dispose();
      values.forEach((v, i) => (sums[i] += v));
    }
    this.dispose();
    const out: Record<string, number> = { loss: this.samples > 0 ? sums[0] / this.samples : NaN };
    this.metrics.forEach((name, i) => (out[name] = sums[i + 1] / this.samples));
    return out;
  }

  /** Frees the device sums. */
  dispose(): void {
    tf.dispose(this.#device ?? []);
    this.#device = undefined;
  }
}
