// The text tower: token embedding + positional embedding, causal transformer, ln_final, and the
// feature at the end-of-text token (the highest id, so argmax finds the first one) @ text_projection.

import type { Value } from '../graph/ir.js';
import type { Activation, TextTransformerConfig } from './config.js';
import type { Params } from './params.js';
import { layerNormModule, transformer } from './transformer.js';

/** Upper-triangular -inf above the diagonal: position i attends to positions ≤ i. */
function causalMask(p: Params, length: number): Value {
  const mask = new Float32Array(length * length);
  for (let i = 0; i < length; i++) for (let j = i + 1; j < length; j++) mask[i * length + j] = -Infinity;
  return p.graph.constant(mask, [length, length]);
}

/**
 * tokens int32 [N, L] → text features [N, embedDim], for any L ≤ contextLength. With the causal
 * mask and pooling at the end token, positions after a batch's last end token change nothing,
 * so callers may cut the padding off (an exact saving); L may be a symbolic dim.
 */
export function encodeTextTransformer(
  tokens: Value,
  p: Params,
  cfg: TextTransformerConfig,
  embedDim: number,
  activation: Activation,
): Value {
  const { width, contextLength } = cfg;
  const fit = (table: Value, axis: number) =>
    tokens.shape[1] === contextLength ? table : table.sliceAs(axis, tokens, 1);
  let x = p.module('token_embedding', tokens, (tokens, embedding) =>
    embedding.get('weight', [cfg.vocabSize, width]).gather(tokens),
  );
  x = x.add(fit(p.get('positional_embedding', [contextLength, width]), 0));
  const mask = fit(fit(causalMask(p, contextLength), 0), 1);
  // Only each row's end token leaves the tower: the last block computes that row alone
  // (transformer.ts); the full-length ln_final is built for parity checks only.
  const eot = tokens.argmax(-1);
  const { pooled, all } = transformer(x, p.scope('transformer'), {
    width,
    layers: cfg.layers,
    heads: cfg.heads,
    mlpWidth: cfg.mlpWidth,
    mask,
    activation,
    pooled: eot,
  });
  layerNormModule(p, 'ln_final', all, width);
  return layerNormModule(p, 'ln_final', pooled, width).matmul(p.get('text_projection', [width, embedDim]));
}
