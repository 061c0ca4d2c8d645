// preprocessBatch: rows equal single-image preprocess, bad inputs reported, the rest carried on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { InputError } from '../src/errors.js';
import { preprocessBatch } from '../src/image/batch.js';
import type { ImageInput } from '../src/image/decode.js';
import { preprocess } from '../src/image/preprocess.js';

async function inputs(): Promise<ImageInput[]> {
  const data = Uint8Array.from({ length: 30 * 20 * 3 }, (_, i) => (i * 7) % 256);
  const pngBytes = await sharp(Buffer.from(data), { raw: { width: 30, height: 20, channels: 3 } })
    .png()
    .toBuffer();
  return [
    { width: 30, height: 20, channels: 3, data },
    '/nonexistent/clip-test/missing.jpg',
    pngBytes,
    new Uint8Array([1, 2, 3, 4]),
  ];
}

for (const concurrency of [1, 2]) {
  test(`preprocessBatch with concurrency ${concurrency}`, async () => {
    const list = await inputs();
    const seen: number[] = [];
    const result = await preprocessBatch(list, { size: 16, concurrency, onProgress: (done) => seen.push(done) });
    assert.deepEqual(result.tensor.shape, [2, 3, 16, 16]);
    assert.deepEqual(result.indices, [0, 2]);
    assert.deepEqual(
      result.failures.map((f) => [f.index, f.input]),
      [
        [1, '/nonexistent/clip-test/missing.jpg'],
        [3, '<4-byte buffer>'],
      ],
    );
    assert.ok(result.failures.every((f) => f.error instanceof InputError));
    assert.deepEqual(seen, [1, 2, 3, 4]);
    const single = await preprocess(list[0]!, { size: 16 });
    const per = 3 * 16 * 16;
    assert.deepEqual(result.tensor.data.subarray(0, per), single.data);
    // The PNG holds the same pixels as the raw input.
    assert.deepEqual(result.tensor.data.subarray(per), single.data);
  });
}
