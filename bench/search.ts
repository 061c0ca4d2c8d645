// Search at scale: synthetic clustered unit vectors (bench/synthetic-index.ts), then queries timed
// approximately (sign bits, int8, float32 rescoring), then exactly; recall@10 of approximate against exact.
//   node dist/bench/search.js [--sizes 100000,1000000] [--queries 200] [--candidates 200,500] [--json]
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { at } from '../src/checked.js';
import { searchVector } from '../src/search/search.js';
import { buildSyntheticIndex } from './synthetic-index.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => (args.includes(name) ? at(args, args.indexOf(name) + 1) : fallback);
const sizes = arg('--sizes', '100000,1000000').split(',').map(Number);
const queries = Number(arg('--queries', '200'));
const candidateCounts = arg('--candidates', '200').split(',').map(Number);
const asJson = args.includes('--json');
const DIM = 512;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return at(sorted, Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length)));
}

function bench(n: number, candidates: number[]) {
  const dir = mkdtempSync(join(tmpdir(), 'clip-bench-search-'));
  const file = join(dir, 'bench.db');
  const { db, clusters, insertSeconds, query } = buildSyntheticIndex(file, n, {
    dim: DIM,
    onProgress: (done) => asJson || process.stderr.write(`\r${n}: inserted ${done}`),
  });
  db.pragma('wal_checkpoint(TRUNCATE)');
  const bytes = statSync(file).size;
  if (!asJson) process.stderr.write('\n');

  const qs = Array.from({ length: queries }, query);
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
  const approxLoad = time(() => searchVector(db, at(qs, 0), { k: 10, mode: 'approximate' })).ms;
  const approx = candidates.map((c) => ({
    c,
    runs: qs.map((q) => time(() => searchVector(db, q, { k: 10, mode: 'approximate', candidates: c }))),
  }));
  const approxRss = process.resourceUsage().maxRSS;
  const exactLoad = time(() => searchVector(db, at(qs, 0), { k: 10, mode: 'exact' })).ms;
  const exactRuns = qs.map((q) => time(() => searchVector(db, q, { k: 10, mode: 'exact' })));
  const recall = (runs: typeof exactRuns) => {
    let found = 0;
    exactRuns.forEach((e, i) => {
      const truth = new Set((e.r as { id: number }[]).map((h) => h.id));
      found += (at(runs, i).r as { id: number }[]).filter((h) => truth.has(h.id)).length;
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
