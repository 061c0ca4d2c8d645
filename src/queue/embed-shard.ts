// A job's work, without the queue: read the shard's inputs (paths, or members of a WebDataset
// tar read by offset), embed them with the library's
// embedImages (same batches as a single-process `clip embed --batch-size` over the same list, so
// the features are bit-identical), describe each file (content sha256, oriented width/height)
// and write the shard. An image that cannot be read or decoded becomes an ok:false row with the
// reason and a zero vector; it is an answer, not an error, so the job is not retried for it.

import { at } from '../checked.js';
import { createHash } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { embedImages, normalizeRows, type LoadedClip } from '../index.js';
import { inputLabel, type EmbedJob, type InputItem } from './job.js';
import { inputsPath } from './manifest.js';
import { writeShard, type ShardRow } from './shard.js';

/** The shard's inputs: its byte range of the run's inputs file. */
export async function readShardInputs(job: Pick<EmbedJob, 'out' | 'inputs'>): Promise<InputItem[]> {
  const file = await open(inputsPath(job.out), 'r');
  try {
    const bytes = Buffer.alloc(job.inputs.bytes);
    await file.read(bytes, 0, bytes.length, job.inputs.offset);
    const paths = bytes
      .toString('utf8')
      .split('\n')
      .slice(0, -1)
      .map((l) => JSON.parse(l) as InputItem);
    if (paths.length !== job.inputs.count)
      throw new Error(
        `${inputsPath(job.out)}: expected ${job.inputs.count} paths at byte ${job.inputs.offset}, ` +
          `found ${paths.length}`,
      );
    return paths;
  } finally {
    await file.close();
  }
}

interface ImageFacts {
  sha256: string;
  width: number;
  height: number;
}

/** A path as it is (embedImages reads it), a tar member as its bytes. */
async function loadInput(item: InputItem): Promise<string | Buffer> {
  if (typeof item === 'string') return item;
  const file = await open(item.tar, 'r');
  try {
    const bytes = Buffer.alloc(item.size);
    await file.read(bytes, 0, item.size, item.offset);
    return bytes;
  } finally {
    await file.close();
  }
}

async function describeImage(input: string | Uint8Array): Promise<ImageFacts | undefined> {
  try {
    const bytes = typeof input === 'string' ? await readFile(input) : input;
    const { autoOrient } = await sharp(bytes).metadata();
    return {
      sha256: createHash('sha256').update(bytes).digest('hex'),
      width: autoOrient.width,
      height: autoOrient.height,
    };
  } catch {
    return undefined; // embedImages reports why this file is unusable
  }
}

/** Facts for every input, `concurrency` files at a time (bounded memory for large shards). */
async function describeImages(
  inputs: readonly (string | Uint8Array)[],
  concurrency: number,
): Promise<(ImageFacts | undefined)[]> {
  const facts: (ImageFacts | undefined)[] = [];
  for (let i = 0; i < inputs.length; i += concurrency)
    facts.push(...(await Promise.all(inputs.slice(i, i + concurrency).map(describeImage))));
  return facts;
}

/** Embeds one shard and writes its files; returns how many rows failed. */
export async function embedShard(job: EmbedJob, clip: LoadedClip): Promise<{ images: number; failed: number }> {
  const items = await readShardInputs(job);
  const labels = items.map(inputLabel);
  const inputs = await Promise.all(items.map(loadInput));
  const dim = clip.model.config.embedDim;
  let embeddings: Float32Array = new Float32Array(items.length * dim);
  const errors = new Map<number, string>();
  const facts = describeImages(inputs, 8);
  const batches = embedImages(clip, inputs, {
    batchSize: job.batchSize,
    preprocess: { fastJpeg: job.preprocess.fastJpeg },
  });
  for await (const { embeddings: rows, failures } of batches) {
    for (const row of rows) embeddings.set(row.embedding, row.index * dim);
    // A tar member's message names "<N-byte buffer>": name the member instead.
    for (const f of failures) errors.set(f.index, f.error.message.replace(f.input, at(labels, f.index)));
  }
  if (job.output.normalize)
    embeddings = normalizeRows({ data: embeddings, shape: [items.length, dim] }).data as Float32Array;
  const described = await facts;
  const rows = labels.map((path, i): ShardRow => {
    const facts = described[i];
    const error = errors.get(i);
    if (error === undefined && facts) return { path, ...facts, ok: true };
    return { path, ok: false, error: error ?? `${path}: could not be read` };
  });
  // Failed rows are zeros (normalising made them NaN; a file unreadable after it was embedded counts as failed).
  rows.forEach((row, i) => row.ok || embeddings.fill(0, i * dim, (i + 1) * dim));
  const failed = rows.filter((r) => !r.ok).length;
  await writeShard(job.out, job.shard, rows, embeddings, dim, job.output.dtype);
  return { images: items.length, failed };
}
