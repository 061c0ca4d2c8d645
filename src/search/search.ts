// Nearest photos to a query vector. Filters (date, folder, camera) are applied inside the vector
// query (as a rowid set), so k results come back whenever k photos pass them.
//
// Exact (the default up to APPROXIMATE_ABOVE photos): sqlite-vec's brute-force cosine KNN over the
// float32 vectors. Approximate (larger indexes): a Hamming KNN over the vectors' sign bits (1/32 of
// the bytes) picks `candidates` photos, which are then rescored exactly. Either way the scores
// returned are recomputed in float64 from the stored unit vectors: the cosine of the features.
import { resolve, sep } from 'node:path';
import { InputError } from '../errors.js';
import { blobVector, vectorBlob, type IndexDb } from './db.js';

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
  /** Photos the approximate coarse pass keeps for exact rescoring. */
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
/** sqlite-vec's largest k. */
const MAX_K = 4096;
const DEFAULT_CANDIDATES = 2000;

/** Photo ids passing the filters, or undefined when there are no filters. */
function filteredIds(db: IndexDb, f: SearchFilters): number[] | undefined {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (f.after !== undefined) { where.push('p.taken >= ?'); args.push(f.after); }
  if (f.before !== undefined) { where.push('p.taken < ?'); args.push(f.before); }
  if (f.camera) { where.push("(coalesce(p.make, '') || ' ' || coalesce(p.model, '')) LIKE ?"); args.push(`%${f.camera}%`); }
  if (f.folder) { where.push('f.path >= ? AND f.path < ?'); args.push(...folderRange(f.folder)); }
  if (!where.length) return undefined;
  return db.prepare(`SELECT DISTINCT p.id FROM photos p JOIN files f ON f.photo_id = p.id WHERE ${where.join(' AND ')}`)
    .pluck().all(...args) as number[];
}

/** Paths under a folder sort between "folder/" and "folder0" ('0' follows '/'). */
function folderRange(folder: string): [string, string] {
  const base = resolve(folder);
  const prefix = base.endsWith(sep) ? base : base + sep;
  return [prefix, prefix.slice(0, -1) + String.fromCharCode(sep.charCodeAt(0) + 1)];
}

export function photoCount(db: IndexDb): number {
  return db.prepare('SELECT count(*) FROM photos').pluck().get() as number;
}

/** Nearest `k` photos by `candidates` rows of a vec0 table, best first. */
function knn(db: IndexDb, table: 'vec_photos' | 'vec_bits', query: Float32Array, k: number, ids?: number[]): number[] {
  const input = table === 'vec_bits' ? 'vec_quantize_binary(?)' : '?';
  const filter = ids ? 'AND rowid IN (SELECT value FROM json_each(?))' : '';
  const args: unknown[] = [vectorBlob(query), Math.min(k, MAX_K)];
  if (ids) args.push(JSON.stringify(ids));
  return db.prepare(`SELECT rowid FROM ${table} WHERE embedding MATCH ${input} AND k = ? ${filter} ORDER BY distance`)
    .pluck().all(...args).map(Number);
}

export function searchVector(db: IndexDb, query: Float32Array, options: SearchOptions = {}): SearchHit[] {
  const { k = 20, offset = 0, minScore, sort = 'score', mode = 'auto', candidates = DEFAULT_CANDIDATES, excludeId } = options;
  if (!Number.isInteger(k) || k < 1) throw new InputError(`-k: expected a positive integer, got ${k}`);
  if (offset + k + 1 > MAX_K) throw new InputError(`offset + k: at most ${MAX_K - 1} results per query`);
  const ids = filteredIds(db, options);
  if (ids && ids.length === 0) return [];
  const wanted = offset + k + (excludeId === undefined ? 0 : 1);
  const approximate = mode === 'approximate' || (mode === 'auto' && photoCount(db) > APPROXIMATE_ABOVE);
  const nearest = approximate
    ? knn(db, 'vec_bits', query, Math.max(candidates, wanted), ids)
    : knn(db, 'vec_photos', query, wanted, ids);
  const vectorOf = db.prepare('SELECT embedding FROM vec_photos WHERE rowid = ?').pluck();
  let scored = nearest.filter((id) => id !== excludeId).map((id) => ({ id, score: dot(query, blobVector(vectorOf.get(BigInt(id)) as Buffer)) }));
  scored.sort((a, b) => b.score - a.score);
  scored = scored.slice(offset, offset + k);
  if (minScore !== undefined) scored = scored.filter((s) => s.score >= minScore);
  const hits = scored.map(({ id, score }) => hydrate(db, id, score, options.folder));
  if (sort === 'date') hits.sort((a, b) => (b.taken ?? -Infinity) - (a.taken ?? -Infinity));
  return hits;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** A photo's row and paths. */
export function photoById(db: IndexDb, id: number): Omit<SearchHit, 'score'> | undefined {
  const row = db.prepare('SELECT id, width, height, taken, make, model FROM photos WHERE id = ?').get(id) as
    Omit<SearchHit, 'score' | 'paths'> | undefined;
  if (!row) return undefined;
  const paths = db.prepare('SELECT path FROM files WHERE photo_id = ? ORDER BY path').pluck().all(id) as string[];
  return { ...row, paths };
}

function hydrate(db: IndexDb, id: number, score: number, folder?: string): SearchHit {
  const photo = photoById(db, id)!;
  const [low, high] = folder ? folderRange(folder) : ['', '\uffff'];
  return { ...photo, paths: photo.paths.filter((p) => p >= low && p < high), score };
}

/** The stored unit vector of a photo ("more like this"). */
export function photoVector(db: IndexDb, id: number): Float32Array | undefined {
  const blob = db.prepare('SELECT embedding FROM vec_photos WHERE rowid = ?').pluck().get(BigInt(id)) as Buffer | undefined;
  return blob && blobVector(blob);
}
