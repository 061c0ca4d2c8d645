// torchvision 0.14's Resize(n) output size and CenterCrop(n) rounding.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { centerCropBox, centerCropOffset, roundHalfEven, shortestSideSize } from '../src/image/geometry.js';
import { resizePlan, transformToRGB } from '../src/image/transform.js';

test('short side to n, long side int(n * long / short) in that order', () => {
  // 224 * 170 / 80 = 476 exactly; 224 / 80 * 170 = 475.99999999999994 would truncate to 475.
  assert.ok(Math.trunc((224 / 80) * 170) === 475);
  assert.deepEqual(shortestSideSize(170, 80, 224), { width: 476, height: 224 });
  assert.deepEqual(shortestSideSize(30, 900, 224), { width: 224, height: 6720 });
  assert.deepEqual(shortestSideSize(640, 427, 224), { width: 335, height: 224 });
  assert.deepEqual(shortestSideSize(300, 300, 224), { width: 224, height: 224 });
});

test('round half to even, as Python round()', () => {
  assert.deepEqual([0.5, 1.5, 2.5, 36.5, 55.5, -0.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, 36, 56, -0, 2, 3]);
});

test('center crop offsets: 229 -> 224 starts at 2, 297 -> 224 at 36, 335 -> 224 at 56', () => {
  assert.equal(centerCropOffset(229, 224), 2);
  assert.equal(centerCropOffset(297, 224), 36);
  assert.equal(centerCropOffset(335, 224), 56);
  assert.deepEqual(centerCropBox(476, 224, 224), { left: 126, top: 0, width: 224, height: 224 });
});

test('crop larger than the image pads with zeros: left (n - w) // 2, right the rest', () => {
  // 3 wide into 6: torchvision pads 1 left, 2 right.
  assert.equal(centerCropOffset(3, 6), -1);
  assert.equal(centerCropOffset(4, 6), -1);
});

test('square mode resizes to n × n, no crop', () => {
  assert.deepEqual(resizePlan(600, 400, 224, 'square'), {
    width: 224,
    height: 224,
    crop: { left: 0, top: 0, width: 224, height: 224 },
  });
  assert.deepEqual(resizePlan(600, 400, 224).crop, { left: 56, top: 0, width: 224, height: 224 });
});

test('transformToRGB keeps the crop of the resized image (no resize when already n on the short side)', () => {
  // 5×2 L image with n = 2: no resize; crop left = round(1.5) = 2 -> columns 2, 3.
  const data = Uint8Array.from([0, 1, 2, 3, 4, 10, 11, 12, 13, 14]);
  const out = transformToRGB({ mode: 'L', width: 5, height: 2, data }, 2);
  assert.deepEqual(
    [...out].filter((_, i) => i % 3 === 0),
    [2, 3, 12, 13],
  );
});
