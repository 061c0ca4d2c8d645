// `clip index`: bring an index up to date with some folders.
//
// Unchanged files (same size and mtime) are skipped without reading them. The others are hashed:
// a file whose content is already indexed (a copy, a rename, a touched file) is only linked to it;
// new content runs through embedImages, which decodes the next batch while the model (on its own
// thread: loadInWorker) runs this one. Hashing and EXIF reading run a few batches ahead. Each batch is
// committed in one transaction, so a killed run loses at most the batch in flight and the next run
// carries on from there. Files that vanished under the folders are removed at the end.
import { availableParallelism } from 'node:os';
import { resolve, sep } from 'node:path';
import { at } from '../checked.js';
import { embedImages, type ImageEmbedder } from '../index.js';
import { bindModel, type IndexDb } from './db.js';
import { describePhoto, type PhotoInfo } from './describe.js';
import type { IndexClip, IndexModel } from './model.js';
import { scanPhotos, type ScannedFile } from './scan.js';
import { IndexWriter } from './store.js';

export interface IndexSummary {
  added: number;
  updated: number;
  removed: number;
  unchanged: number;
  failed: number;
  total: number;
  /** Files that could not be read as images, with why. */
  failures: { path: string; error: string }[];
}

export interface IndexProgress {
  done: number;
  todo: number;
  failed: number;
}

export interface IndexOptions {
  exclude?: readonly string[];
  /** Images per commit (one transaction). */
  batchSize?: number;
  /** Decoding threads (preprocessBatch's concurrency). Default: indexingThreads().decode. */
  decodeWorkers?: number;
  onProgress?: (progress: IndexProgress) => void;
}

/**
 * How indexing splits the cores: the model and the decoding of the next batch run at the same time,
 * so each gets its own share (half for the model, at least one each), as the stages are measured
 * alone (bench/index-rate.ts). Left to their defaults both would take every core (ONNX Runtime one
 * intra-op thread per core, the decode pool one worker per core) and preempt each other.
 * `clip index` loads the model with `model` threads unless --threads is given.
 */
export function indexingThreads(cores = availableParallelism()): { model: number; decode: number } {
  const model = Math.max(1, Math.floor(cores / 2));
  return { model, decode: Math.max(1, cores - model) };
}

/**
 * Images per model call. Measured on ViT-B/32 with one thread (bench/index-rate.ts): the model is
 * as fast per image at 8 as at 32, and with 8 the first call starts 4× sooner and the decoding of
 * the next call comes in shorter bursts, which take the model's core from it less
 * (end to end 10.8–12.6 images/s against 9.1–10.0 with 32, alternating runs).
 */
export const MODEL_BATCH = 8;

/** Describe (hash + EXIF) at most this many commits ahead of the model. */
const DESCRIBE_AHEAD_BATCHES = 2;

interface Known {
  photoId: number;
  size: number;
  mtimeMs: number;
}

export async function indexFolders(
  db: IndexDb,
  dbPath: string,
  { clip, identity }: IndexModel<IndexClip & ImageEmbedder>,
  roots: readonly string[],
  options: IndexOptions = {},
): Promise<IndexSummary> {
  const { batchSize = 32, exclude = [], onProgress, decodeWorkers = indexingThreads().decode } = options;
  bindModel(db, dbPath, identity, clip.model.config.embedDim); // refuses another model's index
  const files = scanPhotos(roots, exclude);
  const known = new Map(
    (
      db.prepare('SELECT path, photo_id AS photoId, size, mtime_ms AS mtimeMs FROM files').all() as (Known & {
        path: string;
      })[]
    ).map((r) => [r.path, r]),
  );
  const summary: IndexSummary = {
    added: 0,
    updated: 0,
    removed: 0,
    unchanged: 0,
    failed: 0,
    total: files.length,
    failures: [],
  };
  const writer = new IndexWriter(db);
  const count = (file: ScannedFile) => {
    if (known.has(file.path)) summary.updated++;
    else summary.added++;
  };
  const fail = (path: string, error: unknown) => {
    summary.failed++;
    summary.failures.push({ path, error: error instanceof Error ? error.message : String(error) });
    db.transaction(() => writer.removeFile(path))(); // what it showed before is no longer there
  };

  const changed = files.filter((f) => {
    const k = known.get(f.path);
    if (k && k.size === f.size && k.mtimeMs === f.mtimeMs) {
      summary.unchanged++;
      return false;
    }
    return true;
  });

  // Content that may already be indexed has the size of an indexed file or of another changed one
  // (equal hashes need equal sizes): hash those first, so copies and renames are never embedded.
  const sizes = new Map<number, number>();
  for (const s of [...known.values()].map((k) => k.size).concat(changed.map((f) => f.size)))
    sizes.set(s, (sizes.get(s) ?? 0) + 1);
  const described = new Map<string, Promise<PhotoInfo>>();
  const describe = (path: string) => {
    let p = described.get(path);
    if (!p) {
      p = describePhoto(path);
      p.catch(() => undefined);
      described.set(path, p);
    }
    return p;
  };
  const toEmbed: ScannedFile[] = [];
  const pendingSha = new Set<string>();
  for (const file of changed) {
    if ((sizes.get(file.size) ?? 0) < 2) {
      toEmbed.push(file);
      continue;
    }
    let info: PhotoInfo;
    try {
      info = await describe(file.path);
    } catch (e) {
      fail(file.path, e);
      continue;
    }
    const photoId = writer.photoId(info.sha256);
    if (photoId !== undefined) {
      const k = known.get(file.path);
      if (k?.photoId === photoId) {
        summary.unchanged++;
        db.transaction(() => writer.restamp(file))();
        continue;
      }
      db.transaction(() => writer.linkFile(file, photoId))();
      count(file);
    } else if (pendingSha.has(info.sha256)) {
      toEmbed.push(file); // a copy of a photo embedded in this run: linked when its batch commits
    } else {
      pendingSha.add(info.sha256);
      toEmbed.push(file);
    }
  }

  const paths = toEmbed.map((f) => f.path);
  let ahead = 0; // files described (or being described) so far
  const aheadTo = (end: number) => {
    for (; ahead < Math.min(end, paths.length); ahead++) describe(at(paths, ahead));
  };
  aheadTo(DESCRIBE_AHEAD_BATCHES * batchSize);
  let done = 0;
  // The next few images are decoded (on this thread and libuv's pool, or on the worker pool with
  // decodeWorkers > 1) while the model runs these, on a thread of its own when loaded with
  // loadInWorker: a model on this thread would block it, and with it the decoding.
  const preprocess = { concurrency: decodeWorkers };
  let rows: { file: ScannedFile; info: PhotoInfo; embedding: Float32Array }[] = [];
  for await (const { embeddings, failures } of embedImages(clip, paths, { batchSize: MODEL_BATCH, preprocess })) {
    done += embeddings.length + failures.length;
    aheadTo(done + DESCRIBE_AHEAD_BATCHES * batchSize);
    for (const f of failures) fail(at(paths, f.index), f.error);
    for (const e of embeddings) {
      const file = at(toEmbed, e.index);
      try {
        rows.push({ file, info: await describe(file.path), embedding: e.embedding });
      } catch (err) {
        fail(file.path, err);
      }
    }
    if (rows.length < batchSize && done < paths.length) continue;
    const batch = rows;
    rows = [];
    db.transaction(() => {
      writer.centreCodes(batch.map((r) => r.embedding));
      for (const { file, info, embedding } of batch) {
        const photoId = writer.addPhoto(info, embedding);
        writer.linkFile(file, photoId);
        count(file);
      }
      writeProgress(db, { done, todo: paths.length, failed: summary.failed });
    })();
    onProgress?.({ done, todo: paths.length, failed: summary.failed });
  }

  // Paths under the scanned roots that are gone.
  const scanned = new Set(files.map((f) => f.path));
  const rootPaths = roots.map((r) => resolve(r));
  const under = (path: string) => rootPaths.some((r) => path === r || path.startsWith(r.endsWith(sep) ? r : r + sep));
  const gone = [...known.keys()].filter((p) => !scanned.has(p) && under(p));
  db.transaction(() => {
    for (const p of gone) writer.removeFile(p);
  })();
  summary.removed = gone.length;
  db.prepare("DELETE FROM meta WHERE key = 'progress'").run();
  return summary;
}

/** Where a running indexer is, for readers such as the server's /api/status (with the time, to spot a dead run). */
function writeProgress(db: IndexDb, progress: IndexProgress): void {
  db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('progress', ?)").run(
    JSON.stringify({ ...progress, at: Date.now() }),
  );
}
