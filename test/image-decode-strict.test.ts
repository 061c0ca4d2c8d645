// Corrupt JPEGs are refused exactly when Pillow refuses them ("broken data stream"), instead of
// becoming garbage pixels. Every verdict below was checked with Pillow 11.3 (Image.open(f).convert
// ('RGB')); the fixture cases are skipped loudly without ../shared.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { InputError } from '../src/errors.js';
import { decodeImage } from '../src/image/decode.js';
import { needsFixtures, OPENAI_FIXTURES } from './fixtures.js';

/** A 96×64 baseline JPEG of a deterministic pattern. */
async function patternJpeg(width = 96, height = 64): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37 + Math.floor(i / 3) * 11) % 256;
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

const startOfScan = (jpeg: Buffer) => jpeg.indexOf(Buffer.from([0xff, 0xda]));

/** The JPEG with two bytes replaced `offset` bytes into its entropy-coded data. */
function withBytes(jpeg: Buffer, offset: number, bytes: [number, number]): Buffer {
  const out = Buffer.from(jpeg);
  out.set(bytes, startOfScan(jpeg) + 20 + offset);
  return out;
}

test(
  "a bogus marker inside a baseline JPEG's data is refused with the input named (Pillow: broken data " + 'stream)',
  async () => {
    const jpeg = await patternJpeg();
    for (const offset of [0, 776, 1940, 3104]) {
      await assert.rejects(
        decodeImage(withBytes(jpeg, offset, [0xff, 0x9e])),
        (e: unknown) =>
          e instanceof InputError &&
          /byte buffer>: cannot decode the jpeg data \(.*premature end of data segment/.test((e as Error).message),
      );
    }
  },
);

test('damaged data Pillow decodes through is decoded too: an early end-of-image, bad Huffman codes', async () => {
  const jpeg = await patternJpeg();
  for (const offset of [0, 776, 1940, 3104]) {
    const pixels = await decodeImage(withBytes(jpeg, offset, [0xff, 0xd9]));
    assert.equal(pixels.width, 96);
  }
  // Three bits flipped in the data of a 64×48 pattern: libjpeg warns "bad Huffman code"; Pillow decodes it.
  const small = await patternJpeg(64, 48);
  const flipped = Buffer.from(small);
  const sos = startOfScan(small);
  for (let j = 0; j < 3; j++) flipped[sos + 14 + ((j * 977) % (small.length - sos - 20))]! ^= 0x40;
  await assert.rejects(sharp(flipped, { failOn: 'warning' }).raw().toBuffer(), /bad Huffman code/);
  assert.equal((await decodeImage(flipped)).height, 48);
});

/** Bit flips as in the measurement: `count` flips from a seeded generator, after the scan header. */
function flipBits(jpeg: Buffer, count: number, seed: number): Buffer {
  const out = Buffer.from(jpeg);
  const sos = startOfScan(jpeg);
  let x = seed * 7919 + count;
  for (let k = 0; k < count; k++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out[sos + 20 + (x % (out.length - sos - 40))]! ^= 1 << (x % 8);
  }
  return out;
}

test("bit-flipped fixture JPEGs get Pillow's verdict", { skip: needsFixtures(OPENAI_FIXTURES) }, async () => {
  const images = join(OPENAI_FIXTURES, 'images');
  // [file, flips, seed, Pillow decodes it]
  const cases: [string, number, number, boolean][] = [
    ['astronaut.jpg', 20, 4, false],
    ['coffee_444.jpg', 3, 2, false],
    ['cmyk.jpg', 20, 8, false],
    ['astronaut.jpg', 20, 1, true],
    ['wide_1200x40.jpg', 20, 5, true],
    ['rocket.jpg', 3, 1, true],
    ['progressive.jpg', 20, 1, true],
  ];
  for (const [file, count, seed, decodes] of cases) {
    const bytes = flipBits(readFileSync(join(images, file)), count, seed);
    const verdict = await decodeImage(bytes).then(
      () => true,
      (e: unknown) => {
        assert.ok(e instanceof InputError);
        return false;
      },
    );
    assert.equal(verdict, decodes, `${file} with ${count} flips (seed ${seed})`);
  }
});
