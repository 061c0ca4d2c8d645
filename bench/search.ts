// Search at scale: synthetic clustered unit vectors (512-d, like image embeddings: many tight
// clusters around a shared mean direction) written through the index's own writer, then queries
// (noisier points of random clusters, like text queries) timed approximately, then exactly
// (sign-bit coarse pass + float32 rescoring), recall@10 of the approximate path against exact.
//   node dist/bench/search.js [--sizes 100000,1000000] [--queries 200] [--candidates 2000,5000] [--json]
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bindModel, openIndex } from '../src/search/db.js';
import { searchVector } from '../src/search/search.js';
import { IndexWriter, unitVector } from '../src/search/store.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1]! : fallback);
const sizes = arg('--sizes', '100000,1000000').split(',').map(Number);
const queries = Number(arg('--queries', '200'));
const candidateCounts = arg('--candidates', '2000').split(',').map(Number);
const asJson = args.includes('--json');
const DIM = 512;
const PER_CLUSTER = 1000;

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

function randomUnit(next: () => number): Float32Array {
  return unitVector(Float32Array.from({ length: DIM }, next));
}

/** `base` + noise of the given relative size, normalised. */
function around(base: Float32Array, noise: number, next: () => number): Float32Array {
  const scale = noise / Math.sqrt(DIM);
  return unitVector(base.map((x) => x + scale * next()));
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function bench(n: number, candidates: number[]) {
  const dir = mkdtempSync(join(tmpdir(), 'clip-bench-search-'));
  const file = join(dir, 'bench.db');
  const db = openIndex(file);
  bindModel(
    db,
    file,
    { name: 'synthetic', checkpointSha256: 'none', preprocessing: { size: 224, resizeMode: 'shortest-side-crop' } },
    DIM,
  );
  const next = noise(12345);
  const mean = randomUnit(next);
  const clusters = Math.ceil(n / PER_CLUSTER);
  const centers = Array.from({ length: clusters }, () => around(mean, 1.5, next)); // cos to the mean ≈ 0.55
  const writer = new IndexWriter(db);
  const started = performance.now();
  const BATCH = 5000;
  for (let start = 0; start < n; start += BATCH) {
    const rows = Array.from({ length: Math.min(BATCH, n - start) }, (_, i) =>
      around(centers[(start + i) % clusters]!, 0.9, next),
    );
    db.transaction(() =>
      rows.forEach((v, i) => {
        if (i === 0) writer.centreCodes(rows);
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
      }),
    )();
    if (!asJson) process.stderr.write(`\r${n}: inserted ${start + rows.length}`);
  }
  const insertSeconds = (performance.now() - started) / 1000;
  db.pragma('wal_checkpoint(TRUNCATE)');
  const bytes = statSync(file).size;
  if (!asJson) process.stderr.write('\n');

  const qs = Array.from({ length: queries }, () =>
    around(centers[Math.floor(Math.abs(next()) * 1e6) % clusters]!, 2.5, next),
  );
  // Wall time, and CPU time of the process (on a shared machine the wall time also counts waiting;
  // the search itself is single-threaded).
  const time = (f: () => unknown) => {
    const t = performance.now();
    const c = process.cpuUsage();
    const r = f();
    const used = process.cpuUsage(c);
    return { ms: performance.now() - t, cpuMs: (used.user + used.system) / 1000, r };
  };
  // Approximate first: the peak RSS after it is what an approximate-only process needs (the exact
  // scans that follow hold every float32 vector in memory). The first query of each mode loads the
  // vectors into memory: timed on its own.
  const approxLoad = time(() => searchVector(db, qs[0]!, { k: 10, mode: 'approximate' })).ms;
  const approx = candidates.map((c) => ({
    c,
    runs: qs.map((q) => time(() => searchVector(db, q, { k: 10, mode: 'approximate', candidates: c }))),
  }));
  const approxRss = process.resourceUsage().maxRSS;
  const exactLoad = time(() => searchVector(db, qs[0]!, { k: 10, mode: 'exact' })).ms;
  const exactRuns = qs.map((q) => time(() => searchVector(db, q, { k: 10, mode: 'exact' })));
  const recall = (runs: typeof exactRuns) => {
    let found = 0;
    exactRuns.forEach((e, i) => {
      const truth = new Set((e.r as { id: number }[]).map((h) => h.id));
      found += (runs[i]!.r as { id: number }[]).filter((h) => truth.has(h.id)).length;
    });
    return +(found / (10 * queries)).toFixed(4);
  };
  db.close();
  rmSync(dir, { recursive: true, force: true });
  const ms = (runs: { ms: number }[]) => runs.map((r) => r.ms);
  return {
    vectors: n,
    dim: DIM,
    clusters,
    queries,
    insert_per_s: Math.round(n / insertSeconds),
    index_mb: Math.round(bytes / 2 ** 20),
    first_query_s_approximate: +(approxLoad / 1000).toFixed(2),
    first_query_s_exact: +(exactLoad / 1000).toFixed(2),
    exact_p50_ms: +percentile(ms(exactRuns), 50).toFixed(1),
    exact_p99_ms: +percentile(ms(exactRuns), 99).toFixed(1),
    exact_cpu_p50_ms: +percentile(
      exactRuns.map((r) => r.cpuMs),
      50,
    ).toFixed(1),
    approximate: approx.map(({ c, runs }) => ({
      candidates: c,
      p50_ms: +percentile(ms(runs), 50).toFixed(1),
      p99_ms: +percentile(ms(runs), 99).toFixed(1),
      cpu_p50_ms: +percentile(
        runs.map((r) => r.cpuMs),
        50,
      ).toFixed(1),
      recall_at_10: recall(runs),
    })),
    peak_rss_mb_approximate: Math.round(approxRss / 1024),
    peak_rss_mb_with_exact: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

for (const n of sizes) {
  const result = bench(n, candidateCounts);
  console.log(
    asJson
      ? JSON.stringify(result)
      : Object.entries(result)
          .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
          .join('  '),
  );
}
