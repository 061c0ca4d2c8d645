// The one place that picks each tower's builder from the config (ViT or ModifiedResNet; OpenAI's
// causal text transformer or Chinese-CLIP's BERT), with everything the config says (heads, MLP
// width, activation), shared by the inference graphs (clip.ts) and the training graph (train/graph.ts).

import type { Value } from '../graph/ir.js';
import { encodeTextBert } from './bert.js';
import type { ClipConfig, ImageOutput } from './config.js';
import type { Params } from './params.js';
import { encodeImageResNet } from './resnet.js';
import { encodeTextTransformer } from './text.js';
import { encodeImageViT } from './vit.js';

/**
 * images float32 [N, 3, R, R] → image features [N, embedDim]; weights under `p` (`visual.`).
 * `training`: a ResNet's BatchNorm uses batch statistics (a ViT is the same either way).
 * `output`: see ImageOutput (a ResNet's attention pool projects itself: its embedding either way).
 */
export function imageTower(
  images: Value,
  p: Params,
  cfg: ClipConfig,
  training = false,
  output: ImageOutput = 'embedding',
): Value {
  return cfg.vision.kind === 'vit'
    ? encodeImageViT(images, p, cfg.vision, cfg.embedDim, cfg.activation, output)
    : encodeImageResNet(images, p, cfg.vision, cfg.embedDim, training);
}

/** tokens int32 [N, L] → text features [N, embedDim]; weights under `p` (the state dict's top level). */
export function textTower(tokens: Value, p: Params, cfg: ClipConfig): Value {
  return cfg.text.kind === 'bert'
    ? encodeTextBert(tokens, p, cfg.text, cfg.embedDim)
    : encodeTextTransformer(tokens, p, cfg.text, cfg.embedDim, cfg.activation);
}
