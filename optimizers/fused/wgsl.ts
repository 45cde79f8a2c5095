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
 * The update kernels also bind a four-word `guard` buffer `[loss, gradient norm, skips, skip]`
 * ({@linkcode GUARD_WGSL}): where the step's loss or gradient norm is not finite they leave the
 * parameter and its slots as they are, a skipped step, as the CPU backends skip one they read
 * first. A skipped step does not count for the bias corrections: the host counts the steps it
 * queued and learns of skips only once it reads them, so where the device has skipped `k` steps
 * the host does not know of yet, the kernels take the corrections of the step `k` before from the
 * slot's table (`table`, corrections of up to {@linkcode SKIP_TABLE} steps back).
 *
 * @module
 */

/**
 * Words (f32/u32) of one uniform slot: the fields of {@linkcode UNIFORM_FIELDS} (20 words) and the
 * update kernels' table of corrections (from {@linkcode TABLE_OFFSET}), the whole 256 bytes of the
 * slot; slots are 256 bytes apart (WebGPU's offset alignment).
 */
export const UNIFORM_FLOATS = 64;
/**
 * Steps back the table holds corrections for: steps skipped on the device that the host does not
 * know of yet (it reads them a few windows late), beyond which the oldest entry is used. (As many
 * as fit in the slot after its 20 words of fields.)
 */
export const SKIP_TABLE = 22;
/**
 * Word where the table of corrections starts: `[stepSize, sqrtBc2]` of 1, 2, ... steps back (16-
 * byte aligned, as a uniform array of vec4 must be).
 */
export const TABLE_OFFSET = 20;
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
 * 1 - lr * weightDecay, 17 the step's count t as the host knows it (u32, 1 on the first), 18 the
 * skips the host knows of (u32, counted as the guard's `skips`), 19 unused; from word 20 the
 * table: Adam's step size and sqrt(bias correction 2) of t - 1, t - 2, ... (1, 1 where that is
 * below 1), for the steps the device skipped that the host does not know of yet. The scalars made
 * of others (5, 6, 7, 14-16, the table) are computed on the host in float64 and rounded once, as
 * torch's Python floats are: in the kernel, 1 - beta2 would be 1 - fl(beta2) (1.3e-5 off at
 * 0.999).
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
  step: 17,
  knownSkips: 18,
} as const;

/**
 * The uniform slot as every kernel declares it: the fields above, padded to 20 words, and the
 * table of corrections (the update kernels read it; the norm kernels leave it).
 */
const UNIFORMS = /* wgsl */ `
struct U {
  lr: f32, beta1: f32, beta2: f32, eps: f32,
  wd: f32, stepSize: f32, sqrtBc2: f32, undampened: f32,
  flags: u32, n: u32, partialBase: u32, partialCount: u32,
  maxNorm: f32, gradSign: f32, beta1c: f32, beta2c: f32,
  decay: f32, step: u32, knownSkips: u32, pad1: f32,
  table: array<vec4<f32>, ${SKIP_TABLE / 2}>,
};
@group(0) @binding(0) var<uniform> u: U;`;

const HEADER = UNIFORMS + /* wgsl */ `
@group(0) @binding(1) var<storage, read> clip: array<f32, 2>;
@group(0) @binding(2) var<storage, read> guard: array<f32, 4>;
// The step's Adam step size and sqrt(bias correction 2), and whether it is the first (1) or not
// (0): the host's, or where the device skipped steps the host does not know of yet, those of as
// many steps back.
fn corrections() -> vec3<f32> {
  let unknown = u32(guard[2]) - u.knownSkips;
  if (unknown == 0u) {
    return vec3<f32>(u.stepSize, u.sqrtBc2, select(0.0, 1.0, (u.flags & 1u) != 0u));
  }
  let back = min(unknown, ${SKIP_TABLE}u);
  let entry = u.table[(back - 1u) / 2u];
  let pair = select(entry.xy, entry.zw, (back & 1u) == 0u);
  return vec3<f32>(pair, select(0.0, 1.0, u.step == unknown + 1u));
}
`;

const LOOP = /* wgsl */ `
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // a step whose loss or gradient norm is not finite is skipped: nothing is written
  if (guard[3] != 0.0) { return; }
  let c = corrections();
  let stride = nwg.x * ${WORKGROUP}u;
  for (var i = gid.x; i < u.n; i = i + stride) {
    update(i, c);
  }
}
`;

/** SGD with momentum, dampening, nesterov and (L2) weight decay, torch.optim.SGD's order. */
export const SGD_WGSL = HEADER + /* wgsl */ `
@group(0) @binding(3) var<storage, read_write> p: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read_write> buf: array<f32>;
fn update(i: u32, c: vec3<f32>) {
  var d = g[i] * clip[1] * u.gradSign;
  // torch adds the L2 term only where weight_decay != 0: 0 * p of an infinite p would be NaN
  if (u.wd != 0.0) { d = d + u.wd * p[i]; }
  if (u.beta1 != 0.0) {
    var b = d;
    if (c.z == 0.0) { b = u.beta1 * buf[i] + u.undampened * d; }
    buf[i] = b;
    if ((u.flags & 2u) != 0u) { d = d + u.beta1 * b; } else { d = b; }
  }
  p[i] = p[i] - u.lr * d;
}
` + LOOP;

/** Adam / AdamW (decoupled decay flag), amsgrad flag; torch.optim.Adam's arithmetic. */
export const ADAM_WGSL = HEADER + /* wgsl */ `
@group(0) @binding(3) var<storage, read_write> p: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read_write> m: array<f32>;
@group(0) @binding(6) var<storage, read_write> v: array<f32>;
@group(0) @binding(7) var<storage, read_write> vmax: array<f32>;
fn update(i: u32, c: vec3<f32>) {
  var x = p[i];
  var d = g[i] * clip[1] * u.gradSign;
  if ((u.flags & 4u) != 0u) { x = x * u.decay; } else if (u.wd != 0.0) { d = d + u.wd * x; }
  let mi = u.beta1 * m[i] + u.beta1c * d;
  var vi = u.beta2 * v[i] + u.beta2c * d * d;
  m[i] = mi;
  v[i] = vi;
  if ((u.flags & 8u) != 0u) { vi = max(vmax[i], vi); vmax[i] = vi; }
  let denom = sqrt(vi) / c.y + u.eps;
  p[i] = x - (c.x * mi) / denom;
}
` + LOOP;

/** Lion (Chen et al. 2023): sign of the interpolated momentum, decoupled decay. */
export const LION_WGSL = HEADER + /* wgsl */ `
@group(0) @binding(3) var<storage, read_write> p: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read_write> m: array<f32>;
fn update(i: u32, corrected: vec3<f32>) {
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

/**
 * The guard of a step, one thread before the update kernels: `guard` holds `[loss, gradient norm,
 * skips, skip]`, its first two words copied from the step's results. Where either is not finite
 * (all exponent bits set: infinity or NaN; WGSL has no isNan, and may fold `x != x` away) the step
 * is marked skipped and counted.
 */
export const GUARD_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> guard: array<f32, 4>;
fn finite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }
@compute @workgroup_size(1)
fn main() {
  let skip = !(finite(guard[0]) && finite(guard[1]));
  guard[3] = select(0.0, 1.0, skip);
  if (skip) { guard[2] = guard[2] + 1.0; }
}
`;
