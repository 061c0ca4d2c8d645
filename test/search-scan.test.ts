// The in-memory scans behind search (WebAssembly kernel): exact search equals a float64 brute force,
// the approximate path with every row as a candidate equals exact, its recall on clustered data is
// high with the default candidates, and a reader sees rows another connection adds or deletes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { bindModel, openIndex } from '../src/search/db.js';
import { searchVector } from '../src/search/search.js';
import { IndexWriter, unitVector } from '../src/search/store.js';

const dir = mkdtempSync(join(tmpdir(), 'clip-scan-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const DIM = 64;

function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

function build(file: string, n: number, next: () => number): Float32Array[] {
  const db = openIndex(file);
  bindModel(db, file, { name: 't', checkpointSha256: 'x', preprocessing: { size: 1, resizeMode: 'square' } }, DIM);
  const writer = new IndexWriter(db);
  const centers = Array.from({ length: 20 }, () => unitVector(Float32Array.from({ length: DIM }, next)));
  const vectors = Array.from({ length: n }, (_, i) => unitVector(centers[i % 20]!.map((x) => x + 0.15 * next())));
  db.transaction(() =>
    vectors.forEach((v, i) => {
      if (i === 0) writer.centreCodes(vectors.slice(0, 500));
      const info = {
        sha256: String(i),
        width: 1,
        height: 1,
        taken: i,
        make: null,
        model: null,
        latitude: null,
        longitude: null,
      };
      writer.linkFile({ path: `/p/${String(i).padStart(5, '0')}.jpg`, size: 1, mtimeMs: 0 }, writer.addPhoto(info, v));
    }),
  )();
  db.close();
  return vectors;
}

test('exact = float64 brute force; approximate with all rows as candidates = exact; recall@10 of the default', () => {
  const file = join(dir, 'a.db');
  const next = random(7);
  const vectors = build(file, 3000, next);
  const db = openIndex(file, { readonly: true });
  let found = 0;
  for (let q = 0; q < 20; q++) {
    const query = unitVector(vectors[q * 7]!.map((x) => x + 0.3 * next()));
    const brute = vectors
      .map((v, i) => ({ id: i + 1, score: v.reduce((s, x, j) => s + x * query[j]!, 0) }))
      .sort((a, b) => b.score - a.score);
    const exact = searchVector(db, query, { k: 10, mode: 'exact' });
    assert.deepEqual(
      exact.map((h) => h.id),
      brute.slice(0, 10).map((b) => b.id),
    );
    exact.forEach((h, i) => assert.ok(Math.abs(h.score - brute[i]!.score) < 1e-6));
    const all = searchVector(db, query, { k: 10, mode: 'approximate', candidates: 3000 });
    assert.deepEqual(
      all.map((h) => h.id),
      exact.map((h) => h.id),
    );
    const truth = new Set(exact.map((h) => h.id));
    found += searchVector(db, query, { k: 10, mode: 'approximate', candidates: 300 }).filter((h) =>
      truth.has(h.id),
    ).length;
    const paged = searchVector(db, query, { k: 5, offset: 5, mode: 'exact' });
    assert.deepEqual(
      paged.map((h) => h.id),
      exact.slice(5).map((h) => h.id),
    );
  }
  assert.ok(found / 200 >= 0.9, `recall@10 with 300 of 3000 candidates: ${found / 200}`);
  db.close();
});

test('a reader sees rows another connection adds, and deletions', () => {
  const file = join(dir, 'b.db');
  const next = random(9);
  const vectors = build(file, 100, next);
  const reader = openIndex(file, { readonly: true });
  const query = vectors[5]!;
  assert.equal(searchVector(reader, query, { k: 1 })[0]!.id, 6);
  const writer = openIndex(file);
  const w = new IndexWriter(writer);
  writer.transaction(() => w.removeFile('/p/00005.jpg'))();
  assert.notEqual(searchVector(reader, query, { k: 1 })[0]!.id, 6, 'the deleted photo is gone');
  writer.transaction(() =>
    w.linkFile(
      { path: '/p/new.jpg', size: 1, mtimeMs: 0 },
      w.addPhoto(
        { sha256: 'new', width: 1, height: 1, taken: null, make: null, model: null, latitude: null, longitude: null },
        query,
      ),
    ),
  )();
  const hit = searchVector(reader, query, { k: 1 })[0]!;
  assert.deepEqual(hit.paths, ['/p/new.jpg']);
  assert.ok(Math.abs(hit.score - 1) < 1e-6);
  writer.close();
  reader.close();
});
