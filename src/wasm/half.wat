;; IEEE half → float32, exact, 4 values at a time: the first step of every fp16 checkpoint's load
;; (ViT-B/32's image tower alone is 88M halves). Hand-written because JavaScript has no
;; Float16Array in Node 20, and its best loop (a 65536-entry table) took ~0.23 s for those 88M
;; values, a sixth of a first load.
;;
;; convert: dst[i] (f32) = src[i] (f16) for i < 4 * groups; src, dst byte offsets.
;;   Per lane (the exponent/mantissa bits moved into float32 position and the exponent rebiased):
;;   infinities and NaNs get the rest of the exponent range (NaN payloads kept), zeros and
;;   subnormals are renormalised by one exact float subtraction (2^-14 * (1 + m/2^10) - 2^-14 =
;;   m * 2^-24), the sign is put back last.
(module
  (memory (export "memory") 2)

  (func (export "convert") (param $src i32) (param $groups i32) (param $dst i32)
    (local $h v128) (local $o v128) (local $exp v128)
    (block $done
      (loop $group
        (br_if $done (i32.eqz (local.get $groups)))
        ;; four halves, zero-extended to 32-bit lanes
        (local.set $h (v128.load16x4_u (local.get $src)))
        ;; o = (h & 0x7fff) << 13: exponent and mantissa where float32 keeps them
        (local.set $o
          (i32x4.shl (v128.and (local.get $h) (v128.const i32x4 0x7fff 0x7fff 0x7fff 0x7fff)) (i32.const 13)))
        (local.set $exp (v128.and (local.get $o) (v128.const i32x4 0x0f800000 0x0f800000 0x0f800000 0x0f800000)))
        ;; rebias the exponent: 127 - 15 = 112
        (local.set $o (i32x4.add (local.get $o) (v128.const i32x4 0x38000000 0x38000000 0x38000000 0x38000000)))
        ;; infinity / NaN (exponent all ones): 112 more, to float32's all-ones exponent
        (local.set $o
          (i32x4.add (local.get $o)
            (v128.and
              (i32x4.eq (local.get $exp) (v128.const i32x4 0x0f800000 0x0f800000 0x0f800000 0x0f800000))
              (v128.const i32x4 0x38000000 0x38000000 0x38000000 0x38000000))))
        ;; zero / subnormal (exponent zero): as a float, (o + 2^23) - 2^-14
        (local.set $o
          (v128.bitselect
            (f32x4.sub
              (i32x4.add (local.get $o) (v128.const i32x4 0x00800000 0x00800000 0x00800000 0x00800000))
              (v128.const i32x4 0x38800000 0x38800000 0x38800000 0x38800000))
            (local.get $o)
            (i32x4.eq (local.get $exp) (v128.const i32x4 0 0 0 0))))
        ;; the sign
        (v128.store (local.get $dst)
          (v128.or (local.get $o)
            (i32x4.shl (v128.and (local.get $h) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000)) (i32.const 16))))
        (local.set $src (i32.add (local.get $src) (i32.const 8)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $groups (i32.sub (local.get $groups) (i32.const 1)))
        (br $group)))))
