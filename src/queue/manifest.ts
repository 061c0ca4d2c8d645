// The run's files in the output folder: `.run/run.json` (what the producer asked for),
// `.run/inputs.jsonl` (the image paths, one JSON string per line) and, once every shard's marker
// is there, `manifest.json` — the file `clip index --import` and other tools start from:
// {"model", "modelSha256", "dim", "dtype", "normalized", "complete": true, "images", "failed",
//  "shards": [{"embeddings": "shard-00000.npy", "metadata": "shard-00000.jsonl", "rows": N}, …]}.
// Workers and producers may all write it; they write the same bytes, atomically.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { InputError } from '../errors.js';
import type { RunSpec } from './job.js';
import type { NpyDtype } from '../npy.js';
import { doneShards, markerPath, runDir, shardName, type ShardMarker } from './shard.js';

export interface Manifest {
  model: string;
  modelSha256: string;
  dim: number;
  dtype: NpyDtype;
  normalized: boolean;
  complete: true;
  images: number;
  /** Rows with ok:false (images that could not be read or decoded). */
  failed: number;
  shards: { embeddings: string; metadata: string; rows: number }[];
}

const specPath = (out: string) => join(runDir(out), 'run.json');
export const inputsPath = (out: string): string => join(runDir(out), 'inputs.jsonl');
export const manifestPath = (out: string): string => join(out, 'manifest.json');

export function readRunSpec(out: string): RunSpec | undefined {
  return existsSync(specPath(out)) ? (JSON.parse(readFileSync(specPath(out), 'utf8')) as RunSpec) : undefined;
}

/**
 * Records a new run in `out`, or accepts the same run again (a restarted producer). A folder that
 * holds another run is refused: its shards would be mixed with this one's.
 */
export async function claimOutput(spec: RunSpec, inputs: Buffer): Promise<void> {
  const existing = readRunSpec(spec.out);
  if (existing && existing.runId !== spec.runId) {
    throw new InputError(
      `--out ${spec.out} holds another run (${existing.runId}: ${existing.images} images, ` +
        `model ${existing.model.ref}); choose an empty folder`,
    );
  }
  if (existing) return;
  mkdirSync(runDir(spec.out), { recursive: true });
  await writeFileAtomic(inputsPath(spec.out), inputs);
  await writeFileAtomic(specPath(spec.out), `${JSON.stringify(spec, null, 1)}\n`);
}

/** Writes manifest.json when every shard of the run is on disk; returns it, or undefined if shards are missing. */
export async function writeManifestIfComplete(out: string): Promise<Manifest | undefined> {
  const spec = readRunSpec(out);
  if (!spec || doneShards(out).size < spec.shards) return undefined;
  const markers = Array.from(
    { length: spec.shards },
    (_, shard) => JSON.parse(readFileSync(markerPath(out, shard), 'utf8')) as ShardMarker,
  );
  const manifest: Manifest = {
    model: spec.model.ref,
    modelSha256: spec.model.sha256,
    dim: markers[0]?.dim ?? 0,
    dtype: spec.output.dtype,
    normalized: spec.output.normalize,
    complete: true,
    images: markers.reduce((n, m) => n + m.rows, 0),
    failed: markers.reduce((n, m) => n + m.failed, 0),
    shards: markers.map((m, shard) => ({
      embeddings: `${shardName(shard)}.npy`,
      metadata: `${shardName(shard)}.jsonl`,
      rows: m.rows,
    })),
  };
  await writeFileAtomic(manifestPath(out), `${JSON.stringify(manifest, null, 1)}\n`);
  return manifest;
}
