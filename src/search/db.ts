// The photo index: one SQLite file (better-sqlite3).
//
//   meta     key → value: the model identity and the vector width
//   photos   one row per distinct content (sha256): its metadata
//   files    one row per path: size and mtime (to notice changes), the photo it shows
//   vectors  per photo: the L2-normalised image features (float32 BLOB)
//   codes    per photo: their sign bits and int8 values (the coarse passes of approximate search on
//            large indexes), a table of its own so that loading them does not read the vectors' pages
//
// Scans run over these vectors in memory (vectors.ts), not in SQLite: the sqlite-vec extension
// (0.1.9, npm binary) measured ~5 ms per 1k float rows per KNN query here, a bit-vector KNN with
// k=2000 ~350 ms on 20k rows, point reads of one vector decode a whole 1024-row chunk, and
// inserts ran at ~3k rows/s; the in-memory WebAssembly scan is 10-50x faster.
//
// WAL journal: readers (search, the server) run while an indexer writes, and each committed batch
// survives a crash or kill -9; an interrupted batch is rolled back as a whole.
import Database from 'better-sqlite3';
import { InputError } from '../errors.js';

export type IndexDb = Database.Database;

/** What made the vectors: a different model's vectors cannot be compared with these. */
export interface ModelIdentity {
  /** The model as given to `load` (a name, or an absolute checkpoint path). */
  name: string;
  /** sha256 of the checkpoint file. */
  checkpointSha256: string;
  /** The image transform: input resolution, resize mode. */
  preprocessing: { size: number; resizeMode: string };
  /** Tokenizer file used at index time (a default for searching), if one was given. */
  bpe?: string;
  vocab?: string;
}

export function openIndex(path: string, { readonly = false } = {}): IndexDb {
  let db: IndexDb;
  try {
    db = new Database(path, { readonly, fileMustExist: readonly });
  } catch (e) {
    throw new InputError(`${path}: cannot open the index (${(e as Error).message})`);
  }
  db.pragma('busy_timeout = 10000');
  if (readonly) {
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'meta'").get()) {
      throw new InputError(`${path}: not a photo index (no meta table); build one with \`clip index\``);
    }
    return db;
  }
  // 16 KiB pages hold seven 512-d vectors each (4 KiB pages hold one: 2x the disk). Only takes
  // effect when the file is created.
  db.pragma('page_size = 16384');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS photos (
      id INTEGER PRIMARY KEY,
      sha256 TEXT NOT NULL UNIQUE,
      width INTEGER, height INTEGER,
      taken INTEGER,            -- EXIF date taken, ms since the epoch (as written, read as UTC)
      make TEXT, model TEXT,    -- camera
      latitude REAL, longitude REAL
    );
    CREATE TABLE IF NOT EXISTS files (
      path TEXT PRIMARY KEY,
      photo_id INTEGER NOT NULL REFERENCES photos(id),
      size INTEGER NOT NULL,
      mtime_ms REAL NOT NULL
    );
    CREATE TABLE IF NOT EXISTS vectors (
      id INTEGER PRIMARY KEY REFERENCES photos(id),
      embedding BLOB NOT NULL   -- float32, L2-normalised
    );
    CREATE TABLE IF NOT EXISTS codes (
      id INTEGER PRIMARY KEY REFERENCES photos(id),
      bits BLOB NOT NULL,       -- sign bits, padded to 16-byte lanes
      q8 BLOB NOT NULL          -- int8: round(x * Q8_SCALE), clamped
    );
    CREATE INDEX IF NOT EXISTS files_photo ON files(photo_id);
    CREATE INDEX IF NOT EXISTS photos_taken ON photos(taken);
  `);
  return db;
}

const statements = new WeakMap<IndexDb, Map<string, Database.Statement>>();

/** A prepared statement, prepared once per connection (preparing costs more than running a small query). */
export function statement(db: IndexDb, sql: string): Database.Statement {
  let bySql = statements.get(db);
  if (!bySql) statements.set(db, (bySql = new Map()));
  let prepared = bySql.get(sql);
  if (!prepared) bySql.set(sql, (prepared = db.prepare(sql)));
  return prepared;
}

export function readMeta(db: IndexDb, key: string): string | undefined {
  return (statement(db, 'SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
}

export function storedModel(db: IndexDb): ModelIdentity | undefined {
  const value = readMeta(db, 'model');
  return value ? (JSON.parse(value) as ModelIdentity) : undefined;
}

export function vectorWidth(db: IndexDb): number | undefined {
  const value = readMeta(db, 'dim');
  return value ? Number(value) : undefined;
}

/** Same vectors? Name and tokenizer paths may differ (a moved file); weights and transform may not. */
export function sameModel(a: ModelIdentity, b: ModelIdentity): boolean {
  return (
    a.checkpointSha256 === b.checkpointSha256 &&
    a.preprocessing.size === b.preprocessing.size &&
    a.preprocessing.resizeMode === b.preprocessing.resizeMode
  );
}

/**
 * Records the model of a new index and creates its vector tables, or checks that an existing
 * index was made by the same model (refusing to mix, with the way out in the message).
 */
export function bindModel(db: IndexDb, path: string, model: ModelIdentity, dim: number): void {
  const stored = storedModel(db);
  if (stored && !sameModel(stored, model)) {
    throw new InputError(
      `${path}: the index was built with ${stored.name} (sha256 ${stored.checkpointSha256.slice(0, 12)}…, ` +
        `${stored.preprocessing.size}px); this run uses ${model.name} ` +
        `(sha256 ${model.checkpointSha256.slice(0, 12)}…); ` +
        'vectors of different models cannot be mixed: pass --reindex to rebuild the index with this model',
    );
  }
  // Tokenizer files named once stay recorded when a later run does not name them.
  const recorded = { ...model, bpe: model.bpe ?? stored?.bpe, vocab: model.vocab ?? stored?.vocab };
  db.transaction(() => {
    db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run('model', JSON.stringify(recorded));
    db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run('dim', String(dim));
  })();
}

/** Empties the index (for --reindex with another model). */
export function clearIndex(db: IndexDb): void {
  db.transaction(() => {
    db.exec('DELETE FROM codes; DELETE FROM vectors; DELETE FROM files; DELETE FROM photos; DELETE FROM meta;');
  })();
}

/** A float32 vector as a BLOB (no copy). */
export function vectorBlob(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** A BLOB read as float32: a view when it is 4-byte aligned, else a copy. */
export function blobVector(b: Buffer): Float32Array {
  if (b.byteOffset % 4 === 0) return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  const v = new Float32Array(b.byteLength / 4);
  new Uint8Array(v.buffer).set(b);
  return v;
}
