// What the queue tests share: a random tiny ViT written as safetensors, photos-like images of
// different sizes (random pixels, so every image embeds differently) and one corrupt file.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { ClipConfig } from '../src/models/config.js';
import { randomStateDict } from '../src/models/random.js';
import { writeSafetensors } from '../src/weights/safetensors.js';

export const TINY: ClipConfig = {
  embedDim: 8,
  activation: 'quick_gelu',
  vision: { kind: 'vit', width: 64, layers: 1, heads: 1, patchSize: 8, imageResolution: 16 },
  text: { kind: 'transformer', width: 64, layers: 1, heads: 1, contextLength: 8, vocabSize: 516 },
};

/** Writes `<dir>/model/model.safetensors` (seeded) and returns its folder. */
export function writeTinyModel(dir: string, seed = 21): string {
  mkdirSync(join(dir, 'model'), { recursive: true });
  writeSafetensors(join(dir, 'model', 'model.safetensors'), randomStateDict(TINY, seed));
  return join(dir, 'model');
}

/** `count` JPEGs in `<dir>/images` (sizes vary) plus `broken.jpg`, which is not an image; returns the folder. */
export async function writeImages(dir: string, count: number, size = 160): Promise<string> {
  const folder = join(dir, 'images');
  mkdirSync(folder, { recursive: true });
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  for (let i = 0; i < count; i++) {
    const width = size + 7 * i;
    const height = Math.round(size * 0.75) + 3 * i;
    const pixels = Buffer.alloc(width * height * 3);
    for (let p = 0; p < pixels.length; p++) pixels[p] = next();
    await sharp(pixels, { raw: { width, height, channels: 3 } })
      .jpeg({ quality: 90 })
      .toFile(join(folder, `photo-${String(i).padStart(3, '0')}.jpg`));
  }
  writeFileSync(join(folder, 'broken.jpg'), 'this is not a JPEG');
  return folder;
}
