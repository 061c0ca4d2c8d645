// Streaming image embeddings: batches give the same features as one big encodeImage call,
// folders expand to their image files, and an unreadable file is reported with its global index.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { embedImages, expandImagePaths } from '../src/embed.js';
import { load } from '../src/load.js';
import type { ClipConfig } from '../src/models/config.js';
import { randomStateDict } from '../src/models/random.js';
import { writeSafetensors } from '../src/weights/safetensors.js';

const CFG: ClipConfig = {
  embedDim: 8,
  vision: { kind: 'vit', width: 64, layers: 1, heads: 1, patchSize: 8, imageResolution: 16 },
  text: { kind: 'transformer', width: 64, layers: 1, heads: 1, contextLength: 8, vocabSize: 516 },
  activation: 'quick_gelu',
};
let dir = '';
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'clip-embed-'));
  writeSafetensors(join(dir, 'model.safetensors'), randomStateDict(CFG, 15));
  for (let i = 0; i < 7; i++) {
    await sharp({
      create: { width: 20 + i, height: 18, channels: 3, background: { r: 30 * i, g: 90, b: 200 - 20 * i } },
    })
      .png()
      .toFile(join(dir, `img${i}.png`));
  }
  writeFileSync(join(dir, 'img3b.png'), 'not a png');
  writeFileSync(join(dir, 'notes.txt'), 'not an image');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('folders expand to their image files, sorted; files pass through', () => {
  const files = expandImagePaths([dir, join(dir, 'notes.txt')]);
  assert.deepEqual(
    files.map((f) => f.slice(dir.length + 1)),
    ['img0.png', 'img1.png', 'img2.png', 'img3.png', 'img3b.png', 'img4.png', 'img5.png', 'img6.png', 'notes.txt'],
  );
});

test('batched, pipelined embeddings equal one encodeImage over all images; failures carry their index', async () => {
  const clip = await load(join(dir, 'model.safetensors'));
  const images = expandImagePaths([dir]);
  const seen: number[] = [];
  const failed: number[] = [];
  const features = new Map<number, Float32Array>();
  for await (const { embeddings, failures } of embedImages(clip, images, { batchSize: 3 })) {
    for (const e of embeddings) {
      seen.push(e.index);
      features.set(e.index, e.embedding);
    }
    failed.push(...failures.map((f) => f.index));
  }
  assert.deepEqual(failed, [4], 'img3b.png (index 4) is not an image');
  assert.deepEqual(seen, [0, 1, 2, 3, 5, 6, 7]);
  const good = images.filter((_, i) => i !== 4);
  const all = await clip.model.encodeImage((await clip.preprocessBatch(good)).tensor);
  [0, 1, 2, 3, 5, 6, 7].forEach((index, row) => {
    const e = features.get(index)!;
    e.forEach((v, k) => assert.ok(Math.abs(v - all.data[row * 8 + k]!) < 1e-5, `image ${index}`));
  });
  await clip.model.release();
});
