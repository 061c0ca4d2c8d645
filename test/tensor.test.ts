// Float16/bfloat16 conversions, checked against their definitions: every half value survives a
// round trip, and rounding is to nearest with ties to even (what torch's .half() does).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { floatToHalf, fromFloat32, halfToFloat, toFloat16, toFloat32, toInt32 } from '../src/tensor.js';

test('every float16 bit pattern converts to float32 and back unchanged (NaNs stay NaN)', () => {
  for (let h = 0; h < 65536; h++) {
    const f = halfToFloat(h);
    if (Number.isNaN(f)) assert.ok(Number.isNaN(halfToFloat(floatToHalf(f))));
    else assert.equal(floatToHalf(f), h, `0x${h.toString(16)}`);
  }
});

test('toFloat32 of float16 (the WebAssembly kernel): every bit pattern exact, NaN payloads kept', () => {
  // All 65536 halves, twice over and 5 more, so chunks and a tail that is not a multiple of 8 are covered.
  const n = 2 * 65536 + 5;
  const halves = Uint16Array.from({ length: n }, (_, i) => i % 65536);
  const out = toFloat32({ dtype: 'float16', shape: [n], bytes: new Uint8Array(halves.buffer) });
  const bits = new Uint32Array(out.buffer, out.byteOffset, n);
  for (let i = 0; i < n; i++) {
    const h = i % 65536;
    const expected = halfToFloat(h);
    if (Number.isNaN(expected)) {
      // float32 NaN with the half's payload moved up: sign, all-ones exponent, mantissa << 13
      assert.equal(bits[i], (((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13)) >>> 0, `0x${h.toString(16)}`);
    } else assert.ok(Object.is(out[i], expected), `0x${h.toString(16)}: ${out[i]} vs ${expected}`);
  }
});

test('rounding to nearest, ties to even; overflow to infinity; subnormals', () => {
  const ulp = 2 ** -10; // spacing of halves in [1, 2)
  assert.equal(halfToFloat(floatToHalf(1 + ulp / 2)), 1, 'a tie rounds to the even neighbour (1.0)');
  assert.equal(halfToFloat(floatToHalf(1 + 1.5 * ulp)), 1 + 2 * ulp, 'a tie rounds to the even neighbour (1 + 2 ulp)');
  assert.equal(halfToFloat(floatToHalf(1 + 0.6 * ulp)), 1 + ulp);
  assert.equal(
    halfToFloat(floatToHalf(65520)),
    Infinity,
    '65520 is halfway past the largest half (65504): rounds up to infinity',
  );
  assert.equal(halfToFloat(floatToHalf(65519)), 65504);
  assert.equal(halfToFloat(floatToHalf(2 ** -24)), 2 ** -24, 'the smallest subnormal');
  assert.equal(halfToFloat(floatToHalf(2 ** -26)), 0, 'below half of the smallest subnormal: zero');
  assert.equal(Object.is(halfToFloat(floatToHalf(-0)), -0), true);
});

test('tensor conversions: float16 and bfloat16 upcast, int64 values', () => {
  const values = Float32Array.of(0.1, -2.5, 1000.25, 3e-6);
  const half = toFloat16(fromFloat32(values, [2, 2]));
  assert.equal(half.dtype, 'float16');
  assert.deepEqual(half.shape, [2, 2]);
  assert.deepEqual(
    Array.from(toFloat32(half)),
    Array.from(values, (v) => halfToFloat(floatToHalf(v))),
  );
  // bfloat16 is the top 16 bits of a float32: 1.5 = 0x3FC00000 → 0x3FC0.
  assert.deepEqual(
    Array.from(
      toFloat32({ dtype: 'bfloat16', shape: [2], bytes: new Uint8Array(Uint16Array.of(0x3fc0, 0xc000).buffer) }),
    ),
    [1.5, -2],
  );
  assert.deepEqual(
    Array.from(toInt32({ dtype: 'int64', shape: [2], bytes: new Uint8Array(BigInt64Array.of(49407n, -1n).buffer) })),
    [49407, -1],
  );
  // A view at an odd byte offset (as inside a file buffer) is read correctly.
  const padded = new Uint8Array(9);
  padded.set(new Uint8Array(Float32Array.of(7.25, -1).buffer), 1);
  assert.deepEqual(Array.from(toFloat32({ dtype: 'float32', shape: [2], bytes: padded.subarray(1) })), [7.25, -1]);
});

test('toFloat32 writes float16 and float32 tensors into a big enough scratch buffer, else allocates', () => {
  const values = Float32Array.from([1.5, -2, 0.25, 65504]);
  const scratch = new Float32Array(8).fill(7);
  for (const t of [fromFloat32(values, [4]), toFloat16(fromFloat32(values, [4]))]) {
    const out = toFloat32(t, scratch);
    assert.deepEqual([...out], [...values]);
    assert.equal(out.buffer, scratch.buffer, `${t.dtype}: the scratch buffer is reused`);
    const small = new Float32Array(2);
    assert.notEqual(toFloat32(t, small).buffer, small.buffer, 'too small a scratch is not used');
  }
  assert.equal(scratch[4], 7, 'only the start of the scratch is written');
});
