// CLIP as graphs: the image tower (ViT or ModifiedResNet) and the text tower of a config, each
// built into its own graph in our IR with the checkpoint's weights. Running them is inference/'s.

import { first } from '../checked.js';
import { Graph } from '../graph/ir.js';
import { toFloat32, type StateDict } from '../tensor.js';
import type { ClipConfig, ImageOutput } from './config.js';
import { Params, type ParamFiller } from './params.js';
import { imageTower, textTower } from './towers.js';

export interface TowerGraphOptions {
  /** Creates missing weights (random-weight models); see random.ts. */
  fill?: ParamFiller;
  /** Text graph takes tokens [batch, seq] of any length ≤ contextLength (see inference/text-buckets.ts). */
  dynamicLength?: boolean;
  /** Image graph: the embedding (default) or the features before the projection (see ImageOutput). */
  imageOutput?: ImageOutput;
}

/** The image tower as a graph: input `images` float32 [batch, 3, R, R] → `image_features`. */
export function buildImageGraph(sd: StateDict, cfg: ClipConfig, opts: TowerGraphOptions = {}): Graph {
  const g = new Graph();
  const R = cfg.vision.imageResolution;
  const images = g.input('images', 'float32', ['batch', 3, R, R]);
  const p = new Params(g, sd, 'visual.', opts.fill);
  g.output('image_features', imageTower(images, p, cfg, false, opts.imageOutput));
  return g;
}

/** The text tower as a graph: input `tokens` int32 [batch, contextLength] → `text_features`. */
export function buildTextGraph(sd: StateDict, cfg: ClipConfig, opts: TowerGraphOptions = {}): Graph {
  const g = new Graph();
  const tokens = g.input('tokens', 'int32', ['batch', opts.dynamicLength ? 'seq' : cfg.text.contextLength]);
  const p = new Params(g, sd, '', opts.fill);
  g.output('text_features', textTower(tokens, p, cfg));
  return g;
}

/** The stored log temperature (CLIP's initial ln(1/0.07) if the checkpoint has none). */
export function logitScaleOf(sd: StateDict): number {
  const scale = sd.get('logit_scale');
  return scale ? first(toFloat32(scale)) : Math.log(1 / 0.07);
}
