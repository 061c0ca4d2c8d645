// Pillow-exact bicubic resize on tiny hand-made images (no fixtures needed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pixels } from '../src/image/pixels.js';
import { bicubicKernel, precomputeCoefficients } from '../src/image/coefficients.js';
import { resizePil } from '../src/image/resample.js';

const rgb = (width: number, height: number, data: number[]): Pixels => ({
  mode: 'RGB',
  width,
  height,
  data: Uint8Array.from(data),
});

test('bicubic kernel: Keys a = -0.5 values at quarter points', () => {
  // |x|<1: 1.5|x|³ - 2.5|x|² + 1 ; 1≤|x|<2: -0.5(|x|³ - 5|x|² + 8|x| - 4)
  assert.equal(bicubicKernel(0), 1);
  assert.equal(bicubicKernel(0.25), 0.8671875);
  assert.equal(bicubicKernel(-0.75), 0.2265625);
  assert.equal(bicubicKernel(1.25), -0.0703125);
  assert.ok(bicubicKernel(1) === 0 && bicubicKernel(2) === 0 && bicubicKernel(-3) === 0);
});

test('a constant image stays constant, up- and downscaled, in every 8-bit mode', () => {
  const sizes: [number, number, number, number][] = [
    [7, 5, 3, 2],
    [3, 4, 11, 9],
    [10, 10, 4, 13],
  ];
  for (const [w, h, W, H] of sizes) {
    const img = rgb(w, h, new Array(w * h * 3).fill(173));
    const out = resizePil(img, W, H);
    assert.equal(out.width, W);
    assert.equal(out.height, H);
    assert.ok(
      out.data.every((v) => v === 173),
      `${w}x${h} -> ${W}x${H}`,
    );
  }
});

test('identity when the size is unchanged (Pillow copies)', () => {
  const img = rgb(2, 2, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.deepEqual([...resizePil(img, 2, 2).data], [...img.data]);
  assert.notEqual(resizePil(img, 2, 2).data, img.data);
});

test('1-D downscale 4 -> 2 matches the kernel formula in 22-bit fixed point', () => {
  // scale 2 stretches the kernel (support 4): output i has center (i + 0.5) * 2 and uses all 4
  // inputs, weight_x = K((x - center + 0.5) / 2), normalised, then round(w * 2^22) half away from 0.
  const row = [0, 100, 200, 255];
  const expected = [0, 1].map((i) => {
    const center = (i + 0.5) * 2;
    const raw = row.map((_, x) => bicubicKernel((x - center + 0.5) / 2));
    const sum = raw.reduce((a, b) => a + b);
    const fixed = raw.map((w) => Math.sign(w) * Math.trunc(Math.abs(w / sum) * 2 ** 22 + 0.5));
    const acc = 2 ** 21 + fixed.reduce((a, k, x) => a + k * row[x]!, 0);
    return Math.min(255, Math.max(0, Math.floor(acc / 2 ** 22)));
  });
  // Output 0: raw weights K(-0.25), K(0.25), K(0.75), K(1.25) = .8671875, .8671875, .2265625, -.0703125.
  const coeffs = precomputeCoefficients(4, 2);
  assert.deepEqual(
    [...coeffs.weights.subarray(0, 4)].map((w) => w * 1.890625),
    [0.8671875, 0.8671875, 0.2265625, -0.0703125],
  );
  const img: Pixels = { mode: 'L', width: 4, height: 1, data: Uint8Array.from(row) };
  assert.deepEqual([...resizePil(img, 2, 1).data], expected);
  // By hand: (0·.867 + 100·.867 + 200·.227 - 255·.070) / 1.890625 = 60.35 -> 60 and
  // (-0·.070 + 100·.227 + 200·.867 + 255·.867) / 1.890625 = 220.68 -> 221.
  assert.deepEqual(expected, [60, 221]);
});

test('a window of the resize equals the same pixels of the full resize', () => {
  const w = 23,
    h = 17;
  const img = rgb(
    w,
    h,
    Array.from({ length: w * h * 3 }, (_, i) => (i * 37) % 256),
  );
  const full = resizePil(img, 41, 9);
  const part = resizePil(img, 41, 9, { left: 5, top: 2, width: 30, height: 6 });
  for (let y = 0; y < 6; y++) {
    const a = full.data.subarray(((y + 2) * 41 + 5) * 3, ((y + 2) * 41 + 35) * 3);
    assert.deepEqual([...part.data.subarray(y * 90, (y + 1) * 90)], [...a]);
  }
});

test('mode I resamples int32 values without clipping (bicubic overshoot survives)', () => {
  const data = Int32Array.from([0, 0, 0, 60000, 60000, 60000]);
  const out = resizePil({ mode: 'I', width: 6, height: 1, data }, 11, 1);
  assert.ok(out.data instanceof Int32Array);
  assert.ok(Math.min(...out.data) < 0 && Math.max(...out.data) > 60000, `${[...out.data]}`);
});

test('RGBA is resized premultiplied: transparent colour vanishes, semi-transparent loses precision', () => {
  const transparent: Pixels = {
    mode: 'RGBA',
    width: 4,
    height: 4,
    data: new Uint8Array(64).map((_, i) => (i % 4 === 3 ? 0 : 200)),
  };
  assert.ok(resizePil(transparent, 2, 3).data.every((v) => v === 0));
  // colour 200 at alpha 128: premultiplied MULDIV255(200, 128) = 100, back: 255 * 100 // 128 = 199.
  const half: Pixels = {
    mode: 'RGBA',
    width: 4,
    height: 4,
    data: new Uint8Array(64).map((_, i) => (i % 4 === 3 ? 128 : 200)),
  };
  const out = resizePil(half, 3, 3).data;
  for (let i = 0; i < out.length; i += 4) assert.deepEqual([...out.subarray(i, i + 4)], [199, 199, 199, 128]);
});

test('P and 1 use NEAREST with positions accumulated step by step', () => {
  // 3 -> 7: step 3/7, positions 0.214, 0.643, 1.071, 1.5, 1.929, 2.357, 2.786 -> 0,0,1,1,1,2,2
  const img: Pixels = { mode: 'P', width: 3, height: 1, data: Uint8Array.from([10, 11, 12, 20, 21, 22, 30, 31, 32]) };
  const out = resizePil(img, 7, 1).data;
  assert.deepEqual(
    [...out].filter((_, i) => i % 3 === 0),
    [10, 10, 20, 20, 20, 30, 30],
  );
});
