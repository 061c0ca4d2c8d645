// Which model a job asks for, and the worker's loaded models. A model is identified by the
// sha256 of its checkpoint file (of every file, for a folder), not by its name: a worker runs a
// job only with exactly the weights the producer hashed, whatever path it finds them under.

import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { downloadModel, load, type LoadedClip, type LoadOptions } from '../index.js';
import type { ModelRef } from './job.js';

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** A folder's digest: the names and hashes of its files (not sub-folders, not hidden files), in name order. */
async function hashFolder(dir: string): Promise<string> {
  const files = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  const hash = createHash('sha256');
  for (const f of files) hash.update(`${f}\0${await hashFile(join(dir, f))}\n`);
  return hash.digest('hex');
}

// Hashing a 338 MB checkpoint takes about a second: remember it per file version.
const fingerprints = new Map<string, Promise<string>>();

/** The local file for a model reference: the path itself, or the cached download of a name. */
async function localPath(ref: string, options: LoadOptions): Promise<string> {
  return existsSync(ref) ? ref : (await downloadModel(ref, options)).weights;
}

/** sha256 of the model a name or path refers to (a name is downloaded into the cache first). */
export async function modelFingerprint(ref: string, options: LoadOptions = {}): Promise<string> {
  const path = await localPath(ref, options);
  const info = statSync(path);
  const key = `${realpathSync(path)}\0${info.size}\0${info.mtimeMs}`;
  let sha = fingerprints.get(key);
  if (!sha) fingerprints.set(key, (sha = info.isDirectory() ? hashFolder(path) : hashFile(path)));
  return sha;
}

/** Thrown when this worker cannot run a job's model; the job then fails without retries. */
export class ModelRefusedError extends Error {
  override name = 'ModelRefusedError';
}

/**
 * Models by sha256: the ones given with --model at start, plus any a job names that this worker
 * can load (a local path or a name it has or may download) and whose hash matches the job's.
 */
export class WorkerModels {
  private readonly loaded = new Map<string, Promise<LoadedClip>>();

  constructor(private readonly options: LoadOptions) {}

  /** Loads a model now (the worker's --model); returns its sha256. */
  async preload(ref: string): Promise<string> {
    const sha = await modelFingerprint(ref, this.options);
    if (!this.loaded.has(sha)) this.loaded.set(sha, load(ref, this.options));
    await this.loaded.get(sha);
    return sha;
  }

  async get(model: ModelRef): Promise<LoadedClip> {
    let clip = this.loaded.get(model.sha256);
    if (!clip) {
      clip = this.fetch(model);
      this.loaded.set(model.sha256, clip);
      clip.catch(() => this.loaded.delete(model.sha256)); // a refusal is retried by the next job that asks
    }
    return clip;
  }

  private async fetch({ ref, sha256 }: ModelRef): Promise<LoadedClip> {
    let found: string;
    try {
      found = await modelFingerprint(ref, this.options);
    } catch (e) {
      throw new ModelRefusedError(
        `model ${ref} (sha256 ${sha256}) is not available on this worker: ${(e as Error).message}`,
      );
    }
    if (found !== sha256) {
      throw new ModelRefusedError(`model ${ref}: this worker's copy has sha256 ${found}, the job asks for ${sha256}`);
    }
    return load(ref, this.options).catch((e: Error) => {
      throw new ModelRefusedError(`model ${ref} (sha256 ${sha256}) could not be loaded on this worker: ${e.message}`);
    });
  }
}
