/**
 * WGSL sources of the fused optimizer kernels. Each update kernel reads a parameter, its gradient
 * and its slots once and writes them once: one dispatch per parameter tensor instead of tfjs's
 * chain of ~10 elementwise ops (each a dispatch, a uniform buffer and a bind group).
 *
 * Every kernel binds the same 256-byte uniform slot ({@linkcode UNIFORM_FLOATS} words, one slot
 * per parameter tensor) and a two-word `clip` buffer `[totalNorm, scale]`: the gradient is
 * multiplied by `clip[1]`, which the norm kernels write on the device (1 when no clipping), and by
 * the slot's `gradSign` (-1 for torch's `maximize`, which negates the gradient first; else 1).
 *
 * @module
 */

/** Words (f32/u32) of one uniform slot; slots are 256 bytes apart (WebGPU's offset alignment). */
export const UNIFORM_FLOATS = 20;
/** Bytes between two uniform slots. */
export const UNIFORM_STRIDE = 256;
/** Threads per workgroup of every kernel. */
export const WORKGROUP = 256;

/**
 * Layout of one uniform slot, word by word. f32 unless marked u32.
 * 0 lr, 1 beta1 (or momentum), 2 beta2, 3 eps, 4 weightDecay, 5 Adam's step size
 * (lr / (1 - b1^t)), 6 sqrt(bias correction 2), 7 1 - dampening, 8 flags (u32: 1 first step,
 * 2 nesterov, 4 decoupled decay, 8 amsgrad), 9 n (u32), 10 partial base (u32), 11 partial count
 * (u32), 12 maxNorm, 13 gradSign, 14 1 - beta1, 15 1 - beta2, 16 decoupled decay's factor
 * 1 - lr * weightDecay. The scalars made of others (5, 6, 7, 14-16) are computed on the host in
 * float64 and rounded once, as torch's Python floats are: in the kernel, 1 - beta2 would be
 * 1 - fl(beta2) (1.3e-5 off at 0.999).
 */
export const UNIFORM_FIELDS = {
  lr: 0,
  beta1: 1,
  beta2: 2,
  eps: 3,
  weightDecay: 4,
  stepSize: 5,
  sqrtBiasCorrection2: 6,
  undampened: 7,
  flags: 8,
  n: 9,
  partialBase: 10,
  partialCount: 11,
  maxNorm: 12,
  gradSign: 13,
  beta1Complement: 14,
  beta2Complement: 15,
  decayFactor: 16,
} as const;

/** The uniform slot as every kernel declares it (the fields above, padded to 20 words). */
const UNIFORMS = /* wgsl */ `
struct U {
  lr: f32, beta1: f32, beta2: f32, eps: f32,
  wd: f32, stepSize: f32, sqrtBc2: f32, undampened: f32,
  flags: u32, n: u32, partialBase: u32, partialCount: u32,
  maxNorm: f32, gradSign: f32, beta1c: f32, beta2c: f32,
  decay: f32, pad1: f32, pad2: f32, pad3: f32,
};
@group(0) @binding(0) var<uniform> u: U;`;

const HEADER = UNIFORMS + /* wgsl */ `
@group(0) @binding(1) var<storage, read> clip: array<f32, 2>;
`;

const LOOP = /* wgsl */ `
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * ${WORKGROUP}u;
  for (var i = gid.x; i < u.n; i = i + stride) {
    update(i);
  }
}
`;

/** SGD with momentum, dampening, nesterov and (L2) weight decay, torch.optim.SGD's order. */
export const SGD_WGSL = HEADER + /* wgsl */ `
@group(0) @binding(2) var<storage, read_write> p: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> buf: array<f32>;
fn update(i: u32) {
  var d = g[i] * clip[1] * u.gradSign + u.wd * p[i];
  if (u.beta1 != 0.0) {
    var b = d;
    if ((u.flags & 1u) == 0u) { b = u.beta1 * buf[i] + u.undampened * d; }
    buf[i] = b;
    if ((u.flags & 2u) != 0u) { d = d + u.beta1 * b; } else { d = b; }
  }
  p[i] = p[i] - u.lr * d;
}
` + LOOP;

/** Adam / AdamW (decoupled decay flag), amsgrad flag; torch.optim.Adam's arithmetic. */
export const ADAM_WGSL = HEADER + /* wgsl */ `
@group(0) @binding(2) var<storage, read_write> p: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> m: array<f32>;
@group(0) @binding(5) var<storage, read_write> v: array<f32>;
@group(0) @binding(6) var<storage, read_write> vmax: array<f32>;
fn update(i: u32) {
  var x = p[i];
  var d = g[i] * clip[1] * u.gradSign;
  if ((u.flags & 4u) != 0u) { x = x * u.decay; } else { d = d + u.wd * x; }
  let mi = u.beta1 * m[i] + u.beta1c * d;
  var vi = u.beta2 * v[i] + u.beta2c * d * d;
  m[i] = mi;
  v[i] = vi;
  if ((u.flags & 8u) != 0u) { vi = max(vmax[i], vi); vmax[i] = vi; }
  let denom = sqrt(vi) / u.sqrtBc2 + u.eps;
  p[i] = x - (u.stepSize * mi) / denom;
}
` + LOOP;

/** Lion (Chen et al. 2023): sign of the interpolated momentum, decoupled decay. */
export const LION_WGSL = HEADER + /* wgsl */ `
@group(0) @binding(2) var<storage, read_write> p: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> m: array<f32>;
fn update(i: u32) {
  let d = g[i] * clip[1] * u.gradSign;
  let c = u.beta1 * m[i] + u.beta1c * d;
  p[i] = p[i] * u.decay - u.lr * sign(c);
  m[i] = u.beta2 * m[i] + u.beta2c * d;
}
` + LOOP;

/** Stage 1 of the global norm: each workgroup writes the sum of squares of its grid-stride share. */
export const SUMSQ_WGSL = UNIFORMS + /* wgsl */ `
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
var<workgroup> acc: array<f32, ${WORKGROUP}>;
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  var s = 0.0;
  let stride = nwg.x * ${WORKGROUP}u;
  for (var i = wid.x * ${WORKGROUP}u + lid; i < u.n; i = i + stride) { s = s + g[i] * g[i]; }
  acc[lid] = s;
  workgroupBarrier();
  for (var k = ${WORKGROUP / 2}u; k > 0u; k = k >> 1u) {
    if (lid < k) { acc[lid] = acc[lid] + acc[lid + k]; }
    workgroupBarrier();
  }
  if (lid == 0u) { partials[u.partialBase + wid.x] = acc[0]; }
}
`;

/** Stage 2: one workgroup sums every partial and writes [norm, min(1, maxNorm/(norm+1e-6))]. */
export const CLIP_SCALE_WGSL = UNIFORMS + /* wgsl */ `
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> clip: array<f32, 2>;
var<workgroup> acc: array<f32, ${WORKGROUP}>;
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = lid; i < u.partialCount; i = i + ${WORKGROUP}u) { s = s + partials[i]; }
  acc[lid] = s;
  workgroupBarrier();
  for (var k = ${WORKGROUP / 2}u; k > 0u; k = k >> 1u) {
    if (lid < k) { acc[lid] = acc[lid] + acc[lid + k]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let norm = sqrt(acc[0]);
    clip[0] = norm;
    clip[1] = min(1.0, u.maxNorm / (norm + 1e-6));
  }
}
`;
