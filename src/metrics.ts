// Evaluation metrics from score matrices, shared by `clip eval` and evaluation during training.
// Ties: in classification a class scoring equal to the true one ranks above it when it comes
// first, so top-1 is exactly "argmax, first index on ties" (as torch.argmax) and agrees with the
// confusion matrix; in retrieval only strictly higher scores rank above a match, the usual
// `(scores > positive).sum()`, which matters for duplicate captions (equal text features).

import { at } from './checked.js';
import { InputError } from './errors.js';

/** Row-by-row dot products a·bᵀ: [n, d] × [m, d] → [n, m]. */
export function dotRows(a: Float32Array, b: Float32Array, d: number): Float32Array {
  const n = a.length / d;
  const m = b.length / d;
  const out = new Float32Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let dot = 0;
      for (let k = 0; k < d; k++) dot += at(a, i * d + k) * at(b, j * d + k);
      out[i * m + j] = dot;
    }
  }
  return out;
}

/**
 * Candidates j (0..m-1 from `offset`) ranked above `target`: scoring higher, or (if
 * `earlierFirst`) scoring equal with j < target.
 */
function rankOf(scores: Float32Array, offset: number, m: number, target: number, earlierFirst: boolean): number {
  const own = at(scores, offset + target);
  let rank = 0;
  for (let j = 0; j < m; j++) {
    const s = at(scores, offset + j);
    if (s > own || (earlierFirst && s === own && j < target)) rank++;
  }
  return rank;
}

export interface ClassMetrics {
  accuracy: number | null;
  n: number;
}

export interface ClassificationMetrics {
  top1: number;
  top5: number;
  /** The mean of per-class accuracies over the classes that have examples. */
  mean_per_class: number;
  n: number;
  per_class: Record<string, ClassMetrics>;
  /** confusion[true][predicted] counts, classes in `classes` order. */
  confusion: number[][];
  classes: string[];
}

/** The metrics of class `name`, one of `m.classes`. */
export function classMetrics(m: ClassificationMetrics, name: string): ClassMetrics {
  const found = m.per_class[name];
  if (!found) throw new RangeError(`no class "${name}" among [${m.classes.join(', ')}]`);
  return found;
}

/**
 * Top-1/top-5, per-class and mean per-class accuracy and the confusion matrix from scores
 * [n, classes] (logits or probabilities: only the order matters) and the true class of each row.
 */
export function classificationMetrics(
  scores: Float32Array,
  labels: ArrayLike<number>,
  classes: readonly string[],
): ClassificationMetrics {
  const k = classes.length;
  const n = labels.length;
  if (scores.length !== n * k)
    throw new InputError(`scores hold ${scores.length} values, expected ${n} rows × ${k} classes`);
  const confusion = classes.map(() => new Array<number>(k).fill(0));
  let top1 = 0;
  let top5 = 0;
  for (let i = 0; i < n; i++) {
    const label = at(labels, i);
    const row = at(confusion, label);
    let predicted = 0;
    for (let c = 1; c < k; c++) if (at(scores, i * k + c) > at(scores, i * k + predicted)) predicted = c;
    row[predicted] = at(row, predicted) + 1;
    if (predicted === label) top1++;
    if (rankOf(scores, i * k, k, label, true) < 5) top5++;
  }
  const per_class: Record<string, ClassMetrics> = {};
  const present: number[] = [];
  classes.forEach((name, c) => {
    const row = at(confusion, c);
    const count = row.reduce((a, b) => a + b, 0);
    const accuracy = count ? at(row, c) / count : null;
    if (accuracy !== null) present.push(accuracy);
    per_class[name] = { accuracy, n: count };
  });
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  return {
    top1: n ? top1 / n : 0,
    top5: n ? top5 / n : 0,
    mean_per_class: mean(present),
    n,
    per_class,
    confusion,
    classes: [...classes],
  };
}

/** Recall@K (share of queries whose first match ranks within K) and the median 1-based rank of the first match. */
export function recallMetrics(ranks: readonly number[], ks: readonly number[] = [1, 5, 10]): Record<string, number> {
  const n = ranks.length;
  const out: Record<string, number> = {};
  for (const k of ks) out[`R@${k}`] = n ? ranks.filter((r) => r < k).length / n : 0;
  const sorted = ranks.map((r) => r + 1).sort((a, b) => a - b);
  const mid = Math.floor(n / 2);
  out.median_rank = n === 0 ? 0 : n % 2 ? at(sorted, mid) : (at(sorted, mid - 1) + at(sorted, mid)) / 2;
  return out;
}

export interface RetrievalRanks {
  /** Per image: how many texts rank above its best-ranked caption (0 = found first). */
  imageToText: number[];
  /** Per text: how many images rank above its own image. */
  textToImage: number[];
}

/**
 * Ranks (candidates scoring strictly higher) from a similarity matrix [nImages, nTexts] where
 * text t describes image textImage[t] (an image may have several captions, and needs one).
 */
export function retrievalRanks(
  similarity: Float32Array,
  nImages: number,
  textImage: readonly number[],
): RetrievalRanks {
  const nTexts = textImage.length;
  if (similarity.length !== nImages * nTexts)
    throw new InputError(`similarity holds ${similarity.length} values, expected ${nImages} × ${nTexts}`);
  const captions: number[][] = Array.from({ length: nImages }, () => []);
  textImage.forEach((image, t) => at(captions, image).push(t));
  const imageToText = captions.map((own, i) => {
    if (own.length === 0) throw new InputError(`image ${i} has no caption`);
    return Math.min(...own.map((t) => rankOf(similarity, i * nTexts, nTexts, t, false)));
  });
  // Text t's column, gathered so the same ranking rule applies.
  const column = new Float32Array(nImages);
  const textToImage = textImage.map((image, t) => {
    for (let i = 0; i < nImages; i++) column[i] = at(similarity, i * nTexts + t);
    return rankOf(column, 0, nImages, image, false);
  });
  return { imageToText, textToImage };
}
