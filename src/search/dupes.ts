// Duplicates: exact ones (one content, several paths) and near ones (different files whose
// features' cosine is at least a threshold: resized, recompressed, slightly edited copies),
// grouped transitively (if a ~ b and b ~ c, one group).
//
// Near ones compare every pair of photos once, in tiles: a tile of TILE rows stays in the CPU cache
// while every earlier row is scored against it by the scan kernel, so each vector is read from
// memory n / TILE times instead of n times (one search per photo read all of them per photo).
// Pairs the kernel's float32 scores put near the threshold are rescored in float64, as search does.
import { at } from '../checked.js';
import type { IndexDb } from './db.js';
import { dot, photoById, scanFor } from './search.js';

export interface DuplicateReport {
  /** Paths that hold byte-identical content. */
  exact: string[][];
  /** Groups of near-identical photos: paths (first path of each photo) and the best pair score. */
  near: { paths: string[]; score: number }[];
}

/** Rows per tile: 256 rows of 512 float32 (512 KB) fit a core's L2 cache. */
const TILE = 256;
/** Float32 lane sums are within ~1e-6 of the float64 dot: pairs above threshold - SLACK are rescored. */
const SLACK = 1e-5;

function paths(db: IndexDb, id: number): string[] {
  const photo = photoById(db, id);
  if (!photo) throw new Error(`photo ${id} vanished while listing duplicates`);
  return photo.paths;
}

export function findDuplicates(db: IndexDb, threshold = 0.95): DuplicateReport {
  const exactIds = db
    .prepare('SELECT photo_id FROM files GROUP BY photo_id HAVING count(*) > 1 ORDER BY min(path)')
    .pluck()
    .all() as number[];
  const exact = exactIds.map((id) => paths(db, id));

  // Union-find over rows of the scan; best[row]: the row's best pair score (-Infinity: no pair).
  const scan = scanFor(db, 'float');
  scan?.refresh();
  const n = scan?.count ?? 0;
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const root = (x: number): number => {
    let r = x;
    while (at(parent, r) !== r) r = at(parent, r);
    for (let y = x; y !== r; ) {
      const next = at(parent, y);
      parent[y] = r;
      y = next;
    }
    return r;
  };
  const best = new Float64Array(n).fill(-Infinity);
  for (let tile = 0; scan && tile < n; tile += TILE) {
    const end = Math.min(n, tile + TILE);
    for (let row = 0; row < end - 1; row++) {
      const from = Math.max(tile, row + 1);
      const scores = scan.rowScores(row, from, end - from);
      for (let j = 0; j < scores.length; j++) {
        if ((scores[j] ?? -Infinity) < threshold - SLACK) continue;
        const other = from + j;
        const score = dot(scan.vector(row), scan.vector(other));
        if (score < threshold) continue;
        best[row] = Math.max(at(best, row), score);
        best[other] = Math.max(at(best, other), score);
        const [a, b] = [root(row), root(other)];
        if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
      }
    }
  }
  const groups = new Map<number, number[]>();
  for (let row = 0; row < n; row++) {
    if (at(best, row) === -Infinity) continue;
    const members = groups.get(root(row)) ?? [];
    members.push(row);
    groups.set(root(row), members);
  }
  const ids = scan?.photoIds ?? new Int32Array(0);
  const near = [...groups.values()].map((rows) => ({
    paths: rows.map((row) => at(paths(db, at(ids, row)), 0)).sort(),
    score: Math.max(...rows.map((row) => at(best, row))),
  }));
  near.sort((a, b) => (at(a.paths, 0) < at(b.paths, 0) ? -1 : 1));
  return { exact, near };
}
