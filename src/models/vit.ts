// The reference `VisionTransformer`: patches (conv1) + class token + positional embedding,
// ln_pre, transformer, ln_post of the class token, @ proj. Batch-first throughout.

import { at } from '../checked.js';
import { concat, type Value } from '../graph/ir.js';
import type { Activation, ImageOutput, VisionTransformerConfig } from './config.js';
import type { Params } from './params.js';
import { layerNormModule, transformer } from './transformer.js';

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
  const grid = imageResolution / patchSize;
  const batch = at(images.shape, 0);
  const patches = p.module('conv1', images, (images, conv1) =>
    images.conv2d(conv1.get('weight', [width, 3, patchSize, patchSize]), { stride: patchSize }),
  );
  const tokens = patches.reshape([batch, width, grid * grid]).transpose([0, 2, 1]);
  // The class token is the same for every image: broadcast to one token per image.
  const classToken = p
    .get('class_embedding', [width])
    .reshape([1, 1, width])
    .expandAs(tokens.slice(1, 0, 1));
  let x = concat([classToken, tokens], 1).add(p.get('positional_embedding', [grid * grid + 1, width]));
  x = layerNormModule(p, 'ln_pre', x, width);
  // Only the class token leaves the tower: the last block computes its row alone (transformer.ts).
  const { pooled } = transformer(x, p.scope('transformer'), {
    width,
    layers: cfg.layers,
    heads: cfg.heads,
    mlpWidth: cfg.mlpWidth,
    activation,
    pooled: 0,
  });
  const cls = layerNormModule(p, 'ln_post', pooled, width);
  return output === 'pre-projection' ? cls : cls.matmul(p.get('proj', [width, embedDim]));
}
