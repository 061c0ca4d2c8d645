;; One AdamW update over float32 vectors, 4 lanes at a time (torch.optim.AdamW's single-tensor
;; arithmetic: every operation rounded to float32, no fused multiply-add). WebAssembly's f32x4
;; add/mul/div/sqrt are IEEE round-to-nearest, so this is bit for bit the scalar float32 update;
;; hand-written because scalar JavaScript takes ~26 ns per parameter (4 s per ViT-B/32 step).
;;
;; w, g, m, v: byte offsets of n floats each (n is rounded up to a multiple of 4, so callers
;; leave room for 3 more). Per element:
;;   w = w * keep                                  (decoupled weight decay; keep = 1 - lr * wd)
;;   m = m * b1 + g * (1 - b1)
;;   v = v * b2 + (g * g) * (1 - b2)
;;   w = w + stepSize * (m / (sqrt(v) / bc2Sqrt + eps))
(module
  (memory (export "memory") 1)

  (func (export "adamw")
    (param $w i32) (param $g i32) (param $m i32) (param $v i32) (param $n i32)
    (param $keep f32) (param $b1 f32) (param $oneMinusB1 f32) (param $b2 f32) (param $oneMinusB2 f32)
    (param $bc2Sqrt f32) (param $eps f32) (param $stepSize f32)
    (local $i i32) (local $end i32)
    (local $gi v128) (local $mi v128) (local $vi v128)
    (local $K v128) (local $B1 v128) (local $C1 v128) (local $B2 v128) (local $C2 v128)
    (local $S v128) (local $E v128) (local $L v128)
    (local.set $K (f32x4.splat (local.get $keep)))
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $C1 (f32x4.splat (local.get $oneMinusB1)))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $C2 (f32x4.splat (local.get $oneMinusB2)))
    (local.set $S (f32x4.splat (local.get $bc2Sqrt)))
    (local.set $E (f32x4.splat (local.get $eps)))
    (local.set $L (f32x4.splat (local.get $stepSize)))
    (local.set $end (i32.shl (i32.and (i32.add (local.get $n) (i32.const 3)) (i32.const -4)) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $gi (v128.load (i32.add (local.get $g) (local.get $i))))
        (local.set $mi
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $m) (local.get $i))) (local.get $B1))
            (f32x4.mul (local.get $gi) (local.get $C1))))
        (local.set $vi
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $v) (local.get $i))) (local.get $B2))
            (f32x4.mul (f32x4.mul (local.get $gi) (local.get $gi)) (local.get $C2))))
        (v128.store (i32.add (local.get $m) (local.get $i)) (local.get $mi))
        (v128.store (i32.add (local.get $v) (local.get $i)) (local.get $vi))
        (v128.store (i32.add (local.get $w) (local.get $i))
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $w) (local.get $i))) (local.get $K))
            (f32x4.mul (local.get $L)
              (f32x4.div (local.get $mi)
                (f32x4.add (f32x4.div (f32x4.sqrt (local.get $vi)) (local.get $S)) (local.get $E))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next))))
)
