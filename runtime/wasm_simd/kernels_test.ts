import assert from "node:assert/strict";
import { assembleKernels, generatedModule, SOURCE, withoutRelaxedSimd } from "./assemble.ts";
import { PLAIN, PLAIN_RELAXED, SHARED, SHARED_RELAXED } from "./kernels_wasm.ts";
import { GEMM_PACK_BYTES, type SimdKernels } from "./kernels.ts";

Deno.test("kernels_wasm.ts is kernels.wat assembled (run `deno task build-wasm-kernels` if not)", async () => {
  const bytes = await assembleKernels(await Deno.readTextFile(SOURCE));
  const generated = await Deno.readTextFile(new URL("./kernels_wasm.ts", SOURCE));
  assert.equal(generated, generatedModule(bytes));
});

function decode(base64: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(base64), (ch) => ch.charCodeAt(0));
}

/** A small bump allocator over a memory of its own. */
function arena(memory: WebAssembly.Memory) {
  let next = 64;
  return {
    floats(values: ArrayLike<number>): Float32Array {
      const view = new Float32Array(memory.buffer, next, values.length);
      view.set(values);
      next += Math.ceil(values.length / 4) * 16 + 16;
      return view;
    },
    doubles(n: number): Float64Array {
      const view = new Float64Array(memory.buffer, next, n).fill(0);
      next += Math.ceil(n / 2) * 16 + 16;
      return view;
    },
  };
}

const random = (n: number, seed: number) =>
  Array.from({ length: n }, (_, i) => Math.sin(seed * 97 + i * 12.9898) * 43758.5453 % 1 * 4 + 3);

Deno.test("the plain-SIMD build writes each fused multiply-add as a multiply and an add", () => {
  const madd = "(f32x4.relaxed_madd (local.get $s) (local.get $b0) (local.get $c00))";
  assert.equal(
    withoutRelaxedSimd(`(local.set $c00 ${madd}) ;; relaxed_madd in a comment stays`),
    "(local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $s) (local.get $b0))))" +
      " ;; relaxed_madd in a comment stays",
  );
  // a form it cannot rewrite is an error, not a build that fails to validate later
  assert.throws(() => withoutRelaxedSimd("(f32x4.relaxed_min (local.get $a) (local.get $b))"));
  assert.throws(() =>
    withoutRelaxedSimd(
      "(f32x4.relaxed_madd (v128.load (local.get $p)) (local.get $a) (local.get $b))",
    )
  );
});

const BUILDS = [
  ["plain", PLAIN],
  ["shared", SHARED],
  ["plain, relaxed SIMD", PLAIN_RELAXED],
  ["shared, relaxed SIMD", SHARED_RELAXED],
] as const;

for (const [variant, base64] of BUILDS) {
  const memory = new WebAssembly.Memory(
    variant.startsWith("shared") ? { initial: 64, maximum: 65536, shared: true } : { initial: 64 },
  );
  const kernels = new WebAssembly.Instance(new WebAssembly.Module(decode(base64)), {
    env: { memory },
  }).exports as unknown as SimdKernels;

  // rows span several blocks of 64, the last one partial
  for (const channels of [8, 7, 1]) {
    Deno.test(`SIMD kernels (${variant} memory, ${channels} channels) equal the scalar math`, () => {
      const rows = 150, n = rows * channels;
      const heap = arena(memory);
      const x = heap.floats(random(n, channels)), dy = heap.floats(random(n, channels + 1));
      const shift = heap.floats(random(channels, 5)), mean = heap.floats(random(channels, 6));
      const [a, b, k] = [7, 8, 9].map((seed) => heap.floats(random(channels, seed)));
      const [s1, s2, sdy, sdyx] = [0, 1, 2, 3].map(() => heap.doubles(channels));
      const block = heap.floats(new Float32Array(2 * channels));
      const zeros = heap.floats(new Float32Array(channels));
      const [xAt, shiftAt] = [x.byteOffset, shift.byteOffset];
      kernels.centredSums(
        xAt,
        shiftAt,
        xAt,
        shiftAt,
        rows,
        channels,
        s1.byteOffset,
        s2.byteOffset,
        block.byteOffset,
      );
      kernels.centredSums(
        dy.byteOffset,
        zeros.byteOffset,
        xAt,
        mean.byteOffset,
        rows,
        channels,
        sdy.byteOffset,
        sdyx.byteOffset,
        block.byteOffset,
      );
      const columns = heap.doubles(channels);
      kernels.columnSums(x.byteOffset, rows, channels, columns.byteOffset);
      const centred = heap.floats(Array.from(x, (v, i) => v - mean[i % channels]));
      const relu = heap.floats(new Float32Array(n));
      kernels.reluGrad(dy.byteOffset, centred.byteOffset, relu.byteOffset, n);
      centred.forEach((v, i) => assert.equal(relu[i], v > 0 ? dy[i] : 0, `reluGrad ${i}`));
      const both = heap.floats(new Float32Array(n)), one = heap.floats(new Float32Array(n));
      const [pa, qa, ba, ka] = [dy, x, both, a].map((v) => v.byteOffset);
      kernels.affine(pa, qa, ba, rows, channels, ka, b.byteOffset, k.byteOffset);
      kernels.affine(
        x.byteOffset,
        0,
        one.byteOffset,
        rows,
        channels,
        ka,
        b.byteOffset,
        k.byteOffset,
      );
      for (let c = 0; c < channels; c++) {
        let column = 0;
        for (let r = 0; r < rows; r++) column += x[r * channels + c];
        assert.ok(Math.abs(columns[c] - column) < 1e-9 * Math.abs(column), `columnSums[${c}]`);
        let e1 = 0, e2 = 0, edy = 0, edyx = 0;
        for (let r = 0; r < rows; r++) {
          const i = r * channels + c, d = x[i] - shift[c];
          e1 += d, e2 += d * d, edy += dy[i], edyx += dy[i] * (x[i] - mean[c]);
          assert.ok(Math.abs(both[i] - (dy[i] * a[c] + x[i] * b[c] + k[c])) < 1e-5, `affine ${i}`);
          assert.ok(Math.abs(one[i] - (x[i] * a[c] + k[c])) < 1e-5, `affine without q ${i}`);
        }
        for (
          const [got, want, what] of [[s1, e1, "s1"], [s2, e2, "s2"], [sdy, edy, "sdy"], [
            sdyx,
            edyx,
            "sdyx",
          ]] as const
        ) {
          assert.ok(
            // float32 within blocks of 64 rows
            Math.abs(got[c] - want) < 1e-6 * Math.max(1, Math.abs(want)),
            `${what}[${c}]: ${got[c]} vs ${want}`,
          );
        }
      }
    });
  }

  Deno.test(`copy and zero (${variant} memory): overlapping ranges, odd sizes`, () => {
    const heap = arena(memory);
    const values = heap.floats(Array.from({ length: 41 }, (_, i) => i + 1));
    kernels.copy(values.byteOffset + 8, values.byteOffset, 4 * 30); // overlapping, forward
    assert.deepEqual(
      Array.from(values.subarray(0, 34)),
      [1, 2, ...Array.from({ length: 30 }, (_, i) => i + 1), 33, 34],
    );
    kernels.zero(values.byteOffset + 4, 4 * 7);
    assert.deepEqual(Array.from(values.subarray(0, 9)), [1, 0, 0, 0, 0, 0, 0, 0, 7]);
  });

  Deno.test(`SIMD 2x2 max-pool gradient (${variant} memory): first maximum, -Infinity, NaN`, () => {
    const [batch, h, w, c] = [2, 4, 6, 8], [oh, ow] = [2, 3];
    const heap = arena(memory);
    // small integers: ties are common
    const xs = random(batch * h * w * c, 3).map((v) => Math.floor(v));
    for (let ch = 0; ch < c; ch += 3) {
      for (const [r, q] of [[0, 0], [0, 1], [1, 0], [1, 1]]) xs[(r * w + q) * c + ch] = -Infinity;
    }
    const ys: number[] = [],
      at = (b: number, r: number, q: number, ch: number) => ((b * h + r) * w + q) * c + ch;
    for (let b = 0; b < batch; b++) {
      for (let r = 0; r < oh; r++) {
        for (let q = 0; q < ow; q++) {
          for (let ch = 0; ch < c; ch++) {
            ys.push(
              Math.max(
                ...[[0, 0], [0, 1], [1, 0], [1, 1]].map(([i, j]) =>
                  xs[at(b, 2 * r + i, 2 * q + j, ch)]
                ),
              ),
            );
          }
        }
      }
    }
    const x = heap.floats(xs), y = heap.floats(ys), g = heap.floats(random(ys.length, 4));
    const dx = heap.floats(new Float32Array(xs.length).fill(123));
    const args = [x, y, g, dx].map((v) => v.byteOffset);
    assert.equal(
      kernels.maxPoolGrad2x2(args[0], args[1], args[2], args[3], batch, h, w, c, oh, ow),
      0,
    );
    const expected = new Float32Array(xs.length);
    ys.forEach((m, o) => {
      const ch = o % c,
        q = Math.floor(o / c) % ow,
        r = Math.floor(o / c / ow) % oh,
        b = Math.floor(o / c / ow / oh);
      if (m === -Infinity) return;
      const first = [[0, 0], [0, 1], [1, 0], [1, 1]].map(([i, j]) =>
        at(b, 2 * r + i, 2 * q + j, ch)
      ).find((i) => x[i] === m)!;
      expected[first] = g[o];
    });
    assert.deepEqual(Array.from(dx), Array.from(expected));
    y[5] = NaN;
    assert.equal(
      kernels.maxPoolGrad2x2(args[0], args[1], args[2], args[3], batch, h, w, c, oh, ow),
      1,
    );
  });

  // rows not a multiple of the 6-row block, depth across blocks of 128, columns across panels of
  // 256; a read row-major and transposed (through its strides); out overwritten and added to
  const GEMM_CASES = [
    { m: 13, k: 300, n: 264, transposed: false, accumulate: false },
    { m: 7, k: 129, n: 8, transposed: true, accumulate: true },
    { m: 6, k: 1, n: 16, transposed: false, accumulate: true },
    { m: 2, k: 5, n: 24, transposed: true, accumulate: false },
    { m: 5, k: 0, n: 8, transposed: false, accumulate: false },
  ];
  for (const c of GEMM_CASES) {
    Deno.test(`gemm (${variant} memory) equals the scalar product: ${JSON.stringify(c)}`, () => {
      const { m, k, n, transposed, accumulate } = c;
      const heap = arena(memory);
      const av = random(m * k, 11), bv = random(k * n, 12), start = random(m * n, 13);
      // a [m, k], stored [k, m] when transposed
      const a = heap.floats(
        transposed
          ? Array.from({ length: m * k }, (_, i) => av[(i % m) * k + Math.floor(i / m)])
          : av,
      );
      const b = heap.floats(bv), out = heap.floats(start);
      const pack = heap.floats(new Float32Array(GEMM_PACK_BYTES / 4));
      const [aRow, aStep] = transposed ? [4, 4 * m] : [4 * k, 4];
      kernels.gemm(
        a.byteOffset,
        b.byteOffset,
        out.byteOffset,
        m,
        k,
        n,
        aRow,
        aStep,
        pack.byteOffset,
        accumulate ? 1 : 0,
      );
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let sum = accumulate ? start[i * n + j] : 0;
          let size = Math.abs(sum);
          for (let q = 0; q < k; q++) {
            sum += av[i * k + q] * bv[q * n + j];
            size += Math.abs(av[i * k + q] * bv[q * n + j]);
          }
          const got = out[i * n + j];
          assert.ok(Math.abs(got - sum) <= 1e-6 * size, `[${i}, ${j}]: ${got} vs ${sum}`);
        }
      }
    });
  }

  // blocks of 4 x 4 and their remainders (rows and columns past a multiple of 4), a read
  // row-major and transposed, a depth of 0; values of either sign and of many magnitudes, so that
  // another order of additions (or a fused multiply-add) would round differently somewhere
  const GEMM64_CASES = [
    { m: 9, k: 37, n: 11, transposed: false },
    { m: 4, k: 64, n: 8, transposed: true },
    { m: 3, k: 5, n: 3, transposed: true },
    { m: 13, k: 1, n: 6, transposed: false },
    { m: 5, k: 0, n: 7, transposed: false },
  ];
  for (const c of GEMM64_CASES) {
    Deno.test(`gemm64 (${variant} memory) adds the scalar loop's products, to the bit: ${JSON.stringify(c)}`, () => {
      const { m, k, n, transposed } = c;
      const heap = arena(memory);
      const spread = (n: number, seed: number) =>
        random(n, seed).map((v, i) => (v - 3) * 10 ** ((i * 7) % 9 - 4));
      const av = spread(m * k, 21), bv = spread(k * n, 22), start = spread(m * n, 23);
      const a = heap.doubles(m * k), b = heap.doubles(k * n), out = heap.doubles(m * n);
      // a [m, k], stored [k, m] when transposed
      a.set(
        transposed
          ? Array.from({ length: m * k }, (_, i) => av[(i % m) * k + Math.floor(i / m)])
          : av,
      );
      b.set(bv);
      out.set(start);
      const [aRow, aStep] = transposed ? [8, 8 * m] : [8 * k, 8];
      kernels.gemm64(a.byteOffset, b.byteOffset, out.byteOffset, m, k, n, aRow, aStep);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let z = start[i * n + j];
          for (let q = 0; q < k; q++) z += av[i * k + q] * bv[q * n + j];
          assert.ok(Object.is(out[i * n + j], z), `[${i}, ${j}]: ${out[i * n + j]} vs ${z}`);
        }
      }
    });
  }

  Deno.test(`hostActivate and hostReluGrad (${variant} memory) compute the host step's loops value for value`, () => {
    const heap = arena(memory);
    // NaN, both zeros, infinities, values float32 rounds (ties too), an odd count (the last
    // value alone)
    const values = [
      NaN,
      -0,
      0,
      Infinity,
      -Infinity,
      1 + 2 ** -24,
      1 + 3 * 2 ** -24,
      -(1 + 2 ** -24),
      1e-46,
      -1e-46,
      3.4028235677973366e38,
      -2.5,
      0.1,
      ...random(20, 31).map((v) => v - 5),
    ];
    for (const relu of [1, 0]) {
      const x = heap.doubles(values.length);
      x.set(values);
      kernels.hostActivate(x.byteOffset, x.length, relu);
      values.forEach((v, i) => {
        const expected = Math.fround(relu && v < 0 ? 0 : v);
        assert.ok(Object.is(x[i], expected), `relu ${relu}, ${v}: ${x[i]} vs ${expected}`);
      });
    }
    // relu's derivative at outputs of every sign times gradients of every kind
    const outputs = heap.doubles(values.length);
    outputs.set(values.map((_, i) => values[(i * 7 + 3) % values.length]));
    const d = heap.doubles(values.length);
    d.set(values);
    kernels.hostReluGrad(d.byteOffset, outputs.byteOffset, d.length);
    values.forEach((v, i) => {
      const expected = v * (outputs[i] > 0 ? 1 : 0);
      assert.ok(Object.is(d[i], expected), `${v} at ${outputs[i]}: ${d[i]} vs ${expected}`);
    });
  });
}
