// The unit of work: one job = one output shard = up to `shardSize` consecutive input images.
// Everything a worker needs travels in the job (model name + sha256, preprocessing, output
// format) except the image paths themselves, which stay in the run's inputs file on the shared
// output folder; a job only names its byte range there, so Redis holds ~300 bytes per job
// whatever the shard size. Job ids are derived from the run's content, so enqueueing the same run
// twice names the same jobs (BullMQ ignores an add whose id exists): idempotent producers.

import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { expandImagePaths, isImageName } from '../index.js';
import { InputError } from '../errors.js';
import type { NpyDtype } from '../npy.js';
import { tarMembers, type TarMember } from './tar-index.js';

/** The BullMQ queue every producer and worker of a Redis database shares (use another db number to separate). */
export const QUEUE_NAME = 'clip-embed';

export interface ModelRef {
  /** Name (`ViT-B/32`, `hf-hub:…`), or a path that exists on the workers. */
  ref: string;
  /** sha256 of the checkpoint file (or of a folder's files): a worker runs only exactly this model. */
  sha256: string;
}

/** What a run computes; identical settings over identical inputs make the same run id. */
export interface RunSettings {
  model: ModelRef;
  batchSize: number;
  shardSize: number;
  preprocess: { fastJpeg: boolean };
  output: { dtype: NpyDtype; normalize: boolean };
}

/** `<out>/.run/run.json`: written once by the producer, read by workers to build the manifest. */
export interface RunSpec extends RunSettings {
  runId: string;
  /** Absolute output folder; workers must see it under the same path (a shared filesystem). */
  out: string;
  images: number;
  shards: number;
}

export interface EmbedJob extends RunSettings {
  runId: string;
  out: string;
  shard: number;
  shards: number;
  /** Byte range of this shard's lines in `<out>/.run/inputs.jsonl` (one JSON InputItem per line). */
  inputs: { offset: number; bytes: number; count: number };
}

/** What a finished job returns (kept in Redis for `--status`: per-worker throughput). */
export interface JobResult {
  worker: string;
  images: number;
  failed: number;
  seconds: number;
}

export const jobId = (runId: string, shard: number): string => `${runId}-${shard}`;

/** One image to embed: a file path, or an image member of a WebDataset .tar shard. */
export type InputItem = string | TarMember;

/** How an input is named in messages and in the shards' metadata: its path, or `<tar>#<member>`. */
export const inputLabel = (item: InputItem): string => (typeof item === 'string' ? item : `${item.tar}#${item.name}`);

/**
 * Images from the command line: folders expand to their images (as in `clip embed`), `.txt`
 * files are lists of paths (one per line, relative to the list's folder; blank lines and lines
 * starting with # are skipped), `.tar` files are WebDataset shards (their image members, in tar
 * order). Paths become absolute: workers on other machines read them.
 */
export function expandInputs(args: readonly string[]): InputItem[] {
  const listed = args.flatMap((arg) => {
    if (!arg.endsWith('.txt')) return [arg];
    const base = dirname(resolve(arg));
    return readFileSync(arg, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => (isAbsolute(l) ? l : join(base, l)));
  });
  for (const path of listed) {
    if (!statSync(path, { throwIfNoEntry: false })) throw new InputError(`${path}: no such file or folder`);
  }
  return listed.flatMap((path): InputItem[] =>
    path.endsWith('.tar') ? tarMembers(resolve(path), isImageName) : expandImagePaths([path]).map((p) => resolve(p)),
  );
}

/** The inputs file's content and each shard's byte range in it. */
export function planShards(
  items: readonly InputItem[],
  shardSize: number,
): { inputs: Buffer; ranges: EmbedJob['inputs'][] } {
  const lines = items.map((item) => Buffer.from(`${JSON.stringify(item)}\n`));
  const ranges: EmbedJob['inputs'][] = [];
  let offset = 0;
  for (let start = 0; start < lines.length; start += shardSize) {
    const shard = lines.slice(start, start + shardSize);
    const bytes = shard.reduce((n, l) => n + l.length, 0);
    ranges.push({ offset, bytes, count: shard.length });
    offset += bytes;
  }
  return { inputs: Buffer.concat(lines), ranges };
}

/** Run id: a hash of everything that determines the output, including where it goes. */
export function runIdOf(settings: RunSettings, out: string, inputs: Buffer): string {
  return createHash('sha256').update(JSON.stringify({ settings, out })).update(inputs).digest('hex').slice(0, 16);
}

/** The jobs of a run, in shard order. */
export function jobsOf(spec: RunSpec, ranges: readonly EmbedJob['inputs'][]): EmbedJob[] {
  const { runId, out, shards, model, batchSize, shardSize, preprocess, output } = spec;
  return ranges.map((inputs, shard) => ({
    runId,
    out,
    shard,
    shards,
    inputs,
    model,
    batchSize,
    shardSize,
    preprocess,
    output,
  }));
}
