// Writing rows of the index: a photo (metadata + vectors) and the paths that show it. Callers wrap
// these in a transaction per batch, so a crash leaves whole batches or nothing.
import { first } from '../checked.js';
import { vectorBlob, type IndexDb } from './db.js';
import { codeCentre, int8Code, signBits } from './vectors.js';
import type { PhotoInfo } from './describe.js';

export interface FileStamp {
  path: string;
  size: number;
  mtimeMs: number;
}

/** L2-normalised copy (the index stores unit vectors: a dot product is the cosine). */
export function unitVector(v: Float32Array): Float32Array {
  let sum = 0;
  for (const x of v) sum += x * x;
  const norm = Math.sqrt(sum) || 1;
  return v.map((x) => x / norm);
}

export class IndexWriter {
  private readonly photoBySha;
  private readonly insertPhoto;
  private readonly insertVector;
  private readonly insertCode;
  private readonly upsertFile;
  private readonly fileOf;
  private readonly deleteFile;

  constructor(private readonly db: IndexDb) {
    this.photoBySha = db.prepare('SELECT id FROM photos WHERE sha256 = ?').pluck();
    this.insertPhoto = db.prepare(`INSERT INTO photos (sha256, width, height, taken, make, model, latitude, longitude)
      VALUES (@sha256, @width, @height, @taken, @make, @model, @latitude, @longitude)`);
    this.insertVector = db.prepare('INSERT INTO vectors (id, embedding) VALUES (?, ?)');
    this.insertCode = db.prepare('INSERT INTO codes (id, bits, q8) VALUES (?, ?, ?)');
    this.upsertFile = db.prepare(`INSERT INTO files (path, photo_id, size, mtime_ms) VALUES (?, ?, ?, ?)
      ON CONFLICT(path) DO UPDATE SET
        photo_id = excluded.photo_id, size = excluded.size, mtime_ms = excluded.mtime_ms`);
    this.fileOf = db.prepare('SELECT photo_id FROM files WHERE path = ?').pluck();
    this.deleteFile = db.prepare('DELETE FROM files WHERE path = ?');
  }

  private centre: Float32Array | undefined;

  /**
   * Sets the centre of the sign-bit codes to the mean of these unit vectors (the first batch),
   * once: only while the index holds no photo, so every code is made with the same centre.
   */
  centreCodes(embeddings: readonly Float32Array[]): void {
    this.centre = codeCentre(this.db);
    if (this.centre || !embeddings.length || this.db.prepare('SELECT 1 FROM photos LIMIT 1').get()) return;
    const mean = new Float64Array(first(embeddings).length);
    for (const e of embeddings)
      unitVector(e).forEach((x, j) => {
        mean[j] = (mean[j] ?? 0) + x / embeddings.length;
      });
    this.centre = Float32Array.from(mean);
    this.db
      .prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('code_centre', ?)")
      .run(Buffer.from(this.centre.buffer).toString('base64'));
  }

  /** The photo with this content, if indexed. */
  photoId(sha256: string): number | undefined {
    return this.photoBySha.get(sha256) as number | undefined;
  }

  /** Stores a photo's content (once per sha256) and returns its id. */
  addPhoto(info: PhotoInfo, embedding: Float32Array): number {
    const existing = this.photoId(info.sha256);
    if (existing !== undefined) return existing;
    const id = Number(this.insertPhoto.run(info).lastInsertRowid);
    const unit = unitVector(embedding);
    this.insertVector.run(id, vectorBlob(unit));
    this.centre ??= codeCentre(this.db);
    const q8 = int8Code(unit);
    this.insertCode.run(id, signBits(unit, this.centre), Buffer.from(q8.buffer, q8.byteOffset, q8.byteLength));
    return id;
  }

  /** Points a path at a photo (replacing what it showed before, which is dropped if nothing else shows it). */
  linkFile(file: FileStamp, photoId: number): void {
    const before = this.fileOf.get(file.path) as number | undefined;
    this.upsertFile.run(file.path, photoId, file.size, file.mtimeMs);
    if (before !== undefined && before !== photoId) this.dropIfOrphan(before);
  }

  /** Only the stamp changed (touched, same content). */
  restamp(file: FileStamp): void {
    this.db.prepare('UPDATE files SET size = ?, mtime_ms = ? WHERE path = ?').run(file.size, file.mtimeMs, file.path);
  }

  removeFile(path: string): void {
    const before = this.fileOf.get(path) as number | undefined;
    if (before === undefined) return;
    this.deleteFile.run(path);
    this.dropIfOrphan(before);
  }

  private dropIfOrphan(photoId: number): void {
    if (this.db.prepare('SELECT 1 FROM files WHERE photo_id = ? LIMIT 1').get(photoId)) return;
    this.db.prepare('DELETE FROM vectors WHERE id = ?').run(photoId);
    this.db.prepare('DELETE FROM codes WHERE id = ?').run(photoId);
    this.db.prepare('DELETE FROM photos WHERE id = ?').run(photoId);
  }
}
