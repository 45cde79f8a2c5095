/**
 * `MaxPoolGrad` for tfjs-backend-webgpu in WGSL, with torch's rule for ties: a window's gradient
 * goes to its first maximum in row order (as `torch.nn.functional.max_pool2d`, tfjs's cpu backend
 * and anneal's wasm kernel). tfjs-webgpu 4.22's kernel gives it to the last one, so where a window
 * holds equal maxima its gradients differ from torch's. Such ties are common on real images: over
 * a blank background (Fashion-MNIST's zeros) every convolution output is its bias.
 *
 * One thread per input value: for each window that covers it (one for the usual pool = stride),
 * the window is searched for its first maximum, and the window's gradient is added where that is
 * this value. Padding takes no part (tfjs's "same" pooling ignores it), and a window of NaNs
 * passes no gradient, as on the cpu backend.
 *
 * And `MaxPool` with torch's rule for NaN (`max_pool.ts`): a window that holds a NaN gives NaN.
 * tfjs-webgpu's kernel takes WGSL's `max`, which an implementation may resolve to the other
 * operand (llvmpipe does, as GPUs' do), so a batch with a NaN was evaluated to a finite loss
 * (tfjs's kernels evaluate a cnn on a software adapter, and any model anneal's WGSL step does not
 * cover). The NaN is found by its bits (`NAN_OR_WGSL`), which no implementation assumes away.
 *
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import { poolCall, poolGradCall } from "./conv_args.ts";
import { NAN_OR_WGSL } from "./dense/wgsl.ts";
import { type KernelArgs, overrideKernel } from "./wasm_heap.ts";
import { flatProgram, runProgram, type Uniform } from "./webgpu_program.ts";

/** The uniforms of the pooling programs: the window's geometry, as {@linkcode poolUniforms}. */
const POOL_UNIFORMS = "padTop : i32, padLeft : i32, strideH : i32, strideW : i32, filterH : i32, " +
  "filterW : i32, inH : i32, inW : i32, outH : i32, outW : i32, channels : i32,";

/** {@linkcode POOL_UNIFORMS}' values for `pool`. */
function poolUniforms(pool: tf.backend_util.Conv2DInfo): Uniform[] {
  return [
    pool.padInfo.top,
    pool.padInfo.left,
    pool.strideHeight,
    pool.strideWidth,
    pool.filterHeight,
    pool.filterWidth,
    pool.inHeight,
    pool.inWidth,
    pool.outHeight,
    pool.outWidth,
    pool.inChannels,
  ].map((value) => ({ type: "int32", data: [value] }));
}

/**
 * WGSL that runs `body` on each pixel `v` = x[b, iy, ix, c] of the window whose top-left corner
 * is (`top`, `left`), in row order, padding left out.
 */
function windowPixels(body: string): string {
  return `for (var i = 0; i < uniforms.filterH; i = i + 1) {
          let iy = top + i;
          if (iy < 0 || iy >= uniforms.inH) { continue; }
          for (var j = 0; j < uniforms.filterW; j = j + 1) {
            let ix = left + j;
            if (ix < 0 || ix >= uniforms.inW) { continue; }
            let v = x[((b * uniforms.inH + iy) * uniforms.inW + ix) * uniforms.channels + c];${body}
          }
        }`;
}

/** The WGSL `MaxPoolGrad`; declines what it does not cover (non-float32 tensors). */
export function maxPoolGradFirst(args: KernelArgs): tf.TensorInfo | undefined {
  const call = poolGradCall(args);
  if (!call) return;
  const { dy, input, pool } = call;
  if (tf.util.sizeFromShape(input.shape) === 0) return;
  const program = flatProgram(
    "anneal_max_pool_grad_first",
    ["dy", "x"],
    input.shape,
    `${NAN_OR_WGSL}
      fn main(index : i32) {
        if (index >= uniforms.size) { return; }
        let coords = getCoordsFromIndex(index);
        let b = coords[0];
        let y = coords[1];
        let x0 = coords[2];
        let c = coords[3];
        // the windows (oy, ox) whose rows oy * strideH - padTop + [0, filterH) hold y
        let oyFrom = max(0, (y + uniforms.padTop - uniforms.filterH + uniforms.strideH) / uniforms.strideH);
        let oyTo = min(uniforms.outH - 1, (y + uniforms.padTop) / uniforms.strideH);
        let oxFrom = max(0, (x0 + uniforms.padLeft - uniforms.filterW + uniforms.strideW) / uniforms.strideW);
        let oxTo = min(uniforms.outW - 1, (x0 + uniforms.padLeft) / uniforms.strideW);
        var sum = 0.0;
        for (var oy = oyFrom; oy <= oyTo; oy = oy + 1) {
          for (var ox = oxFrom; ox <= oxTo; ox = ox + 1) {
            let top = oy * uniforms.strideH - uniforms.padTop;
            let left = ox * uniforms.strideW - uniforms.padLeft;
            if (y < top || x0 < left) { continue; }
            // the window's first maximum in row order (NaN is no maximum; found by its bits, as
            // a comparison with a NaN is one an implementation may assume away)
            var best = 0.0;
            var found = false;
            var at = -1;
            ${
      windowPixels(`
                if (!isNanBits(v) && (!found || v > best)) {
                  best = v;
                  found = true;
                  at = iy * uniforms.inW + ix;
                }`)
    }
            if (at == y * uniforms.inW + x0) {
              sum = sum + dy[((b * uniforms.outH + oy) * uniforms.outW + ox) * uniforms.channels + c];
            }
          }
        }
        setOutputAtIndex(index, sum);
      }`,
    POOL_UNIFORMS,
  );
  return runProgram(args.backend, program, [dy, input], poolUniforms(pool));
}

/**
 * The WGSL `MaxPool` by torch's rule: each window's first maximum in row order, or its NaN where
 * it holds one; padding takes no part. Declines what it does not cover (non-float32 tensors, the
 * 1x1 window tfjs answers with its input).
 */
export function maxPoolNan(args: KernelArgs): tf.TensorInfo | undefined {
  const call = poolCall(args);
  if (!call) return;
  const { x, pool } = call;
  if (tf.util.sizeFromShape(pool.outShape) === 0) return;
  const program = flatProgram(
    "anneal_max_pool_nan",
    ["x"],
    pool.outShape,
    `${NAN_OR_WGSL}
      fn main(index : i32) {
        if (index >= uniforms.size) { return; }
        let coords = getCoordsFromIndex(index);
        let b = coords[0];
        let top = coords[1] * uniforms.strideH - uniforms.padTop;
        let left = coords[2] * uniforms.strideW - uniforms.padLeft;
        let c = coords[3];
        var m = bitcast<f32>(0xff800000u); // -Infinity: a window that covers no pixel
        var nan = false;
        ${
      windowPixels(`
            if (isNanBits(v)) {
              m = v;
              nan = true;
            } else if (!nan && v > m) {
              m = v;
            }`)
    }
        setOutputAtIndex(index, m);
      }`,
    POOL_UNIFORMS,
  );
  return runProgram(args.backend, program, [x], poolUniforms(pool));
}

/**
 * Puts the WGSL `MaxPoolGrad` in front of tfjs-webgpu's (which still runs what it declines).
 * Returns the kernels overridden.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { selectBackend } from "./backend.ts";
 * await selectBackend("webgpu");
 * // every 2x2 window a tie: the first of each gets its gradient, as in torch
 * const input = tf.tensor4d([1, 1, 1, 1], [1, 2, 2, 1]);
 * const dy = tf.tensor4d([7], [1, 1, 1, 1]);
 * const attrs = { filterSize: 2, strides: 2, pad: "valid" };
 * const dx = tf.engine().runKernel("MaxPoolGrad", { dy, input, output: dy }, attrs) as tf.Tensor;
 * console.assert((await dx.data()).join() === "7,0,0,0");
 * ```
 */
export function routeWebGpuMaxPoolGrad(): string[] {
  return overrideKernel("webgpu", "MaxPoolGrad", maxPoolGradFirst) ? ["MaxPoolGrad"] : [];
}

/**
 * Puts the WGSL `MaxPool` of torch's NaN rule in front of tfjs-webgpu's (which still runs what
 * it declines). Returns the kernels overridden.
 *
 * @example
 * ```ts
 * import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
 * import { releaseWebGpu, selectBackend } from "./backend.ts";
 * await selectBackend("webgpu");
 * const x = tf.tensor4d([1, NaN, 2, 3], [1, 2, 2, 1]);
 * console.assert(Number.isNaN((await tf.maxPool(x, 2, 2, "valid").data())[0]));
 * await releaseWebGpu();
 * ```
 */
export function routeWebGpuMaxPool(): string[] {
  return overrideKernel("webgpu", "MaxPool", maxPoolNan) ? ["MaxPool"] : [];
}
