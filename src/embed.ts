// Embedding many images: batches are preprocessed while the previous batch runs through the
// model (decoding and resizing overlap inference), and results stream out batch by batch, so a
// folder of any size runs in bounded memory. Unreadable images are reported and skipped.

import { at } from './checked.js';
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { BatchFailure, BatchResult, ImageInput } from './image/index.js';
import type { CLIP } from './inference/clip.js';
import type { LoadedClip } from './load.js';
import type { ImageOutput } from './models/config.js';

export interface ImageEmbedding {
  index: number;
  input: ImageInput;
  embedding: Float32Array;
}

export interface EmbedBatch {
  embeddings: ImageEmbedding[];
  failures: BatchFailure[];
}

/** The file extensions a folder's images are recognised by. */
export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.bmp']);

/** Whether a file name ends like an image (what a folder expands to). */
export const isImageName = (name: string): boolean => IMAGE_EXTENSIONS.has(extname(name).toLowerCase());

/** Paths as given, with each folder replaced by its image files (sorted, not recursive). */
export function expandImagePaths(paths: readonly string[]): string[] {
  return paths.flatMap((p) => {
    if (!statSync(p, { throwIfNoEntry: false })?.isDirectory()) return [p];
    return readdirSync(p)
      .filter(isImageName)
      .sort()
      .map((f) => join(p, f));
  });
}

/** What embedImages needs of a model: `load`'s or `loadInWorker`'s. */
export type ImageEmbedder = Pick<LoadedClip, 'preprocessBatch'> & { model: Pick<CLIP, 'encodeImage'> };

/**
 * Image embeddings, `batchSize` at a time: the next batch is decoded while this one runs through
 * the model, and goes into the model as soon as this one is out, while the caller is still busy
 * with this batch's results (with the model on a thread of its own, loadInWorker, it never waits
 * for the caller). `output: 'pre-projection'` gives a ViT's features before the projection.
 */
export async function* embedImages(
  clip: ImageEmbedder,
  inputs: readonly ImageInput[],
  {
    batchSize = 32,
    preprocess = {},
    output = 'embedding',
  }: { batchSize?: number; preprocess?: Parameters<LoadedClip['preprocessBatch']>[1]; output?: ImageOutput } = {},
): AsyncGenerator<EmbedBatch> {
  const starts = Array.from({ length: Math.ceil(inputs.length / batchSize) }, (_, i) => i * batchSize);
  const prepare = (start: number) => clip.preprocessBatch(inputs.slice(start, start + batchSize), preprocess);
  /** The batch at `offset` once decoded, through the model once the batch before it is out (one call at a time). */
  const encode = async (offset: number, prepared: Promise<BatchResult>, before: Promise<unknown>) => {
    const { tensor, indices, failures } = await prepared;
    await before;
    const batch: EmbedBatch = { embeddings: [], failures: failures.map((f) => ({ ...f, index: offset + f.index })) };
    if (indices.length === 0) return batch;
    const features = await clip.model.encodeImage(tensor, { output });
    const d = at(features.shape, 1);
    batch.embeddings = indices.map((i, row) => ({
      index: offset + i,
      input: at(inputs, offset + i),
      embedding: features.data.slice(row * d, (row + 1) * d),
    }));
    return batch;
  };
  if (starts.length === 0) return;
  let prepared = prepare(0);
  let encoded = encode(0, prepared, Promise.resolve());
  for (const b of starts.keys()) {
    const current = encoded;
    const next = starts[b + 1];
    if (next !== undefined) {
      // Decoded after this batch is (one batch at a time), encoded after it; at most one batch ahead
      // of the caller. Awaited on its turn, so a failure ahead of it is not unhandled.
      prepared = prepared.then(
        () => prepare(next),
        () => prepare(next),
      );
      encoded = encode(
        next,
        prepared,
        current.catch(() => undefined),
      );
      encoded.catch(() => undefined);
    }
    yield await current;
  }
}
