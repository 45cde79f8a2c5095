/**
 * Batch normalization of an MLP's hidden layers in the dense WGSL step (`gpu_program.ts`): the
 * layer's matmul stores its pre-normalization values `z`; the per-unit statistics over the
 * micro-batch's rows are the conv blocks' two-stage reductions (`conv.ts`: per channel there, per
 * unit here) with the moving averages updated as torch's running statistics; one element-wise
 * kernel then normalizes, applies the activation and dropout. Backward, one kernel takes the
 * gradient at the layer's output through dropout and the activation (its derivative from the
 * normalized value), the reductions sum it and it times the normalized value per unit (gamma's
 * and beta's gradients), and one kernel takes it through the normalization:
 * `dz = gamma / sqrt(var + eps) * (dy - mean(dy) - xhat * mean(dy * xhat))`.
 *
 * @module
 */
import { channelPartialsWgsl } from "./conv.ts";
import {
  activationWgsl,
  type DenseActivation,
  dropoutFactorWgsl,
  element,
  ELEMENT_DIMS_WGSL,
  HALF_WGSL,
  word,
} from "./wgsl.ts";

/** The element-wise kernels' thread index `e` over `count` values. */
const MAIN = `@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let e = (wg.y * nw.x + wg.x) * 256u + li;
  if (e >= dims.count) { return; }
  let C = dims.C;
  let c = e % C;`;

/** {@linkcode MAIN} a thread a float16 pair: `e` the pair's first (even) value. */
const PAIR_MAIN = `@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let e = ((wg.y * nw.x + wg.x) * 256u + li) * 2u;
  if (e >= dims.count) { return; }
  let C = dims.C;
  let c = e % C;`;

/**
 * Forward: `y = (z - mean) / sqrt(var + eps) * gamma + beta` (as `a * z + k` per unit, the conv
 * blocks' form) into `normed`, and the layer's output `activation(y)` [times dropout's factor]
 * into `out`. Under `half` (mixed precision) `z` and `out` are float16 pairs and a thread takes a
 * pair (units even: a pair never spans two rows); `normed` stays float32. Bindings: z, stat
 * ([mean..., 1/sqrt(var + eps)...]), gamma, beta, normed, out[, mask].
 */
export function normOutputWgsl(
  activation: DenseActivation,
  dropout: boolean,
  half = false,
): string {
  const value = (k: string) => {
    const e = k === "0" ? "e" : `e + ${k}u`;
    return `let a${k} = gamma[c + ${k}u] * stat[C + c + ${k}u];
  let y${k} = ${element("z", e, half)} * a${k} + (beta[c + ${k}u] - stat[c + ${k}u] * a${k});
  normed[${e}] = y${k};
  let o${k} = activate(y${k})${dropout ? ` * factor(${e})` : ""};`;
  };
  return `${ELEMENT_DIMS_WGSL}
@group(0) @binding(1) var<storage, read> z: array<${word(half)}>;
@group(0) @binding(2) var<storage, read> stat: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> normed: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<${word(half)}>;
${dropout ? "@group(0) @binding(7) var<storage, read> mask: array<u32>;" : ""}
${HALF_WGSL}
${activationWgsl(activation).forward}
${dropout ? dropoutFactorWgsl(false) : ""}
${half ? PAIR_MAIN : MAIN}
  ${value("0")}
  ${
    half
      ? `${value("1")}
  out[e >> 1u] = pack2x16float(vec2<f32>(o0, o1));`
      : "out[e] = o0;"
  }
}
`;
}

/**
 * Backward through dropout and the activation, in place: the gradient at the layer's output
 * (`d`, from the layer above) times dropout's factor and the activation's derivative at the
 * normalized value `normed`. Bindings: normed, d[, mask].
 */
export function normActivationBackwardWgsl(
  activation: DenseActivation,
  dropout: boolean,
): string {
  const { forward, derivative } = activationWgsl(activation);
  return `${ELEMENT_DIMS_WGSL}
@group(0) @binding(1) var<storage, read> normed: array<f32>;
@group(0) @binding(2) var<storage, read_write> d: array<f32>;
${dropout ? "@group(0) @binding(3) var<storage, read> mask: array<u32>;" : ""}
${forward}
${dropout ? dropoutFactorWgsl(false) : ""}
${MAIN}
  let y = normed[e];
  ${derivative}
  d[e] = d[e]${dropout ? " * factor(e)" : ""} * slope;
}
`;
}

/**
 * Batch norm's gradient sums, first stage: per unit and slice of rows, s1 = the sum of the
 * gradient at the normalized output `dy` and s2 = its sum times the normalized value. `half`: `z`
 * is float16 pairs.
 */
export const normGradPartialsWgsl = (half: boolean) => (width: number) =>
  channelPartialsWgsl(width, {
    inputs: [`z: array<${word(half)}>`, "stat: array<f32>", "dy: array<f32>"],
    fns: HALF_WGSL,
    passes: [{
      sums: ["s1", "s2"],
      row: `let i = r * C + c;
    let xhat = (${element("z", "i", half)} - stat[c]) * stat[C + c];
    let g = dy[i];
    s1 += g;
    s2 += g * xhat;`,
    }],
    out: ["s1T", "s2T"],
  });

/**
 * Backward through the normalization, in place on `d`:
 * `dz = gamma / sqrt(var + eps) * (dy - s1 / n - xhat * s2 / n)` (`coef` = [s1 / n..., s2 /
 * n...]). `half`: `z` is float16 pairs. Bindings: z, stat, gamma, coef, d.
 */
export const normBackwardWgsl = (half: boolean) =>
  `${ELEMENT_DIMS_WGSL}
@group(0) @binding(1) var<storage, read> z: array<${word(half)}>;
@group(0) @binding(2) var<storage, read> stat: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> coef: array<f32>;
@group(0) @binding(5) var<storage, read_write> d: array<f32>;
${HALF_WGSL}
${MAIN}
  let inv = stat[C + c];
  let xhat = (${element("z", "e", half)} - stat[c]) * inv;
  d[e] = gamma[c] * inv * (d[e] - coef[c] - xhat * coef[C + c]);
}
`;
