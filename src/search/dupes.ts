// Duplicates: exact ones (one content, several paths) and near ones (different files whose
// features' cosine is at least a threshold: resized, recompressed, slightly edited copies),
// grouped transitively (if a ~ b and b ~ c, one group).
import type { IndexDb } from './db.js';
import { photoById, searchVector, photoVector } from './search.js';

export interface DuplicateReport {
  /** Paths that hold byte-identical content. */
  exact: string[][];
  /** Groups of near-identical photos: paths (first path of each photo) and the best pair score. */
  near: { paths: string[]; score: number }[];
}

/** Neighbours looked at per photo: a group larger than this is still found through its members. */
const NEIGHBOURS = 16;

export function findDuplicates(db: IndexDb, threshold = 0.95): DuplicateReport {
  const exactIds = db
    .prepare('SELECT photo_id FROM files GROUP BY photo_id HAVING count(*) > 1 ORDER BY min(path)')
    .pluck()
    .all() as number[];
  const exact = exactIds.map((id) => photoById(db, id)!.paths);

  const ids = db.prepare('SELECT id FROM photos ORDER BY id').pluck().all() as number[];
  const parent = new Map<number, number>();
  const root = (x: number): number => {
    let r = x;
    while (parent.has(r) && parent.get(r) !== r) r = parent.get(r)!;
    parent.set(x, r);
    return r;
  };
  const best = new Map<number, number>();
  for (const id of ids) {
    const hits = searchVector(db, photoVector(db, id)!, {
      k: NEIGHBOURS,
      minScore: threshold,
      excludeId: id,
      mode: 'exact',
    });
    for (const hit of hits) {
      const [a, b] = [root(id), root(hit.id)];
      if (a !== b) parent.set(Math.max(a, b), Math.min(a, b));
      best.set(id, Math.max(best.get(id) ?? -1, hit.score));
    }
  }
  const groups = new Map<number, number[]>();
  for (const id of ids) if (parent.has(id) || best.has(id)) groups.set(root(id), [...(groups.get(root(id)) ?? []), id]);
  const near = [...groups.values()]
    .filter((g) => g.length > 1)
    .map((g) => ({
      paths: g.map((id) => photoById(db, id)!.paths[0]!).sort(),
      score: Math.max(...g.map((id) => best.get(id) ?? -1)),
    }));
  near.sort((a, b) => (a.paths[0]! < b.paths[0]! ? -1 : 1));
  return { exact, near };
}
