// One job's output: `shard-NNNNN.npy` (rows × dim embeddings) and `shard-NNNNN.jsonl` (line i
// describes row i), then a small marker in `.run/done/` saying the shard is complete. Names
// depend only on the shard number and every file is written to a temporary name and renamed
// (write-file-atomic: same folder, fsync, rename), so a job that runs twice (at-least-once
// delivery after a worker died) replaces its files instead of adding rows: exactly-once results.

import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { toFloat16 } from '../index.js';
import { encodeNpy, type NpyDtype } from '../npy.js';

export type ShardRow =
  | { path: string; sha256: string; width: number; height: number; ok: true }
  | { path: string; ok: false; error: string };

/** `.run/done/shard-NNNNN.json`: written last, so its presence means both shard files are in place. */
export interface ShardMarker {
  rows: number;
  failed: number;
  dim: number;
}

export const shardName = (shard: number): string => `shard-${String(shard).padStart(5, '0')}`;
export const runDir = (out: string): string => join(out, '.run');
const doneDir = (out: string): string => join(runDir(out), 'done');

/** Writes a shard's two files and then its marker; `embeddings` is rows × dim float32 (zeros for failed rows). */
export async function writeShard(
  out: string,
  shard: number,
  rows: readonly ShardRow[],
  embeddings: Float32Array,
  dim: number,
  dtype: NpyDtype,
): Promise<void> {
  const name = shardName(shard);
  const bytes =
    dtype === 'float16'
      ? toFloat16({
          dtype: 'float32',
          shape: [rows.length, dim],
          bytes: new Uint8Array(embeddings.buffer, embeddings.byteOffset, embeddings.byteLength),
        }).bytes
      : new Uint8Array(embeddings.buffer, embeddings.byteOffset, embeddings.byteLength);
  await writeFileAtomic(join(out, `${name}.npy`), encodeNpy(bytes, dtype, [rows.length, dim]));
  await writeFileAtomic(join(out, `${name}.jsonl`), rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
  mkdirSync(doneDir(out), { recursive: true });
  const marker: ShardMarker = { rows: rows.length, failed: rows.filter((r) => !r.ok).length, dim };
  await writeFileAtomic(join(doneDir(out), `${name}.json`), JSON.stringify(marker));
}

/** Shard numbers whose marker exists. */
export function doneShards(out: string): Set<number> {
  if (!existsSync(doneDir(out))) return new Set();
  const names = readdirSync(doneDir(out)).filter((f) => /^shard-\d+\.json$/.test(f));
  return new Set(names.map((f) => Number(f.slice(6, -5))));
}

export const markerPath = (out: string, shard: number): string => join(doneDir(out), `${shardName(shard)}.json`);
