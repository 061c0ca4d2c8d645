// Nearest photos to a query vector. Filters (date, folder, camera) are applied inside the vector
// query (as a rowid set), so k results come back whenever k photos pass them.
//
// Exact (the default up to APPROXIMATE_ABOVE photos): a scan of every float32 unit vector. Approximate
// (larger indexes), all passes in the WebAssembly kernel: a scan of the vectors' sign bits (1/32 of
// the bytes) keeps the SHORTLIST nearest in Hamming distance (a histogram gives the cut), their int8
// codes against the query keep `candidates` (a bounded heap), and those are rescored exactly. On 1M
// clustered vectors recall@10 depends on the shortlist (10k: 0.93, 20k: 0.965, 40k: 0.99), hardly on
// the candidates (int8 scores are within ~0.001 of the cosine: 100 and 500 gave the same recall).
// Either way the scores returned are recomputed in float64 from the stored unit vectors: the cosine
// of the features.
import { resolve, sep } from 'node:path';
import { at } from '../checked.js';
import { InputError } from '../errors.js';
import { blobVector, statement, vectorWidth, type IndexDb } from './db.js';
import { highestScores, type RowFilter, smallestDistances } from './select.js';
import { VectorScan, type VectorKind } from './vectors.js';

export interface SearchFilters {
  /** Taken at or after (ms since the epoch). */
  after?: number;
  /** Taken before (ms since the epoch). */
  before?: number;
  /** Only files under this folder. */
  folder?: string;
  /** Camera make or model contains this (case-insensitive). */
  camera?: string;
}

export interface SearchOptions extends SearchFilters {
  k?: number;
  /** Skip this many best results (paging). */
  offset?: number;
  minScore?: number;
  sort?: 'score' | 'date';
  mode?: 'auto' | 'exact' | 'approximate';
  /** Approximate search: rows the sign-bit pass keeps for the int8 pass. */
  shortlist?: number;
  /** Approximate search: rows the int8 pass keeps for exact rescoring. */
  candidates?: number;
  /** Leave this photo out (e.g. the photo a "more like this" starts from). */
  excludeId?: number;
}

export interface SearchHit {
  id: number;
  /** The paths showing this photo (exact duplicates share one entry), sorted; under `folder` if given. */
  paths: string[];
  score: number;
  width: number | null;
  height: number | null;
  taken: number | null;
  make: string | null;
  model: string | null;
}

/** Above this many photos, `auto` searches approximately. */
export const APPROXIMATE_ABOVE = 100_000;
/** Most results one query may page through. */
const MAX_K = 4096;
/** Rows the int8 pass of approximate search keeps for exact rescoring. */
const DEFAULT_CANDIDATES = 200;
/** Rows the sign-bit pass keeps for the int8 pass of approximate search. */
const SHORTLIST = 30_000;

/** Photo ids passing the filters, or undefined when there are no filters. */
function filteredIds(db: IndexDb, f: SearchFilters): Set<number> | undefined {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (f.after !== undefined) {
    where.push('p.taken >= ?');
    args.push(f.after);
  }
  if (f.before !== undefined) {
    where.push('p.taken < ?');
    args.push(f.before);
  }
  if (f.camera) {
    where.push("(coalesce(p.make, '') || ' ' || coalesce(p.model, '')) LIKE ?");
    args.push(`%${f.camera}%`);
  }
  if (f.folder) {
    where.push('f.path >= ? AND f.path < ?');
    args.push(...folderRange(f.folder));
  }
  if (!where.length) return undefined;
  return new Set(
    statement(db, `SELECT DISTINCT p.id FROM photos p JOIN files f ON f.photo_id = p.id WHERE ${where.join(' AND ')}`)
      .pluck()
      .all(...args) as number[],
  );
}

/** Paths under a folder sort between "folder/" and "folder0" ('0' follows '/'). */
function folderRange(folder: string): [string, string] {
  const base = resolve(folder);
  const prefix = base.endsWith(sep) ? base : base + sep;
  return [prefix, prefix.slice(0, -1) + String.fromCharCode(sep.charCodeAt(0) + 1)];
}

export function photoCount(db: IndexDb): number {
  return statement(db, 'SELECT count(*) FROM photos').pluck().get() as number;
}

/** One scan per connection and kind, kept in memory and refreshed from the database per query (or per dupes run). */
const scans = new WeakMap<IndexDb, Map<VectorKind, VectorScan>>();

export function scanFor(db: IndexDb, kind: VectorKind): VectorScan | undefined {
  const dim = vectorWidth(db);
  if (dim === undefined) return undefined;
  let byKind = scans.get(db);
  if (!byKind) scans.set(db, (byKind = new Map()));
  let scan = byKind.get(kind);
  if (!scan || scan.dim !== dim) byKind.set(kind, (scan = new VectorScan(db, kind, dim)));
  return scan;
}

export function searchVector(db: IndexDb, query: Float32Array, options: SearchOptions = {}): SearchHit[] {
  const {
    k = 20,
    offset = 0,
    minScore,
    sort = 'score',
    mode = 'auto',
    candidates = DEFAULT_CANDIDATES,
    shortlist = SHORTLIST,
    excludeId,
  } = options;
  if (!Number.isInteger(k) || k < 1) throw new InputError(`-k: expected a positive integer, got ${k}`);
  if (offset + k + 1 > MAX_K) throw new InputError(`offset + k: at most ${MAX_K - 1} results per query`);
  const ids = filteredIds(db, options);
  if (ids && ids.size === 0) return [];
  const approximate = mode === 'approximate' || (mode === 'auto' && photoCount(db) > APPROXIMATE_ABOVE);
  const scan = scanFor(db, approximate ? 'bits' : 'float');
  if (!scan) return [];
  if (query.length !== scan.dim)
    throw new InputError(`query vector of ${query.length} dimensions; the index holds ${scan.dim}`);
  const values = scan.scan(query);
  const photoIds = scan.photoIds;
  const allowed: RowFilter =
    ids || excludeId !== undefined
      ? (row) => {
          const id = photoIds[row];
          return id !== excludeId && (!ids || (id !== undefined && ids.has(id)));
        }
      : undefined;
  let rows: Int32Array;
  if (values instanceof Uint16Array) {
    // Approximate: the SHORTLIST nearest sign-bit codes, then the best `candidates` of their int8 codes.
    const keep = Math.max(shortlist, candidates, offset + k);
    // Filtered: a pass in JavaScript that skips rows the filter drops; else the kernel's histogram.
    const near = allowed ? smallestDistances(values, keep, allowed) : scan.nearest(keep);
    const picks = highestScores(scan.int8Scores(query, near), Math.max(candidates, offset + k));
    rows = picks.map((i) => at(near, i));
  } else rows = highestScores(values, offset + k, allowed);
  // One statement for all candidates (a point query each costs more in call overhead than in I/O).
  const stored = statement(db, 'SELECT id, embedding FROM vectors WHERE id IN (SELECT value FROM json_each(?))')
    .raw()
    .all(JSON.stringify(Array.from(rows, (r) => at(photoIds, r)))) as [number, Buffer][];
  let scored = stored.map(([id, blob]) => ({ id, score: dot(query, blobVector(blob)) }));
  scored.sort((a, b) => b.score - a.score || a.id - b.id);
  scored = scored.slice(offset, offset + k);
  if (minScore !== undefined) scored = scored.filter((s) => s.score >= minScore);
  const hits = scored.map(({ id, score }) => hydrate(db, id, score, options.folder));
  if (sort === 'date') hits.sort((a, b) => (b.taken ?? -Infinity) - (a.taken ?? -Infinity));
  return hits;
}

/** Float64 dot product (the scores search returns). */
export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] ?? 0) * (b[i] ?? 0);
  return s;
}

/** A photo's row and paths. */
export function photoById(db: IndexDb, id: number): Omit<SearchHit, 'score'> | undefined {
  const row = statement(db, 'SELECT id, width, height, taken, make, model FROM photos WHERE id = ?').get(id) as
    | Omit<SearchHit, 'score' | 'paths'>
    | undefined;
  if (!row) return undefined;
  const paths = statement(db, 'SELECT path FROM files WHERE photo_id = ? ORDER BY path').pluck().all(id) as string[];
  return { ...row, paths };
}

function hydrate(db: IndexDb, id: number, score: number, folder?: string): SearchHit {
  const photo = photoById(db, id);
  if (!photo) throw new Error(`photo ${id} vanished during a search`);
  const [low, high] = folder ? folderRange(folder) : ['', '\uffff'];
  return { ...photo, paths: photo.paths.filter((p) => p >= low && p < high), score };
}

/** The stored unit vector of a photo ("more like this"). */
export function photoVector(db: IndexDb, id: number): Float32Array | undefined {
  const blob = statement(db, 'SELECT embedding FROM vectors WHERE id = ?').pluck().get(id) as Buffer | undefined;
  return blob && blobVector(blob);
}
