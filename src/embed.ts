// Embedding many images: batches are preprocessed while the previous batch runs through the
// model (decoding and resizing overlap inference), and results stream out batch by batch, so a
// folder of any size runs in bounded memory. Unreadable images are reported and skipped.

import { at } from './checked.js';
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { BatchFailure, ImageInput } from './image/index.js';
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

/**
 * Image embeddings, `batchSize` at a time, the next batch's preprocessing overlapping this batch's
 * model run; `output: 'pre-projection'` gives a ViT's features before the projection (ImageOutput).
 */
export async function* embedImages(
  clip: LoadedClip,
  inputs: readonly ImageInput[],
  {
    batchSize = 32,
    preprocess = {},
    output = 'embedding',
  }: { batchSize?: number; preprocess?: Parameters<LoadedClip['preprocessBatch']>[1]; output?: ImageOutput } = {},
): AsyncGenerator<EmbedBatch> {
  const starts = Array.from({ length: Math.ceil(inputs.length / batchSize) }, (_, i) => i * batchSize);
  const prepare = (start: number) => clip.preprocessBatch(inputs.slice(start, start + batchSize), preprocess);
  // The next batch is preprocessed while this one runs through the model.
  let pending = starts.length ? prepare(0) : undefined;
  for (const [b, offset] of starts.entries()) {
    const current = pending ?? prepare(offset);
    const next = starts[b + 1];
    pending = next === undefined ? undefined : prepare(next);
    const { tensor, indices, failures } = await current;
    const globalFailures = failures.map((f) => ({ ...f, index: offset + f.index }));
    if (indices.length === 0) {
      yield { embeddings: [], failures: globalFailures };
      continue;
    }
    const features = await clip.model.encodeImage(tensor, { output });
    const d = at(features.shape, 1);
    yield {
      embeddings: indices.map((i, row) => ({
        index: offset + i,
        input: at(inputs, offset + i),
        embedding: features.data.slice(row * d, (row + 1) * d),
      })),
      failures: globalFailures,
    };
  }
}
