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

  ;; 2x2, stride 2 max pooling with every window inside the image (windows start at (0, 0)):
  ;; x [batch, inH, inW, channels] to y [batch, outH, outW, channels], channels a multiple of 4.
  ;; torch's rule, pixel by pixel in row order: a value greater than the maximum so far, or a NaN,
  ;; takes its place (a window holding a NaN gives NaN; ties keep the first).
  (func (export "maxPool2x2")
    (param $x i32) (param $y i32) (param $batch i32) (param $inH i32) (param $inW i32)
    (param $channels i32) (param $outH i32) (param $outW i32)
    (local $b i32) (local $oh i32) (local $ow i32) (local $c i32)
    (local $pixel i32) (local $rowStride i32) (local $corner i32) (local $to i32) (local $p i32)
    (local $m v128) (local $v v128)
    (local.set $pixel (i32.shl (local.get $channels) (i32.const 2)))
    (local.set $rowStride (i32.mul (local.get $inW) (local.get $pixel)))
    (local.set $to (i32.const 0))
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
            ;; (0, 0)
            (local.set $p (i32.add (i32.add (local.get $x) (local.get $corner)) (local.get $c)))
            (local.set $m (v128.load align=4 (local.get $p)))
            ;; (0, 1)
            (local.set $v (v128.load align=4 (i32.add (local.get $p) (local.get $pixel))))
            (local.set $m (v128.bitselect (local.get $v) (local.get $m)
              (v128.or (f32x4.gt (local.get $v) (local.get $m)) (f32x4.ne (local.get $v) (local.get $v)))))
            ;; (1, 0)
            (local.set $p (i32.add (local.get $p) (local.get $rowStride)))
            (local.set $v (v128.load align=4 (local.get $p)))
            (local.set $m (v128.bitselect (local.get $v) (local.get $m)
              (v128.or (f32x4.gt (local.get $v) (local.get $m)) (f32x4.ne (local.get $v) (local.get $v)))))
            ;; (1, 1)
            (local.set $v (v128.load align=4 (i32.add (local.get $p) (local.get $pixel))))
            (local.set $m (v128.bitselect (local.get $v) (local.get $m)
              (v128.or (f32x4.gt (local.get $v) (local.get $m)) (f32x4.ne (local.get $v) (local.get $v)))))
            (v128.store align=4 (i32.add (local.get $y) (i32.add (local.get $to) (local.get $c))) (local.get $m))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $cl)))
          (local.set $to (i32.add (local.get $to) (local.get $pixel)))
          (local.set $ow (i32.add (local.get $ow) (i32.const 1)))
          (br $wl)))
        (local.set $oh (i32.add (local.get $oh) (i32.const 1)))
        (br $hl)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl)))
  )

  ;; Winograd F(2x2, 3x3), input side: for every 2x2 output tile t = (b, ty, tx) the 4x4 window
  ;; d of the padded input xp [batch, 2 * tilesH + 2, 2 * tilesW + 2, channels] at rows 2ty..2ty+3,
  ;; columns 2tx..2tx+3, transformed to V = Bt d B (Bt = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]);
  ;; V[xi] for xi = 4i + j goes to row t of the matrix [tiles, channels] at the xi-th pointer of
  ;; the 16-pointer table `table`. Channels a multiple of 4; 4 channels per vector.
  (func (export "winogradInput")
    (param $xp i32) (param $table i32) (param $batch i32) (param $tilesH i32) (param $tilesW i32)
    (param $channels i32)
    (local $rowBytes i32) (local $colBytes i32) (local $b i32) (local $ty i32) (local $tx i32)
    (local $base i32) (local $p i32) (local $c i32) (local $cb i32) (local $out i32) (local $o i32)
    (local $c1 i32) (local $c2 i32) (local $c3 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32)
    (local $d00 v128)
    (local $d01 v128)
    (local $d02 v128)
    (local $d03 v128)
    (local $d10 v128)
    (local $d11 v128)
    (local $d12 v128)
    (local $d13 v128)
    (local $d20 v128)
    (local $d21 v128)
    (local $d22 v128)
    (local $d23 v128)
    (local $d30 v128)
    (local $d31 v128)
    (local $d32 v128)
    (local $d33 v128)
    (local $s00 v128)
    (local $s01 v128)
    (local $s02 v128)
    (local $s03 v128)
    (local $s10 v128)
    (local $s11 v128)
    (local $s12 v128)
    (local $s13 v128)
    (local $s20 v128)
    (local $s21 v128)
    (local $s22 v128)
    (local $s23 v128)
    (local $s30 v128)
    (local $s31 v128)
    (local $s32 v128)
    (local $s33 v128)
    (local $t0 i32)
    (local $t1 i32)
    (local $t2 i32)
    (local $t3 i32)
    (local $t4 i32)
    (local $t5 i32)
    (local $t6 i32)
    (local $t7 i32)
    (local $t8 i32)
    (local $t9 i32)
    (local $t10 i32)
    (local $t11 i32)
    (local $t12 i32)
    (local $t13 i32)
    (local $t14 i32)
    (local $t15 i32)
    (local.set $colBytes (i32.shl (local.get $channels) (i32.const 2)))
    (local.set $rowBytes (i32.mul (local.get $colBytes)
      (i32.add (i32.shl (local.get $tilesW) (i32.const 1)) (i32.const 2))))
    (local.set $c1 (local.get $colBytes))
    (local.set $c2 (i32.shl (local.get $colBytes) (i32.const 1)))
    (local.set $c3 (i32.add (local.get $c2) (local.get $colBytes)))
    (local.set $r1 (local.get $rowBytes))
    (local.set $r2 (i32.shl (local.get $rowBytes) (i32.const 1)))
    (local.set $r3 (i32.add (local.get $r2) (local.get $rowBytes)))
    (local.set $t0 (i32.load offset=0 (local.get $table)))
    (local.set $t1 (i32.load offset=4 (local.get $table)))
    (local.set $t2 (i32.load offset=8 (local.get $table)))
    (local.set $t3 (i32.load offset=12 (local.get $table)))
    (local.set $t4 (i32.load offset=16 (local.get $table)))
    (local.set $t5 (i32.load offset=20 (local.get $table)))
    (local.set $t6 (i32.load offset=24 (local.get $table)))
    (local.set $t7 (i32.load offset=28 (local.get $table)))
    (local.set $t8 (i32.load offset=32 (local.get $table)))
    (local.set $t9 (i32.load offset=36 (local.get $table)))
    (local.set $t10 (i32.load offset=40 (local.get $table)))
    (local.set $t11 (i32.load offset=44 (local.get $table)))
    (local.set $t12 (i32.load offset=48 (local.get $table)))
    (local.set $t13 (i32.load offset=52 (local.get $table)))
    (local.set $t14 (i32.load offset=56 (local.get $table)))
    (local.set $t15 (i32.load offset=60 (local.get $table)))
    (local.set $out (i32.const 0)) ;; byte offset of row t in every V matrix
    (block $bdone (loop $bLoop
      (br_if $bdone (i32.ge_u (local.get $b) (local.get $batch)))
      (local.set $ty (i32.const 0))
      (block $ydone (loop $yLoop
        (br_if $ydone (i32.ge_u (local.get $ty) (local.get $tilesH)))
        ;; the window's top-left corner: image b, row 2ty, column 0
        (local.set $base (i32.add (local.get $xp) (i32.mul (local.get $rowBytes)
          (i32.add
            (i32.mul (local.get $b) (i32.add (i32.shl (local.get $tilesH) (i32.const 1)) (i32.const 2)))
            (i32.shl (local.get $ty) (i32.const 1))))))
        (local.set $tx (i32.const 0))
        (block $xdone (loop $xLoop
          (br_if $xdone (i32.ge_u (local.get $tx) (local.get $tilesW)))
          (local.set $c (i32.const 0))
          (block $cdone (loop $cLoop
            (br_if $cdone (i32.ge_u (local.get $c) (local.get $channels)))
            (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
            (local.set $o (i32.add (local.get $out) (local.get $cb)))
            (local.set $p (i32.add (local.get $base) (local.get $cb)))
            (local.set $d00 (v128.load align=4 (local.get $p)))
            (local.set $d01 (v128.load align=4 (i32.add (local.get $p) (local.get $c1))))
            (local.set $d02 (v128.load align=4 (i32.add (local.get $p) (local.get $c2))))
            (local.set $d03 (v128.load align=4 (i32.add (local.get $p) (local.get $c3))))
            (local.set $p (i32.add (i32.add (local.get $base) (local.get $cb)) (local.get $r1)))
            (local.set $d10 (v128.load align=4 (local.get $p)))
            (local.set $d11 (v128.load align=4 (i32.add (local.get $p) (local.get $c1))))
            (local.set $d12 (v128.load align=4 (i32.add (local.get $p) (local.get $c2))))
            (local.set $d13 (v128.load align=4 (i32.add (local.get $p) (local.get $c3))))
            (local.set $p (i32.add (i32.add (local.get $base) (local.get $cb)) (local.get $r2)))
            (local.set $d20 (v128.load align=4 (local.get $p)))
            (local.set $d21 (v128.load align=4 (i32.add (local.get $p) (local.get $c1))))
            (local.set $d22 (v128.load align=4 (i32.add (local.get $p) (local.get $c2))))
            (local.set $d23 (v128.load align=4 (i32.add (local.get $p) (local.get $c3))))
            (local.set $p (i32.add (i32.add (local.get $base) (local.get $cb)) (local.get $r3)))
            (local.set $d30 (v128.load align=4 (local.get $p)))
            (local.set $d31 (v128.load align=4 (i32.add (local.get $p) (local.get $c1))))
            (local.set $d32 (v128.load align=4 (i32.add (local.get $p) (local.get $c2))))
            (local.set $d33 (v128.load align=4 (i32.add (local.get $p) (local.get $c3))))
            (local.set $s00 (f32x4.sub (local.get $d00) (local.get $d20)))
            (local.set $s10 (f32x4.add (local.get $d10) (local.get $d20)))
            (local.set $s20 (f32x4.sub (local.get $d20) (local.get $d10)))
            (local.set $s30 (f32x4.sub (local.get $d10) (local.get $d30)))
            (local.set $s01 (f32x4.sub (local.get $d01) (local.get $d21)))
            (local.set $s11 (f32x4.add (local.get $d11) (local.get $d21)))
            (local.set $s21 (f32x4.sub (local.get $d21) (local.get $d11)))
            (local.set $s31 (f32x4.sub (local.get $d11) (local.get $d31)))
            (local.set $s02 (f32x4.sub (local.get $d02) (local.get $d22)))
            (local.set $s12 (f32x4.add (local.get $d12) (local.get $d22)))
            (local.set $s22 (f32x4.sub (local.get $d22) (local.get $d12)))
            (local.set $s32 (f32x4.sub (local.get $d12) (local.get $d32)))
            (local.set $s03 (f32x4.sub (local.get $d03) (local.get $d23)))
            (local.set $s13 (f32x4.add (local.get $d13) (local.get $d23)))
            (local.set $s23 (f32x4.sub (local.get $d23) (local.get $d13)))
            (local.set $s33 (f32x4.sub (local.get $d13) (local.get $d33)))
            (v128.store align=4 (i32.add (local.get $t0) (local.get $o))
              (f32x4.sub (local.get $s00) (local.get $s02)))
            (v128.store align=4 (i32.add (local.get $t1) (local.get $o))
              (f32x4.add (local.get $s01) (local.get $s02)))
            (v128.store align=4 (i32.add (local.get $t2) (local.get $o))
              (f32x4.sub (local.get $s02) (local.get $s01)))
            (v128.store align=4 (i32.add (local.get $t3) (local.get $o))
              (f32x4.sub (local.get $s01) (local.get $s03)))
            (v128.store align=4 (i32.add (local.get $t4) (local.get $o))
              (f32x4.sub (local.get $s10) (local.get $s12)))
            (v128.store align=4 (i32.add (local.get $t5) (local.get $o))
              (f32x4.add (local.get $s11) (local.get $s12)))
            (v128.store align=4 (i32.add (local.get $t6) (local.get $o))
              (f32x4.sub (local.get $s12) (local.get $s11)))
            (v128.store align=4 (i32.add (local.get $t7) (local.get $o))
              (f32x4.sub (local.get $s11) (local.get $s13)))
            (v128.store align=4 (i32.add (local.get $t8) (local.get $o))
              (f32x4.sub (local.get $s20) (local.get $s22)))
            (v128.store align=4 (i32.add (local.get $t9) (local.get $o))
              (f32x4.add (local.get $s21) (local.get $s22)))
            (v128.store align=4 (i32.add (local.get $t10) (local.get $o))
              (f32x4.sub (local.get $s22) (local.get $s21)))
            (v128.store align=4 (i32.add (local.get $t11) (local.get $o))
              (f32x4.sub (local.get $s21) (local.get $s23)))
            (v128.store align=4 (i32.add (local.get $t12) (local.get $o))
              (f32x4.sub (local.get $s30) (local.get $s32)))
            (v128.store align=4 (i32.add (local.get $t13) (local.get $o))
              (f32x4.add (local.get $s31) (local.get $s32)))
            (v128.store align=4 (i32.add (local.get $t14) (local.get $o))
              (f32x4.sub (local.get $s32) (local.get $s31)))
            (v128.store align=4 (i32.add (local.get $t15) (local.get $o))
              (f32x4.sub (local.get $s31) (local.get $s33)))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $cLoop)))
          (local.set $out (i32.add (local.get $out) (local.get $colBytes)))
          ;; the next window starts 2 columns right
          (local.set $base (i32.add (local.get $base) (i32.shl (local.get $colBytes) (i32.const 1))))
          (local.set $tx (i32.add (local.get $tx) (i32.const 1)))
          (br $xLoop)))
        (local.set $ty (i32.add (local.get $ty) (i32.const 1)))
        (br $yLoop)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bLoop)))
  )

  ;; Winograd F(2x2, 3x3), output side: M[xi] (row t of the [tiles, channels] matrix at the xi-th
  ;; pointer of `table`) to the 2x2 output tile Y = At M A (At = [1 1 1 0; 0 1 -1 -1]) plus
  ;; bias[channel] (and relu when $relu is 1), written to out [batch, outH, outW, channels] at
  ;; rows 2ty, 2ty+1 and columns 2tx, 2tx+1 that lie inside it. Channels a multiple of 4.
  (func (export "winogradOutput")
    (param $table i32) (param $bias i32) (param $out i32) (param $batch i32) (param $tilesH i32)
    (param $tilesW i32) (param $outH i32) (param $outW i32) (param $channels i32) (param $relu i32)
    (local $colBytes i32) (local $rowBytes i32) (local $b i32) (local $ty i32) (local $tx i32)
    (local $row i32) (local $c i32) (local $cb i32) (local $at i32) (local $p i32)
    (local $down i32) (local $right i32) (local $bv v128) (local $zero v128)
    (local $y00 v128) (local $y01 v128) (local $y10 v128) (local $y11 v128)
    (local $m00 v128)
    (local $m01 v128)
    (local $m02 v128)
    (local $m03 v128)
    (local $m10 v128)
    (local $m11 v128)
    (local $m12 v128)
    (local $m13 v128)
    (local $m20 v128)
    (local $m21 v128)
    (local $m22 v128)
    (local $m23 v128)
    (local $m30 v128)
    (local $m31 v128)
    (local $m32 v128)
    (local $m33 v128)
    (local $r00 v128)
    (local $r01 v128)
    (local $r02 v128)
    (local $r03 v128)
    (local $r10 v128)
    (local $r11 v128)
    (local $r12 v128)
    (local $r13 v128)
    (local $t0 i32)
    (local $t1 i32)
    (local $t2 i32)
    (local $t3 i32)
    (local $t4 i32)
    (local $t5 i32)
    (local $t6 i32)
    (local $t7 i32)
    (local $t8 i32)
    (local $t9 i32)
    (local $t10 i32)
    (local $t11 i32)
    (local $t12 i32)
    (local $t13 i32)
    (local $t14 i32)
    (local $t15 i32)
    (local.set $colBytes (i32.shl (local.get $channels) (i32.const 2)))
    (local.set $rowBytes (i32.mul (local.get $colBytes) (local.get $outW)))
    (local.set $t0 (i32.load offset=0 (local.get $table)))
    (local.set $t1 (i32.load offset=4 (local.get $table)))
    (local.set $t2 (i32.load offset=8 (local.get $table)))
    (local.set $t3 (i32.load offset=12 (local.get $table)))
    (local.set $t4 (i32.load offset=16 (local.get $table)))
    (local.set $t5 (i32.load offset=20 (local.get $table)))
    (local.set $t6 (i32.load offset=24 (local.get $table)))
    (local.set $t7 (i32.load offset=28 (local.get $table)))
    (local.set $t8 (i32.load offset=32 (local.get $table)))
    (local.set $t9 (i32.load offset=36 (local.get $table)))
    (local.set $t10 (i32.load offset=40 (local.get $table)))
    (local.set $t11 (i32.load offset=44 (local.get $table)))
    (local.set $t12 (i32.load offset=48 (local.get $table)))
    (local.set $t13 (i32.load offset=52 (local.get $table)))
    (local.set $t14 (i32.load offset=56 (local.get $table)))
    (local.set $t15 (i32.load offset=60 (local.get $table)))
    (local.set $at (i32.const 0)) ;; byte offset of row t in every M matrix
    (block $bdone (loop $bLoop
      (br_if $bdone (i32.ge_u (local.get $b) (local.get $batch)))
      (local.set $ty (i32.const 0))
      (block $ydone (loop $yLoop
        (br_if $ydone (i32.ge_u (local.get $ty) (local.get $tilesH)))
        ;; output row 2ty of image b; whether row 2ty + 1 exists
        (local.set $row (i32.add (local.get $out) (i32.mul (local.get $rowBytes)
          (i32.add (i32.mul (local.get $b) (local.get $outH)) (i32.shl (local.get $ty) (i32.const 1))))))
        (local.set $down (i32.lt_u (i32.add (i32.shl (local.get $ty) (i32.const 1)) (i32.const 1))
          (local.get $outH)))
        (local.set $tx (i32.const 0))
        (block $xdone (loop $xLoop
          (br_if $xdone (i32.ge_u (local.get $tx) (local.get $tilesW)))
          (local.set $right (i32.lt_u (i32.add (i32.shl (local.get $tx) (i32.const 1)) (i32.const 1))
            (local.get $outW)))
          (local.set $c (i32.const 0))
          (block $cdone (loop $cLoop
            (br_if $cdone (i32.ge_u (local.get $c) (local.get $channels)))
            (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
            (local.set $m00 (v128.load align=4 (i32.add (local.get $t0) (i32.add (local.get $at) (local.get $cb)))))
            (local.set $m01 (v128.load align=4 (i32.add (local.get $t1) (i32.add (local.get $at) (local.get $cb)))))
            (local.set $m02 (v128.load align=4 (i32.add (local.get $t2) (i32.add (local.get $at) (local.get $cb)))))
            (local.set $m03 (v128.load align=4 (i32.add (local.get $t3) (i32.add (local.get $at) (local.get $cb)))))
            (local.set $m10 (v128.load align=4 (i32.add (local.get $t4) (i32.add (local.get $at) (local.get $cb)))))
            (local.set $m11 (v128.load align=4 (i32.add (local.get $t5) (i32.add (local.get $at) (local.get $cb)))))
            (local.set $m12 (v128.load align=4 (i32.add (local.get $t6) (i32.add (local.get $at) (local.get $cb)))))
            (local.set $m13 (v128.load align=4 (i32.add (local.get $t7) (i32.add (local.get $at) (local.get $cb)))))
            (local.set $m20 (v128.load align=4 (i32.add (local.get $t8) (i32.add (local.get $at) (local.get $cb)))))
            (local.set $m21 (v128.load align=4 (i32.add (local.get $t9) (i32.add (local.get $at) (local.get $cb)))))
            (local.set $m22 (v128.load align=4 (i32.add (local.get $t10) (i32.add (local.get $at) (local.get $cb)))))
            (local.set $m23 (v128.load align=4 (i32.add (local.get $t11) (i32.add (local.get $at) (local.get $cb)))))
            (local.set $m30 (v128.load align=4 (i32.add (local.get $t12) (i32.add (local.get $at) (local.get $cb)))))
            (local.set $m31 (v128.load align=4 (i32.add (local.get $t13) (i32.add (local.get $at) (local.get $cb)))))
            (local.set $m32 (v128.load align=4 (i32.add (local.get $t14) (i32.add (local.get $at) (local.get $cb)))))
            (local.set $m33 (v128.load align=4 (i32.add (local.get $t15) (i32.add (local.get $at) (local.get $cb)))))
            (local.set $r00 (f32x4.add (f32x4.add (local.get $m00) (local.get $m10)) (local.get $m20)))
            (local.set $r10 (f32x4.sub (f32x4.sub (local.get $m10) (local.get $m20)) (local.get $m30)))
            (local.set $r01 (f32x4.add (f32x4.add (local.get $m01) (local.get $m11)) (local.get $m21)))
            (local.set $r11 (f32x4.sub (f32x4.sub (local.get $m11) (local.get $m21)) (local.get $m31)))
            (local.set $r02 (f32x4.add (f32x4.add (local.get $m02) (local.get $m12)) (local.get $m22)))
            (local.set $r12 (f32x4.sub (f32x4.sub (local.get $m12) (local.get $m22)) (local.get $m32)))
            (local.set $r03 (f32x4.add (f32x4.add (local.get $m03) (local.get $m13)) (local.get $m23)))
            (local.set $r13 (f32x4.sub (f32x4.sub (local.get $m13) (local.get $m23)) (local.get $m33)))
            (local.set $bv (v128.load align=4 (i32.add (local.get $bias) (local.get $cb))))
            (local.set $y00 (f32x4.add (local.get $bv) (f32x4.add (f32x4.add (local.get $r00) (local.get $r01)) (local.get $r02))))
            (local.set $y01 (f32x4.add (local.get $bv) (f32x4.sub (f32x4.sub (local.get $r01) (local.get $r02)) (local.get $r03))))
            (local.set $y10 (f32x4.add (local.get $bv) (f32x4.add (f32x4.add (local.get $r10) (local.get $r11)) (local.get $r12))))
            (local.set $y11 (f32x4.add (local.get $bv) (f32x4.sub (f32x4.sub (local.get $r11) (local.get $r12)) (local.get $r13))))
            (if (local.get $relu) (then
              (local.set $y00 (f32x4.max (local.get $y00) (local.get $zero)))
              (local.set $y01 (f32x4.max (local.get $y01) (local.get $zero)))
              (local.set $y10 (f32x4.max (local.get $y10) (local.get $zero)))
              (local.set $y11 (f32x4.max (local.get $y11) (local.get $zero)))
            ))
            ;; the tile's top-left output: row 2ty, column 2tx
            (local.set $p (i32.add (local.get $row) (i32.add (local.get $cb)
              (i32.mul (local.get $colBytes) (i32.shl (local.get $tx) (i32.const 1))))))
            (v128.store align=4 (local.get $p) (local.get $y00))
            (if (local.get $right) (then
              (v128.store align=4 (i32.add (local.get $p) (local.get $colBytes)) (local.get $y01))))
            (if (local.get $down) (then
              (v128.store align=4 (i32.add (local.get $p) (local.get $rowBytes)) (local.get $y10))
              (if (local.get $right) (then
                (v128.store align=4
                  (i32.add (local.get $p) (i32.add (local.get $rowBytes) (local.get $colBytes)))
                  (local.get $y11))))))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $cLoop)))
          (local.set $at (i32.add (local.get $at) (local.get $colBytes)))
          (local.set $tx (i32.add (local.get $tx) (i32.const 1)))
          (br $xLoop)))
        (local.set $ty (i32.add (local.get $ty) (i32.const 1)))
        (br $yLoop)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bLoop)))
  )

;; Winograd F(2x2, 3x3), the filter gradient's output side: for every 2x2 tile of dy [batch,
  ;; outH, outW, channels] (zeros past its edges), the 16 matrices [tiles, channels] at the
  ;; addresses in `table` get M = A dY At, A = [1 0; 1 1; 1 -1; 0 -1] (the adjoint of the output
  ;; transform: the gradient of U . V, tile by tile). Tiles in batch, row, column order; channels
  ;; a multiple of 4.
  (func (export "winogradGradient")
    (param $dy i32) (param $table i32) (param $batch i32) (param $tilesH i32) (param $tilesW i32)
    (param $outH i32) (param $outW i32) (param $channels i32)
    (local $b i32) (local $ty i32) (local $tx i32) (local $c i32) (local $at i32) (local $o i32)
    (local $colBytes i32) (local $rowBytes i32) (local $row i32) (local $p i32)
    (local $down i32) (local $right i32)
    (local $d00 v128) (local $d01 v128) (local $d10 v128) (local $d11 v128)
    (local $a0 v128) (local $a1 v128) (local $b0 v128) (local $b1 v128)
    (local $c0 v128) (local $c1 v128) (local $e0 v128) (local $e1 v128)
    (local $t0 i32)
    (local $t1 i32)
    (local $t2 i32)
    (local $t3 i32)
    (local $t4 i32)
    (local $t5 i32)
    (local $t6 i32)
    (local $t7 i32)
    (local $t8 i32)
    (local $t9 i32)
    (local $t10 i32)
    (local $t11 i32)
    (local $t12 i32)
    (local $t13 i32)
    (local $t14 i32)
    (local $t15 i32)
    (local.set $colBytes (i32.shl (local.get $channels) (i32.const 2)))
    (local.set $rowBytes (i32.mul (local.get $colBytes) (local.get $outW)))
    (local.set $t0 (i32.load offset=0 (local.get $table)))
    (local.set $t1 (i32.load offset=4 (local.get $table)))
    (local.set $t2 (i32.load offset=8 (local.get $table)))
    (local.set $t3 (i32.load offset=12 (local.get $table)))
    (local.set $t4 (i32.load offset=16 (local.get $table)))
    (local.set $t5 (i32.load offset=20 (local.get $table)))
    (local.set $t6 (i32.load offset=24 (local.get $table)))
    (local.set $t7 (i32.load offset=28 (local.get $table)))
    (local.set $t8 (i32.load offset=32 (local.get $table)))
    (local.set $t9 (i32.load offset=36 (local.get $table)))
    (local.set $t10 (i32.load offset=40 (local.get $table)))
    (local.set $t11 (i32.load offset=44 (local.get $table)))
    (local.set $t12 (i32.load offset=48 (local.get $table)))
    (local.set $t13 (i32.load offset=52 (local.get $table)))
    (local.set $t14 (i32.load offset=56 (local.get $table)))
    (local.set $t15 (i32.load offset=60 (local.get $table)))
    (block $bdone (loop $bLoop
      (br_if $bdone (i32.ge_u (local.get $b) (local.get $batch)))
      (local.set $ty (i32.const 0))
      (block $ydone (loop $yLoop
        (br_if $ydone (i32.ge_u (local.get $ty) (local.get $tilesH)))
        (local.set $row (i32.add (local.get $dy) (i32.mul (local.get $rowBytes)
          (i32.add (i32.mul (local.get $b) (local.get $outH)) (i32.shl (local.get $ty) (i32.const 1))))))
        (local.set $down (i32.lt_u (i32.add (i32.shl (local.get $ty) (i32.const 1)) (i32.const 1))
          (local.get $outH)))
        (local.set $tx (i32.const 0))
        (block $xdone (loop $xLoop
          (br_if $xdone (i32.ge_u (local.get $tx) (local.get $tilesW)))
          (local.set $right (i32.lt_u (i32.add (i32.shl (local.get $tx) (i32.const 1)) (i32.const 1))
            (local.get $outW)))
          (local.set $c (i32.const 0))
          (block $cdone (loop $cLoop
            (br_if $cdone (i32.ge_u (local.get $c) (local.get $colBytes)))
            ;; dY: the tile's 2x2 pixels, four channels (zeros past the edges)
            (local.set $p (i32.add (local.get $row) (i32.add (local.get $c)
              (i32.mul (i32.shl (local.get $tx) (i32.const 1)) (local.get $colBytes)))))
            (local.set $d00 (v128.load align=4 (local.get $p)))
            (local.set $d01 (v128.const i32x4 0 0 0 0))
            (local.set $d10 (v128.const i32x4 0 0 0 0))
            (local.set $d11 (v128.const i32x4 0 0 0 0))
            (if (local.get $right) (then
              (local.set $d01 (v128.load align=4 (i32.add (local.get $p) (local.get $colBytes))))))
            (if (local.get $down) (then
              (local.set $d10 (v128.load align=4 (i32.add (local.get $p) (local.get $rowBytes))))
              (if (local.get $right) (then
                (local.set $d11 (v128.load align=4 (i32.add (local.get $p)
                  (i32.add (local.get $rowBytes) (local.get $colBytes)))))))))
            ;; T = A dY: rows d0, d0 + d1, d0 - d1, -d1 (each two pixels)
            (local.set $a0 (f32x4.add (local.get $d00) (local.get $d10)))
            (local.set $a1 (f32x4.add (local.get $d01) (local.get $d11)))
            (local.set $b0 (f32x4.sub (local.get $d00) (local.get $d10)))
            (local.set $b1 (f32x4.sub (local.get $d01) (local.get $d11)))
            (local.set $c0 (f32x4.neg (local.get $d10)))
            (local.set $c1 (f32x4.neg (local.get $d11)))
            (local.set $o (i32.add (local.get $at) (local.get $c)))
            (v128.store align=4 (i32.add (local.get $t0) (local.get $o)) (local.get $d00))
            (v128.store align=4 (i32.add (local.get $t1) (local.get $o)) (f32x4.add (local.get $d00) (local.get $d01)))
            (v128.store align=4 (i32.add (local.get $t2) (local.get $o)) (f32x4.sub (local.get $d00) (local.get $d01)))
            (v128.store align=4 (i32.add (local.get $t3) (local.get $o)) (f32x4.neg (local.get $d01)))
            (v128.store align=4 (i32.add (local.get $t4) (local.get $o)) (local.get $a0))
            (v128.store align=4 (i32.add (local.get $t5) (local.get $o)) (f32x4.add (local.get $a0) (local.get $a1)))
            (v128.store align=4 (i32.add (local.get $t6) (local.get $o)) (f32x4.sub (local.get $a0) (local.get $a1)))
            (v128.store align=4 (i32.add (local.get $t7) (local.get $o)) (f32x4.neg (local.get $a1)))
            (v128.store align=4 (i32.add (local.get $t8) (local.get $o)) (local.get $b0))
            (v128.store align=4 (i32.add (local.get $t9) (local.get $o)) (f32x4.add (local.get $b0) (local.get $b1)))
            (v128.store align=4 (i32.add (local.get $t10) (local.get $o)) (f32x4.sub (local.get $b0) (local.get $b1)))
            (v128.store align=4 (i32.add (local.get $t11) (local.get $o)) (f32x4.neg (local.get $b1)))
            (v128.store align=4 (i32.add (local.get $t12) (local.get $o)) (local.get $c0))
            (v128.store align=4 (i32.add (local.get $t13) (local.get $o)) (f32x4.add (local.get $c0) (local.get $c1)))
            (v128.store align=4 (i32.add (local.get $t14) (local.get $o)) (f32x4.sub (local.get $c0) (local.get $c1)))
            (v128.store align=4 (i32.add (local.get $t15) (local.get $o)) (f32x4.neg (local.get $c1)))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $cLoop)))
          (local.set $at (i32.add (local.get $at) (local.get $colBytes)))
          (local.set $tx (i32.add (local.get $tx) (i32.const 1)))
          (br $xLoop)))
        (local.set $ty (i32.add (local.get $ty) (i32.const 1)))
        (br $yLoop)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bLoop)))
  )

  ;; dst [cols, rows] = src [rows, cols] transposed, for `count` such matrices one after the
  ;; other (4-byte values). Blocks of 4x4 are transposed in registers (8 shuffles); the rows and
  ;; columns past the last multiple of 4 go one value at a time.
  (func (export "transpose")
    (param $src i32) (param $dst i32) (param $count i32) (param $rows i32) (param $cols i32)
    (local $m i32) (local $r i32) (local $c i32) (local $rows4 i32) (local $cols4 i32)
    (local $srcRow i32) (local $dstRow i32) (local $p i32) (local $q i32) (local $matrix i32)
    (local $a v128) (local $b v128) (local $cc v128) (local $d v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $srcRow (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $dstRow (i32.shl (local.get $rows) (i32.const 2)))
    (local.set $matrix (i32.mul (local.get $srcRow) (local.get $rows)))
    (local.set $rows4 (i32.and (local.get $rows) (i32.const -4)))
    (local.set $cols4 (i32.and (local.get $cols) (i32.const -4)))
    (block $mdone (loop $mLoop
      (br_if $mdone (i32.ge_u (local.get $m) (local.get $count)))
      (local.set $r (i32.const 0))
      (block $rdone (loop $rLoop
        (br_if $rdone (i32.ge_u (local.get $r) (local.get $rows4)))
        (local.set $c (i32.const 0))
        (block $cdone (loop $cLoop
          (br_if $cdone (i32.ge_u (local.get $c) (local.get $cols4)))
          ;; source block at (r, c); its four rows
          (local.set $p (i32.add (local.get $src) (i32.shl
            (i32.add (i32.mul (local.get $r) (local.get $cols)) (local.get $c)) (i32.const 2))))
          (local.set $a (v128.load align=4 (local.get $p)))
          (local.set $p (i32.add (local.get $p) (local.get $srcRow)))
          (local.set $b (v128.load align=4 (local.get $p)))
          (local.set $p (i32.add (local.get $p) (local.get $srcRow)))
          (local.set $cc (v128.load align=4 (local.get $p)))
          (local.set $p (i32.add (local.get $p) (local.get $srcRow)))
          (local.set $d (v128.load align=4 (local.get $p)))
          (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b)))
          (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b)))
          (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $cc) (local.get $d)))
          (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $cc) (local.get $d)))
          ;; destination block at (c, r)
          (local.set $q (i32.add (local.get $dst) (i32.shl
            (i32.add (i32.mul (local.get $c) (local.get $rows)) (local.get $r)) (i32.const 2))))
          (v128.store align=4 (local.get $q)
            (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
          (local.set $q (i32.add (local.get $q) (local.get $dstRow)))
          (v128.store align=4 (local.get $q)
            (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
          (local.set $q (i32.add (local.get $q) (local.get $dstRow)))
          (v128.store align=4 (local.get $q)
            (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
          (local.set $q (i32.add (local.get $q) (local.get $dstRow)))
          (v128.store align=4 (local.get $q)
            (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
          (local.set $c (i32.add (local.get $c) (i32.const 4)))
          (br $cLoop)))
        ;; the columns past cols4, for these 4 rows
        (block $tdone (loop $tLoop
          (br_if $tdone (i32.ge_u (local.get $c) (local.get $cols)))
          (local.set $p (i32.add (local.get $src) (i32.shl
            (i32.add (i32.mul (local.get $r) (local.get $cols)) (local.get $c)) (i32.const 2))))
          (local.set $q (i32.add (local.get $dst) (i32.shl
            (i32.add (i32.mul (local.get $c) (local.get $rows)) (local.get $r)) (i32.const 2))))
          (i32.store (local.get $q) (i32.load (local.get $p)))
          (i32.store offset=4 (local.get $q) (i32.load (i32.add (local.get $p) (local.get $srcRow))))
          (i32.store offset=8 (local.get $q)
            (i32.load (i32.add (local.get $p) (i32.shl (local.get $srcRow) (i32.const 1)))))
          (i32.store offset=12 (local.get $q)
            (i32.load (i32.add (local.get $p) (i32.mul (local.get $srcRow) (i32.const 3)))))
          (local.set $c (i32.add (local.get $c) (i32.const 1)))
          (br $tLoop)))
        (local.set $r (i32.add (local.get $r) (i32.const 4)))
        (br $rLoop)))
      ;; the rows past rows4, one value at a time
      (block $edone (loop $eLoop
        (br_if $edone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $c (i32.const 0))
        (block $ecdone (loop $ecLoop
          (br_if $ecdone (i32.ge_u (local.get $c) (local.get $cols)))
          (i32.store
            (i32.add (local.get $dst) (i32.shl
              (i32.add (i32.mul (local.get $c) (local.get $rows)) (local.get $r)) (i32.const 2)))
            (i32.load (i32.add (local.get $src) (i32.shl
              (i32.add (i32.mul (local.get $r) (local.get $cols)) (local.get $c)) (i32.const 2)))))
          (local.set $c (i32.add (local.get $c) (i32.const 1)))
          (br $ecLoop)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $eLoop)))
      (local.set $src (i32.add (local.get $src) (local.get $matrix)))
      (local.set $dst (i32.add (local.get $dst) (local.get $matrix)))
      (local.set $m (i32.add (local.get $m) (i32.const 1)))
      (br $mLoop)))
  )

  ;; out [rows, cols] = a [rows, depth] . b [depth, cols] (b row-major; cols a multiple of 8;
  ;; out row-major, overwritten). a is read through strides in bytes: aRow between rows, aStep
  ;; between consecutive k (row-major: depth * 4 and 4; a stored [depth, rows]: 4 and rows * 4).
  ;; For a long shared dimension and a small result, such as a filter gradient (patches [taps,
  ;; positions] times dy [positions, channels]), where XNNPACK would first repack all of b.
  ;; Blocks of 3 rows x 8 columns stay in registers while k runs through a chunk of 256 (b's chunk
  ;; stays in cache across the blocks); each block's chunk sum is then added to out. A block past
  ;; the last row reads that row again and stores nothing.
  (func (export "panelProduct")
    (param $a i32) (param $b i32) (param $out i32) (param $rows i32) (param $depth i32)
    (param $cols i32) (param $aRow i32) (param $aStep i32)
    (local $k0 i32) (local $kend i32) (local $m i32) (local $n i32) (local $ka i32) (local $kaEnd i32)
    (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $bp i32) (local $o i32)
    (local $stride i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $b0 v128) (local $b1 v128) (local $s v128)
    (memory.fill (local.get $out) (i32.const 0)
      (i32.shl (i32.mul (local.get $rows) (local.get $cols)) (i32.const 2)))
    (local.set $stride (i32.shl (local.get $cols) (i32.const 2)))
    (block $kdone (loop $kLoop
      (br_if $kdone (i32.ge_u (local.get $k0) (local.get $depth)))
      (local.set $kend (select
        (local.get $depth)
        (i32.add (local.get $k0) (i32.const 256))
        (i32.gt_u (i32.add (local.get $k0) (i32.const 256)) (local.get $depth))))
      (local.set $m (i32.const 0))
      (block $mdone (loop $mLoop
        (br_if $mdone (i32.ge_u (local.get $m) (local.get $rows)))
        ;; the block's three rows of a at k0 (the last row again past the end)
        (local.set $a0 (i32.add (local.get $a) (i32.add
          (i32.mul (local.get $m) (local.get $aRow)) (i32.mul (local.get $k0) (local.get $aStep)))))
        (local.set $a1 (select
          (i32.add (local.get $a0) (local.get $aRow))
          (local.get $a0)
          (i32.lt_u (i32.add (local.get $m) (i32.const 1)) (local.get $rows))))
        (local.set $a2 (select
          (i32.add (local.get $a1) (local.get $aRow))
          (local.get $a1)
          (i32.lt_u (i32.add (local.get $m) (i32.const 2)) (local.get $rows))))
        (local.set $kaEnd (i32.mul (i32.sub (local.get $kend) (local.get $k0)) (local.get $aStep)))
        (local.set $n (i32.const 0))
        (block $ndone (loop $nLoop
          (br_if $ndone (i32.ge_u (local.get $n) (local.get $cols)))
          (local.set $c00 (v128.const i32x4 0 0 0 0))
          (local.set $c01 (v128.const i32x4 0 0 0 0))
          (local.set $c10 (v128.const i32x4 0 0 0 0))
          (local.set $c11 (v128.const i32x4 0 0 0 0))
          (local.set $c20 (v128.const i32x4 0 0 0 0))
          (local.set $c21 (v128.const i32x4 0 0 0 0))
          (local.set $bp (i32.add (local.get $b) (i32.shl
            (i32.add (i32.mul (local.get $k0) (local.get $cols)) (local.get $n)) (i32.const 2))))
          (local.set $ka (i32.const 0))
          (block $idone (loop $inner
            (br_if $idone (i32.ge_u (local.get $ka) (local.get $kaEnd)))
            (local.set $b0 (v128.load align=4 (local.get $bp)))
            (local.set $b1 (v128.load offset=16 align=4 (local.get $bp)))
            (local.set $s (v128.load32_splat align=4 (i32.add (local.get $a0) (local.get $ka))))
            (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $s) (local.get $b0))))
            (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $s) (local.get $b1))))
            (local.set $s (v128.load32_splat align=4 (i32.add (local.get $a1) (local.get $ka))))
            (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $s) (local.get $b0))))
            (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $s) (local.get $b1))))
            (local.set $s (v128.load32_splat align=4 (i32.add (local.get $a2) (local.get $ka))))
            (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $s) (local.get $b0))))
            (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $s) (local.get $b1))))
            (local.set $bp (i32.add (local.get $bp) (local.get $stride)))
            (local.set $ka (i32.add (local.get $ka) (local.get $aStep)))
            (br $inner)))
          (local.set $o (i32.add (local.get $out) (i32.shl
            (i32.add (i32.mul (local.get $m) (local.get $cols)) (local.get $n)) (i32.const 2))))
          (v128.store align=4 (local.get $o)
            (f32x4.add (v128.load align=4 (local.get $o)) (local.get $c00)))
          (v128.store offset=16 align=4 (local.get $o)
            (f32x4.add (v128.load offset=16 align=4 (local.get $o)) (local.get $c01)))
          (if (i32.lt_u (i32.add (local.get $m) (i32.const 1)) (local.get $rows)) (then
            (local.set $o (i32.add (local.get $o) (local.get $stride)))
            (v128.store align=4 (local.get $o)
              (f32x4.add (v128.load align=4 (local.get $o)) (local.get $c10)))
            (v128.store offset=16 align=4 (local.get $o)
              (f32x4.add (v128.load offset=16 align=4 (local.get $o)) (local.get $c11)))))
          (if (i32.lt_u (i32.add (local.get $m) (i32.const 2)) (local.get $rows)) (then
            (local.set $o (i32.add (local.get $o) (local.get $stride)))
            (v128.store align=4 (local.get $o)
              (f32x4.add (v128.load align=4 (local.get $o)) (local.get $c20)))
            (v128.store offset=16 align=4 (local.get $o)
              (f32x4.add (v128.load offset=16 align=4 (local.get $o)) (local.get $c21)))))
          (local.set $n (i32.add (local.get $n) (i32.const 8)))
          (br $nLoop)))
        (local.set $m (i32.add (local.get $m) (i32.const 3)))
        (br $mLoop)))
      (local.set $k0 (local.get $kend))
      (br $kLoop)))
  )

  ;; out [rows, cols] = a [rows, depth] . b [depth, cols] (+ out when accumulate is 1): a general
  ;; product, b row-major, cols a multiple of 8, out row-major. a is read through byte strides as
  ;; in panelProduct (aRow between rows, aStep between consecutive k), so a transposed a costs
  ;; nothing. `pack` is 128 KiB of scratch: b is copied there a block of 128 k by 256 columns at a
  ;; time, as [columns / 8][k][8], so that the inner loop reads it in order (read in place, b's
  ;; rows are one cache set apart for many widths). Blocks of 6 rows x 8 columns stay in registers
  ;; (12 accumulators) while k runs through the block; relaxed_madd is one fused multiply-add
  ;; where the CPU has one (the assembler writes mul + add into the build for engines without
  ;; relaxed SIMD). A block past the last row reads that row again and stores nothing.
  (func (export "gemm")
    (param $a i32) (param $b i32) (param $out i32) (param $rows i32) (param $depth i32)
    (param $cols i32) (param $aRow i32) (param $aStep i32) (param $pack i32)
    (param $accumulate i32)
    (local $n0 i32) (local $nend i32) (local $k0 i32) (local $kend i32) (local $m i32)
    (local $n i32) (local $ka i32) (local $kaEnd i32) (local $bp i32) (local $o i32)
    (local $src i32) (local $dst i32) (local $kk i32) (local $stride i32) (local $last i32)
    (local $fresh i32) (local $zero v128)
    (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $a4 i32) (local $a5 i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128) (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128) (local $c40 v128) (local $c41 v128) (local $c50 v128) (local $c51 v128)
    (local $b0 v128) (local $b1 v128) (local $s v128)
    ;; no k at all: out is 0 (or stays as it is)
    (if (i32.and (i32.eqz (local.get $depth)) (i32.eqz (local.get $accumulate))) (then
      (memory.fill (local.get $out) (i32.const 0)
        (i32.shl (i32.mul (local.get $rows) (local.get $cols)) (i32.const 2)))))
    (local.set $stride (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $last (i32.sub (local.get $rows) (i32.const 1)))
    (block $nPanelsDone (loop $nPanels
      (br_if $nPanelsDone (i32.ge_u (local.get $n0) (local.get $cols)))
      (local.set $nend (select
        (local.get $cols)
        (i32.add (local.get $n0) (i32.const 256))
        (i32.gt_u (i32.add (local.get $n0) (i32.const 256)) (local.get $cols))))
      (local.set $k0 (i32.const 0))
      (block $kBlocksDone (loop $kBlocks
        (br_if $kBlocksDone (i32.ge_u (local.get $k0) (local.get $depth)))
        (local.set $kend (select
          (local.get $depth)
          (i32.add (local.get $k0) (i32.const 128))
          (i32.gt_u (i32.add (local.get $k0) (i32.const 128)) (local.get $depth))))
        ;; the first block of k overwrites out (unless accumulating), the others add to it
        (local.set $fresh (i32.and (i32.eqz (local.get $k0)) (i32.eqz (local.get $accumulate))))
        ;; b [k0, kend) x [n0, nend) to the scratch, 8 columns at a time
        (local.set $dst (local.get $pack))
        (local.set $n (local.get $n0))
        (block $packDone (loop $packColumns
          (br_if $packDone (i32.ge_u (local.get $n) (local.get $nend)))
          (local.set $src (i32.add (local.get $b) (i32.shl
            (i32.add (i32.mul (local.get $k0) (local.get $cols)) (local.get $n)) (i32.const 2))))
          (local.set $kk (local.get $k0))
          (block $packRowsDone (loop $packRows
            (br_if $packRowsDone (i32.ge_u (local.get $kk) (local.get $kend)))
            (v128.store align=4 (local.get $dst) (v128.load align=4 (local.get $src)))
            (v128.store offset=16 align=4 (local.get $dst)
              (v128.load offset=16 align=4 (local.get $src)))
            (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
            (local.set $src (i32.add (local.get $src) (local.get $stride)))
            (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
            (br $packRows)))
          (local.set $n (i32.add (local.get $n) (i32.const 8)))
          (br $packColumns)))
        (local.set $kaEnd (i32.mul (i32.sub (local.get $kend) (local.get $k0)) (local.get $aStep)))
        (local.set $m (i32.const 0))
        (block $mDone (loop $mBlocks
          (br_if $mDone (i32.ge_u (local.get $m) (local.get $rows)))
          ;; the block's rows of a at k0 (the last row again past the end)
          (local.set $a0 (i32.add (local.get $a) (i32.add
            (i32.mul (select (local.get $m) (local.get $last) (i32.lt_u (local.get $m) (local.get $rows)))
              (local.get $aRow))
            (i32.mul (local.get $k0) (local.get $aStep)))))
          (local.set $a1 (i32.add (local.get $a) (i32.add
            (i32.mul (select (i32.add (local.get $m) (i32.const 1)) (local.get $last) (i32.lt_u (i32.add (local.get $m) (i32.const 1)) (local.get $rows)))
              (local.get $aRow))
            (i32.mul (local.get $k0) (local.get $aStep)))))
          (local.set $a2 (i32.add (local.get $a) (i32.add
            (i32.mul (select (i32.add (local.get $m) (i32.const 2)) (local.get $last) (i32.lt_u (i32.add (local.get $m) (i32.const 2)) (local.get $rows)))
              (local.get $aRow))
            (i32.mul (local.get $k0) (local.get $aStep)))))
          (local.set $a3 (i32.add (local.get $a) (i32.add
            (i32.mul (select (i32.add (local.get $m) (i32.const 3)) (local.get $last) (i32.lt_u (i32.add (local.get $m) (i32.const 3)) (local.get $rows)))
              (local.get $aRow))
            (i32.mul (local.get $k0) (local.get $aStep)))))
          (local.set $a4 (i32.add (local.get $a) (i32.add
            (i32.mul (select (i32.add (local.get $m) (i32.const 4)) (local.get $last) (i32.lt_u (i32.add (local.get $m) (i32.const 4)) (local.get $rows)))
              (local.get $aRow))
            (i32.mul (local.get $k0) (local.get $aStep)))))
          (local.set $a5 (i32.add (local.get $a) (i32.add
            (i32.mul (select (i32.add (local.get $m) (i32.const 5)) (local.get $last) (i32.lt_u (i32.add (local.get $m) (i32.const 5)) (local.get $rows)))
              (local.get $aRow))
            (i32.mul (local.get $k0) (local.get $aStep)))))
          (local.set $bp (local.get $pack))
          (local.set $n (local.get $n0))
          (block $nDone (loop $nBlocks
            (br_if $nDone (i32.ge_u (local.get $n) (local.get $nend)))
            (local.set $c00 (v128.const i32x4 0 0 0 0)) (local.set $c01 (v128.const i32x4 0 0 0 0))
            (local.set $c10 (v128.const i32x4 0 0 0 0)) (local.set $c11 (v128.const i32x4 0 0 0 0))
            (local.set $c20 (v128.const i32x4 0 0 0 0)) (local.set $c21 (v128.const i32x4 0 0 0 0))
            (local.set $c30 (v128.const i32x4 0 0 0 0)) (local.set $c31 (v128.const i32x4 0 0 0 0))
            (local.set $c40 (v128.const i32x4 0 0 0 0)) (local.set $c41 (v128.const i32x4 0 0 0 0))
            (local.set $c50 (v128.const i32x4 0 0 0 0)) (local.set $c51 (v128.const i32x4 0 0 0 0))
            (local.set $ka (i32.const 0))
            (block $kDone (loop $inner
              (br_if $kDone (i32.ge_u (local.get $ka) (local.get $kaEnd)))
              (local.set $b0 (v128.load align=4 (local.get $bp)))
              (local.set $b1 (v128.load offset=16 align=4 (local.get $bp)))
              (local.set $s (v128.load32_splat align=4 (i32.add (local.get $a0) (local.get $ka))))
              (local.set $c00 (f32x4.relaxed_madd (local.get $s) (local.get $b0) (local.get $c00)))
              (local.set $c01 (f32x4.relaxed_madd (local.get $s) (local.get $b1) (local.get $c01)))
              (local.set $s (v128.load32_splat align=4 (i32.add (local.get $a1) (local.get $ka))))
              (local.set $c10 (f32x4.relaxed_madd (local.get $s) (local.get $b0) (local.get $c10)))
              (local.set $c11 (f32x4.relaxed_madd (local.get $s) (local.get $b1) (local.get $c11)))
              (local.set $s (v128.load32_splat align=4 (i32.add (local.get $a2) (local.get $ka))))
              (local.set $c20 (f32x4.relaxed_madd (local.get $s) (local.get $b0) (local.get $c20)))
              (local.set $c21 (f32x4.relaxed_madd (local.get $s) (local.get $b1) (local.get $c21)))
              (local.set $s (v128.load32_splat align=4 (i32.add (local.get $a3) (local.get $ka))))
              (local.set $c30 (f32x4.relaxed_madd (local.get $s) (local.get $b0) (local.get $c30)))
              (local.set $c31 (f32x4.relaxed_madd (local.get $s) (local.get $b1) (local.get $c31)))
              (local.set $s (v128.load32_splat align=4 (i32.add (local.get $a4) (local.get $ka))))
              (local.set $c40 (f32x4.relaxed_madd (local.get $s) (local.get $b0) (local.get $c40)))
              (local.set $c41 (f32x4.relaxed_madd (local.get $s) (local.get $b1) (local.get $c41)))
              (local.set $s (v128.load32_splat align=4 (i32.add (local.get $a5) (local.get $ka))))
              (local.set $c50 (f32x4.relaxed_madd (local.get $s) (local.get $b0) (local.get $c50)))
              (local.set $c51 (f32x4.relaxed_madd (local.get $s) (local.get $b1) (local.get $c51)))
              (local.set $bp (i32.add (local.get $bp) (i32.const 32)))
              (local.set $ka (i32.add (local.get $ka) (local.get $aStep)))
              (br $inner)))
            (local.set $o (i32.add (local.get $out) (i32.shl
              (i32.add (i32.mul (local.get $m) (local.get $cols)) (local.get $n)) (i32.const 2))))
            (v128.store align=4 (local.get $o)
              (f32x4.add (select (local.get $zero) (v128.load align=4 (local.get $o)) (local.get $fresh))
              (local.get $c00)))
            (v128.store offset=16 align=4 (local.get $o)
              (f32x4.add
              (select (local.get $zero) (v128.load offset=16 align=4 (local.get $o)) (local.get $fresh))
              (local.get $c01)))
            (if (i32.lt_u (i32.add (local.get $m) (i32.const 1)) (local.get $rows)) (then
              (local.set $o (i32.add (local.get $o) (local.get $stride)))
              (v128.store align=4 (local.get $o)
                (f32x4.add (select (local.get $zero) (v128.load align=4 (local.get $o)) (local.get $fresh))
                  (local.get $c10)))
              (v128.store offset=16 align=4 (local.get $o)
                (f32x4.add
                  (select (local.get $zero) (v128.load offset=16 align=4 (local.get $o)) (local.get $fresh))
                  (local.get $c11)))))
            (if (i32.lt_u (i32.add (local.get $m) (i32.const 2)) (local.get $rows)) (then
              (local.set $o (i32.add (local.get $o) (local.get $stride)))
              (v128.store align=4 (local.get $o)
                (f32x4.add (select (local.get $zero) (v128.load align=4 (local.get $o)) (local.get $fresh))
                  (local.get $c20)))
              (v128.store offset=16 align=4 (local.get $o)
                (f32x4.add
                  (select (local.get $zero) (v128.load offset=16 align=4 (local.get $o)) (local.get $fresh))
                  (local.get $c21)))))
            (if (i32.lt_u (i32.add (local.get $m) (i32.const 3)) (local.get $rows)) (then
              (local.set $o (i32.add (local.get $o) (local.get $stride)))
              (v128.store align=4 (local.get $o)
                (f32x4.add (select (local.get $zero) (v128.load align=4 (local.get $o)) (local.get $fresh))
                  (local.get $c30)))
              (v128.store offset=16 align=4 (local.get $o)
                (f32x4.add
                  (select (local.get $zero) (v128.load offset=16 align=4 (local.get $o)) (local.get $fresh))
                  (local.get $c31)))))
            (if (i32.lt_u (i32.add (local.get $m) (i32.const 4)) (local.get $rows)) (then
              (local.set $o (i32.add (local.get $o) (local.get $stride)))
              (v128.store align=4 (local.get $o)
                (f32x4.add (select (local.get $zero) (v128.load align=4 (local.get $o)) (local.get $fresh))
                  (local.get $c40)))
              (v128.store offset=16 align=4 (local.get $o)
                (f32x4.add
                  (select (local.get $zero) (v128.load offset=16 align=4 (local.get $o)) (local.get $fresh))
                  (local.get $c41)))))
            (if (i32.lt_u (i32.add (local.get $m) (i32.const 5)) (local.get $rows)) (then
              (local.set $o (i32.add (local.get $o) (local.get $stride)))
              (v128.store align=4 (local.get $o)
                (f32x4.add (select (local.get $zero) (v128.load align=4 (local.get $o)) (local.get $fresh))
                  (local.get $c50)))
              (v128.store offset=16 align=4 (local.get $o)
                (f32x4.add
                  (select (local.get $zero) (v128.load offset=16 align=4 (local.get $o)) (local.get $fresh))
                  (local.get $c51)))))
            (local.set $n (i32.add (local.get $n) (i32.const 8)))
            (br $nBlocks)))
          (local.set $m (i32.add (local.get $m) (i32.const 6)))
          (br $mBlocks)))
        (local.set $k0 (local.get $kend))
        (br $kBlocks)))
      (local.set $n0 (local.get $nend))
      (br $nPanels)))
  )

  ;; One Adam/AdamW step over n values, as the reference chain computes it (optimizers/aliases.ts),
  ;; in one pass: d = gradSign g + coupled * p (gradSign -1: torch's maximize, the gradient negated
  ;; before the L2 term; else 1; the L2 term only where coupled is nonzero, as torch adds it only
  ;; when weight_decay != 0: 0 * p is NaN at an infinite p, where AdamW's p stays infinite);
  ;; m' = beta1 m + beta1c d; v' = beta2 v + (beta2c d) d (torch's
  ;; addcmul_ order: finite where d^2 overflows float32);
  ;; s = max(vmax, v') when amsgrad (vmax' = s) else v'; the parameter's new value
  ;; p' = decay p - (stepSize m') / (sqrt(s) / root2 + eps), torch's p.mul_(1 - lr wd) (AdamW; decay
  ;; 1 for Adam) then addcdiv_. beta1c = 1 - beta1, beta2c = 1 - beta2, stepSize = lr / (1 - beta1^t)
  ;; and decay = 1 - lr wd come computed in float64, as torch's Python floats: 1 - beta2 taken here
  ;; in float32 is 1 - fl(beta2), 1.3e-5 off 1 - beta2 at 0.999.
  ;; Outputs go to new buffers (outP, outM, outV, outVmax); vmax/outVmax unused unless amsgrad.
  (func (export "adamUpdate")
    (param $p i32) (param $g i32) (param $m i32) (param $v i32) (param $vmax i32)
    (param $outP i32) (param $outM i32) (param $outV i32) (param $outVmax i32) (param $n i32)
    (param $amsgrad i32) (param $beta1 f32) (param $beta2 f32) (param $eps f32)
    (param $beta1c f32) (param $beta2c f32) (param $root2 f32) (param $stepSize f32)
    (param $coupled f32) (param $decay f32) (param $gradSign f32)
    (local $i i32) (local $at i32) (local $end4 i32) (local $vsign v128)
    (local $vb1 v128) (local $vb1c v128) (local $vb2 v128) (local $vb2c v128) (local $veps v128)
    (local $vr2 v128) (local $vstep v128) (local $vcoup v128) (local $vdecay v128)
    (local $vp v128) (local $vd v128) (local $vm v128) (local $vv v128) (local $vs v128)
    (local $sp f32) (local $sd f32) (local $sm f32) (local $sv f32) (local $ss f32)
    (local $hasCoupled i32)
    (local.set $hasCoupled (f32.ne (local.get $coupled) (f32.const 0)))
    (local.set $vb1 (f32x4.splat (local.get $beta1)))
    (local.set $vb1c (f32x4.splat (local.get $beta1c)))
    (local.set $vb2 (f32x4.splat (local.get $beta2)))
    (local.set $vb2c (f32x4.splat (local.get $beta2c)))
    (local.set $veps (f32x4.splat (local.get $eps)))
    (local.set $vr2 (f32x4.splat (local.get $root2)))
    (local.set $vstep (f32x4.splat (local.get $stepSize)))
    (local.set $vcoup (f32x4.splat (local.get $coupled)))
    (local.set $vdecay (f32x4.splat (local.get $decay)))
    (local.set $vsign (f32x4.splat (local.get $gradSign)))
    (local.set $end4 (i32.and (local.get $n) (i32.const -4)))
    (block $done (loop $vec
      (br_if $done (i32.ge_u (local.get $i) (local.get $end4)))
      (local.set $at (i32.shl (local.get $i) (i32.const 2)))
      (local.set $vp (v128.load align=4 (i32.add (local.get $p) (local.get $at))))
      (local.set $vd
        (f32x4.mul (v128.load align=4 (i32.add (local.get $g) (local.get $at))) (local.get $vsign)))
      (if (local.get $hasCoupled) (then
        (local.set $vd (f32x4.add (local.get $vd) (f32x4.mul (local.get $vcoup) (local.get $vp))))))
      (local.set $vm (f32x4.add
        (f32x4.mul (v128.load align=4 (i32.add (local.get $m) (local.get $at))) (local.get $vb1))
        (f32x4.mul (local.get $vd) (local.get $vb1c))))
      (local.set $vv (f32x4.add
        (f32x4.mul (v128.load align=4 (i32.add (local.get $v) (local.get $at))) (local.get $vb2))
        (f32x4.mul (f32x4.mul (local.get $vd) (local.get $vb2c)) (local.get $vd))))
      (v128.store align=4 (i32.add (local.get $outM) (local.get $at)) (local.get $vm))
      (v128.store align=4 (i32.add (local.get $outV) (local.get $at)) (local.get $vv))
      (local.set $vs (local.get $vv))
      (if (local.get $amsgrad) (then
        (local.set $vs (f32x4.max (local.get $vv)
          (v128.load align=4 (i32.add (local.get $vmax) (local.get $at)))))
        (v128.store align=4 (i32.add (local.get $outVmax) (local.get $at)) (local.get $vs))))
      (v128.store align=4 (i32.add (local.get $outP) (local.get $at))
        (f32x4.sub
          (f32x4.mul (local.get $vp) (local.get $vdecay))
          (f32x4.div (f32x4.mul (local.get $vstep) (local.get $vm))
            (f32x4.add (f32x4.div (f32x4.sqrt (local.get $vs)) (local.get $vr2)) (local.get $veps)))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $vec)))
    (block $sdone (loop $scalar
      (br_if $sdone (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $at (i32.shl (local.get $i) (i32.const 2)))
      (local.set $sp (f32.load (i32.add (local.get $p) (local.get $at))))
      (local.set $sd
        (f32.mul (f32.load (i32.add (local.get $g) (local.get $at))) (local.get $gradSign)))
      (if (local.get $hasCoupled) (then
        (local.set $sd (f32.add (local.get $sd) (f32.mul (local.get $coupled) (local.get $sp))))))
      (local.set $sm (f32.add
        (f32.mul (f32.load (i32.add (local.get $m) (local.get $at))) (local.get $beta1))
        (f32.mul (local.get $sd) (local.get $beta1c))))
      (local.set $sv (f32.add
        (f32.mul (f32.load (i32.add (local.get $v) (local.get $at))) (local.get $beta2))
        (f32.mul (f32.mul (local.get $sd) (local.get $beta2c)) (local.get $sd))))
      (f32.store (i32.add (local.get $outM) (local.get $at)) (local.get $sm))
      (f32.store (i32.add (local.get $outV) (local.get $at)) (local.get $sv))
      (local.set $ss (local.get $sv))
      (if (local.get $amsgrad) (then
        (local.set $ss (f32.max (local.get $sv) (f32.load (i32.add (local.get $vmax) (local.get $at)))))
        (f32.store (i32.add (local.get $outVmax) (local.get $at)) (local.get $ss))))
      (f32.store (i32.add (local.get $outP) (local.get $at))
        (f32.sub
          (f32.mul (local.get $sp) (local.get $decay))
          (f32.div (f32.mul (local.get $stepSize) (local.get $sm))
            (f32.add (f32.div (f32.sqrt (local.get $ss)) (local.get $root2)) (local.get $eps)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $scalar)))
  )

  ;; One SGD step of a parameter tensor, as the reference chain of tfjs ops computes it (each
  ;; product and sum rounded to float32, no fused multiply-add): d = g * gradSign (-1: maximize),
  ;; plus p * wd where hasWd (the decay is not 0 before it is rounded to float32: L2); with momentum (useMomentum), the buffer b = buf *
  ;; momentum + d * damp1 (damp1 = 1 - dampening), or d on its first step (hasBuf 0), and d = b,
  ;; or d + b * momentum with nesterov; then p' = p + d * negLr. Writes p' to outP and b to
  ;; outBuf (only with momentum), over n values.
  (func (export "sgdUpdate")
    (param $p i32) (param $g i32) (param $buf i32) (param $outP i32) (param $outBuf i32)
    (param $n i32) (param $useMomentum i32) (param $hasBuf i32) (param $nesterov i32)
    (param $hasWd i32) (param $gradSign f32) (param $wd f32) (param $momentum f32)
    (param $damp1 f32) (param $negLr f32)
    (local $i i32) (local $at i32) (local $end4 i32)
    (local $vsign v128) (local $vwd v128) (local $vm v128) (local $vdamp v128) (local $vlr v128)
    (local $vp v128) (local $vd v128) (local $vb v128)
    (local $sp f32) (local $sd f32) (local $sb f32)
    (local.set $vsign (f32x4.splat (local.get $gradSign)))
    (local.set $vwd (f32x4.splat (local.get $wd)))
    (local.set $vm (f32x4.splat (local.get $momentum)))
    (local.set $vdamp (f32x4.splat (local.get $damp1)))
    (local.set $vlr (f32x4.splat (local.get $negLr)))
    (local.set $end4 (i32.and (local.get $n) (i32.const -4)))
    (block $done (loop $vec
      (br_if $done (i32.ge_u (local.get $i) (local.get $end4)))
      (local.set $at (i32.shl (local.get $i) (i32.const 2)))
      (local.set $vp (v128.load align=4 (i32.add (local.get $p) (local.get $at))))
      (local.set $vd
        (f32x4.mul (v128.load align=4 (i32.add (local.get $g) (local.get $at))) (local.get $vsign)))
      (if (local.get $hasWd) (then
        (local.set $vd (f32x4.add (local.get $vd) (f32x4.mul (local.get $vp) (local.get $vwd))))))
      (if (local.get $useMomentum) (then
        (local.set $vb (local.get $vd))
        (if (local.get $hasBuf) (then
          (local.set $vb (f32x4.add
            (f32x4.mul (v128.load align=4 (i32.add (local.get $buf) (local.get $at))) (local.get $vm))
            (f32x4.mul (local.get $vd) (local.get $vdamp))))))
        (v128.store align=4 (i32.add (local.get $outBuf) (local.get $at)) (local.get $vb))
        (if (local.get $nesterov)
          (then (local.set $vd (f32x4.add (local.get $vd) (f32x4.mul (local.get $vb) (local.get $vm)))))
          (else (local.set $vd (local.get $vb))))))
      (v128.store align=4 (i32.add (local.get $outP) (local.get $at))
        (f32x4.add (local.get $vp) (f32x4.mul (local.get $vd) (local.get $vlr))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $vec)))
    (block $sdone (loop $scalar
      (br_if $sdone (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $at (i32.shl (local.get $i) (i32.const 2)))
      (local.set $sp (f32.load (i32.add (local.get $p) (local.get $at))))
      (local.set $sd
        (f32.mul (f32.load (i32.add (local.get $g) (local.get $at))) (local.get $gradSign)))
      (if (local.get $hasWd) (then
        (local.set $sd (f32.add (local.get $sd) (f32.mul (local.get $sp) (local.get $wd))))))
      (if (local.get $useMomentum) (then
        (local.set $sb (local.get $sd))
        (if (local.get $hasBuf) (then
          (local.set $sb (f32.add
            (f32.mul (f32.load (i32.add (local.get $buf) (local.get $at))) (local.get $momentum))
            (f32.mul (local.get $sd) (local.get $damp1))))))
        (f32.store (i32.add (local.get $outBuf) (local.get $at)) (local.get $sb))
        (if (local.get $nesterov)
          (then (local.set $sd (f32.add (local.get $sd) (f32.mul (local.get $sb) (local.get $momentum)))))
          (else (local.set $sd (local.get $sb))))))
      (f32.store (i32.add (local.get $outP) (local.get $at))
        (f32.add (local.get $sp) (f32.mul (local.get $sd) (local.get $negLr))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $scalar)))
  )

  ;; e^x lane by lane (Cephes' expf): x = n ln2 + r, n whole and |r| <= ln2 / 2; e^r by a
  ;; polynomial of degree 6, 2^n through the exponent's bits. x is clamped to [-87.3, 88.3], where
  ;; e^x and 2^n are normal floats (e^-87.3 ~ 1.2e-38, e^88.3 ~ 2.2e38). Within 2 ulp of e^x;
  ;; NaN stays NaN (min and max keep it).
  (func $exp4 (param $x v128) (result v128)
    (local $n v128) (local $r v128) (local $p v128)
    (local.set $x (f32x4.max (f32x4.min (local.get $x) (v128.const f32x4 88.3 88.3 88.3 88.3)) (v128.const f32x4 -87.3 -87.3 -87.3 -87.3)))
    (local.set $n (f32x4.nearest (f32x4.mul (local.get $x) (v128.const f32x4 1.44269504088896341 1.44269504088896341 1.44269504088896341 1.44269504088896341))))
    ;; r = x - n ln2, ln2 in two parts (0.693359375 is exact in 9 bits: n times it is too)
    (local.set $r (f32x4.sub
      (f32x4.sub (local.get $x) (f32x4.mul (local.get $n) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375)))
      (f32x4.mul (local.get $n) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
    (local.set $p (f32x4.add (f32x4.mul (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4) (local.get $r))
      (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    ;; e^r = p r^2 + r + 1, times 2^n: (n + 127) << 23 as a float's bits
    (f32x4.mul
      (f32x4.add
        (f32x4.add (f32x4.mul (local.get $p) (f32x4.mul (local.get $r) (local.get $r)))
          (local.get $r))
        (v128.const f32x4 1 1 1 1))
      (i32x4.shl
        (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (v128.const i32x4 127 127 127 127))
        (i32.const 23))))

  ;; 1 / (1 + e^-x) lane by lane.
  (func $sigmoid4 (param $x v128) (result v128)
    (f32x4.div (v128.const f32x4 1 1 1 1) (f32x4.add (v128.const f32x4 1 1 1 1) (call $exp4 (f32x4.neg (local.get $x))))))

  ;; tanh x lane by lane (Cephes' tanhf): for |x| < 0.625 x + x^3 P(x^2), P of degree 4; else
  ;; 1 - 2 / (e^2|x| + 1), with x's sign. Within 2 ulp; NaN stays NaN.
  (func $tanh4 (param $x v128) (result v128)
    (local $a v128) (local $z v128) (local $p v128) (local $large v128)
    (local.set $a (f32x4.abs (local.get $x)))
    (local.set $z (f32x4.mul (local.get $x) (local.get $x)))
    (local.set $p (f32x4.add (f32x4.mul (v128.const f32x4 -5.70498872745e-3 -5.70498872745e-3 -5.70498872745e-3 -5.70498872745e-3) (local.get $z))
      (v128.const f32x4 2.06390887954e-2 2.06390887954e-2 2.06390887954e-2 2.06390887954e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $z)) (v128.const f32x4 -5.37397155531e-2 -5.37397155531e-2 -5.37397155531e-2 -5.37397155531e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $z)) (v128.const f32x4 1.33314422036e-1 1.33314422036e-1 1.33314422036e-1 1.33314422036e-1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $z)) (v128.const f32x4 -3.33332819422e-1 -3.33332819422e-1 -3.33332819422e-1 -3.33332819422e-1)))
    (local.set $p (f32x4.add
      (f32x4.mul (f32x4.mul (local.get $p) (local.get $z)) (local.get $x)) (local.get $x)))
    (local.set $large (f32x4.sub (v128.const f32x4 1 1 1 1) (f32x4.div (v128.const f32x4 2 2 2 2)
      (f32x4.add (call $exp4 (f32x4.add (local.get $a) (local.get $a))) (v128.const f32x4 1 1 1 1)))))
    ;; (the magnitude's bits from $large, the sign's from x)
    (local.set $large (v128.bitselect (local.get $large) (local.get $x)
      (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)))
    (v128.bitselect (local.get $p) (local.get $large) (f32x4.lt (local.get $a) (v128.const f32x4 0.625 0.625 0.625 0.625))))

  ;; Four float32 at $at, or (not $wide) the one there in every lane.
  (func $load4 (param $at i32) (param $wide i32) (result v128)
    (if (result v128) (local.get $wide)
      (then (v128.load align=4 (local.get $at)))
      (else (v128.load32_splat (local.get $at)))))

  ;; Stores four lanes at $at, or (not $wide) the first lane alone.
  (func $store4 (param $at i32) (param $v v128) (param $wide i32)
    (if (local.get $wide)
      (then (v128.store align=4 (local.get $at) (local.get $v)))
      (else (v128.store32_lane 0 (local.get $at) (local.get $v)))))

  ;; An LSTM cell's step, torch's nn.LSTM (gates i, f, g, o): from the pre-activations z
  ;; [rows, 4 units] and the cell state c [rows, units], cn = sigmoid(f) c + sigmoid(i) tanh(g)
  ;; and h = sigmoid(o) tanh(cn) [rows, units]. Four units at a time, the last few one by one.
  (func (export "lstmCell")
    (param $z i32) (param $c i32) (param $h i32) (param $cn i32) (param $rows i32)
    (param $units i32)
    (local $r i32) (local $j i32) (local $wide i32) (local $gate i32) (local $zj i32)
    (local $at i32) (local $i v128) (local $f v128) (local $g v128) (local $o v128) (local $next v128)
    (local.set $gate (i32.shl (local.get $units) (i32.const 2)))
    (block $rowsDone (loop $row
      (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $j (i32.const 0))
      (block $unitsDone (loop $unit
        (br_if $unitsDone (i32.ge_u (local.get $j) (local.get $units)))
        (local.set $wide (i32.le_u (i32.add (local.get $j) (i32.const 4)) (local.get $units)))
        ;; byte offsets of unit j: in z's row (4 gates of units each), in a [rows, units] row
        (local.set $zj (i32.add (local.get $z) (i32.shl
          (i32.add (i32.mul (local.get $r) (i32.shl (local.get $units) (i32.const 2)))
            (local.get $j))
          (i32.const 2))))
        (local.set $at (i32.shl
          (i32.add (i32.mul (local.get $r) (local.get $units)) (local.get $j)) (i32.const 2)))
        (local.set $i (call $sigmoid4 (call $load4 (local.get $zj) (local.get $wide))))
        (local.set $f (call $sigmoid4
          (call $load4 (i32.add (local.get $zj) (local.get $gate)) (local.get $wide))))
        (local.set $g (call $tanh4 (call $load4
          (i32.add (local.get $zj) (i32.shl (local.get $gate) (i32.const 1))) (local.get $wide))))
        (local.set $o (call $sigmoid4 (call $load4
          (i32.add (local.get $zj) (i32.mul (local.get $gate) (i32.const 3))) (local.get $wide))))
        (local.set $next (f32x4.add
          (f32x4.mul (local.get $f)
            (call $load4 (i32.add (local.get $c) (local.get $at)) (local.get $wide)))
          (f32x4.mul (local.get $i) (local.get $g))))
        (call $store4 (i32.add (local.get $cn) (local.get $at)) (local.get $next) (local.get $wide))
        (call $store4 (i32.add (local.get $h) (local.get $at))
          (f32x4.mul (local.get $o) (call $tanh4 (local.get $next))) (local.get $wide))
        (local.set $j (i32.add (local.get $j) (select (i32.const 4) (i32.const 1) (local.get $wide))))
        (br $unit)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $row)))
  )

;; The gradient of `lstmCell` at z and c (the step's inputs, its gates computed again) from the
  ;; gradients dh and dcn at its outputs h and cn, in tfjs's autodiff's order of operations:
  ;; with dct = dcn + (dh o) (1 - tanh(cn)^2), dz [rows, 4 units] ((dct g) i (1 - i),
  ;; (dct c) f (1 - f), (dct i) (1 - g^2), (dh tanh(cn)) o (1 - o)) and dc = dct f [rows, units].
  (func (export "lstmCellGrad")
    (param $z i32) (param $c i32) (param $dh i32) (param $dcn i32) (param $dz i32) (param $dc i32)
    (param $rows i32) (param $units i32)
    (local $r i32) (local $j i32) (local $wide i32) (local $gate i32) (local $zj i32)
    (local $oj i32) (local $at i32) (local $i v128) (local $f v128) (local $g v128) (local $o v128)
    (local $cv v128) (local $tc v128) (local $dhv v128) (local $dct v128)
    (local.set $gate (i32.shl (local.get $units) (i32.const 2)))
    (block $rowsDone (loop $row
      (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $j (i32.const 0))
      (block $unitsDone (loop $unit
        (br_if $unitsDone (i32.ge_u (local.get $j) (local.get $units)))
        (local.set $wide (i32.le_u (i32.add (local.get $j) (i32.const 4)) (local.get $units)))
        ;; byte offsets of unit j: in a row of 4 gates (z's, dz's), in a [rows, units] row
        (local.set $oj (i32.shl
          (i32.add (i32.mul (local.get $r) (i32.shl (local.get $units) (i32.const 2)))
            (local.get $j))
          (i32.const 2)))
        (local.set $at (i32.shl
          (i32.add (i32.mul (local.get $r) (local.get $units)) (local.get $j)) (i32.const 2)))
        (local.set $zj (i32.add (local.get $z) (local.get $oj)))
        (local.set $i (call $sigmoid4 (call $load4 (local.get $zj) (local.get $wide))))
        (local.set $f (call $sigmoid4
          (call $load4 (i32.add (local.get $zj) (local.get $gate)) (local.get $wide))))
        (local.set $g (call $tanh4 (call $load4
          (i32.add (local.get $zj) (i32.shl (local.get $gate) (i32.const 1))) (local.get $wide))))
        (local.set $o (call $sigmoid4 (call $load4
          (i32.add (local.get $zj) (i32.mul (local.get $gate) (i32.const 3))) (local.get $wide))))
        (local.set $cv (call $load4 (i32.add (local.get $c) (local.get $at)) (local.get $wide)))
        (local.set $tc (call $tanh4 (f32x4.add (f32x4.mul (local.get $f) (local.get $cv))
          (f32x4.mul (local.get $i) (local.get $g)))))
        (local.set $dhv (call $load4 (i32.add (local.get $dh) (local.get $at)) (local.get $wide)))
        (local.set $dct (f32x4.add
          (call $load4 (i32.add (local.get $dcn) (local.get $at)) (local.get $wide))
          (f32x4.mul (f32x4.mul (local.get $dhv) (local.get $o))
            (f32x4.sub (v128.const f32x4 1 1 1 1) (f32x4.mul (local.get $tc) (local.get $tc))))))
        (call $store4 (i32.add (local.get $dc) (local.get $at))
          (f32x4.mul (local.get $dct) (local.get $f)) (local.get $wide))
        (local.set $oj (i32.add (local.get $dz) (local.get $oj)))
        (call $store4 (local.get $oj)
          (f32x4.mul (f32x4.mul (local.get $dct) (local.get $g))
            (f32x4.mul (local.get $i) (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $i))))
          (local.get $wide))
        (call $store4 (i32.add (local.get $oj) (local.get $gate))
          (f32x4.mul (f32x4.mul (local.get $dct) (local.get $cv))
            (f32x4.mul (local.get $f) (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $f))))
          (local.get $wide))
        (call $store4 (i32.add (local.get $oj) (i32.shl (local.get $gate) (i32.const 1)))
          (f32x4.mul (f32x4.mul (local.get $dct) (local.get $i))
            (f32x4.sub (v128.const f32x4 1 1 1 1) (f32x4.mul (local.get $g) (local.get $g))))
          (local.get $wide))
        (call $store4 (i32.add (local.get $oj) (i32.mul (local.get $gate) (i32.const 3)))
          (f32x4.mul (f32x4.mul (local.get $dhv) (local.get $tc))
            (f32x4.mul (local.get $o) (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $o))))
          (local.get $wide))
        (local.set $j (i32.add (local.get $j) (select (i32.const 4) (i32.const 1) (local.get $wide))))
        (br $unit)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $row)))
  )

  ;; A GRU cell's step, torch's nn.GRU (gates z, r, n; r applied after the recurrent product):
  ;; from the input's and the state's projections xp and hp [rows, 3 units] (each with its bias)
  ;; and the state h [rows, units], z = sigmoid(xz + hz), r = sigmoid(xr + hr),
  ;; n = tanh(xn + r hn) and out = n + z (h - n) [rows, units].
  (func (export "gruCell")
    (param $xp i32) (param $hp i32) (param $h i32) (param $out i32) (param $rows i32)
    (param $units i32)
    (local $r i32) (local $j i32) (local $wide i32) (local $gate i32) (local $gj i32)
    (local $at i32) (local $zv v128) (local $rv v128) (local $n v128)
    (local.set $gate (i32.shl (local.get $units) (i32.const 2)))
    (block $rowsDone (loop $row
      (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $j (i32.const 0))
      (block $unitsDone (loop $unit
        (br_if $unitsDone (i32.ge_u (local.get $j) (local.get $units)))
        (local.set $wide (i32.le_u (i32.add (local.get $j) (i32.const 4)) (local.get $units)))
        ;; byte offsets of unit j: in a row of 3 gates, in a [rows, units] row
        (local.set $gj (i32.shl
          (i32.add (i32.mul (local.get $r) (i32.mul (local.get $units) (i32.const 3)))
            (local.get $j))
          (i32.const 2)))
        (local.set $at (i32.shl
          (i32.add (i32.mul (local.get $r) (local.get $units)) (local.get $j)) (i32.const 2)))
        (local.set $zv (call $sigmoid4 (f32x4.add
          (call $load4 (i32.add (local.get $xp) (local.get $gj)) (local.get $wide))
          (call $load4 (i32.add (local.get $hp) (local.get $gj)) (local.get $wide)))))
        (local.set $gj (i32.add (local.get $gj) (local.get $gate)))
        (local.set $rv (call $sigmoid4 (f32x4.add
          (call $load4 (i32.add (local.get $xp) (local.get $gj)) (local.get $wide))
          (call $load4 (i32.add (local.get $hp) (local.get $gj)) (local.get $wide)))))
        (local.set $gj (i32.add (local.get $gj) (local.get $gate)))
        (local.set $n (call $tanh4 (f32x4.add
          (call $load4 (i32.add (local.get $xp) (local.get $gj)) (local.get $wide))
          (f32x4.mul (local.get $rv)
            (call $load4 (i32.add (local.get $hp) (local.get $gj)) (local.get $wide))))))
        (call $store4 (i32.add (local.get $out) (local.get $at))
          (f32x4.add (local.get $n) (f32x4.mul (local.get $zv) (f32x4.sub
            (call $load4 (i32.add (local.get $h) (local.get $at)) (local.get $wide))
            (local.get $n))))
          (local.get $wide))
        (local.set $j (i32.add (local.get $j) (select (i32.const 4) (i32.const 1) (local.get $wide))))
        (br $unit)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $row)))
  )

  ;; The gradient of `gruCell` at xp, hp and h (its gates computed again) from dy at its output,
  ;; in tfjs's autodiff's order of operations: with dn = dy - dy z, da = dn (1 - n^2) and
  ;; dzp = (dy (h - n)) z (1 - z), drp = (da hn) r (1 - r): dxp = (dzp, drp, da),
  ;; dhp = (dzp, drp, da r) [rows, 3 units] and dh = dy z [rows, units].
  (func (export "gruCellGrad")
    (param $xp i32) (param $hp i32) (param $h i32) (param $dy i32) (param $dxp i32)
    (param $dhp i32) (param $dh i32) (param $rows i32) (param $units i32)
    (local $r i32) (local $j i32) (local $wide i32) (local $gate i32) (local $gj i32)
    (local $at i32) (local $zv v128) (local $rv v128) (local $n v128) (local $hn v128)
    (local $dyv v128) (local $da v128) (local $dzp v128) (local $drp v128)
    (local.set $gate (i32.shl (local.get $units) (i32.const 2)))
    (block $rowsDone (loop $row
      (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $j (i32.const 0))
      (block $unitsDone (loop $unit
        (br_if $unitsDone (i32.ge_u (local.get $j) (local.get $units)))
        (local.set $wide (i32.le_u (i32.add (local.get $j) (i32.const 4)) (local.get $units)))
        (local.set $gj (i32.shl
          (i32.add (i32.mul (local.get $r) (i32.mul (local.get $units) (i32.const 3)))
            (local.get $j))
          (i32.const 2)))
        (local.set $at (i32.shl
          (i32.add (i32.mul (local.get $r) (local.get $units)) (local.get $j)) (i32.const 2)))
        (local.set $zv (call $sigmoid4 (f32x4.add
          (call $load4 (i32.add (local.get $xp) (local.get $gj)) (local.get $wide))
          (call $load4 (i32.add (local.get $hp) (local.get $gj)) (local.get $wide)))))
        (local.set $rv (call $sigmoid4 (f32x4.add
          (call $load4 (i32.add (local.get $xp) (i32.add (local.get $gj) (local.get $gate)))
            (local.get $wide))
          (call $load4 (i32.add (local.get $hp) (i32.add (local.get $gj) (local.get $gate)))
            (local.get $wide)))))
        (local.set $hn (call $load4
          (i32.add (local.get $hp) (i32.add (local.get $gj) (i32.shl (local.get $gate) (i32.const 1))))
          (local.get $wide)))
        (local.set $n (call $tanh4 (f32x4.add
          (call $load4
            (i32.add (local.get $xp) (i32.add (local.get $gj) (i32.shl (local.get $gate) (i32.const 1))))
            (local.get $wide))
          (f32x4.mul (local.get $rv) (local.get $hn)))))
        (local.set $dyv (call $load4 (i32.add (local.get $dy) (local.get $at)) (local.get $wide)))
        (call $store4 (i32.add (local.get $dh) (local.get $at))
          (f32x4.mul (local.get $dyv) (local.get $zv)) (local.get $wide))
        (local.set $dzp (f32x4.mul
          (f32x4.mul (local.get $dyv) (f32x4.sub
            (call $load4 (i32.add (local.get $h) (local.get $at)) (local.get $wide))
            (local.get $n)))
          (f32x4.mul (local.get $zv) (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $zv)))))
        (local.set $da (f32x4.mul
          (f32x4.sub (local.get $dyv) (f32x4.mul (local.get $dyv) (local.get $zv)))
          (f32x4.sub (v128.const f32x4 1 1 1 1) (f32x4.mul (local.get $n) (local.get $n)))))
        (local.set $drp (f32x4.mul (f32x4.mul (local.get $da) (local.get $hn))
          (f32x4.mul (local.get $rv) (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $rv)))))
        (call $store4 (i32.add (local.get $dxp) (local.get $gj)) (local.get $dzp) (local.get $wide))
        (call $store4 (i32.add (local.get $dhp) (local.get $gj)) (local.get $dzp) (local.get $wide))
        (local.set $gj (i32.add (local.get $gj) (local.get $gate)))
        (call $store4 (i32.add (local.get $dxp) (local.get $gj)) (local.get $drp) (local.get $wide))
        (call $store4 (i32.add (local.get $dhp) (local.get $gj)) (local.get $drp) (local.get $wide))
        (local.set $gj (i32.add (local.get $gj) (local.get $gate)))
        (call $store4 (i32.add (local.get $dxp) (local.get $gj)) (local.get $da) (local.get $wide))
        (call $store4 (i32.add (local.get $dhp) (local.get $gj))
          (f32x4.mul (local.get $da) (local.get $rv)) (local.get $wide))
        (local.set $j (i32.add (local.get $j) (select (i32.const 4) (i32.const 1) (local.get $wide))))
        (br $unit)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $row)))
  )

  ;; out [rows, cols] += a [rows, depth] . b [depth, cols] in float64, for the host step of small
  ;; dense models (runtime/dense/host_program.ts), in a memory of its own. Each value of out adds
  ;; its depth products to what it holds, in the order of k, each a multiply then an add (no fused
  ;; multiply-add; wasm rounds every f64 operation as JavaScript does), so that every value is bit
  ;; for bit the scalar loop's `z += a[i, k] * b[k, j]`: only the values computed side by side
  ;; change, never a value's order of additions. b and out row-major (8-byte values); a read
  ;; through byte strides, aRow between rows and aStep between consecutive k (a stored transposed
  ;; costs nothing). Blocks of 4 rows x 4 columns keep 8 accumulators in registers; the rows
  ;; after the last block of 4 take blocks of 1 x 4, and the columns after the last multiple of 4
  ;; go one value at a time.
  (func (export "gemm64")
    (param $a i32) (param $b i32) (param $out i32) (param $rows i32) (param $depth i32)
    (param $cols i32) (param $aRow i32) (param $aStep i32)
    (local $i i32) (local $j i32) (local $k i32) (local $rowEnd i32) (local $colEnd i32)
    (local $stride i32) (local $ap i32) (local $bp i32) (local $o i32)
    (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $s v128) (local $z f64)
    (local.set $stride (i32.shl (local.get $cols) (i32.const 3)))
    (local.set $colEnd (i32.and (local.get $cols) (i32.const -4)))
    (local.set $rowEnd (i32.and (local.get $rows) (i32.const -4)))
    ;; a's rows 1-3 of a block from its first (in bytes), and out's
    (local.set $a1 (local.get $aRow))
    (local.set $a2 (i32.shl (local.get $aRow) (i32.const 1)))
    (local.set $a3 (i32.add (local.get $a2) (local.get $aRow)))
    (local.set $r1 (local.get $stride))
    (local.set $r2 (i32.shl (local.get $stride) (i32.const 1)))
    (local.set $r3 (i32.add (local.get $r2) (local.get $stride)))
    ;; blocks of 4 x 4
    (local.set $i (i32.const 0))
    (block $rowsDone (loop $rowBlocks
      (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $rowEnd)))
      (local.set $j (i32.const 0))
      (block $colsDone (loop $colBlocks
        (br_if $colsDone (i32.ge_u (local.get $j) (local.get $colEnd)))
        (local.set $o (i32.add (local.get $out) (i32.shl
          (i32.add (i32.mul (local.get $i) (local.get $cols)) (local.get $j)) (i32.const 3))))
        (local.set $c00 (v128.load (local.get $o)))
        (local.set $c01 (v128.load offset=16 (local.get $o)))
        (local.set $c10 (v128.load (i32.add (local.get $o) (local.get $r1))))
        (local.set $c11 (v128.load offset=16 (i32.add (local.get $o) (local.get $r1))))
        (local.set $c20 (v128.load (i32.add (local.get $o) (local.get $r2))))
        (local.set $c21 (v128.load offset=16 (i32.add (local.get $o) (local.get $r2))))
        (local.set $c30 (v128.load (i32.add (local.get $o) (local.get $r3))))
        (local.set $c31 (v128.load offset=16 (i32.add (local.get $o) (local.get $r3))))
        (local.set $ap (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $aRow))))
        (local.set $bp (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 3))))
        (local.set $k (local.get $depth))
        (block $kDone (loop $inner
          (br_if $kDone (i32.eqz (local.get $k)))
          (local.set $b0 (v128.load (local.get $bp)))
          (local.set $b1 (v128.load offset=16 (local.get $bp)))
          (local.set $s (v128.load64_splat (local.get $ap)))
          (local.set $c00 (f64x2.add (local.get $c00) (f64x2.mul (local.get $s) (local.get $b0))))
          (local.set $c01 (f64x2.add (local.get $c01) (f64x2.mul (local.get $s) (local.get $b1))))
          (local.set $s (v128.load64_splat (i32.add (local.get $ap) (local.get $a1))))
          (local.set $c10 (f64x2.add (local.get $c10) (f64x2.mul (local.get $s) (local.get $b0))))
          (local.set $c11 (f64x2.add (local.get $c11) (f64x2.mul (local.get $s) (local.get $b1))))
          (local.set $s (v128.load64_splat (i32.add (local.get $ap) (local.get $a2))))
          (local.set $c20 (f64x2.add (local.get $c20) (f64x2.mul (local.get $s) (local.get $b0))))
          (local.set $c21 (f64x2.add (local.get $c21) (f64x2.mul (local.get $s) (local.get $b1))))
          (local.set $s (v128.load64_splat (i32.add (local.get $ap) (local.get $a3))))
          (local.set $c30 (f64x2.add (local.get $c30) (f64x2.mul (local.get $s) (local.get $b0))))
          (local.set $c31 (f64x2.add (local.get $c31) (f64x2.mul (local.get $s) (local.get $b1))))
          (local.set $ap (i32.add (local.get $ap) (local.get $aStep)))
          (local.set $bp (i32.add (local.get $bp) (local.get $stride)))
          (local.set $k (i32.sub (local.get $k) (i32.const 1)))
          (br $inner)))
        (v128.store (local.get $o) (local.get $c00))
        (v128.store offset=16 (local.get $o) (local.get $c01))
        (v128.store (i32.add (local.get $o) (local.get $r1)) (local.get $c10))
        (v128.store offset=16 (i32.add (local.get $o) (local.get $r1)) (local.get $c11))
        (v128.store (i32.add (local.get $o) (local.get $r2)) (local.get $c20))
        (v128.store offset=16 (i32.add (local.get $o) (local.get $r2)) (local.get $c21))
        (v128.store (i32.add (local.get $o) (local.get $r3)) (local.get $c30))
        (v128.store offset=16 (i32.add (local.get $o) (local.get $r3)) (local.get $c31))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $colBlocks)))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $rowBlocks)))
    ;; the rows after the last block of 4: blocks of 1 x 4
    (block $tailRowsDone (loop $tailRows
      (br_if $tailRowsDone (i32.ge_u (local.get $i) (local.get $rows)))
      (local.set $j (i32.const 0))
      (block $tailColsDone (loop $tailCols
        (br_if $tailColsDone (i32.ge_u (local.get $j) (local.get $colEnd)))
        (local.set $o (i32.add (local.get $out) (i32.shl
          (i32.add (i32.mul (local.get $i) (local.get $cols)) (local.get $j)) (i32.const 3))))
        (local.set $c00 (v128.load (local.get $o)))
        (local.set $c01 (v128.load offset=16 (local.get $o)))
        (local.set $ap (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $aRow))))
        (local.set $bp (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 3))))
        (local.set $k (local.get $depth))
        (block $tailKDone (loop $tailInner
          (br_if $tailKDone (i32.eqz (local.get $k)))
          (local.set $b0 (v128.load (local.get $bp)))
          (local.set $b1 (v128.load offset=16 (local.get $bp)))
          (local.set $s (v128.load64_splat (local.get $ap)))
          (local.set $c00 (f64x2.add (local.get $c00) (f64x2.mul (local.get $s) (local.get $b0))))
          (local.set $c01 (f64x2.add (local.get $c01) (f64x2.mul (local.get $s) (local.get $b1))))
          (local.set $ap (i32.add (local.get $ap) (local.get $aStep)))
          (local.set $bp (i32.add (local.get $bp) (local.get $stride)))
          (local.set $k (i32.sub (local.get $k) (i32.const 1)))
          (br $tailInner)))
        (v128.store (local.get $o) (local.get $c00))
        (v128.store offset=16 (local.get $o) (local.get $c01))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $tailCols)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $tailRows)))
    ;; the columns after the last multiple of 4, every row, one value at a time
    (local.set $i (i32.const 0))
    (block $lastRowsDone (loop $lastRows
      (br_if $lastRowsDone (i32.ge_u (local.get $i) (local.get $rows)))
      (local.set $j (local.get $colEnd))
      (block $lastColsDone (loop $lastCols
        (br_if $lastColsDone (i32.ge_u (local.get $j) (local.get $cols)))
        (local.set $o (i32.add (local.get $out) (i32.shl
          (i32.add (i32.mul (local.get $i) (local.get $cols)) (local.get $j)) (i32.const 3))))
        (local.set $z (f64.load (local.get $o)))
        (local.set $ap (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $aRow))))
        (local.set $bp (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 3))))
        (local.set $k (local.get $depth))
        (block $lastKDone (loop $lastInner
          (br_if $lastKDone (i32.eqz (local.get $k)))
          (local.set $z (f64.add (local.get $z)
            (f64.mul (f64.load (local.get $ap)) (f64.load (local.get $bp)))))
          (local.set $ap (i32.add (local.get $ap) (local.get $aStep)))
          (local.set $bp (i32.add (local.get $bp) (local.get $stride)))
          (local.set $k (i32.sub (local.get $k) (i32.const 1)))
          (br $lastInner)))
        (f64.store (local.get $o) (local.get $z))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $lastCols)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $lastRows)))
  )

  ;; The host step's element-wise passes over n float64 values (runtime/dense/host_program.ts),
  ;; two at a time, each value as that file's JavaScript loop computes it. hostActivate, in place:
  ;; x = fround(relu(x)) when relu is 1 (relu as `x < 0 ? 0 : x`: a NaN and -0 pass), else
  ;; x = fround(x) (a layer's outputs held in float32, as torch holds them; the same rounding to
  ;; nearest, ties to even, as Math.fround).
  (func (export "hostActivate") (param $x i32) (param $n i32) (param $relu i32)
    (local $end i32) (local $pairs i32) (local $v v128) (local $zero v128) (local $f f64)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 3))))
    (local.set $pairs (i32.add (local.get $x)
      (i32.shl (i32.and (local.get $n) (i32.const -2)) (i32.const 3))))
    (block $done (loop $pair
      (br_if $done (i32.ge_u (local.get $x) (local.get $pairs)))
      (local.set $v (v128.load (local.get $x)))
      (if (local.get $relu) (then
        (local.set $v (v128.bitselect (local.get $zero) (local.get $v)
          (f64x2.lt (local.get $v) (local.get $zero))))))
      (v128.store (local.get $x)
        (f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero (local.get $v))))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (br $pair)))
    (if (i32.lt_u (local.get $x) (local.get $end)) (then
      (local.set $f (f64.load (local.get $x)))
      (if (i32.and (local.get $relu) (f64.lt (local.get $f) (f64.const 0))) (then
        (local.set $f (f64.const 0))))
      (f64.store (local.get $x) (f64.promote_f32 (f32.demote_f64 (local.get $f))))))
  )

  ;; hostReluGrad, in place: d = d * (a > 0 ? 1 : 0), relu's derivative at its output a as a
  ;; product (so that a NaN or an infinite d times 0 is NaN, as in the JavaScript loop).
  (func (export "hostReluGrad") (param $d i32) (param $a i32) (param $n i32)
    (local $end i32) (local $pairs i32) (local $zero v128) (local $one v128)
    (local.set $one (f64x2.splat (f64.const 1)))
    (local.set $end (i32.add (local.get $d) (i32.shl (local.get $n) (i32.const 3))))
    (local.set $pairs (i32.add (local.get $d)
      (i32.shl (i32.and (local.get $n) (i32.const -2)) (i32.const 3))))
    (block $done (loop $pair
      (br_if $done (i32.ge_u (local.get $d) (local.get $pairs)))
      (v128.store (local.get $d) (f64x2.mul (v128.load (local.get $d))
        (v128.bitselect (local.get $one) (local.get $zero)
          (f64x2.gt (v128.load (local.get $a)) (local.get $zero)))))
      (local.set $d (i32.add (local.get $d) (i32.const 16)))
      (local.set $a (i32.add (local.get $a) (i32.const 16)))
      (br $pair)))
    (if (i32.lt_u (local.get $d) (local.get $end)) (then
      (f64.store (local.get $d) (f64.mul (f64.load (local.get $d))
        (select (f64.const 1) (f64.const 0) (f64.gt (f64.load (local.get $a)) (f64.const 0)))))))
  )
)
