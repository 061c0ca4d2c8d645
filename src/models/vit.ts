// The reference `VisionTransformer`: patches (conv1) + class token + positional embedding,
// ln_pre, transformer, ln_post of the class token, @ proj. Batch-first throughout.

import { concat, type Value } from '../graph/ir.js';
import { layerNorm } from '../graph/nn.js';
import type { Activation, ImageOutput, VisionTransformerConfig } from './config.js';
import type { Params } from './params.js';
import { layerNormParams, transformer } from './transformer.js';

/** images float32 [N, 3, R, R] → image features [N, embedDim] (or [N, width] before `proj`). */
export function encodeImageViT(
  images: Value,
  p: Params,
  cfg: VisionTransformerConfig,
  embedDim: number,
  activation: Activation,
  output: ImageOutput = 'embedding',
): Value {
  const { width, patchSize, imageResolution } = cfg;
  const g = images.graph;
  const grid = imageResolution / patchSize;
  const batch = images.shape[0]!;
  const patches = g.tap(
    'act.visual.conv1',
    images.conv2d(p.get('conv1.weight', [width, 3, patchSize, patchSize]), { stride: patchSize }),
  );
  const tokens = patches.reshape([batch, width, grid * grid]).transpose([0, 2, 1]);
  // The class token is the same for every image: broadcast to one token per image.
  const classToken = p
    .get('class_embedding', [width])
    .reshape([1, 1, width])
    .expandAs(tokens.slice(1, 0, 1));
  let x = g.tap(
    'act.visual.embeddings',
    concat([classToken, tokens], 1).add(p.get('positional_embedding', [grid * grid + 1, width])),
  );
  x = g.tap('act.visual.ln_pre', layerNorm(x, ...layerNormParams(p.scope('ln_pre'), width)));
  // Only the class token leaves the tower: the last block computes its row alone (transformer.ts).
  const { pooled } = transformer(x, p.scope('transformer'), {
    width,
    layers: cfg.layers,
    heads: cfg.heads,
    mlpWidth: cfg.mlpWidth,
    activation,
    tapPrefix: 'act.visual.transformer.resblocks',
    pooled: 0,
  });
  const cls = g.tap('act.visual.ln_post', layerNorm(pooled, ...layerNormParams(p.scope('ln_post'), width)));
  return output === 'pre-projection' ? cls : cls.matmul(p.get('proj', [width, embedDim]));
}
