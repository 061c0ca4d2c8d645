// Captions run cut after their last used position, grouped by length: exact, and much faster on
// short captions than running every row at the full context.
import type { Tensor } from '../tensor.js';
import { at, first } from '../checked.js';

/**
 * How many leading positions of row `r` can change its features. OpenAI's tower is causal and
 * pools at the row's end token (its highest id): later positions are invisible. BERT masks [PAD]
 * (id 0) keys with -10000, whose softmax weight is exactly 0 in float32, and pools at [CLS]:
 * trailing [PAD]s are invisible.
 */
function usedLength(tokens: Tensor<Int32Array>, r: number, kind: 'transformer' | 'bert'): number {
  const L = at(tokens.shape, 1);
  const row = tokens.data.subarray(r * L, (r + 1) * L);
  let last = 0;
  row.forEach((id, j) => {
    if (j > 0 && (kind === 'bert' ? id !== 0 : id > at(row, last))) last = j;
  });
  return last + 1;
}

/** The rows `rows` of `tokens`, cut to the longest used length among them (an exact saving). */
export function trimPadding(
  tokens: Tensor<Int32Array>,
  kind: 'transformer' | 'bert' = 'transformer',
  rows?: readonly number[],
): Tensor<Int32Array> {
  const [n, L] = tokens.shape as [number, number];
  const picked = rows ?? [...Array(n).keys()];
  const length = Math.max(1, ...picked.map((r) => usedLength(tokens, r, kind)));
  if (length === L && !rows) return tokens;
  const data = new Int32Array(picked.length * length);
  picked.forEach((r, i) => data.set(tokens.data.subarray(r * L, r * L + length), i * length));
  return { data, shape: [picked.length, length] };
}

/** Rows per text-tower run when a batch is split by length (big enough for efficient GEMMs). */
const TEXT_BUCKET_ROWS = 8;

/**
 * Row indices grouped by used length (shortest first, TEXT_BUCKET_ROWS per group), so short
 * captions do not run at the length of the batch's longest one.
 */
export function lengthBuckets(tokens: Tensor<Int32Array>, kind: 'transformer' | 'bert'): number[][] {
  const lengths = Array.from({ length: first(tokens.shape) }, (_, r) => usedLength(tokens, r, kind));
  const order = [...lengths.keys()].sort((a, b) => at(lengths, a) - at(lengths, b) || a - b);
  const buckets: number[][] = [];
  for (let i = 0; i < order.length; i += TEXT_BUCKET_ROWS) buckets.push(order.slice(i, i + TEXT_BUCKET_ROWS));
  return buckets;
}
