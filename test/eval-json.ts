// The JSON `clip eval` prints (the output contract scripts rely on), and recall@K and the median
// rank worked out directly from ranks, for the tests to compare the command's output with.

export interface ZeroShotJson {
  top1: number;
  top5: number;
  mean_per_class: number;
  n: number;
  per_class: Record<string, { accuracy: number | null; n: number }>;
  confusion: number[][];
  settings: { templates: string[] };
}

export interface RetrievalJson {
  image_to_text: Record<string, number>;
  text_to_image: Record<string, number>;
  n_images: number;
  n_texts: number;
}

/** From ranks (0 = the match came first): R@1/5/10 and the median 1-based rank. */
export function expectedRecall(ranks: readonly number[]): Record<string, number> {
  const sorted = ranks.map((x) => x + 1).sort((a, b) => a - b);
  const m = sorted.length >> 1;
  const recall = (k: number) => ranks.filter((x) => x < k).length / ranks.length;
  return {
    'R@1': recall(1),
    'R@5': recall(5),
    'R@10': recall(10),
    median_rank: sorted.length % 2 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2,
  };
}
