// Frozen image-tower features of a whole dataset, through the same pipelined path as `clip embed`
// (embedImages: the next batch is decoded while the model runs), cached on disk under a key made
// of the model's fingerprint, the dataset's image bytes and the preprocessing, so that a second
// evaluation of the same data (another template set, a linear-probe sweep) skips the model.

import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  cacheDir,
  embedImages,
  imageOutputWidth,
  type ImageInput,
  type ImageOutput,
  type LoadedClip,
} from '../index.js';

/** Bump when what is stored changes. */
const CACHE_FORMAT = 1;

export interface ImageFeatures {
  /** [rows.length, dim], one row per readable image, unnormalised. */
  data: Float32Array;
  dim: number;
  /** Which inputs the rows are (unreadable images are left out). */
  rows: number[];
  /** The inputs that could not be read, with why. */
  failures: { index: number; message: string }[];
  /** Images per second end to end (0 when read from the cache). */
  imagesPerSecond: number;
  seconds: number;
  cached: boolean;
}

/** sha256 of a file's bytes, streamed. */
async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * What identifies a model's weights: the sha256 of the checkpoint file (of every file, for a
 * model folder), or the name itself for models loaded by name (downloads are checksum-verified).
 */
export async function modelFingerprint(nameOrPath: string): Promise<string> {
  if (!existsSync(nameOrPath)) return `name:${nameOrPath}`;
  if (!statSync(nameOrPath).isDirectory()) return `sha256:${await hashFile(nameOrPath)}`;
  const files = readdirSync(nameOrPath)
    .sort()
    .filter((f) => statSync(join(nameOrPath, f)).isFile());
  const hashes = await Promise.all(files.map(async (f) => `${f}:${await hashFile(join(nameOrPath, f))}`));
  return `sha256:${createHash('sha256').update(hashes.join('\n')).digest('hex')}`;
}

export interface FeatureOptions {
  /** From modelFingerprint; with `fingerprint`, enables the cache. */
  model?: string;
  /** The dataset's image bytes (LabelledDataset.fingerprint). */
  fingerprint?: string;
  /** Default: `<clip cache dir>/features`. */
  cacheDir?: string;
  batchSize?: number;
  /** The embedding (default) or the features before the projection (ImageOutput). */
  output?: ImageOutput;
  /** Called after every batch with the images done so far (read or failed). */
  onProgress?: (done: number, total: number) => void;
}

interface CachedMeta {
  format: number;
  dim: number;
  rows: number[];
  failures: ImageFeatures['failures'];
}

/** Features of `inputs`, from the cache when this model has seen these exact images. */
export async function imageFeatures(
  clip: LoadedClip,
  inputs: readonly ImageInput[],
  opts: FeatureOptions = {},
): Promise<ImageFeatures> {
  const resolution = clip.model.config.vision.imageResolution;
  const output = opts.output ?? 'embedding';
  const key =
    opts.model && opts.fingerprint
      ? createHash('sha256')
          .update(JSON.stringify([CACHE_FORMAT, opts.model, opts.fingerprint, inputs.length, resolution, output]))
          .digest('hex')
          .slice(0, 32)
      : undefined;
  const dir = opts.cacheDir ?? join(cacheDir(), 'features');
  const [metaPath, dataPath] = [join(dir, `${key}.json`), join(dir, `${key}.f32`)];
  if (key && existsSync(metaPath) && existsSync(dataPath)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as CachedMeta;
    const bytes = readFileSync(dataPath);
    if (meta.format === CACHE_FORMAT && bytes.length === meta.rows.length * meta.dim * 4) {
      const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
      opts.onProgress?.(inputs.length, inputs.length);
      return {
        data,
        dim: meta.dim,
        rows: meta.rows,
        failures: meta.failures,
        imagesPerSecond: 0,
        seconds: 0,
        cached: true,
      };
    }
  }
  const started = performance.now();
  const dim = imageOutputWidth(clip.model.config, output);
  const parts: Float32Array[] = [];
  const rows: number[] = [];
  const failures: ImageFeatures['failures'] = [];
  let done = 0;
  // Raw pixels need no decoding and small ones little resizing: on the calling thread they go
  // ~100× faster than through worker threads, which preprocessBatch starts per batch.
  const raw = inputs.length > 0 && inputs.every((i) => typeof i !== 'string' && !(i instanceof Uint8Array));
  const preprocess = raw ? { concurrency: 1 } : {};
  for await (const batch of embedImages(clip, inputs, { batchSize: opts.batchSize ?? 64, preprocess, output })) {
    for (const f of batch.failures) failures.push({ index: f.index, message: f.error.message });
    for (const e of batch.embeddings) {
      rows.push(e.index);
      parts.push(e.embedding);
    }
    done += batch.embeddings.length + batch.failures.length;
    opts.onProgress?.(done, inputs.length);
  }
  const data = new Float32Array(rows.length * dim);
  parts.forEach((p, i) => data.set(p, i * dim));
  const seconds = (performance.now() - started) / 1000;
  if (key) {
    mkdirSync(dir, { recursive: true });
    // Data first, then the meta that makes it visible; each renamed into place whole.
    const staging = `.tmp-${process.pid}`;
    writeFileSync(dataPath + staging, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    renameSync(dataPath + staging, dataPath);
    writeFileSync(
      metaPath + staging,
      JSON.stringify({ format: CACHE_FORMAT, dim, rows, failures } satisfies CachedMeta),
    );
    renameSync(metaPath + staging, metaPath);
  }
  return { data, dim, rows, failures, imagesPerSecond: rows.length / seconds, seconds, cached: false };
}
