// Layers composed from the primitives, in the forms ONNX Runtime's graph optimiser recognises
// and fuses (LayerNorm, Gemm, Conv+Mul+Add), with the reference's arithmetic order.

import { at } from '../checked.js';
import type { Dim, Value } from './ir.js';

/** torch.nn.Linear: x @ weightᵀ + bias, weight [out, in] as stored in the checkpoint. */
export function linear(x: Value, weight: Value, bias?: Value): Value {
  const y = x.matmul(weight.transpose([1, 0]));
  return bias ? y.add(bias) : y;
}

/** torch.nn.LayerNorm over the last axis (biased variance), the pattern ORT fuses. */
export function layerNorm(x: Value, weight: Value, bias: Value, eps = 1e-5): Value {
  const centred = x.sub(x.mean([-1]));
  const variance = centred.pow(2).mean([-1]);
  return centred.div(variance.add(eps).sqrt()).mul(weight).add(bias);
}

/** CLIP's QuickGELU: x * sigmoid(1.702 x). */
export function quickGelu(x: Value): Value {
  return x.mul(x.mul(1.702).sigmoid());
}

/** Exact GELU: x/2 * (1 + erf(x/√2)). */
export function gelu(x: Value): Value {
  return x.mul(0.5).mul(x.div(Math.SQRT2).erf().add(1));
}

export interface BatchNormParams {
  weight: Value;
  bias: Value;
  runningMean: Value;
  runningVar: Value;
}

export interface AttentionProjections {
  /** [3·D, D] for packed q/k/v (nn.MultiheadAttention), with bias [3·D]. */
  q: { weight: Value; bias: Value };
  k: { weight: Value; bias: Value };
  v: { weight: Value; bias: Value };
  out: { weight: Value; bias: Value };
}

/** Splits nn.MultiheadAttention's packed in_proj into q/k/v projections (sliced weights fold to constants). */
export function splitInProj(
  inProjWeight: Value,
  inProjBias: Value,
  outWeight: Value,
  outBias: Value,
): AttentionProjections {
  const d = inProjWeight.dim(1);
  const part = (i: number) => ({
    weight: inProjWeight.slice(0, i * d, (i + 1) * d),
    bias: inProjBias.slice(0, i * d, (i + 1) * d),
  });
  return { q: part(0), k: part(1), v: part(2), out: { weight: outWeight, bias: outBias } };
}

/**
 * Multi-head attention, batch-first: query [N, Lq, D], keyValue [N, Lk, D] → [N, Lq, D].
 * `mask` [Lq, Lk] is added to the logits (0 / -inf for causal attention).
 */
export function multiHeadAttention(
  query: Value,
  keyValue: Value,
  p: AttentionProjections,
  heads: number,
  mask?: Value,
): Value {
  const [n, lq, d] = query.shape as [Dim, Dim, number];
  const lk = at(keyValue.shape, 1);
  const headDim = d / heads;
  const split = (x: Value, len: Dim) => x.reshape([n, len, heads, headDim]).transpose([0, 2, 1, 3]);
  const q = split(linear(query, p.q.weight, p.q.bias), lq).div(Math.sqrt(headDim));
  const k = split(linear(keyValue, p.k.weight, p.k.bias), lk);
  const v = split(linear(keyValue, p.v.weight, p.v.bias), lk);
  let logits = q.matmul(k.transpose([0, 1, 3, 2]));
  if (mask) logits = logits.add(mask);
  const attended = logits.softmax(-1).matmul(v).transpose([0, 2, 1, 3]).reshape([n, lq, d]);
  return linear(attended, p.out.weight, p.out.bias);
}

/** Where a tower reads its output: a fixed position (a class token) or int64 [N] positions (end tokens). */
export type Position = number | Value;

/** x [N, L, ...] → [N, 1, ...]: each sequence's element at `position`. */
export function rowsAt(x: Value, position: Position): Value {
  if (typeof position === 'number') return x.slice(1, position, position + 1);
  return x.pickPerRow(position).reshape([at(x.shape, 0), 1, ...x.shape.slice(2)]);
}

/**
 * The rows of an additive attention mask for queries at `position` only: [Lq, Lk] → [1, Lk], or
 * [N, 1, 1, Lk] for per-sequence positions. Masks without a query axis ([N, 1, 1, Lk]) pass through.
 */
export function maskRowsAt(mask: Value, position: Position): Value {
  if (mask.rank !== 2) return mask;
  if (typeof position === 'number') return mask.slice(0, position, position + 1);
  return mask.gather(position).reshape([at(position.shape, 0), 1, 1, at(mask.shape, 1)]);
}
