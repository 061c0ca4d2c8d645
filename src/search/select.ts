// Picking the best rows of a scan without sorting all of them: a million scores per query, of which
// a search keeps a few thousand, then a few hundred, then k. Typed arrays and plain loops (no
// callback per row unless a filter is given): these run over every row of the index.

/** Which rows may be picked (a filter, or a photo left out); undefined: all. */
export type RowFilter = ((row: number) => boolean) | undefined;

const increment = (counts: Uint32Array, i: number) => {
  counts[i] = (counts[i] ?? 0) + 1;
};

/**
 * The rows of the `keep` smallest distances (small non-negative integers: Hamming distances), in
 * row order. A histogram finds the cut in one pass; at the cut, rows are taken in row order until
 * `keep` are reached.
 */
export function smallestDistances(distances: Uint16Array, keep: number, allowed: RowFilter): Int32Array {
  let max = 0;
  for (let r = 0; r < distances.length; r++) max = Math.max(max, distances[r] ?? 0);
  const counts = new Uint32Array(max + 1);
  if (allowed) {
    for (let r = 0; r < distances.length; r++) if (allowed(r)) increment(counts, distances[r] ?? 0);
  } else for (let r = 0; r < distances.length; r++) increment(counts, distances[r] ?? 0);
  let cut = 0;
  let below = 0; // rows closer than the cut
  for (; cut < max && below + (counts[cut] ?? 0) < keep; cut++) below += counts[cut] ?? 0;
  let atCut = Math.min(keep, below + (counts[cut] ?? 0)) - below;
  const rows = new Int32Array(below + atCut);
  let n = 0;
  for (let r = 0; r < distances.length; r++) {
    const d = distances[r] ?? 0;
    if (d > cut || (allowed && !allowed(r))) continue;
    if (d === cut) {
      if (atCut === 0) continue;
      atCut--;
    }
    rows[n++] = r;
  }
  return rows;
}

/**
 * Indices of the `keep` highest scores, best first (ties: lower index first), by a bounded
 * min-heap: each score costs one comparison with the heap's floor unless it enters.
 */
export function highestScores(scores: ArrayLike<number>, keep: number, allowed: RowFilter = undefined): Int32Array {
  const heap = new Int32Array(Math.min(keep, scores.length));
  const value = new Float64Array(heap.length);
  let size = 0;
  // "worse" on the heap's order: lower score, or equal score and higher index.
  const worse = (a: number, b: number) => {
    const [va, vb] = [value[a] ?? 0, value[b] ?? 0];
    return va < vb || (va === vb && (heap[a] ?? 0) > (heap[b] ?? 0));
  };
  const swap = (a: number, b: number) => {
    [heap[a], heap[b]] = [heap[b] ?? 0, heap[a] ?? 0];
    [value[a], value[b]] = [value[b] ?? 0, value[a] ?? 0];
  };
  const siftDown = (from: number) => {
    for (let i = from; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < size && worse(l, m)) m = l;
      if (r < size && worse(r, m)) m = r;
      if (m === i) return;
      swap(i, m);
      i = m;
    }
  };
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i] ?? -Infinity;
    if (size === heap.length) {
      if (size === 0 || s <= (value[0] ?? 0)) continue; // not better than the floor (ties: lower index kept)
      if (allowed && !allowed(i)) continue;
      heap[0] = i;
      value[0] = s;
      siftDown(0);
      continue;
    }
    if (allowed && !allowed(i)) continue;
    heap[size] = i;
    value[size] = s;
    for (let c = size++; c > 0; ) {
      const p = (c - 1) >> 1;
      if (!worse(c, p)) break;
      swap(c, p);
      c = p;
    }
  }
  // Pop worst first into the back of the result: best first.
  const best = new Int32Array(size);
  for (let n = size - 1; n >= 0; n--) {
    best[n] = heap[0] ?? 0;
    size--;
    swap(0, size);
    siftDown(0);
  }
  return best;
}
