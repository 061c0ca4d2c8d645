// Pillow's convert('RGB') per mode, normalisation in float32, EXIF orientation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLIP_MEAN, CLIP_STD, normalizationTables } from '../src/image/normalize.js';
import { applyOrientation } from '../src/image/orientation.js';
import { mulDiv255, toRGB, type Pixels } from '../src/image/pixels.js';

test('CMYK -> RGB: R = (255 - K) - MULDIV255(C, 255 - K)', () => {
  const cmyk: Pixels = {
    mode: 'CMYK',
    width: 4,
    height: 1,
    data: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 255, 255, 0, 0, 0, 100, 20, 255, 50]),
  };
  // last pixel: nk = 205; MULDIV255(100, 205) = round(80.39) = 80; (20) -> 16; (255) -> 205
  assert.deepEqual([...toRGB(cmyk)], [255, 255, 255, 0, 0, 0, 0, 255, 255, 125, 189, 0]);
  assert.equal(mulDiv255(100, 205), 80);
});

test('LA / RGBA drop alpha without compositing; L and 1 replicate', () => {
  assert.deepEqual(
    [...toRGB({ mode: 'LA', width: 2, height: 1, data: Uint8Array.from([7, 0, 9, 255]) })],
    [7, 7, 7, 9, 9, 9],
  );
  assert.deepEqual([...toRGB({ mode: 'RGBA', width: 1, height: 1, data: Uint8Array.from([1, 2, 3, 0]) })], [1, 2, 3]);
  assert.deepEqual([...toRGB({ mode: 'L', width: 1, height: 1, data: Uint8Array.from([5]) })], [5, 5, 5]);
});

test('I -> RGB clips to 0..255 (no scaling)', () => {
  const out = toRGB({ mode: 'I', width: 4, height: 1, data: Int32Array.from([-5, 100, 255, 65535]) });
  assert.deepEqual([...out], [0, 0, 0, 100, 100, 100, 255, 255, 255, 255, 255, 255]);
});

test('normalisation: ((float32(v) / 255) - mean) / std with float32 rounding per step', () => {
  const [r] = normalizationTables(CLIP_MEAN, CLIP_STD);
  const f = Math.fround;
  assert.equal(r![0], f(f(0 - f(0.48145466)) / f(0.26862954)));
  assert.equal(r![255], f(f(1 - f(0.48145466)) / f(0.26862954)));
  assert.equal(r![128], f(f(f(128 / 255) - f(0.48145466)) / f(0.26862954)));
});

test('EXIF orientation 6 rotates 90° clockwise, 3 rotates 180°', () => {
  // 3×2 image a b c / d e f
  const img: Pixels = { mode: 'L', width: 3, height: 2, data: Uint8Array.from([1, 2, 3, 4, 5, 6]) };
  const r6 = applyOrientation(img, 6);
  assert.deepEqual([r6.width, r6.height, ...r6.data], [2, 3, 4, 1, 5, 2, 6, 3]);
  assert.deepEqual([...applyOrientation(img, 3).data], [6, 5, 4, 3, 2, 1]);
  assert.equal(applyOrientation(img, 1), img);
});
