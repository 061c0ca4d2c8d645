// The in-memory scans behind search (WebAssembly kernel): exact search equals a float64 brute force,
// the approximate path with every row as a candidate equals exact, its recall on clustered data is
// high with the default candidates, and a reader sees rows another connection adds or deletes.
// `clip dupes`' near-duplicate groups (all pairs in cache tiles, src/search/dupes.ts) equal the
// definition computed by brute force; the selection helpers (src/search/select.ts) pick what a full
// sort picks; filtered approximate search (the JavaScript shortlist) equals a filtered brute force.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { at } from '../src/checked.js';
import { bindModel, openIndex } from '../src/search/db.js';
import { findDuplicates } from '../src/search/dupes.js';
import { searchVector } from '../src/search/search.js';
import { highestScores, smallestDistances } from '../src/search/select.js';
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

const pathOf = (i: number) => `/p/${String(i).padStart(5, '0')}.jpg`;
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, j) => s + x * at(b, j), 0);

/** An index at `file` holding these vectors: photo i + 1 at pathOf(i), taken at i ms. */
function writeIndex(file: string, vectors: readonly Float32Array[]): void {
  const db = openIndex(file);
  bindModel(db, file, { name: 't', checkpointSha256: 'x', preprocessing: { size: 1, resizeMode: 'square' } }, DIM);
  const writer = new IndexWriter(db);
  db.transaction(() => {
    writer.centreCodes(vectors.slice(0, 500));
    vectors.forEach((v, i) => {
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
      writer.linkFile({ path: pathOf(i), size: 1, mtimeMs: 0 }, writer.addPhoto(info, v));
    });
  })();
  db.close();
}

/** n vectors in 20 clusters. */
function build(file: string, n: number, next: () => number): Float32Array[] {
  const centers = Array.from({ length: 20 }, () => unitVector(Float32Array.from({ length: DIM }, next)));
  const vectors = Array.from({ length: n }, (_, i) => unitVector(at(centers, i % 20).map((x) => x + 0.15 * next())));
  writeIndex(file, vectors);
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

/** n photos: random unit vectors, every 5th followed by 1-3 noisy copies of itself (near duplicates). */
function buildWithCopies(file: string, n: number, next: () => number): Float32Array[] {
  const vectors: Float32Array[] = [];
  while (vectors.length < n) {
    const base = unitVector(Float32Array.from({ length: DIM }, next));
    vectors.push(base);
    if (vectors.length % 5 === 1)
      for (let c = 0; c < 1 + (vectors.length % 3) && vectors.length < n; c++)
        vectors.push(unitVector(base.map((x) => x + 0.05 * next())));
  }
  writeIndex(file, vectors);
  return vectors;
}

/** The groups by definition: union-find over every pair at or above the threshold (float64 cosines). */
function bruteGroups(vectors: Float32Array[], threshold: number) {
  const parent = vectors.map((_, i) => i);
  const root = (x: number): number => (at(parent, x) === x ? x : root(at(parent, x)));
  const best = vectors.map(() => -Infinity);
  vectors.forEach((a, i) =>
    vectors.forEach((b, j) => {
      if (j <= i) return;
      const s = dot(a, b);
      if (s < threshold) return;
      best[i] = Math.max(at(best, i), s);
      best[j] = Math.max(at(best, j), s);
      parent[Math.max(root(i), root(j))] = Math.min(root(i), root(j));
    }),
  );
  const groups = new Map<number, number[]>();
  vectors.forEach((_, i) => {
    if (at(best, i) > -Infinity) groups.set(root(i), [...(groups.get(root(i)) ?? []), i]);
  });
  return [...groups.values()]
    .map((g) => ({ paths: g.map(pathOf).sort(), score: Math.max(...g.map((i) => at(best, i))) }))
    .sort((a, b) => (at(a.paths, 0) < at(b.paths, 0) ? -1 : 1));
}

test('near-duplicate groups equal the brute-force definition (tiles of 256 rows: 700 photos span 3)', () => {
  const file = join(dir, 'd.db');
  const vectors = buildWithCopies(file, 700, random(3));
  const db = openIndex(file, { readonly: true });
  // 0.3: chains of pairs join most photos into one group (transitivity across tiles).
  for (const [threshold, minGroups] of [
    [0.95, 50],
    [0.99, 10],
    [0.3, 1],
  ] as const) {
    const report = findDuplicates(db, threshold);
    const expected = bruteGroups(vectors, threshold);
    assert.ok(expected.length >= minGroups, `threshold ${threshold}: the data has groups (${expected.length})`);
    assert.deepEqual(
      report.near.map((g) => g.paths),
      expected.map((g) => g.paths),
    );
    report.near.forEach((g, i) => assert.ok(Math.abs(g.score - at(expected, i).score) < 1e-6));
    assert.deepEqual(report.exact, []);
  }
  db.close();
});

test('highestScores and smallestDistances pick what a full sort picks', () => {
  const next = random(5);
  const scores = Float32Array.from({ length: 5000 }, () => Math.round(next() * 200) / 10); // many ties
  for (const keep of [1, 10, 300, 5000, 6000]) {
    const order = [...scores.keys()].sort((a, b) => at(scores, b) - at(scores, a) || a - b);
    assert.deepEqual([...highestScores(scores, keep)], order.slice(0, keep));
  }
  const even = (row: number) => row % 2 === 0;
  assert.deepEqual(
    [...highestScores(scores, 50, even)],
    [...scores.keys()]
      .filter(even)
      .sort((a, b) => at(scores, b) - at(scores, a) || a - b)
      .slice(0, 50),
  );
  const distances = Uint16Array.from({ length: 5000 }, () => Math.floor((next() + 0.5) * 64));
  for (const keep of [1, 100, 2500, 5000]) {
    const rows = [...smallestDistances(distances, keep, undefined)];
    assert.equal(rows.length, keep);
    assert.deepEqual(
      rows,
      [...rows].sort((a, b) => a - b),
      'in row order',
    );
    const cut = Math.max(...rows.map((r) => at(distances, r)));
    const picked = new Set(rows);
    distances.forEach((d, r) => {
      if (d < cut) assert.ok(picked.has(r), `row ${r} (distance ${d} < cut ${cut}) kept`);
    });
  }
});

test('filtered approximate search: every shortlisted row as a candidate equals a filtered brute force', () => {
  const file = join(dir, 'f.db');
  const next = random(11);
  const vectors = buildWithCopies(file, 600, next);
  const db = openIndex(file, { readonly: true });
  const after = 100; // photo i was "taken" at i ms
  for (let q = 0; q < 5; q++) {
    const query = unitVector(at(vectors, q * 50).map((x) => x + 0.3 * next()));
    const brute = vectors
      .map((v, i) => ({ id: i + 1, taken: i, score: dot(v, query) }))
      .filter((h) => h.taken >= after)
      .sort((a, b) => b.score - a.score)
      .slice(0, 10);
    const hits = searchVector(db, query, { k: 10, mode: 'approximate', candidates: 600, after });
    assert.deepEqual(
      hits.map((h) => h.id),
      brute.map((h) => h.id),
    );
  }
  db.close();
});
