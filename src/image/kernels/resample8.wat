;; Pillow's 8-bit bicubic passes (libImaging/Resample.c, ImagingResampleHorizontal_8bpc and
;; ImagingResampleVertical_8bpc) with WebAssembly SIMD, bit for bit. Hand-written because the
;; horizontal pass over every source row of a 12 MP photo is most of the preprocessing time, and
;; scalar JavaScript runs it about 7 times slower than this.
;;
;; Pillow sums `pixel * weight` in int32 with weights in 22-bit fixed point. The fast SIMD
;; multiply-add (i32x4.dot_i16x8_s: two i16 products added into an i32 lane) needs 16-bit
;; weights, so every weight w is split as w = hi * 2048 + lo (hi = w >> 11, lo = w & 2047, both
;; fit i16) and the sum is rebuilt as (sum(pixel * hi) << 11) + sum(pixel * lo). All of it is
;; int32 arithmetic modulo 2^32, so the result is exactly Pillow's int32 sum, which is then
;; rounded (+ 2^21), shifted (>> 22) and clipped to 0..255 (saturating narrows).
;;
;; Weights are stored by tap pairs, 8 bytes each: [hi(t), hi(t+1), lo(t), lo(t+1)] as i16, so a
;; 32-bit splat of either half gives the i16x8 vector [a, b, a, b, a, b, a, b]. Each output's
;; pairs start at `weights + index * weightStride`, zero-padded to a multiple of 4 taps: the
;; padding multiplies whatever lies past the last tap by 0, so callers leave readable slack
;; after their pixels.
(module
  (memory (export "memory") 1)

  ;; Rounded, shifted and clipped sums of 4 lanes, as the low 4 bytes of the result.
  (func $toBytes (param $hi v128) (param $lo v128) (result v128)
    (local $sum v128)
    (local.set $sum
      (i32x4.shr_s
        (i32x4.add
          (i32x4.add (i32x4.shl (local.get $hi) (i32.const 11)) (local.get $lo))
          (v128.const i32x4 0x200000 0x200000 0x200000 0x200000))
        (i32.const 22)))
    (local.set $sum (i16x8.narrow_i32x4_s (local.get $sum) (local.get $sum)))
    (i8x16.narrow_i16x8_u (local.get $sum) (local.get $sum)))

  ;; Horizontal pass over `rows` rows of interleaved pixels with 1 to 4 channels, two rows at a
  ;; time (they share the weights): an odd count computes one more row, so `src` and `out` need
  ;; room for it. Output pixel `x` of each row reads its taps from byte `offsets[x]` of the row
  ;; (first tap * channels) and has `counts[x]` taps. Four taps per step: one 16-byte load per
  ;; row, and the two swizzle masks at `masks` spread taps (0, 1) and (2, 3) into [tap a, tap b]
  ;; i16 pairs per channel (unused channels read as 0). Output rows are `outPitch` bytes apart;
  ;; each pixel is stored as 4 bytes and the next one starts `channels` bytes later, so rows
  ;; need 3 bytes of slack before the next one.
  (func (export "horizontal")
    (param $src i32) (param $rowBytes i32) (param $rows i32) (param $channels i32)
    (param $outWidth i32) (param $offsets i32) (param $counts i32)
    (param $weights i32) (param $weightStride i32) (param $masks i32) (param $out i32) (param $outPitch i32)
    (local $maskA v128) (local $maskB v128) (local $pixels v128) (local $pairA v128) (local $pairB v128)
    (local $wHiA v128) (local $wLoA v128) (local $wHiB v128) (local $wLoB v128)
    (local $hi0 v128) (local $lo0 v128) (local $hi1 v128) (local $lo1 v128)
    (local $row i32) (local $rowEnd i32) (local $outRow i32)
    (local $x i32) (local $p i32) (local $w i32) (local $wEnd i32)
    (local $step i32)
    (local.set $maskA (v128.load (local.get $masks)))
    (local.set $maskB (v128.load offset=16 (local.get $masks)))
    (local.set $step (i32.shl (local.get $channels) (i32.const 2)))
    (local.set $row (local.get $src))
    (local.set $rowEnd (i32.add (local.get $src) (i32.mul (local.get $rows) (local.get $rowBytes))))
    (local.set $outRow (local.get $out))
    (block $rowsDone
      (loop $eachTwoRows
        (br_if $rowsDone (i32.ge_u (local.get $row) (local.get $rowEnd)))
        (local.set $x (i32.const 0))
        (block $pixelsDone
          (loop $eachPixel
            (br_if $pixelsDone (i32.ge_u (local.get $x) (local.get $outWidth)))
            (local.set $p (i32.add (local.get $row)
              (i32.load (i32.add (local.get $offsets) (i32.shl (local.get $x) (i32.const 2))))))
            (local.set $w (i32.add (local.get $weights) (i32.mul (local.get $x) (local.get $weightStride))))
            ;; ceil(count / 4) steps of 16 weight bytes
            (local.set $wEnd (i32.add (local.get $w) (i32.shl (i32.shr_u
              (i32.add (i32.load (i32.add (local.get $counts) (i32.shl (local.get $x) (i32.const 2)))) (i32.const 3))
              (i32.const 2)) (i32.const 4))))
            (local.set $hi0 (v128.const i32x4 0 0 0 0))
            (local.set $lo0 (v128.const i32x4 0 0 0 0))
            (local.set $hi1 (v128.const i32x4 0 0 0 0))
            (local.set $lo1 (v128.const i32x4 0 0 0 0))
            (block $tapsDone
              (loop $eachFourTaps
                (br_if $tapsDone (i32.ge_u (local.get $w) (local.get $wEnd)))
                (local.set $wHiA (v128.load32_splat (local.get $w)))
                (local.set $wLoA (v128.load32_splat offset=4 (local.get $w)))
                (local.set $wHiB (v128.load32_splat offset=8 (local.get $w)))
                (local.set $wLoB (v128.load32_splat offset=12 (local.get $w)))
                ;; first row
                (local.set $pixels (v128.load (local.get $p)))
                (local.set $pairA (i8x16.swizzle (local.get $pixels) (local.get $maskA)))
                (local.set $pairB (i8x16.swizzle (local.get $pixels) (local.get $maskB)))
                (local.set $hi0 (i32x4.add (local.get $hi0) (i32x4.add
                  (i32x4.dot_i16x8_s (local.get $pairA) (local.get $wHiA))
                  (i32x4.dot_i16x8_s (local.get $pairB) (local.get $wHiB)))))
                (local.set $lo0 (i32x4.add (local.get $lo0) (i32x4.add
                  (i32x4.dot_i16x8_s (local.get $pairA) (local.get $wLoA))
                  (i32x4.dot_i16x8_s (local.get $pairB) (local.get $wLoB)))))
                ;; second row
                (local.set $pixels (v128.load (i32.add (local.get $p) (local.get $rowBytes))))
                (local.set $pairA (i8x16.swizzle (local.get $pixels) (local.get $maskA)))
                (local.set $pairB (i8x16.swizzle (local.get $pixels) (local.get $maskB)))
                (local.set $hi1 (i32x4.add (local.get $hi1) (i32x4.add
                  (i32x4.dot_i16x8_s (local.get $pairA) (local.get $wHiA))
                  (i32x4.dot_i16x8_s (local.get $pairB) (local.get $wHiB)))))
                (local.set $lo1 (i32x4.add (local.get $lo1) (i32x4.add
                  (i32x4.dot_i16x8_s (local.get $pairA) (local.get $wLoA))
                  (i32x4.dot_i16x8_s (local.get $pairB) (local.get $wLoB)))))
                (local.set $p (i32.add (local.get $p) (local.get $step)))
                (local.set $w (i32.add (local.get $w) (i32.const 16)))
                (br $eachFourTaps)))
            (v128.store32_lane 0 (local.get $outRow) (call $toBytes (local.get $hi0) (local.get $lo0)))
            (v128.store32_lane 0 (i32.add (local.get $outRow) (local.get $outPitch))
              (call $toBytes (local.get $hi1) (local.get $lo1)))
            (local.set $outRow (i32.add (local.get $outRow) (local.get $channels)))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $eachPixel)))
        (local.set $row (i32.add (local.get $row) (i32.shl (local.get $rowBytes) (i32.const 1))))
        (local.set $out (i32.add (local.get $out) (i32.shl (local.get $outPitch) (i32.const 1))))
        (local.set $outRow (local.get $out))
        (br $eachTwoRows))))

  ;; Vertical pass: output row `y` sums `counts[y]` source rows from byte `offsets[y]` of `src`,
  ;; 8 bytes of the row at a time. Two taps per step: bytes of rows t and t + 1 interleaved
  ;; into [row t, row t + 1] i16 pairs. Rows are written 8 bytes at a time, so `out` needs 8 bytes
  ;; of slack, and `src` one row and 8 bytes after the last row read.
  (func (export "vertical")
    (param $src i32) (param $rowBytes i32) (param $outRows i32)
    (param $offsets i32) (param $counts i32) (param $weights i32) (param $weightStride i32) (param $out i32)
    (local $a v128) (local $b v128) (local $low v128) (local $high v128) (local $wHi v128) (local $wLo v128)
    (local $hiLow v128) (local $loLow v128) (local $hiHigh v128) (local $loHigh v128)
    (local $y i32) (local $first i32) (local $i i32) (local $p i32) (local $w0 i32) (local $w i32) (local $wEnd i32)
    (local $pairStride i32)
    (local.set $pairStride (i32.shl (local.get $rowBytes) (i32.const 1)))
    (block $rowsDone
      (loop $eachRow
        (br_if $rowsDone (i32.ge_u (local.get $y) (local.get $outRows)))
        (local.set $first (i32.add (local.get $src)
          (i32.load (i32.add (local.get $offsets) (i32.shl (local.get $y) (i32.const 2))))))
        (local.set $w0 (i32.add (local.get $weights) (i32.mul (local.get $y) (local.get $weightStride))))
        ;; ceil(count / 2) steps of 8 weight bytes
        (local.set $wEnd (i32.add (local.get $w0) (i32.shl (i32.shr_u
          (i32.add (i32.load (i32.add (local.get $counts) (i32.shl (local.get $y) (i32.const 2)))) (i32.const 1))
          (i32.const 1)) (i32.const 3))))
        (local.set $i (i32.const 0))
        (block $bytesDone
          (loop $eachEightBytes
            (br_if $bytesDone (i32.ge_u (local.get $i) (local.get $rowBytes)))
            (local.set $p (i32.add (local.get $first) (local.get $i)))
            (local.set $w (local.get $w0))
            (local.set $hiLow (v128.const i32x4 0 0 0 0))
            (local.set $loLow (v128.const i32x4 0 0 0 0))
            (local.set $hiHigh (v128.const i32x4 0 0 0 0))
            (local.set $loHigh (v128.const i32x4 0 0 0 0))
            (block $tapsDone
              (loop $eachTwoTaps
                (br_if $tapsDone (i32.ge_u (local.get $w) (local.get $wEnd)))
                (local.set $a (v128.load8x8_u (local.get $p)))
                (local.set $b (v128.load8x8_u (i32.add (local.get $p) (local.get $rowBytes))))
                (local.set $low (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $a) (local.get $b)))
                (local.set $high (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31
                  (local.get $a) (local.get $b)))
                (local.set $wHi (v128.load32_splat (local.get $w)))
                (local.set $wLo (v128.load32_splat offset=4 (local.get $w)))
                (local.set $hiLow (i32x4.add (local.get $hiLow) (i32x4.dot_i16x8_s (local.get $low) (local.get $wHi))))
                (local.set $loLow (i32x4.add (local.get $loLow) (i32x4.dot_i16x8_s (local.get $low) (local.get $wLo))))
                (local.set $hiHigh (i32x4.add (local.get $hiHigh)
                  (i32x4.dot_i16x8_s (local.get $high) (local.get $wHi))))
                (local.set $loHigh (i32x4.add (local.get $loHigh)
                  (i32x4.dot_i16x8_s (local.get $high) (local.get $wLo))))
                (local.set $p (i32.add (local.get $p) (local.get $pairStride)))
                (local.set $w (i32.add (local.get $w) (i32.const 8)))
                (br $eachTwoTaps)))
            ;; bytes 0..3 from the low half, 4..7 from the high half
            (v128.store64_lane 0 (i32.add (local.get $out) (local.get $i))
              (i8x16.shuffle 0 1 2 3 16 17 18 19 0 0 0 0 0 0 0 0
                (call $toBytes (local.get $hiLow) (local.get $loLow))
                (call $toBytes (local.get $hiHigh) (local.get $loHigh))))
            (local.set $i (i32.add (local.get $i) (i32.const 8)))
            (br $eachEightBytes)))
        (local.set $out (i32.add (local.get $out) (local.get $rowBytes)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $eachRow))))
)
