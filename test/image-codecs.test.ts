// The browser's decoders (image/codecs.ts: WebAssembly libjpeg-turbo and libwebp, fast-png,
// gifuct-js) run in Node too: on the fixture images they must give Pillow's pixels (decoded.safetensors),
// and on images made here the same pixels as the Node decoder (sharp).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import sharp from 'sharp';
import decodeJpeg, { init as initJpeg } from '@jsquash/jpeg/decode.js';
import decodeWebp, { init as initWebp } from '@jsquash/webp/decode.js';
import { decodeCmykJpeg } from '../src/image/cmyk-jpeg.js';
import { decodeWithCodecs, type WasmCodecs } from '../src/image/codecs.js';
import { decodeImage } from '../src/image/decode.js';
import { toRGB } from '../src/image/pixels.js';
import { transformPixels } from '../src/image/transform.js';
import { toFloat32 } from '../src/tensor.js';
import { at } from '../src/checked.js';
import { InputError } from '../src/errors.js';
import { readSafetensors } from '../src/weights/safetensors.js';
import { needsFixtures, OPENAI_FIXTURES } from './fixtures.js';

const require = createRequire(import.meta.url);

// The project's type library (ES2022 without DOM) does not declare WebAssembly; Node has it.
declare const WebAssembly: { compile(bytes: Uint8Array): Promise<Parameters<typeof initJpeg>[0]> };

/** The codecs as the web entry sets them up, with their .wasm read from node_modules. */
async function nodeCodecs(): Promise<WasmCodecs> {
  const compile = (path: string) => WebAssembly.compile(readFileSync(require.resolve(path)));
  await initJpeg(await compile('@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm'));
  await initWebp(await compile('@jsquash/webp/codec/dec/webp_dec.wasm'));
  return {
    jpeg: (b) => decodeJpeg(b, { preserveOrientation: false }),
    webp: (b) => decodeWebp(b),
    jpegCmyk: async (b) => decodeCmykJpeg(b),
  };
}

const codecs = nodeCodecs();

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(at(a, i) - at(b, i)));
  return max;
}

test('fixture images decode to exactly what Pillow decodes (CMYK in CMYK, before its conversion)', {
  skip: needsFixtures(OPENAI_FIXTURES),
}, async (t) => {
  const decoded = readSafetensors(join(OPENAI_FIXTURES, 'preprocess', 'decoded.safetensors')).tensors;
  const report: Record<string, number | string> = {};
  for (const file of readdirSync(join(OPENAI_FIXTURES, 'images')).sort()) {
    const bytes = readFileSync(join(OPENAI_FIXTURES, 'images', file));
    try {
      const pixels = await decodeWithCodecs(bytes, await codecs, file, Infinity);
      // CMYK in Pillow's own mode (before its lossy conversion to RGB), every other image as RGB.
      const ours = pixels.mode === 'CMYK' ? pixels.data : toRGB(pixels);
      const ref = (pixels.mode === 'CMYK' ? undefined : decoded.get(`${file}#rgb`)) ?? decoded.get(file);
      assert.ok(ref, `${file}: in decoded.safetensors`);
      assert.equal(ours.length, ref.bytes.length, `${file}: size`);
      report[file] = maxDifference(ours, ref.bytes);
    } catch (e) {
      report[file] = (e as Error).message;
    }
  }
  t.diagnostic(`max difference per image (0..255): ${JSON.stringify(report)}`);
  for (const [file, diff] of Object.entries(report)) {
    assert.equal(diff, 0, file);
  }
});

test('CMYK JPEG: preprocessed pixels equal the reference at 32, 64 and 224 px', {
  skip: needsFixtures(OPENAI_FIXTURES),
}, async () => {
  const bytes = readFileSync(join(OPENAI_FIXTURES, 'images', 'cmyk.jpg'));
  const pixels = await decodeWithCodecs(bytes, await codecs, 'cmyk.jpg', Infinity);
  assert.equal(pixels.mode, 'CMYK');
  for (const size of [32, 64, 224]) {
    const ref = readSafetensors(join(OPENAI_FIXTURES, 'preprocess', `${size}.safetensors`)).tensors.get('cmyk.jpg');
    assert.ok(ref, `cmyk.jpg in preprocess/${size}.safetensors`);
    const ours = transformPixels(pixels, { size, resizeMode: 'shortest-side-crop' }).data;
    assert.deepEqual(ours, toFloat32(ref), `${size} px`);
  }
});

test('CMYK JPEGs made here: baseline decodes exactly as sharp (libjpeg-turbo), progressive within 1', async (t) => {
  const raw = testCard(97, 61);
  for (const progressive of [false, true]) {
    for (const quality of [50, 95]) {
      const cmyk = sharp(raw, { raw: { width: 97, height: 61, channels: 3 } }).toColourspace('cmyk');
      const bytes = await cmyk.jpeg({ quality, progressive }).toBuffer();
      const ours = await decodeWithCodecs(bytes, await codecs, 'cmyk', Infinity);
      const node = await decodeImage(bytes);
      assert.equal(ours.mode, 'CMYK');
      assert.equal(node.mode, 'CMYK');
      const diff = maxDifference(ours.data, node.data);
      t.diagnostic(`${progressive ? 'progressive' : 'baseline'} q${quality}: max difference ${diff}`);
      // Progressive ones take pdf.js's decoder (image/cmyk-jpeg.ts), whose IDCT is not libjpeg's.
      assert.ok(diff <= (progressive ? 1 : 0), `${progressive ? 'progressive' : 'baseline'} q${quality}: ${diff}`);
    }
  }
});

/** A smooth RGB test card with sharp edges: width × height × 3. */
function testCard(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = (x * 255) / width;
      data[i + 1] = (y * 255) / height;
      data[i + 2] = ((x >> 3) ^ (y >> 3)) & 1 ? 230 : 20;
    }
  }
  return data;
}

test('JPEG (4:2:0 and 4:4:4, progressive), WebP and PNG made here decode like sharp does', async () => {
  const raw = testCard(97, 61);
  const image = () => sharp(raw, { raw: { width: 97, height: 61, channels: 3 } });
  const files: [string, Uint8Array][] = [
    ['jpeg 4:2:0', await image().jpeg({ quality: 80 }).toBuffer()],
    [
      'jpeg 4:4:4 progressive',
      await image().jpeg({ quality: 90, chromaSubsampling: '4:4:4', progressive: true }).toBuffer(),
    ],
    ['grey jpeg', await image().greyscale().jpeg().toBuffer()],
    ['webp', await image().webp({ quality: 75 }).toBuffer()],
    [
      'png rgb16',
      encodePng({ width: 97, height: 61, channels: 3, depth: 16, data: Uint16Array.from(raw, (v) => v * 257 + 3) }),
    ],
    ['png grey', encodePng({ width: 97, height: 61, channels: 1, depth: 8, data: raw.filter((_, i) => i % 3 === 0) })],
  ];
  for (const [what, bytes] of files) {
    const ours = await decodeWithCodecs(bytes, await codecs, what, Infinity);
    const node = await decodeImage(bytes);
    assert.equal(ours.mode, node.mode, `${what}: mode`);
    assert.deepEqual(toRGB(ours), toRGB(node), `${what}: pixels`);
    // The size limit applies to the size the header declares (read before decoding).
    await assert.rejects(
      decodeWithCodecs(bytes, await codecs, what, 97 * 61 - 1),
      /image has 97×61 = 5917 pixels, more than the limit/,
    );
  }
  const lossless = await image().webp({ lossless: true }).toBuffer();
  await assert.rejects(decodeWithCodecs(lossless, await codecs, 'lossless', 100), /image has 97×61/);
});

test('a small file whose header claims a huge image is refused before it is decoded', async () => {
  const png = encodePng({ width: 4, height: 4, channels: 3, depth: 8, data: new Uint8Array(48) });
  const forged = png.slice();
  new DataView(forged.buffer).setUint32(16, 100_000); // IHDR width
  new DataView(forged.buffer).setUint32(20, 100_000); // and height
  await assert.rejects(
    decodeWithCodecs(forged, await codecs, 'bomb.png', 89_478_485),
    /bomb\.png: image has 100000×100000 = 10000000000 pixels, more than the limit/,
  );
});

test('unknown, empty and oversized inputs are InputErrors naming the input', async () => {
  await assert.rejects(
    decodeWithCodecs(new Uint8Array(0), await codecs, 'a.png', Infinity),
    /a\.png: the file is empty/,
  );
  await assert.rejects(
    decodeWithCodecs(new TextEncoder().encode('hello'), await codecs, 'b.txt', Infinity),
    (e) => e instanceof InputError && /b\.txt: unsupported image format/.test(e.message),
  );
  const png = encodePng({ width: 20, height: 10, channels: 3, depth: 8, data: new Uint8Array(600) });
  await assert.rejects(
    decodeWithCodecs(png, await codecs, 'c.png', 100),
    /c\.png: image has 20×10 = 200 pixels, more than the limit of 100/,
  );
  await assert.rejects(
    decodeWithCodecs(png.subarray(0, 40), await codecs, 'd.png', Infinity),
    /d\.png: cannot decode the png data/,
  );
});
