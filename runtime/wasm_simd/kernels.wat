;; anneal's SIMD kernels for tfjs-backend-wasm: element-wise passes over channels-last tensors
;; that tfjs runs as many generic ops or as JavaScript loops (batch norm in training and its
;; gradient, the 2x2 max-pool gradient, relu's gradient, sums over leading axes), and block
;; copies. They work in tfjs-wasm's own memory (imported), on tensors it allocated: every pointer
;; is a byte offset in that memory. Vector loops take four channels at a time; when the channel
;; count is not a multiple of four a scalar loop does the rest of each row.
;;
;; Source of runtime/wasm_simd/kernels_wasm.ts: `deno task build-wasm-kernels` assembles it
;; (with wabt) once with a plain and once with a shared memory import (tfjs-wasm's threaded build
;; shares its memory). Sums end in float64.
(module
  (import "env" "memory" (memory 1)) ;; MEMORY (the build tool rewrites this line per variant)

  ;; Per channel c of p and q [rows, channels], centred by cp and cq [channels]:
  ;; s1[c] += p - cp[c], s2[c] += (p - cp[c]) * (q - cq[c]) (s1, s2: float64 [channels], summed
  ;; into). Batch norm's statistics are (x, shift, x, shift), its gradient's sums (dy, 0, x,
  ;; mean). Rows are summed in float32 in blocks of 64 (in `block`, 2 * channels float32 of
  ;; scratch), each block then added to the float64 sums.
  (func (export "centredSums")
    (param $p i32) (param $cp i32) (param $q i32) (param $cq i32) (param $rows i32)
    (param $channels i32) (param $s1 i32) (param $s2 i32) (param $block i32)
    (local $r i32) (local $end i32) (local $k i32) (local $vec i32) (local $at i32) (local $off i32)
    (local $second i32) (local $acc i32) (local $a v128) (local $b v128) (local $sa f32)
    (local.set $vec (i32.and (local.get $channels) (i32.const -4)))
    (local.set $second (i32.add (local.get $block) (i32.shl (local.get $channels) (i32.const 2))))
    (block $done (loop $blocks
      (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $end (select
        (local.get $rows)
        (i32.add (local.get $r) (i32.const 64))
        (i32.gt_u (i32.add (local.get $r) (i32.const 64)) (local.get $rows))))
      (local.set $k (i32.const 0))
      (block $zdone (loop $zero
        (br_if $zdone (i32.ge_u (local.get $k) (i32.shl (local.get $channels) (i32.const 1))))
        (f32.store (i32.add (local.get $block) (i32.shl (local.get $k) (i32.const 2))) (f32.const 0))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $zero)))
      (block $rdone (loop $rowsLoop
        (br_if $rdone (i32.ge_u (local.get $r) (local.get $end)))
        (local.set $off (i32.shl (i32.mul (local.get $r) (local.get $channels)) (i32.const 2)))
        (local.set $k (i32.const 0))
        (block $vdone (loop $v
          (br_if $vdone (i32.ge_u (local.get $k) (local.get $vec)))
          (local.set $at (i32.shl (local.get $k) (i32.const 2)))
          (local.set $a (f32x4.sub
            (v128.load align=4 (i32.add (local.get $p) (i32.add (local.get $off) (local.get $at))))
            (v128.load align=4 (i32.add (local.get $cp) (local.get $at)))))
          (local.set $b (f32x4.sub
            (v128.load align=4 (i32.add (local.get $q) (i32.add (local.get $off) (local.get $at))))
            (v128.load align=4 (i32.add (local.get $cq) (local.get $at)))))
          (local.set $acc (i32.add (local.get $block) (local.get $at)))
          (v128.store align=4 (local.get $acc)
            (f32x4.add (v128.load align=4 (local.get $acc)) (local.get $a)))
          (local.set $acc (i32.add (local.get $second) (local.get $at)))
          (v128.store align=4 (local.get $acc)
            (f32x4.add (v128.load align=4 (local.get $acc)) (f32x4.mul (local.get $a) (local.get $b))))
          (local.set $k (i32.add (local.get $k) (i32.const 4)))
          (br $v)))
        (block $sdone (loop $s
          (br_if $sdone (i32.ge_u (local.get $k) (local.get $channels)))
          (local.set $at (i32.shl (local.get $k) (i32.const 2)))
          (local.set $sa (f32.sub
            (f32.load (i32.add (local.get $p) (i32.add (local.get $off) (local.get $at))))
            (f32.load (i32.add (local.get $cp) (local.get $at)))))
          (local.set $acc (i32.add (local.get $block) (local.get $at)))
          (f32.store (local.get $acc) (f32.add (f32.load (local.get $acc)) (local.get $sa)))
          (local.set $acc (i32.add (local.get $second) (local.get $at)))
          (f32.store (local.get $acc) (f32.add (f32.load (local.get $acc)) (f32.mul (local.get $sa)
            (f32.sub
              (f32.load (i32.add (local.get $q) (i32.add (local.get $off) (local.get $at))))
              (f32.load (i32.add (local.get $cq) (local.get $at)))))))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $s)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowsLoop)))
      ;; the block into the float64 sums
      (local.set $k (i32.const 0))
      (block $fdone (loop $flush
        (br_if $fdone (i32.ge_u (local.get $k) (local.get $channels)))
        (local.set $acc (i32.add (local.get $s1) (i32.shl (local.get $k) (i32.const 3))))
        (f64.store (local.get $acc) (f64.add (f64.load (local.get $acc))
          (f64.promote_f32 (f32.load (i32.add (local.get $block) (i32.shl (local.get $k) (i32.const 2)))))))
        (local.set $acc (i32.add (local.get $s2) (i32.shl (local.get $k) (i32.const 3))))
        (f64.store (local.get $acc) (f64.add (f64.load (local.get $acc))
          (f64.promote_f32 (f32.load (i32.add (local.get $second) (i32.shl (local.get $k) (i32.const 2)))))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $flush)))
      (br $blocks)))
  )

  ;; out[r, c] = p[r, c] * a[c] + q[r, c] * b[c] + k[c] over [rows, channels]; q may be 0 (no
  ;; q term). a, b, k: float32 [channels]. out may be p.
  (func (export "affine")
    (param $p i32) (param $q i32) (param $out i32) (param $rows i32) (param $channels i32)
    (param $a i32) (param $b i32) (param $k i32)
    (local $r i32) (local $c i32) (local $vec i32) (local $at i32) (local $off i32) (local $v v128)
    (local $s f32)
    (local.set $vec (i32.and (local.get $channels) (i32.const -4)))
    (block $done (loop $rows
      (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $c (i32.const 0))
      (block $vdone (loop $vl
        (br_if $vdone (i32.ge_u (local.get $c) (local.get $vec)))
        (local.set $at (i32.shl (local.get $c) (i32.const 2)))
        (local.set $v (f32x4.add
          (f32x4.mul
            (v128.load align=4 (i32.add (local.get $p) (i32.add (local.get $off) (local.get $at))))
            (v128.load align=4 (i32.add (local.get $a) (local.get $at))))
          (v128.load align=4 (i32.add (local.get $k) (local.get $at)))))
        (if (local.get $q) (then
          (local.set $v (f32x4.add (local.get $v) (f32x4.mul
            (v128.load align=4 (i32.add (local.get $q) (i32.add (local.get $off) (local.get $at))))
            (v128.load align=4 (i32.add (local.get $b) (local.get $at))))))))
        (v128.store align=4 (i32.add (local.get $out) (i32.add (local.get $off) (local.get $at))) (local.get $v))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $vl)))
      (block $sdone (loop $sl
        (br_if $sdone (i32.ge_u (local.get $c) (local.get $channels)))
        (local.set $at (i32.shl (local.get $c) (i32.const 2)))
        (local.set $s (f32.add
          (f32.mul
            (f32.load (i32.add (local.get $p) (i32.add (local.get $off) (local.get $at))))
            (f32.load (i32.add (local.get $a) (local.get $at))))
          (f32.load (i32.add (local.get $k) (local.get $at)))))
        (if (local.get $q) (then
          (local.set $s (f32.add (local.get $s) (f32.mul
            (f32.load (i32.add (local.get $q) (i32.add (local.get $off) (local.get $at))))
            (f32.load (i32.add (local.get $b) (local.get $at))))))))
        (f32.store (i32.add (local.get $out) (i32.add (local.get $off) (local.get $at))) (local.get $s))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $sl)))
      (local.set $off (i32.add (local.get $off) (i32.shl (local.get $channels) (i32.const 2))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rows)))
  )

  ;; sums[c] += x[r, c] over x [rows, columns] (sums: float64 [columns], summed into).
  (func (export "columnSums")
    (param $x i32) (param $rows i32) (param $columns i32) (param $sums i32)
    (local $r i32) (local $k i32) (local $vec i32) (local $row i32) (local $acc i32) (local $d v128)
    (local.set $vec (i32.and (local.get $columns) (i32.const -4)))
    (local.set $row (local.get $x))
    (block $done (loop $rows
      (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $k (i32.const 0))
      (block $vdone (loop $v
        (br_if $vdone (i32.ge_u (local.get $k) (local.get $vec)))
        (local.set $d (v128.load align=4 (i32.add (local.get $row) (i32.shl (local.get $k) (i32.const 2)))))
        (local.set $acc (i32.add (local.get $sums) (i32.shl (local.get $k) (i32.const 3))))
        (v128.store align=8 (local.get $acc)
          (f64x2.add (v128.load align=8 (local.get $acc)) (f64x2.promote_low_f32x4 (local.get $d))))
        (v128.store offset=16 align=8 (local.get $acc)
          (f64x2.add (v128.load offset=16 align=8 (local.get $acc))
            (f64x2.promote_low_f32x4
              (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $d) (local.get $d)))))
        (local.set $k (i32.add (local.get $k) (i32.const 4)))
        (br $v)))
      (block $sdone (loop $s
        (br_if $sdone (i32.ge_u (local.get $k) (local.get $columns)))
        (local.set $acc (i32.add (local.get $sums) (i32.shl (local.get $k) (i32.const 3))))
        (f64.store (local.get $acc) (f64.add (f64.load (local.get $acc))
          (f64.promote_f32 (f32.load (i32.add (local.get $row) (i32.shl (local.get $k) (i32.const 2)))))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $s)))
      (local.set $row (i32.add (local.get $row) (i32.shl (local.get $columns) (i32.const 2))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rows)))
  )

  ;; dx = dy where x > 0, else 0 (the gradient of relu), over n values.
  (func (export "reluGrad") (param $dy i32) (param $x i32) (param $dx i32) (param $n i32)
    (local $at i32) (local $end i32) (local $vecEnd i32) (local $zero v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $vecEnd (i32.and (local.get $end) (i32.const -16)))
    (block $vdone (loop $v
      (br_if $vdone (i32.ge_u (local.get $at) (local.get $vecEnd)))
      (v128.store align=4 (i32.add (local.get $dx) (local.get $at))
        (v128.and
          (v128.load align=4 (i32.add (local.get $dy) (local.get $at)))
          (f32x4.gt (v128.load align=4 (i32.add (local.get $x) (local.get $at))) (local.get $zero))))
      (local.set $at (i32.add (local.get $at) (i32.const 16)))
      (br $v)))
    (block $sdone (loop $s
      (br_if $sdone (i32.ge_u (local.get $at) (local.get $end)))
      (f32.store (i32.add (local.get $dx) (local.get $at))
        (select
          (f32.load (i32.add (local.get $dy) (local.get $at)))
          (f32.const 0)
          (f32.gt (f32.load (i32.add (local.get $x) (local.get $at))) (f32.const 0))))
      (local.set $at (i32.add (local.get $at) (i32.const 4)))
      (br $s)))
  )

;; Byte copies and zero fills within the memory (for TypeScript kernels that move blocks: on a
  ;; shared memory, as tfjs-wasm's threaded build has, typed-array copyWithin and fill run ~2x
  ;; slower than memory.copy and memory.fill).
  (func (export "copy") (param $to i32) (param $from i32) (param $bytes i32)
    (memory.copy (local.get $to) (local.get $from) (local.get $bytes)))
  (func (export "zero") (param $to i32) (param $bytes i32)
    (memory.fill (local.get $to) (i32.const 0) (local.get $bytes)))

  ;; dL/dx of 2x2, stride 2 max pooling with every window inside the image (windows start at
  ;; (0, 0); pixels in no window are left as they are: the caller zeroes them). x [batch, inH,
  ;; inW, channels], y and dy [batch, outH, outW, channels], channels a multiple of 4. The first
  ;; pixel of a window (in row order) equal to its output takes dy; a window whose output is
  ;; -Infinity takes none. Returns 1 when an output is NaN (dx is then incomplete), else 0.
  (func (export "maxPoolGrad2x2")
    (param $x i32) (param $y i32) (param $dy i32) (param $dx i32) (param $batch i32)
    (param $inH i32) (param $inW i32) (param $channels i32) (param $outH i32) (param $outW i32)
    (result i32)
    (local $b i32) (local $oh i32) (local $ow i32) (local $c i32)
    (local $pixel i32) (local $rowStride i32) (local $corner i32) (local $from i32) (local $p i32)
    (local $m v128) (local $g v128) (local $open v128) (local $e v128) (local $nan v128)
    (local $minusInf v128)
    (local.set $pixel (i32.shl (local.get $channels) (i32.const 2)))
    (local.set $rowStride (i32.mul (local.get $inW) (local.get $pixel)))
    (local.set $minusInf (f32x4.splat (f32.const -inf)))
    (local.set $nan (v128.const i32x4 0 0 0 0))
    (local.set $from (i32.const 0))
    (block $bdone (loop $bl
      (br_if $bdone (i32.ge_u (local.get $b) (local.get $batch)))
      (local.set $oh (i32.const 0))
      (block $hdone (loop $hl
        (br_if $hdone (i32.ge_u (local.get $oh) (local.get $outH)))
        (local.set $ow (i32.const 0))
        (block $wdone (loop $wl
          (br_if $wdone (i32.ge_u (local.get $ow) (local.get $outW)))
          ;; byte offset of the window's top-left pixel
          (local.set $corner (i32.mul (local.get $pixel)
            (i32.add
              (i32.mul (i32.add (i32.mul (local.get $b) (local.get $inH)) (i32.shl (local.get $oh) (i32.const 1)))
                (local.get $inW))
              (i32.shl (local.get $ow) (i32.const 1)))))
          (local.set $c (i32.const 0))
          (block $cdone (loop $cl
            (br_if $cdone (i32.ge_u (local.get $c) (local.get $pixel)))
            (local.set $m (v128.load align=4 (i32.add (local.get $y) (i32.add (local.get $from) (local.get $c)))))
            (local.set $g (v128.load align=4 (i32.add (local.get $dy) (i32.add (local.get $from) (local.get $c)))))
            (local.set $nan (v128.or (local.get $nan) (f32x4.ne (local.get $m) (local.get $m))))
            (local.set $open (f32x4.gt (local.get $m) (local.get $minusInf)))
            ;; (0, 0)
            (local.set $p (i32.add (local.get $corner) (local.get $c)))
            (local.set $e (v128.and (local.get $open)
              (f32x4.eq (v128.load align=4 (i32.add (local.get $x) (local.get $p))) (local.get $m))))
            (v128.store align=4 (i32.add (local.get $dx) (local.get $p)) (v128.and (local.get $g) (local.get $e)))
            (local.set $open (v128.andnot (local.get $open) (local.get $e)))
            ;; (0, 1)
            (local.set $p (i32.add (local.get $p) (local.get $pixel)))
            (local.set $e (v128.and (local.get $open)
              (f32x4.eq (v128.load align=4 (i32.add (local.get $x) (local.get $p))) (local.get $m))))
            (v128.store align=4 (i32.add (local.get $dx) (local.get $p)) (v128.and (local.get $g) (local.get $e)))
            (local.set $open (v128.andnot (local.get $open) (local.get $e)))
            ;; (1, 0)
            (local.set $p (i32.add (i32.add (local.get $corner) (local.get $c)) (local.get $rowStride)))
            (local.set $e (v128.and (local.get $open)
              (f32x4.eq (v128.load align=4 (i32.add (local.get $x) (local.get $p))) (local.get $m))))
            (v128.store align=4 (i32.add (local.get $dx) (local.get $p)) (v128.and (local.get $g) (local.get $e)))
            (local.set $open (v128.andnot (local.get $open) (local.get $e)))
            ;; (1, 1)
            (local.set $p (i32.add (local.get $p) (local.get $pixel)))
            (local.set $e (v128.and (local.get $open)
              (f32x4.eq (v128.load align=4 (i32.add (local.get $x) (local.get $p))) (local.get $m))))
            (v128.store align=4 (i32.add (local.get $dx) (local.get $p)) (v128.and (local.get $g) (local.get $e)))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $cl)))
          (local.set $from (i32.add (local.get $from) (local.get $pixel)))
          (local.set $ow (i32.add (local.get $ow) (i32.const 1)))
          (br $wl)))
        (local.set $oh (i32.add (local.get $oh) (i32.const 1)))
        (br $hl)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl)))
    (v128.any_true (local.get $nan))
  )
)
