;; The two scans of a search, over every stored vector, 16 bytes at a time. Hand-written because
;; scalar JavaScript needs ~450 ms for 100k x 512 dot products and ~150-450 ms for the Hamming
;; distances of 1M 512-bit codes on this machine, and sqlite-vec 0.1.9's scans are no faster
;; (~5 ms per 1k float rows, k=2000 bit KNN 350 ms on 20k rows).
;;
;; dots:    out[r] (f32) = sum_j m[r*dim + j] * q[j]; dim a multiple of 4; m, q, out byte offsets.
;;          Lane-wise float32 sums: within ~1e-6 of the float64 dot of unit vectors (the scores a
;;          search returns are recomputed in float64 for the results).
;; hamming: out[r] (u16) = popcount(bits[r] xor q); each code `bytes` long, a multiple of 16,
;;          at most 3968 bits (byte lanes count to at most 255); hist[out[r]] (u32) += 1, so that the
;;          shortlist's cut is found without another pass over the distances.
;; collect: the row numbers r (i32, ascending) with dist[r] < cut, and the first atCut rows with
;;          dist[r] = cut, written to out; returns how many (the shortlist of approximate search).
;; dots8:   out[i] (i32) = sum_j codes[rows[i]*stride + j] (i8) * q[j] (i16), for the n row numbers in
;;          `rows` (i32): the int8 pass of approximate search over the shortlist the Hamming pass kept.
;;          stride a multiple of 16; each i8 lane is widened to i16 and i32x4.dot_i16x8_s sums pairs
;;          (relaxed SIMD's i8 dot would be faster but needs a flag in Node 20). Exact integer sums as
;;          long as stride * 127 * max|q| < 2^31 (the caller scales q to at most 16383).
(module
  (memory (export "memory") 1)

  (func (export "dots") (param $m i32) (param $q i32) (param $rows i32) (param $dim i32) (param $out i32)
    (local $r i32) (local $j i32) (local $rowBytes i32) (local $acc v128)
    (local.set $rowBytes (i32.shl (local.get $dim) (i32.const 2)))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $rowDone
          (loop $lane
            (br_if $rowDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
            (local.set $acc
              (f32x4.add (local.get $acc)
                (f32x4.mul (v128.load (i32.add (local.get $m) (local.get $j)))
                  (v128.load (i32.add (local.get $q) (local.get $j))))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $lane)))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $r) (i32.const 2)))
          (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
            (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
        (local.set $m (i32.add (local.get $m) (local.get $rowBytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row))))

  (func (export "hamming") (param $bits i32) (param $q i32) (param $rows i32) (param $bytes i32) (param $out i32)
    (param $hist i32)
    (local $r i32) (local $j i32) (local $d i32) (local $acc v128) (local $sum v128)
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $rowDone
          (loop $chunk
            (br_if $rowDone (i32.ge_u (local.get $j) (local.get $bytes)))
            (local.set $acc
              (i8x16.add (local.get $acc)
                (i8x16.popcnt
                  (v128.xor (v128.load (i32.add (local.get $bits) (local.get $j)))
                    (v128.load (i32.add (local.get $q) (local.get $j)))))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $chunk)))
        ;; 16 byte counts -> 4 sums (pmaddubsw, pmaddwd on x64) -> 2 -> 1
        (local.set $sum
          (i32x4.dot_i16x8_s (i16x8.extadd_pairwise_i8x16_u (local.get $acc)) (v128.const i16x8 1 1 1 1 1 1 1 1)))
        (local.set $sum
          (i32x4.add (local.get $sum)
            (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $sum) (local.get $sum))))
        (local.set $d
          (i32.add (i32x4.extract_lane 0 (local.get $sum)) (i32x4.extract_lane 1 (local.get $sum))))
        (i32.store16 (i32.add (local.get $out) (i32.shl (local.get $r) (i32.const 1))) (local.get $d))
        (local.set $d (i32.add (local.get $hist) (i32.shl (local.get $d) (i32.const 2))))
        (i32.store (local.get $d) (i32.add (i32.load (local.get $d)) (i32.const 1)))
        (local.set $bits (i32.add (local.get $bits) (local.get $bytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row))))

  (func (export "collect") (param $dist i32) (param $rows i32) (param $cut i32) (param $atCut i32) (param $out i32)
    (result i32)
    (local $r i32) (local $d i32) (local $n i32)
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $d (i32.load16_u (i32.add (local.get $dist) (i32.shl (local.get $r) (i32.const 1)))))
        (if (i32.or (i32.lt_u (local.get $d) (local.get $cut))
              (i32.and (i32.eq (local.get $d) (local.get $cut)) (i32.gt_s (local.get $atCut) (i32.const 0))))
          (then
            (if (i32.eq (local.get $d) (local.get $cut))
              (then (local.set $atCut (i32.sub (local.get $atCut) (i32.const 1)))))
            (i32.store (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2))) (local.get $r))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row)))
    (local.get $n))

  (func (export "dots8") (param $codes i32) (param $q i32) (param $rows i32) (param $n i32) (param $stride i32)
    (param $out i32)
    (local $i i32) (local $j i32) (local $row i32) (local $v v128) (local $acc v128)
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $row
          (i32.add (local.get $codes)
            (i32.mul (i32.load (i32.add (local.get $rows) (i32.shl (local.get $i) (i32.const 2))))
              (local.get $stride))))
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $rowDone
          (loop $chunk
            (br_if $rowDone (i32.ge_u (local.get $j) (local.get $stride)))
            (local.set $v (v128.load (i32.add (local.get $row) (local.get $j))))
            (local.set $acc
              (i32x4.add (local.get $acc)
                (i32x4.add
                  (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $v))
                    (v128.load (i32.add (local.get $q) (i32.shl (local.get $j) (i32.const 1)))))
                  (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $v))
                    (v128.load offset=16 (i32.add (local.get $q) (i32.shl (local.get $j) (i32.const 1))))))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $chunk)))
        (i32.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2)))
          (i32.add
            (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
            (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each)))))
