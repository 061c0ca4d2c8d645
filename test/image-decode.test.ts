// Decoding into Pillow's modes and the InputError cases, on images made here (no fixtures).
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { InputError } from '../src/errors.js';
import { decodeImage } from '../src/image/decode.js';
import { preprocess } from '../src/image/preprocess.js';

const dir = mkdtempSync(join(tmpdir(), 'clip-image-test-'));

// A minimal PNG writer, so the tests control bit depth, colour type, tRNS and header sizes.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, body: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])));
  return Buffer.concat([head, body, crc]);
}
/** rows: big-endian sample bytes per row (without the filter byte). */
function png(
  width: number,
  height: number,
  bitDepth: number,
  colourType: number,
  rows: Uint8Array[],
  extra: Buffer[] = [],
): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colourType;
  const raw = Buffer.concat(rows.map((r) => Buffer.concat([Buffer.from([0]), r])));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...extra,
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}
const u16 = (values: number[]) => {
  const b = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => b.writeUInt16BE(v, 2 * i));
  return b;
};

test('16-bit grey PNG opens as mode I with the exact values', async () => {
  const img = await decodeImage(png(3, 1, 16, 0, [u16([0, 300, 65535])]));
  assert.equal(img.mode, 'I');
  assert.deepEqual([...img.data], [0, 300, 65535]);
});

test('16-bit RGB PNG keeps the high byte of each sample (Pillow 9.4)', async () => {
  const img = await decodeImage(png(1, 1, 16, 2, [u16([0x12ff, 0xab01, 0x00ff])]));
  assert.equal(img.mode, 'RGB');
  assert.deepEqual([...img.data], [0x12, 0xab, 0x00]);
});

test('RGB PNG with tRNS stays RGB; palette PNG is P expanded through its palette', async () => {
  const trns = await decodeImage(
    png(2, 1, 8, 2, [Uint8Array.from([1, 2, 3, 4, 5, 6])], [chunk('tRNS', u16([1, 2, 3]))]),
  );
  assert.equal(trns.mode, 'RGB');
  assert.deepEqual([...trns.data], [1, 2, 3, 4, 5, 6]);
  const palette = chunk('PLTE', Uint8Array.from([10, 20, 30, 40, 50, 60]));
  const alpha = chunk('tRNS', Uint8Array.from([0]));
  const p = await decodeImage(png(3, 1, 8, 3, [Uint8Array.from([1, 0, 1])], [palette, alpha]));
  assert.equal(p.mode, 'P');
  assert.deepEqual([...p.data], [40, 50, 60, 10, 20, 30, 40, 50, 60]);
});

test('grey, grey + alpha and RGBA PNGs open as L, LA, RGBA', async () => {
  const l = await decodeImage(png(2, 1, 8, 0, [Uint8Array.from([9, 200])]));
  assert.deepEqual([l.mode, ...l.data], ['L', 9, 200]);
  const la = await decodeImage(png(1, 1, 8, 4, [Uint8Array.from([9, 100])]));
  assert.deepEqual([la.mode, ...la.data], ['LA', 9, 100]);
  const rgba = await decodeImage(png(1, 1, 8, 6, [Uint8Array.from([1, 2, 3, 0])]));
  assert.deepEqual([rgba.mode, ...rgba.data], ['RGBA', 1, 2, 3, 0]);
});

test('other formats: JPEG grey -> L, CMYK JPEG -> CMYK, GIF -> P, WebP with alpha -> RGBA, TIFF -> RGB', async () => {
  const raw = { raw: { width: 8, height: 8, channels: 3 as const } };
  const pixels = Buffer.alloc(8 * 8 * 3, 90);
  const modes = await Promise.all(
    [
      sharp(pixels, raw).toColourspace('b-w').jpeg().toBuffer(),
      sharp(pixels, raw).toColourspace('cmyk').jpeg().toBuffer(),
      sharp(pixels, raw).gif().toBuffer(),
      sharp(Buffer.alloc(8 * 8 * 4, 90), { raw: { width: 8, height: 8, channels: 4 } })
        .webp({ lossless: true })
        .toBuffer(),
      sharp(pixels, raw).tiff().toBuffer(),
    ].map(async (b) => (await decodeImage(await b)).mode),
  );
  assert.deepEqual(modes, ['L', 'CMYK', 'P', 'RGBA', 'RGB']);
});

test('EXIF orientation is ignored unless asked for', async () => {
  const jpeg = await sharp(Buffer.alloc(4 * 2 * 3, 50), { raw: { width: 4, height: 2, channels: 3 } })
    .jpeg()
    .withMetadata({ orientation: 6 })
    .toBuffer();
  const asStored = await decodeImage(jpeg);
  const oriented = await decodeImage(jpeg, { applyExifOrientation: true });
  assert.deepEqual([asStored.width, asStored.height, oriented.width, oriented.height], [4, 2, 2, 4]);
});

async function rejectsNaming(
  input: Parameters<typeof preprocess>[0],
  name: string,
  pattern: RegExp,
  maxPixels?: number,
) {
  await assert.rejects(preprocess(input, { size: 8, maxPixels }), (e: unknown) => {
    assert.ok(e instanceof InputError, `expected InputError, got ${e}`);
    assert.ok(e.message.includes(name), `message should name ${name}: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

test('bad files are InputErrors naming the file', async () => {
  const good = await sharp(Buffer.alloc(64 * 64 * 3, 7), { raw: { width: 64, height: 64, channels: 3 } })
    .jpeg()
    .toBuffer();
  const goodPng = png(
    64,
    64,
    8,
    0,
    Array.from({ length: 64 }, (_, y) => new Uint8Array(64).fill(y)),
  );
  const files: Record<string, [Uint8Array, RegExp]> = {
    'truncated.jpg': [good.subarray(0, good.length >> 1), /premature end|truncated/i],
    'truncated.png': [goodPng.subarray(0, goodPng.length - 30), /png|read|corrupt/i],
    'garbage.jpg': [Buffer.from('definitely not an image'), /not a readable image/],
    'empty.png': [new Uint8Array(0), /empty/],
    'vector.svg': [
      Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>'),
      /unsupported image format svg/,
    ],
    'huge.png': [png(100000, 100000, 8, 0, [new Uint8Array(1)]), /more than the limit of 89478485/],
    'zero.png': [png(0, 5, 8, 0, []), /not a readable image|positive integer size/],
  };
  for (const [name, [bytes, pattern]] of Object.entries(files)) {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    await rejectsNaming(path, path, pattern);
  }
  await rejectsNaming(join(dir, 'missing.jpg'), 'missing.jpg', /cannot read the file \(ENOENT\)/);
  const small = join(dir, 'small.jpg');
  writeFileSync(small, good);
  await rejectsNaming(small, small, /64×64 = 4096 pixels, more than the limit of 1000/, 1000);
});

test('bad raw pixels are InputErrors', async () => {
  await rejectsNaming(
    { width: 0, height: 3, channels: 3, data: new Uint8Array(0) },
    '<raw pixels>',
    /0×3 is not a positive integer size/,
  );
  await rejectsNaming(
    { width: 2, height: 2, channels: 3, data: new Uint8Array(5) },
    '<raw pixels>',
    /5 values, expected .* = 12/,
  );
  await rejectsNaming(
    { width: 1, height: 1, channels: 3, data: new Uint8Array(3), mode: 'CMYK' },
    '<raw pixels>',
    /do not fit mode CMYK/,
  );
});
