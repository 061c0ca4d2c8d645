// Image-caption pairs for training: an open_clip-style CSV/TSV or a folder of images with
// same-name .txt captions (shuffled per epoch from (seed, epoch) alone, so a run resumes exactly
// from (epoch, batch index) with no RNG state to save), or streamed WebDataset tar shards
// (shard-shuffled, then a seeded shuffle buffer). Images are decoded and
// preprocessed on image/'s worker pool (preprocessBatch); unreadable images and captions are
// skipped, counted, and replaced by the next samples so every batch is full.

import { createReadStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join } from 'node:path';
import { parse } from 'csv-parse/sync';
import tar from 'tar-stream';
import { InputError } from '../errors.js';
import { preprocessBatch, type ImageInput, type TransformOptions } from '../image/index.js';
import type { Tokenizer } from '../text/index.js';
import type { Batch } from './trainer.js';
import { seededUniform } from '../models/random.js';
import { at, first } from '../checked.js';

export interface Sample {
  image: string;
  caption: string;
}

/** CSV/TSV records (csv-parse: quoted fields, "" escapes, separators and newlines inside quotes, BOM). */
function parseDelimited(text: string, separator: string, path: string): string[][] {
  try {
    return parse(text, {
      delimiter: separator,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      bom: true,
      record_delimiter: ['\r\n', '\n', '\r'],
    });
  } catch (e) {
    throw new InputError(`${path}: not a valid ${separator === '\t' ? 'TSV' : 'CSV'} file (${(e as Error).message})`);
  }
}

export interface CsvOptions {
  /** Default: tab for .tsv, else open_clip's default "\t" unless the header has no tab (then ","). */
  separator?: string;
  /** open_clip's --csv-img-key (default "filepath") and --csv-caption-key (default "title"). */
  imageKey?: string;
  captionKey?: string;
}

/** Pairs from a CSV/TSV with a header row; relative image paths are resolved against the file's folder. */
export function readCsvSamples(path: string, opts: CsvOptions = {}): Sample[] {
  const text = readFileSync(path, 'utf8');
  const firstLine = text.slice(0, text.indexOf('\n') >>> 0);
  const separator = opts.separator ?? (extname(path) === '.tsv' || firstLine.includes('\t') ? '\t' : ',');
  const [header, ...rows] = parseDelimited(text, separator, path);
  const imageKey = opts.imageKey ?? 'filepath';
  const captionKey = opts.captionKey ?? 'title';
  const ic = header?.indexOf(imageKey) ?? -1;
  const cc = header?.indexOf(captionKey) ?? -1;
  if (ic < 0 || cc < 0)
    throw new InputError(
      `${path}: the header must name columns "${imageKey}" and "${captionKey}" ` +
        `(separator ${JSON.stringify(separator)}), found ${JSON.stringify(header)}`,
    );
  return rows.map((r) => {
    const image = r[ic] ?? '';
    return { image: isAbsolute(image) ? image : join(dirname(path), image), caption: r[cc] ?? '' };
  });
}

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.bmp', '.tif', '.tiff', '.avif']);

/** Every image in `dir` (recursively) that has a same-name .txt caption beside it, in sorted order. */
export function readFolderSamples(dir: string): Sample[] {
  const out: Sample[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true }).sort((a, b) =>
    join(a.parentPath, a.name).localeCompare(join(b.parentPath, b.name)),
  )) {
    if (!entry.isFile() || !IMAGE_EXTENSIONS.has(extname(entry.name).toLowerCase())) continue;
    const image = join(entry.parentPath, entry.name);
    const captionFile = `${image.slice(0, -extname(image).length)}.txt`;
    if (existsSync(captionFile)) out.push({ image, caption: readFileSync(captionFile, 'utf8').trim() });
  }
  return out;
}

/** The sample order of an epoch: a Fisher–Yates shuffle seeded by (seed, epoch). */
export function epochOrder(count: number, seed: number, epoch: number): number[] {
  const random = seededUniform(Math.imul(seed ^ 0x9e3779b9, 31) + epoch);
  const order = [...Array(count).keys()];
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [at(order, j), at(order, i)];
  }
  return order;
}

export interface LoaderOptions {
  batchSize: number;
  /** Image side the model expects. */
  resolution: number;
  /** The model's normalisation and resize mode, when not OpenAI CLIP's (see model-files.ts imageTransformFor). */
  transform?: Omit<TransformOptions, 'size'>;
  tokenizer: Tokenizer;
  contextLength: number;
  seed?: number;
  /** Worker threads for decoding and resizing (preprocessBatch's default when absent). */
  workers?: number;
}

export interface LoaderPosition {
  epoch: number;
  batch: number;
}

/** Unreadable samples so far, and the last reason. */
export interface SkipCount {
  count: number;
  last?: string;
}

/** An image (path or encoded bytes) and its caption. */
export interface Pair {
  image: ImageInput;
  caption: string;
}

/**
 * One full batch: preprocesses pairs from `next(n)` (n = how many are still missing) on the
 * worker pool, skips and counts unreadable images, and asks for more until the batch is full.
 * Undefined when the source runs dry first.
 */
async function fillBatch(
  next: (n: number) => Promise<Pair[]>,
  opts: LoaderOptions,
  skipped: SkipCount,
): Promise<Batch | undefined> {
  const B = opts.batchSize;
  const per = 3 * opts.resolution * opts.resolution;
  const images = new Float32Array(B * per);
  const captions: string[] = [];
  while (captions.length < B) {
    const queue = await next(B - captions.length);
    if (queue.length === 0) return undefined;
    const result = await preprocessBatch(
      queue.map((s) => s.image),
      { ...opts.transform, size: opts.resolution, ...(opts.workers ? { concurrency: opts.workers } : {}) },
    );
    for (const f of result.failures) {
      skipped.count++;
      skipped.last = `${f.input}: ${f.error.message}`;
    }
    result.indices.forEach((inputIndex, row) => {
      images.set(result.tensor.data.subarray(row * per, (row + 1) * per), captions.length * per);
      captions.push(at(queue, inputIndex).caption);
    });
  }
  const tokens = opts.tokenizer.tokenize(captions, { contextLength: opts.contextLength, truncate: true });
  return { images: { data: images, shape: [B, 3, opts.resolution, opts.resolution] }, tokens };
}

/**
 * Full batches of one epoch over an in-memory list, from batch index `from` (for resuming).
 * Batch k reads order[k·B ...] and, in place of unreadable images, the samples after them
 * (cyclically), so a batch is a function of (seed, epoch, k) alone and a resumed run sees the
 * same batches. Captions too long for the context are truncated.
 */
export async function* epochBatches(
  samples: readonly Sample[],
  opts: LoaderOptions,
  epoch: number,
  from = 0,
  skipped: SkipCount = { count: 0 },
): AsyncGenerator<Batch & { position: LoaderPosition }> {
  const order = epochOrder(samples.length, opts.seed ?? 0, epoch);
  const B = opts.batchSize;
  for (let k = from; (k + 1) * B <= order.length; k++) {
    let next = k * B;
    const batch = await fillBatch(
      async (n) => {
        const left = Math.min(n, k * B + order.length - next);
        const pairs = Array.from({ length: left }, (_, j) => at(samples, at(order, (next + j) % order.length)));
        next += left;
        return pairs;
      },
      opts,
      skipped,
    );
    if (!batch)
      throw new InputError(
        `fewer than ${B} readable images among ${samples.length} samples (last failure: ${skipped.last})`,
      );
    yield { ...batch, position: { epoch, batch: k } };
  }
}

/**
 * WebDataset shards (tar files of key.jpg/png/webp + key.txt, grouped by key = the name up to its
 * first dot), streamed: shard order shuffled per (seed, epoch), then a shuffle buffer of
 * `bufferSize` samples. Entries without both an image and a caption are counted as skipped.
 */
export async function* webDatasetPairs(
  shards: readonly string[],
  opts: { seed?: number; epoch?: number; bufferSize?: number },
  skipped: SkipCount = { count: 0 },
): AsyncGenerator<Pair> {
  const random = seededUniform(Math.imul((opts.seed ?? 0) ^ 0x85ebca6b, 31) + (opts.epoch ?? 0));
  const order = epochOrder(shards.length, opts.seed ?? 0, opts.epoch ?? 0);
  const buffer: Pair[] = [];
  const size = opts.bufferSize ?? 1000;
  for (const shard of order.map((i) => at(shards, i))) {
    for await (const pair of tarPairs(shard, skipped)) {
      if (buffer.length < size) {
        buffer.push(pair);
        continue;
      }
      const j = Math.floor(random() * size);
      yield at(buffer, j);
      buffer[j] = pair;
    }
  }
  while (buffer.length > 0) yield first(buffer.splice(Math.floor(random() * buffer.length), 1));
}

const WDS_IMAGE = /^(jpg|jpeg|png|webp|gif|bmp|tif|tiff)$/;

/** The (image, caption) pairs of one tar shard, in file order. */
async function* tarPairs(path: string, skipped: SkipCount): AsyncGenerator<Pair> {
  let key: string | undefined;
  let image: Uint8Array | undefined;
  let caption: string | undefined;
  const flush = function* (): Generator<Pair> {
    if (key === undefined) return;
    if (image && caption !== undefined) yield { image, caption };
    else {
      skipped.count++;
      skipped.last = `${path}: sample "${key}" lacks ${image ? 'a .txt caption' : 'an image'}`;
    }
  };
  const extract = tar.extract();
  createReadStream(path)
    .on('error', (e) => extract.destroy(e))
    .pipe(extract);
  for await (const entry of extract) {
    const name = basename(entry.header.name);
    const dot = name.indexOf('.');
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    if (entry.header.type !== 'file' || dot <= 0) continue;
    const entryKey = join(dirname(entry.header.name), name.slice(0, dot));
    const ext = name.slice(dot + 1).toLowerCase();
    if (entryKey !== key) {
      yield* flush();
      key = entryKey;
      image = undefined;
      caption = undefined;
    }
    if (WDS_IMAGE.test(ext)) image = Buffer.concat(chunks);
    else if (ext === 'txt') caption = Buffer.concat(chunks).toString('utf8').trim();
  }
  yield* flush();
}

/** Full batches from a stream of pairs (e.g. webDatasetPairs); a last partial batch is dropped. */
export async function* streamBatches(
  pairs: AsyncIterable<Pair>,
  opts: LoaderOptions,
  skipped: SkipCount = { count: 0 },
): AsyncGenerator<Batch> {
  const it = pairs[Symbol.asyncIterator]();
  const take = async (n: number): Promise<Pair[]> => {
    const out: Pair[] = [];
    while (out.length < n) {
      const r = await it.next();
      if (r.done) break;
      out.push(r.value);
    }
    return out;
  };
  for (;;) {
    const batch = await fillBatch(take, opts, skipped);
    if (!batch) return;
    yield batch;
  }
}
