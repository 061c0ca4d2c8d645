// Decoding only the part of an image the crop reads: the resize of that part equals the resize
// of the whole image, bit for bit (images made here, no fixtures).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { decodeImage } from '../src/image/decode.js';
import { applyOrientation } from '../src/image/orientation.js';
import { channelCount, type PilMode, type Pixels } from '../src/image/pixels.js';
import { transformPixels, transformSourceBox, type ResizeMode } from '../src/image/transform.js';
import { resizePil, resizeSourceBox } from '../src/image/resample.js';
import { preprocess } from '../src/image/preprocess.js';
import type { Box } from '../src/image/geometry.js';

function image(mode: PilMode, width: number, height: number): Pixels {
  const n = width * height * channelCount(mode);
  const data =
    mode === 'I'
      ? Int32Array.from({ length: n }, (_, i) => ((i * 7919) % 70000) - 3000)
      : Uint8Array.from({ length: n }, (_, i) => (i * 131 + (i >> 7)) % 256);
  return { mode, width, height, data };
}

/** `box` of `img` as a decoded part (with origin and sourceSize). */
function part(img: Pixels, box: Box): Pixels {
  const c = channelCount(img.mode);
  const data =
    img.data instanceof Int32Array
      ? new Int32Array(box.width * box.height * c)
      : new Uint8Array(box.width * box.height * c);
  for (let y = 0; y < box.height; y++) {
    const start = ((box.top + y) * img.width + box.left) * c;
    data.set(img.data.subarray(start, start + box.width * c), y * box.width * c);
  }
  return {
    mode: img.mode,
    width: box.width,
    height: box.height,
    data,
    sourceSize: { width: img.width, height: img.height },
    origin: { left: box.left, top: box.top },
  };
}

test('resizing the part resizeSourceBox names gives the window of the full resize, in every method', () => {
  const cases: [PilMode, number, number, number, number, Box][] = [
    ['RGB', 90, 60, 33, 22, { left: 5, top: 0, width: 22, height: 22 }], // bicubic, shrinking
    ['L', 40, 70, 40, 50, { left: 0, top: 9, width: 40, height: 30 }], // width unchanged, height resized
    ['RGBA', 20, 30, 45, 61, { left: 10, top: 20, width: 30, height: 30 }], // enlarging, premultiplied
    ['I', 64, 48, 24, 18, { left: 3, top: 0, width: 18, height: 18 }], // float64 path
    ['P', 90, 40, 50, 22, { left: 14, top: 0, width: 22, height: 22 }], // NEAREST
    ['RGB', 30, 20, 30, 20, { left: 4, top: 2, width: 20, height: 15 }], // copy
  ];
  for (const [mode, w, h, outW, outH, window] of cases) {
    const img = image(mode, w, h);
    const box = resizeSourceBox(mode, w, h, outW, outH, window);
    assert.ok(
      box.width * box.height < w * h,
      `${mode}: the box ${JSON.stringify(box)} should be smaller than the image`,
    );
    const full = resizePil(img, outW, outH, window);
    assert.deepEqual(resizePil(part(img, box), outW, outH, window), full, `${mode} ${w}×${h} -> ${outW}×${outH}`);
    // One column short on the right: refused, not silently wrong.
    const short = part(img, { ...box, width: box.width - 1 });
    assert.throws(() => resizePil(short, outW, outH, window), /outside the decoded part/);
  }
});

test('preprocess decodes only the part the crop reads and gives the full-decode tensor', async () => {
  const rgb = (w: number, h: number) =>
    sharp(Buffer.from(image('RGB', w, h).data), { raw: { width: w, height: h, channels: 3 } });
  const inputs: [string, Buffer, ResizeMode, PilMode][] = [
    ['landscape JPEG', await rgb(300, 200).jpeg({ quality: 85 }).toBuffer(), 'shortest-side-crop', 'RGB'],
    [
      'portrait progressive JPEG',
      await rgb(150, 260).jpeg({ progressive: true }).toBuffer(),
      'shortest-side-crop',
      'RGB',
    ],
    ['palette PNG', await rgb(240, 100).png({ palette: true, colours: 16 }).toBuffer(), 'shortest-side-crop', 'P'],
    ['RGBA PNG', await rgb(210, 120).ensureAlpha(0.5).png().toBuffer(), 'shortest-side-crop', 'RGBA'],
  ];
  for (const [label, bytes, resizeMode, mode] of inputs) {
    const size = 48;
    const whole = await decodeImage(bytes);
    assert.equal(whole.mode, mode, label);
    const decodedPart = await decodeImage(bytes, {
      region: (m, w, h) => transformSourceBox(m, w, h, size, resizeMode),
    });
    assert.ok(
      decodedPart.origin && decodedPart.width * decodedPart.height < whole.width * whole.height,
      `${label}: only a part is decoded`,
    );
    const expected = transformPixels(whole, { size, resizeMode });
    assert.deepEqual((await preprocess(bytes, { size, resizeMode })).data, expected.data, label);
  }
});

test('a decoded part cannot be EXIF-oriented (its origin would no longer match)', () => {
  const img = part(image('RGB', 8, 6), { left: 2, top: 1, width: 4, height: 4 });
  assert.throws(() => applyOrientation(img, 6), /decoded part/);
});

test('a square resize reads the whole image, so nothing is cut', async () => {
  const bytes = await sharp({ create: { width: 90, height: 40, channels: 3, background: { r: 10, g: 200, b: 30 } } })
    .png()
    .toBuffer();
  const img = await decodeImage(bytes, { region: (m, w, h) => transformSourceBox(m, w, h, 32, 'square') });
  assert.equal(img.origin, undefined);
  assert.deepEqual([img.width, img.height], [90, 40]);
});
