// Importing the output of `clip embed --queue … --out dir`: manifest.json lists shards, each an
// .npy matrix [rows, dim] (float32 or float16) and a .jsonl file with one line per row
// ({"path", "sha256", "ok": true} or {"path", "ok": false, "error"}). A collection embedded on many
// machines is then searched like one indexed here. Files that exist on this machine get their
// metadata (EXIF, size, mtime); the vectors are taken as they are. One transaction per shard.
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import type { IndexDb, ModelIdentity } from './db.js';
import { bindModel } from './db.js';
import { describePhoto, type PhotoInfo } from './describe.js';
import { decodeNpy } from '../npy.js';
import { toFloat32 } from '../tensor.js';
import { IndexWriter } from './store.js';
import type { IndexSummary } from './indexer.js';

interface Manifest {
  model?: unknown;
  /** sha256 of the checkpoint (`clip embed --queue` writes it beside the model's name). */
  modelSha256?: string;
  complete?: boolean;
  shards: { embeddings: string; metadata: string; rows: number }[];
}

type ShardLine = { path: string; sha256: string; ok: true } | { path: string; ok: false; error: string };

function readManifest(dir: string): Manifest {
  const file = join(dir, 'manifest.json');
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  } catch (e) {
    throw new InputError(`${file}: cannot read the manifest (${(e as Error).message})`);
  }
  if (!Array.isArray(manifest.shards)) throw new InputError(`${file}: no "shards" list`);
  if (manifest.complete !== true)
    throw new InputError(`${file}: the run is not complete ("complete" is not true); let it finish first`);
  return manifest;
}

/**
 * The shards' model must be the one given: the same checkpoint sha256, or (a model folder, whose
 * hash covers several files) the same name or path.
 */
function checkManifestModel(file: string, manifest: Manifest, identity: ModelIdentity): void {
  const named = manifest.model as string | { name?: string; sha256?: string; checkpointSha256?: string } | undefined;
  const sha =
    manifest.modelSha256 ?? (typeof named === 'object' ? (named.checkpointSha256 ?? named.sha256) : undefined);
  const name = typeof named === 'string' ? named : named?.name;
  if (sha === undefined && name === undefined) return;
  if (sha === identity.checkpointSha256) return;
  if (name !== undefined && (name === identity.name || resolve(name) === identity.name)) return;
  throw new InputError(
    `${file}: the shards were embedded with ${name ?? 'another model'} (sha256 ${sha ?? 'not given'}), ` +
      `not ${identity.name}; pass that model with --model`,
  );
}

export async function importShards(
  db: IndexDb,
  dbPath: string,
  dir: string,
  identity: ModelIdentity,
  dim: number,
): Promise<IndexSummary> {
  const manifest = readManifest(dir);
  checkManifestModel(join(dir, 'manifest.json'), manifest, identity);
  bindModel(db, dbPath, identity, dim);
  const writer = new IndexWriter(db);
  const summary: IndexSummary = { added: 0, updated: 0, removed: 0, unchanged: 0, failed: 0, total: 0, failures: [] };
  const existing = db.prepare('SELECT photo_id FROM files WHERE path = ?').pluck();
  for (const shard of manifest.shards) {
    const npyFile = join(dir, shard.embeddings);
    const npy = decodeNpy(readFileSync(npyFile), npyFile);
    if (npy.shape.length !== 2 || npy.dtype === 'int32') throw new InputError(`${npyFile}: expected a float matrix`);
    const matrix = { shape: npy.shape, data: toFloat32({ dtype: npy.dtype, shape: npy.shape, bytes: npy.data }) };
    if (matrix.shape[1] !== dim)
      throw new InputError(`${npyFile}: vectors of width ${matrix.shape[1]}, the model's are ${dim}`);
    const lines = readFileSync(join(dir, shard.metadata), 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as ShardLine);
    // Rows follow either every line (failed lines hold a placeholder row) or only the ok lines.
    const okLines = lines.filter((l) => l.ok).length;
    const perLine = lines.length === matrix.shape[0];
    if (!perLine && okLines !== matrix.shape[0]) {
      throw new InputError(
        `${join(dir, shard.metadata)}: ${lines.length} lines (${okLines} ok) ` +
          `for ${matrix.shape[0]} rows in ${shard.embeddings}`,
      );
    }
    const rows: { path: string; info: PhotoInfo; size: number; mtimeMs: number; embedding: Float32Array }[] = [];
    let okRow = 0;
    for (const [lineNo, line] of lines.entries()) {
      summary.total++;
      if (!line.ok) {
        summary.failed++;
        summary.failures.push({ path: line.path, error: line.error });
        continue;
      }
      const row = perLine ? lineNo : okRow++;
      const path = resolve(line.path);
      const stat = statSync(path, { throwIfNoEntry: false });
      const local = stat ? await describePhoto(path).catch(() => undefined) : undefined;
      const info: PhotoInfo =
        local?.sha256 === line.sha256
          ? local
          : {
              sha256: line.sha256,
              width: null,
              height: null,
              taken: null,
              make: null,
              model: null,
              latitude: null,
              longitude: null,
            };
      rows.push({
        path,
        info,
        size: stat?.size ?? -1,
        mtimeMs: stat?.mtimeMs ?? -1,
        embedding: matrix.data.subarray(row * dim, (row + 1) * dim),
      });
    }
    db.transaction(() => {
      writer.centreCodes(rows.map((r) => r.embedding));
      for (const r of rows) {
        const before = existing.get(r.path);
        const photoId = writer.addPhoto(r.info, r.embedding);
        writer.linkFile({ path: r.path, size: r.size, mtimeMs: r.mtimeMs }, photoId);
        if (before === undefined) summary.added++;
        else if (before === photoId) summary.unchanged++;
        else summary.updated++;
      }
    })();
  }
  return summary;
}
