// A photo index of synthetic clustered unit vectors, written through the index's own writer: the
// search benchmark (bench/search.ts) and the server load test (bench/search-load.ts) both build one.
// Clustered like image embeddings: many tight clusters around a shared mean direction; queries are
// noisier points of random clusters, like text queries.
import { at } from '../src/checked.js';
import { bindModel, type IndexDb, type ModelIdentity, openIndex } from '../src/search/db.js';
import { IndexWriter, unitVector } from '../src/search/store.js';

/** Vectors per cluster. */
const PER_CLUSTER = 1000;
/** Rows per transaction. */
const BATCH = 5000;

/** Deterministic noise of unit variance (xorshift, uniform: cheap enough for 512M samples). */
function noise(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s / 4294967296 - 0.5) * 3.4641016;
  };
}

/** `base` + noise of the given relative size, normalised. */
function around(base: Float32Array, size: number, next: () => number): Float32Array {
  const scale = size / Math.sqrt(base.length);
  return unitVector(base.map((x) => x + scale * next()));
}

export interface SyntheticIndex {
  db: IndexDb;
  clusters: number;
  /** Seconds spent inserting. */
  insertSeconds: number;
  /** A query vector near a random cluster (deterministic sequence). */
  query(): Float32Array;
}

/**
 * Creates `file` holding `n` clustered unit vectors of `dim` dimensions, one photo each
 * (`/photos/<i>.jpg`), recorded as made by `model`.
 */
export function buildSyntheticIndex(
  file: string,
  n: number,
  { dim = 512, model, onProgress }: { dim?: number; model?: ModelIdentity; onProgress?: (done: number) => void } = {},
): SyntheticIndex {
  const db = openIndex(file);
  const identity = model ?? {
    name: 'synthetic',
    checkpointSha256: 'none',
    preprocessing: { size: 224, resizeMode: 'shortest-side-crop' },
  };
  bindModel(db, file, identity, dim);
  const next = noise(12345);
  const mean = unitVector(Float32Array.from({ length: dim }, next));
  const clusters = Math.ceil(n / PER_CLUSTER);
  const centers = Array.from({ length: clusters }, () => around(mean, 1.5, next)); // cos to the mean ≈ 0.55
  const writer = new IndexWriter(db);
  const started = performance.now();
  for (let start = 0; start < n; start += BATCH) {
    const rows = Array.from({ length: Math.min(BATCH, n - start) }, (_, i) =>
      around(at(centers, (start + i) % clusters), 0.9, next),
    );
    db.transaction(() => {
      writer.centreCodes(rows);
      rows.forEach((v, i) => {
        const id = start + i;
        const info = {
          sha256: id.toString(16).padStart(64, '0'),
          width: 4000,
          height: 3000,
          taken: null,
          make: null,
          model: null,
          latitude: null,
          longitude: null,
        };
        writer.linkFile({ path: `/photos/${id}.jpg`, size: id, mtimeMs: 0 }, writer.addPhoto(info, v));
      });
    })();
    onProgress?.(start + rows.length);
  }
  const insertSeconds = (performance.now() - started) / 1000;
  return {
    db,
    clusters,
    insertSeconds,
    query: () => around(at(centers, Math.floor(Math.abs(next()) * 1e6) % clusters), 2.5, next),
  };
}
