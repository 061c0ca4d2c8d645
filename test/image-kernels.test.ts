// The WebAssembly SIMD resampling kernel: its two passes give exactly Pillow's scalar int32
// fixed-point sums (written out plainly below).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  fixedPointWeights,
  precomputeCoefficients,
  PRECISION_BITS,
  type Coefficients,
} from '../src/image/coefficients.js';
import { horizontal8, vertical8 } from '../src/image/resample8.js';

/** Pillow's ImagingResample{Horizontal,Vertical}_8bpc for one output sample, scalar. */
function pillowSample(read: (tap: number) => number, coeffs: Coefficients, fixed: Int32Array, index: number): number {
  let ss = 1 << (PRECISION_BITS - 1);
  for (let t = 0; t < coeffs.count[index]!; t++)
    ss += read(coeffs.first[index]! + t) * fixed[index * coeffs.ksize + t]!;
  return Math.min(255, Math.max(0, ss >> PRECISION_BITS));
}

/** Deterministic bytes; every `edgeEvery`-th run jumps 0 ↔ 255 so bicubic overshoots and clips. */
function testBytes(length: number, seed: number): Uint8Array {
  let s = seed;
  return Uint8Array.from({ length }, (_, i) => {
    s = (s * 1103515245 + 12345) >>> 0;
    return (i >> 4) % 3 === 0 ? ((i >> 5) & 1) * 255 : s >>> 24;
  });
}

test('horizontal pass equals the scalar sums for 1 to 4 channels, shrinking and enlarging', () => {
  for (const channels of [1, 2, 3, 4]) {
    for (const [inW, outW, row0, rows] of [
      [97, 13, 2, 5],
      [13, 40, 0, 3],
      [64, 63, 1, 2],
      [300, 7, 0, 1],
    ] as const) {
      const height = row0 + rows + 1;
      const src = testBytes(inW * height * channels, inW + channels);
      const coeffs = precomputeCoefficients(inW, outW);
      const fixed = fixedPointWeights(coeffs.weights);
      const expected = new Uint8Array(rows * outW * channels);
      for (let y = 0; y < rows; y++) {
        for (let x = 0; x < outW; x++) {
          for (let c = 0; c < channels; c++) {
            const read = (tap: number) => src[((row0 + y) * inW + tap) * channels + c]!;
            expected[(y * outW + x) * channels + c] = pillowSample(read, coeffs, fixed, x);
          }
        }
      }
      assert.deepEqual(
        horizontal8(src, inW, channels, row0, rows, coeffs),
        expected,
        `${channels} channels, ${inW} -> ${outW}`,
      );
    }
  }
});

test('vertical pass equals the scalar sums, on a window of rows and odd row lengths', () => {
  for (const [inH, outH, start, length, rowLength] of [
    [90, 11, 3, 6, 7],
    [9, 31, 0, 31, 24],
    [50, 49, 10, 20, 13],
  ] as const) {
    const coeffs = precomputeCoefficients(inH, outH, start, length);
    const fixed = fixedPointWeights(coeffs.weights);
    // Only the source rows the window reads are passed, as resizePil does.
    const row0 = coeffs.first[0]!;
    const rowEnd = coeffs.first[length - 1]! + coeffs.count[length - 1]!;
    const src = testBytes((rowEnd - row0) * rowLength, inH);
    const expected = new Uint8Array(length * rowLength);
    for (let y = 0; y < length; y++) {
      for (let i = 0; i < rowLength; i++) {
        expected[y * rowLength + i] = pillowSample((tap) => src[(tap - row0) * rowLength + i]!, coeffs, fixed, y);
      }
    }
    assert.deepEqual(
      vertical8(src, rowLength, row0, coeffs),
      expected,
      `${inH} -> ${outH}, rows ${start}..${start + length}`,
    );
  }
});

test('a large image after a small one (kernel memory grows, stale bytes are never read as taps)', () => {
  const small = testBytes(20 * 3 * 3, 1);
  horizontal8(small, 20, 3, 0, 3, precomputeCoefficients(20, 5));
  const width = 5000,
    rows = 70;
  const big = testBytes(width * rows * 3, 2);
  const coeffs = precomputeCoefficients(width, 224);
  const fixed = fixedPointWeights(coeffs.weights);
  const out = horizontal8(big, width, 3, 0, rows, coeffs);
  for (const [y, x, c] of [
    [0, 0, 0],
    [69, 223, 2],
    [35, 100, 1],
  ] as const) {
    const read = (tap: number) => big[(y * width + tap) * 3 + c]!;
    assert.equal(out[(y * 224 + x) * 3 + c], pillowSample(read, coeffs, fixed, x));
  }
});
